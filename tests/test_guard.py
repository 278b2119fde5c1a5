"""The generated guard on anvil, played by a malicious or buggy keeper: each call breaks one
rule and is reverted with that rule's reason; an honest keeper's trades pass."""

from __future__ import annotations

import pytest
from chain_fixtures import ChainEnv
from guard_helpers import CPPI, WEIGHTS, Vault, cid, guarded_vault, strategy

from rebal.backends.chain.client import increase_time
from rebal.backends.chain.deploy import at, call_data
from rebal.backends.chain.local import set_oracle_price, to_units
from rebal.backends.chain.tx import GWEI, Sender

ETH = 10**18


@pytest.fixture
def heavy(chain: ChainEnv) -> Vault:
    """The 50/50 weights vault at 90% WETH (60 ETH + 20,000 USDC at 3,000): outside its band."""
    return guarded_vault(chain, strategy(WEIGHTS), weth=60, usdc=20_000)


def test_honest_keeper_rebalances_in_split_children_toward_center(heavy: Vault) -> None:
    v = heavy
    v.trade(cid(1), "WETH", "USDC", 10 * ETH)
    assert v.balance("WETH") == 50 * ETH
    increase_time(v.env.w3, 121)  # split every 2m
    v.trade(cid(2), "WETH", "USDC", 10 * ETH)
    increase_time(v.env.w3, 121)
    v.trade(cid(3), "WETH", "USDC", 6 * ETH)  # ~ to the center: 34 ETH of ~200k
    assert v.contract.functions.rebalances().call() == 3
    logs = v.contract.events.Rebalanced().get_logs(from_block=v.dep.block)
    assert [e.args.client_id for e in logs] == [cid(1), cid(2), cid(3)]


