"""The shipped rehearsal contracts on a real anvil: ERC-20, Uniswap V2-style pair and router,
a Chainlink-style aggregator; compilation cache; revert decoding; test isolation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chain_fixtures import ETH_PRICE, ChainEnv

from rebal.backends.chain import build
from rebal.backends.chain.client import evm_revert, evm_snapshot, increase_time
from rebal.backends.chain.deploy import at, call_data, deploy
from rebal.backends.chain.local import mint, set_oracle_price, to_units
from rebal.backends.chain.tx import Sender, SendError, decode_revert


def _amount_out(amount_in: int, r_in: int, r_out: int) -> int:
    fee_in = amount_in * 997
    return fee_in * r_out // (r_in * 1000 + fee_in)


def _reserves(env: ChainEnv, sym: str) -> tuple[int, int]:
    pair = at(env.w3, "Pair", env.market.pairs[sym])
    r0, r1, _ = pair.functions.getReserves().call()
    weth = env.market.tokens[sym]
    return (r0, r1) if pair.functions.token0().call() == weth else (r1, r0)


def test_swap_through_router_pays_constant_product_less_fee(chain: ChainEnv) -> None:
    env, s = chain, chain.deployer
    weth, usdc = env.market.tokens["WETH"], env.market.tokens["USDC"]
    router = at(env.w3, "Router", env.market.router)
    r_weth, r_usdc = _reserves(env, "WETH")
    assert (r_usdc / 1e6) / (r_weth / 1e18) == pytest.approx(ETH_PRICE)
    amount_in = to_units(10, 18)
    mint(s, weth, s.address, amount_in)
    quoted = router.functions.getAmountsOut(amount_in, [weth, usdc]).call()
    expected = _amount_out(amount_in, r_weth, r_usdc)
    assert quoted == [amount_in, expected]
    assert 29_000e6 < expected < 30_000e6 * 0.997  # 10 ETH at ~3000 less 0.3% and impact
    s.transact(weth, call_data(at(env.w3, "Token", weth), "approve", env.market.router, amount_in))
    deadline = env.w3.eth.get_block("latest")["timestamp"] + 60
    s.transact(env.market.router, call_data(router, "swapExactTokensForTokens", amount_in,
                                            expected, [weth, usdc], s.address, deadline))
    usdc_token = at(env.w3, "Token", usdc)
    assert usdc_token.functions.balanceOf(s.address).call() == expected
    assert _reserves(env, "WETH") == (r_weth + amount_in, r_usdc - expected)


def test_router_enforces_min_out_and_deadline_with_uniswap_reasons(chain: ChainEnv) -> None:
    env, s = chain, chain.deployer
    weth, usdc = env.market.tokens["WETH"], env.market.tokens["USDC"]
    router = at(env.w3, "Router", env.market.router)
    amount_in = to_units(1, 18)
    mint(s, weth, s.address, amount_in)
    s.transact(weth, call_data(at(env.w3, "Token", weth), "approve", env.market.router, amount_in))
    quoted = router.functions.getAmountsOut(amount_in, [weth, usdc]).call()[-1]
    now = env.w3.eth.get_block("latest")["timestamp"]
    greedy = call_data(router, "swapExactTokensForTokens", amount_in, quoted + 1,
                       [weth, usdc], s.address, now + 60)
    with pytest.raises(SendError) as err:
        s.transact(env.market.router, greedy)
    assert err.value.kind == "revert"
    assert err.value.reason == "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"
    late = call_data(router, "swapExactTokensForTokens", amount_in, 0, [weth, usdc],
                     s.address, now - 1)
    with pytest.raises(SendError, match="UniswapV2Router: EXPIRED"):
        s.transact(env.market.router, late)


def test_pair_refuses_a_swap_that_breaks_the_invariant(chain: ChainEnv) -> None:
    env, s = chain, chain.deployer
    pair = at(env.w3, "Pair", env.market.pairs["WETH"])
    with pytest.raises(SendError, match="Pair: insufficient input amount"):
        s.transact(pair.address, call_data(pair, "swap", 0, 1000, s.address))


def test_aggregator_serves_chainlink_rounds(chain: ChainEnv) -> None:
    env, s = chain, chain.deployer
    oracle = at(env.w3, "Aggregator", env.market.oracles["ETH"])
    assert oracle.functions.decimals().call() == 8
    rid, answer, _, updated, answered = oracle.functions.latestRoundData().call()
    assert answer == 3000 * 10**8 and rid == answered
    increase_time(env.w3, 120)
    set_oracle_price(s, oracle.address, 3123.45)
    rid2, answer2, _, updated2, _ = oracle.functions.latestRoundData().call()
    assert (rid2, answer2) == (rid + 1, 312345000000) and updated2 >= updated + 120
    set_oracle_price(s, oracle.address, 3100, updated_at=updated)
    assert oracle.functions.latestRoundData().call()[3] == updated  # a stale round, on demand
    outsider = Sender(env.w3, "0x" + "11" * 32)
    with pytest.raises(SendError):
        outsider.estimate(oracle.address, call_data(oracle, "setAnswer", 1))


def test_snapshot_and_revert_isolate_state(chain: ChainEnv) -> None:
    env, s = chain, chain.deployer
    usdc = env.market.tokens["USDC"]
    token = at(env.w3, "Token", usdc)
    before = token.functions.balanceOf(s.address).call()
    snap = evm_snapshot(env.w3)
    mint(s, usdc, s.address, 5)
    assert token.functions.balanceOf(s.address).call() == before + 5
    assert evm_revert(env.w3, snap)
    assert token.functions.balanceOf(s.address).call() == before


def test_compile_cache_returns_identical_artifacts_and_survives_corruption(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBAL_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(build, "_MEMORY", {})
    source = build.source_of("Token") + "\n# cache test\n"
    first = build.compile_source(source, "Token")
    files = list((tmp_path / "vyper").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["bytecode"] == first.bytecode
    monkeypatch.setattr(build, "_MEMORY", {})
    assert build.compile_source(source, "Token") == first  # from disk
    files[0].write_text("{not json")
    monkeypatch.setattr(build, "_MEMORY", {})
    assert build.compile_source(source, "Token").bytecode == first.bytecode  # recompiled
    with pytest.raises(build.CompileError, match="Bad"):
        build.compile_source("# pragma version 0.4.3\n@external\ndef f() -> uint256:\n"
                             "    return Bad\n", "Bad")


def test_deploy_uses_local_signing_and_eip1559(chain: ChainEnv) -> None:
    env, s = chain, chain.deployer
    tok = deploy(s, "Token", "Test", "TST", 6)
    assert tok.functions.decimals().call() == 6
    tx = env.w3.eth.get_transaction(env.w3.eth.get_block("latest")["transactions"][0])
    assert tx["type"] == 2 and tx["from"] == s.address
    assert tx["maxFeePerGas"] >= tx["maxPriorityFeePerGas"] > 0


def test_revert_data_is_decoded() -> None:
    reason = b"Guard: slippage"
    data = (bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + len(reason).to_bytes(32, "big")
            + reason.ljust(32, b"\0"))
    assert decode_revert("0x" + data.hex()) == "Guard: slippage"
    assert decode_revert(bytes.fromhex("4e487b71") + (0x11).to_bytes(32, "big")) == "panic 0x11"
    assert decode_revert("0x") == ""
