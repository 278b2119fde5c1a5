"""`rebal keeper deploy --local`: the rehearsal market for a spec (helper of keeper.py)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any


def _sim_price(s: Any, asset: str) -> float:
    for v in s.venues:
        for a in getattr(v.config, "assets", ()):
            if a.asset == asset:
                return float(a.spot)
    return 1000.0


def _start_weights(s: Any, risky: list[str]) -> dict[str, float]:
    """The vault's starting weights: the target's centers (CPPI: its center at capital)."""
    from rebal.compiler import ir

    t = s.targets[0] if s.targets else None
    if isinstance(t, ir.WeightsTarget):
        return {leg.instrument: float(leg.weight) for leg in t.legs}
    if isinstance(t, ir.CppiTarget):
        w = min(1.0, float(t.multiplier) * (1 - float(t.floor)))
        return {t.risky: w, t.safe: 1 - w}
    return {n: 1.0 / (len(risky) + 1) for n in risky}


def rehearsal_market(owner: Any, s: Any) -> tuple[dict[str, str], dict[str, str],
                                                   dict[str, str], str,
                                                   Callable[[str], None]]:
    from rebal.backends.chain.local import AssetSpec, deploy_market, mint, to_units

    quote = next(i.name for i in s.instruments if i.kind == "cash")
    risky = [i for i in s.instruments if i.kind == "spot"]
    assets = [AssetSpec(i.name, 18, i.underlying, _sim_price(s, i.underlying)) for i in risky]
    m = deploy_market(owner, assets, quote=quote, quote_decimals=6)
    capital = float(s.capital.value) if s.capital is not None else 100_000.0
    weights = _start_weights(s, [i.name for i in risky])

    def fund(vault: str) -> None:
        for name, w in weights.items():
            if w <= 0 or name not in m.tokens:
                continue
            value = capital * w
            price = 1.0 if name == quote else next(a.price for a in assets if a.symbol == name)
            amount = Decimal(str(round(value / price, 6)))
            mint(owner, m.tokens[name], vault, to_units(amount, m.decimals[name]))

    return m.tokens, m.oracles, m.pairs, m.router, fund



def wire_intents(owner: Any, dep: Any, cfg: Any, s: Any) -> tuple[str, str]:
    """An intents venue's rehearsal: a local Settlement the vault validates for (at most
    `valid for` ahead), the vault's tokens approved to it, and, with ``$REBAL_SOLVER_KEY``
    set, the local solver's inventory (the spec's capital worth of each token). Returns the
    settlement's address and a line about the solver for the command's output."""
    import os

    from rebal.backends.chain.deploy import at, call_data
    from rebal.backends.chain.local import mint
    from rebal.backends.chain.tx import Sender
    from rebal.backends.solver.emulate import KEY_ENV
    from rebal.backends.solver.gpv2 import MAX_UINT256
    from rebal.backends.solver.local import deploy_settlement

    w3 = owner.w3
    settlement = str(deploy_settlement(owner).address)
    vault = at(w3, "Vault", dep.vault)
    owner.transact(vault.address, call_data(vault, "set_settlement", settlement,
                                            int(cfg.valid_for_s)))
    for token in dep.tokens.values():
        owner.transact(vault.address, call_data(vault, "approve_settlement", token,
                                                MAX_UINT256))
    key = os.environ.get(KEY_ENV, "")
    if not key:
        return settlement, f"  (set ${KEY_ENV} when deploying to fund the local solver)\n"
    solver = Sender(w3, key).address
    capital = float(s.capital.value) if s.capital is not None else 100_000.0
    for name, token in dep.tokens.items():
        asset = s.instrument(name).underlying
        price = 1.0
        if asset in dep.oracles:
            agg = at(w3, "Aggregator", dep.oracles[asset])
            answer = agg.functions.latestRoundData().call()[1]
            price = float(answer) / 10 ** int(agg.functions.decimals().call())
        decimals = int(at(w3, "Token", token).functions.decimals().call())
        mint(owner, token, solver, int(capital / price * 10**decimals))
    return settlement, f"  solver  {solver} (inventory: {capital:,.0f} {s.numeraire} of each token)\n"
