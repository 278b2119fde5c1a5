"""Backends declare what they support as data; venues are checked against the declarations."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from rebal.backends import registry
from rebal.compiler import check_source
from rebal.compiler.capabilities import FEATURES, Capabilities
from rebal.compiler.lowering import words

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "backends.md"
BEGIN, END = "<!-- capabilities:begin", "<!-- capabilities:end -->"


# ------------------------------------------------------------------ the registry


def test_builtins_are_registered_by_name() -> None:
    caps = registry.capabilities()
    assert list(caps)[:4] == ["sim", "ccxt", "keeper", "solver"]
    for name, decl in caps.items():
        assert decl.backend == name
        assert registry.get(name).capabilities is decl


def test_unknown_backend_says_did_you_mean() -> None:
    with pytest.raises(registry.UnknownBackend, match="did you mean `keeper`"):
        registry.get("keepr")
    with pytest.raises(registry.UnknownBackend, match="known backends: sim, ccxt"):
        registry.get("zzzz")


def test_every_builtin_declares_every_feature_explicitly() -> None:
    for name in registry.BUILTINS:
        decl = registry.get(name).capabilities
        assert set(decl.support) == set(FEATURES), name
        for feature, support in decl.support.items():
            if support != "native" and name != "sim":
                assert feature in decl.notes, f"{name}: say why {feature} is {support}"


def test_an_unknown_setting_lists_what_the_backend_declares() -> None:
    """The settings a backend declares are the ones `rebal check` accepts (one table)."""
    for name in registry.BUILTINS:
        declared = registry.get(name).capabilities.settings
        foreign = "exchange \"deribit\"" if name == "sim" else "seed 3"  # another backend's
        src = SPEC_WITH_SETTING.format(backend=name, setting=foreign)
        res = check_source(src, "s.rebal", capabilities=registry.capabilities())
        key = foreign.split()[0]
        e802 = [d for d in res.diagnostics if d.code == "E802" and key in d.message]
        assert e802, name
        listed = {w.strip("`") for w in (e802[0].help or "").split("accept: ", 1)[1].split(", ")}
        assert listed == {words(k) for k in declared}, name


SPEC_WITH_SETTING = """strategy s {{
  instruments {{
    ETH spot ETH
  }}
  owns ETH
  target delta 0 ETH {{
    band 1 ETH
    hedge with ETH
  }}
  trigger {{ on breach }}
  venue v via {backend} {{
    {setting}
  }}
}}
"""


def test_sim_supports_everything_and_onchain_backends_trade_spot_and_cash_only() -> None:
    caps = registry.capabilities()
    assert all(caps["sim"].of(f) == "native" for f in FEATURES)
    for name in ("keeper", "solver"):
        kinds = {f for f in FEATURES
                 if f.startswith("instrument.") and caps[name].of(f) == "native"}
        assert kinds == {"instrument.spot", "instrument.cash"}, name
        assert caps[name].of("target.greek") == "unsupported"
    assert caps["ccxt"].of("costs.split") == "emulated"
    assert caps["ccxt"].of("costs.max_gas") == "unsupported"
    assert caps["keeper"].of("costs.max_gas") == "native"


def test_backend_implementation_is_loaded_only_on_demand() -> None:
    b = registry.get("sim")
    assert b.builtin and b.module == "rebal.backends.sim"


_PROBE = """
import json, sys
from rebal.backends import registry
registry.capabilities()
heavy = sorted({m.split('.')[0] for m in sys.modules} & {"numpy", "scipy", "ccxt", "web3"})
print(json.dumps(heavy))
"""


def test_capabilities_import_no_backend_library() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         timeout=120, check=True)
    assert json.loads(out.stdout) == []


def test_plugins_come_from_the_entry_point_group(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fancy_backend.py").write_text(
        "from rebal.compiler.capabilities import Capabilities\n"
        "CAPABILITIES = Capabilities('fancy', 'A plugin', {'instrument.spot': 'native'})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [metadata.EntryPoint("fancy", "fancy_backend", registry.ENTRY_POINT_GROUP),
           metadata.EntryPoint("sim", "fancy_backend", registry.ENTRY_POINT_GROUP),
           metadata.EntryPoint("broken", "no_such_module_xyz", registry.ENTRY_POINT_GROUP)]

    def fake(group: str) -> list[metadata.EntryPoint]:
        return eps if group == registry.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(metadata, "entry_points", fake)
    registry._plugins.cache_clear()
    registry.get.cache_clear()
    try:
        caps = registry.capabilities()
        assert caps["fancy"].summary == "A plugin" and not registry.get("fancy").builtin
        assert caps["sim"].backend == "sim"  # a plugin cannot shadow a built-in
        assert "broken" not in caps
        assert isinstance(caps["fancy"], Capabilities)
    finally:
        registry._plugins.cache_clear()
        registry.get.cache_clear()


def test_docs_backends_table_is_generated_from_the_registry() -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("\n", text.index(BEGIN)) + 1
    block = text[start:text.index(END)]
    expected = registry.capability_table() + "\n" + registry.capability_notes()
    assert block == expected, (
        "docs/backends.md is stale; paste registry.capability_table() and capability_notes() "
        "between the capabilities markers")


# ------------------------------------------------------------------ venues vs. declarations

_BASE = """
strategy s {{
  capital 100000 USD
  instruments {{
    C    option ETH call strike 3000 USD expiry 2099-06-26
    WETH spot ETH
    USDC cash USDC
    PERP perp ETH
  }}
  {book}
  owns {owns}
  {target}
  trigger {{ on breach }}
  costs {{ max slippage 20 bps {costs} }}
  risk {{ {risk} }}
  {venue}
  venue paper via sim {{ ETH spot 3000 USD }}
}}
"""
_KEEPER = ('venue vault via keeper {{ {symbols} chain 1 }}')
_DELTA = "target delta 0 ETH { band 1 ETH hedge with WETH }"


def _check(*, book: str = "", owns: str = "WETH, USDC", target: str = _DELTA, costs: str = "",
           risk: str = "", venue: str | None = None) -> list[tuple[str, str]]:
    symbols = " ".join(f'{n} = "0x{n}"' for n in ("C", "WETH", "USDC", "PERP"))
    v = venue if venue is not None else _KEEPER.format(symbols=symbols)
    text = _BASE.format(book=book, owns=owns, target=target, costs=costs, risk=risk, venue=v)
    res = check_source(text, "s.rebal", capabilities=registry.capabilities())
    return [(d.code, d.message) for d in res.diagnostics if d.code in ("E801", "W906", "E212")]


def test_spot_and_cash_on_a_keeper_are_fine() -> None:
    assert _check() == []


def test_book_options_on_a_keeper_are_an_error_at_the_venue() -> None:
    found = _check(book="book { C -5 }")
    assert found == [("E801", "venue `vault` via keeper cannot carry out options (`C`)")]


def test_book_is_read_only_by_live_venues() -> None:
    assert _check(book="book { C -5 }", venue="") == []


def test_vega_target_on_a_keeper_is_an_error() -> None:
    found = _check(book="book { C -5 }", owns="WETH, USDC, PERP",
                   target="target vega within -500 USD to 500 USD { hedge with PERP }")
    codes = [c for c, _ in found]
    assert codes.count("E801") == 3  # options (book), perpetual swaps (owned), greek target
    assert any("gamma, vega or theta targets" in m for _, m in found)


def test_emulated_features_give_one_warning_per_venue() -> None:
    venue = 'venue intents via solver { WETH = "0x1" USDC = "0x2" chain 1 }'
    found = _check(costs="split 5 ETH every 10m max gas 30 gwei", venue=venue)
    assert found == [("W906", "venue `intents` via solver emulates order splitting (`split`), "
                      "gas limits (`max gas`, `max gas cost`)")]


def test_gas_limits_on_an_exchange_are_an_error() -> None:
    venue = 'venue binance via ccxt { WETH = "ETH/USDT" USDC = "USDT" }'
    found = _check(costs="max gas 30 gwei", venue=venue)
    assert [c for c, _ in found] == ["E801"]


def test_unsupported_instrument_is_not_also_reported_as_unmapped() -> None:
    venue = 'venue vault via keeper { WETH = "0x1" USDC = "0x2" chain 1 }'
    found = _check(book="book { C -5 }", venue=venue)
    assert [c for c, _ in found] == ["E801"]


def test_without_declarations_no_capability_findings() -> None:
    text = _BASE.format(book="book { C -5 }", owns="WETH, USDC", target=_DELTA, costs="",
                        risk="", venue='venue vault via keeper { C = "0x1" WETH = "0x2" '
                        'USDC = "0x3" chain 1 }')
    assert not [d for d in check_source(text, "s.rebal").diagnostics if d.code == "E801"]