def test_each_guard_rule_reverts_with_its_reason(heavy: Vault) -> None:
    v, w3 = heavy, heavy.env.w3
    out = v.quote("WETH", "USDC", 5 * ETH)
    ok = v.swap_data(cid(9), "WETH", "USDC", 5 * ETH, int(out * 0.999))
    assert v.reason(ok) == ""
    # tokens: a token the vault does not trade
    stranger = at(w3, "Token", v.dep.tokens["USDC"]).address.lower().replace("a", "b")
    assert v.reason(v.swap_data(cid(9), "WETH", w3.to_checksum_address(stranger), 5 * ETH, 1)
                    ) == "Guard: token"
    # slippage: amountOutMin far under the oracle-implied amount
    assert v.reason(v.swap_data(cid(9), "WETH", "USDC", 5 * ETH, 0)) == "Guard: slippage"
    assert v.reason(v.swap_data(cid(9), "WETH", "USDC", 5 * ETH, int(out * 0.99))
                    ) == "Guard: slippage"
    # max gas: a gas price above 60 gwei
    assert v.reason(ok, maxFeePerGas=100 * GWEI, maxPriorityFeePerGas=70 * GWEI
                    ) == "Guard: max_gas"
    # min trade: 0.01 ETH is 30 USDC < 100 USDC
    small = v.quote("WETH", "USDC", ETH // 100)
    assert v.reason(v.swap_data(cid(9), "WETH", "USDC", ETH // 100, small)) == "Guard: min_trade"
    # split: at most 10 ETH per swap
    big = v.quote("WETH", "USDC", 11 * ETH)
    assert v.reason(v.swap_data(cid(9), "WETH", "USDC", 11 * ETH, big)) == "Guard: split"
    # direction: buying more of the overweight WETH
    weth_out = v.quote("USDC", "WETH", to_units(3000, 6))
    assert v.reason(v.swap_data(cid(9), "USDC", "WETH", to_units(3000, 6), weth_out)
                    ) == "Guard: direction"
    # router: the guard accepts only the vault's router
    g = w3.eth.contract(address=v.dep.guard, abi=[{
        "name": "check_swap", "type": "function", "stateMutability": "view",
        "inputs": [{"name": n, "type": t} for n, t in (("a", "address"), ("b", "address"),
                   ("c", "uint256"), ("d", "uint256"), ("e", "address"))],
        "outputs": [{"name": "", "type": "bool"}]}])
    with pytest.raises(Exception, match="Guard: router"):
        g.functions.check_swap(v.dep.tokens["WETH"], v.dep.tokens["USDC"], 5 * ETH, out,
                               v.dep.vault).call()
    # only the keeper trades
    outsider = Sender(w3, "0x" + "22" * 32)
    assert v.reason(ok, sender=outsider) == "Vault: only the keeper"


def test_past_target_cooldown_split_period_and_duplicate_id(chain: ChainEnv) -> None:
    # 60% WETH of 200k (40 ETH + 80k USDC): outside 45..55%; selling 10 ETH lands at 45%,
    # 5 points past the center (tolerance: half the band, 2.5 points).
    v = guarded_vault(chain, strategy(WEIGHTS), weth=40, usdc=80_000)
    past = v.quote("WETH", "USDC", 10 * ETH)
    assert v.reason(v.swap_data(cid(1), "WETH", "USDC", 10 * ETH, past)) == "Guard: past target"
    v.trade(cid(1), "WETH", "USDC", 3 * ETH)
    # the same client id never executes twice
    again = v.quote("WETH", "USDC", 3 * ETH)
    assert v.reason(v.swap_data(cid(1), "WETH", "USDC", 3 * ETH, again)) == (
        "Vault: duplicate client id")
    # a split child sooner than `split every 2m`
    assert v.reason(v.swap_data(cid(2), "WETH", "USDC", ETH, v.quote("WETH", "USDC", ETH))
                    ) == "Guard: split period"
    # the other way within the 1h cooldown
    weth_out = v.quote("USDC", "WETH", to_units(3000, 6))
    assert v.reason(v.swap_data(cid(3), "USDC", "WETH", to_units(3000, 6), weth_out)
                    ) == "Guard: cooldown"


def test_inside_band_refused_until_the_every_clock(chain: ChainEnv) -> None:
    v = guarded_vault(chain, strategy(WEIGHTS), weth=34, usdc=96_000)  # 51.5%: inside
    data = v.swap_data(cid(1), "WETH", "USDC", ETH, v.quote("WETH", "USDC", ETH))
    # the vault was never traded, so the weekly clock is due: a clock rebalance passes
    assert v.reason(data) == ""
    v.trade(cid(1), "WETH", "USDC", ETH)
    increase_time(chain.w3, 4000)  # past the cooldown, before the next weekly clock
    set_oracle_price(chain.deployer, v.dep.oracles["ETH"], 3000)  # a fresh round
    data = v.swap_data(cid(2), "WETH", "USDC", ETH // 2, v.quote("WETH", "USDC", ETH // 2))
    assert v.reason(data) == "Guard: inside band"
    increase_time(chain.w3, 7 * 86400)
    # the oracle round is now a week old: refresh it, then the clock allows the trade
    set_oracle_price(chain.deployer, v.dep.oracles["ETH"], 3000)
    data = v.swap_data(cid(2), "WETH", "USDC", ETH // 2, v.quote("WETH", "USDC", ETH // 2))
    assert v.reason(data) == ""


def test_oracle_halts_and_pause(heavy: Vault) -> None:
    v, env = heavy, heavy.env
    data = v.swap_data(cid(1), "WETH", "USDC", 5 * ETH, v.quote("WETH", "USDC", 5 * ETH))
    now = int(env.w3.eth.get_block("latest")["timestamp"])
    set_oracle_price(env.deployer, v.dep.oracles["ETH"], 3000, updated_at=now - 700)
    assert v.reason(data) == "Guard: price_age"  # older than 10m
    set_oracle_price(env.deployer, v.dep.oracles["ETH"], 3100)
    assert v.reason(data) == "Guard: oracle_deviation"  # 3.3% from the pool, limit 1.5%
    set_oracle_price(env.deployer, v.dep.oracles["ETH"], 3000)
    assert v.reason(data) == ""
    guard = v.dep.guard
    g = env.w3.eth.contract(address=guard, abi=[{
        "name": "set_paused", "type": "function", "stateMutability": "nonpayable",
        "inputs": [{"name": "_paused", "type": "bool"}], "outputs": []}])
    env.deployer.transact(guard, str(g.encode_abi("set_paused", args=[True])))
    assert v.reason(data) == "Guard: paused"
    env.deployer.transact(guard, str(g.encode_abi("set_paused", args=[False])))
    env.deployer.transact(v.dep.vault, call_data(v.contract, "set_paused", True))
    assert v.reason(data) == "Vault: paused"
    assert v.reason(call_data(v.contract, "set_paused", False)) == "Vault: only the owner"


def test_max_notional(chain: ChainEnv) -> None:
    # 130 ETH (390k) + 1M USDC: WETH 28% < 45%, buying 10 ETH -> gross 420k > 400k
    v = guarded_vault(chain, strategy(WEIGHTS), weth=130, usdc=1_000_000)
    usdc_in = to_units(30_000, 6)
    data = v.swap_data(cid(1), "USDC", "WETH", usdc_in, v.quote("USDC", "WETH", usdc_in))
    assert v.reason(data) == "Guard: max_notional"
    v.trade(cid(1), "USDC", "WETH", to_units(9_000, 6))  # +3 ETH: 399k, allowed


def test_max_position_and_max_orders(chain: ChainEnv) -> None:
    spec = strategy(WEIGHTS, {"max notional 400000 USDC":
                              "max position WETH 132 ETH\n    max orders 2 per 1d"})
    v = guarded_vault(chain, spec, weth=130, usdc=1_000_000)
    usdc_in = to_units(9_000, 6)  # +3 ETH: 133 > 132
    data = v.swap_data(cid(1), "USDC", "WETH", usdc_in, v.quote("USDC", "WETH", usdc_in))
    assert v.reason(data) == "Guard: max_position"
    small = to_units(900, 6)
    v.trade(cid(1), "USDC", "WETH", small)
    increase_time(chain.w3, 130)
    v.trade(cid(2), "USDC", "WETH", small)
    increase_time(chain.w3, 130)
    data = v.swap_data(cid(3), "USDC", "WETH", small, v.quote("USDC", "WETH", small))
    assert v.reason(data) == "Guard: max_orders"  # 2 per day
    increase_time(chain.w3, 86400)
    set_oracle_price(chain.deployer, v.dep.oracles["ETH"], 3000)
    data = v.swap_data(cid(3), "USDC", "WETH", small, v.quote("USDC", "WETH", small))
    assert v.reason(data) == ""  # a new day's window


def test_cppi_guard_follows_the_floor(chain: ChainEnv) -> None:
    # capital 1M, floor 80%, multiplier 4: at equity 1M the risky center is 80%.
    v = guarded_vault(chain, strategy(CPPI), weth=100, usdc=700_000)  # 30% risky: buy
    usdc_in = to_units(100_000, 6)
    sell = v.swap_data(cid(1), "WETH", "USDC", 10 * ETH, v.quote("WETH", "USDC", 10 * ETH))
    assert v.reason(sell) == "Guard: direction"
    v.trade(cid(1), "USDC", "WETH", usdc_in)
    assert 133 * ETH < v.balance("WETH") < 134 * ETH
    # the risky center is 4 x (1M - 0.8M) / 1M = 80%: from 72% risky (240 ETH + 280k USDC),
    # buying 80 ETH lands at 96%, past the center by more than the tolerance
    w = guarded_vault(chain, strategy(CPPI), weth=240, usdc=280_000)
    usdc_in = to_units(240_000, 6)
    data = w.swap_data(cid(2), "USDC", "WETH", usdc_in, w.quote("USDC", "WETH", usdc_in))
    assert w.reason(data) == "Guard: past target"
    w.trade(cid(2), "USDC", "WETH", to_units(24_000, 6))  # to ~ 80%
