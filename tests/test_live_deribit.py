"""The live layer end to end on the Deribit emulator: plan, apply, run steps, faults, restarts.

Real parts only: the emulator speaks Deribit's API (signatures checked), rebal's ccxt adapter
runs real ccxt against it, the session journals to a real SQLite file. A breach is made by
moving the emulator's ETH price: the short straddle's delta then leaves its 0.5 ETH band.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from live_support import CALL, KEY, PERP, PUT, SECRET, SPEC, deribit, environ, session, strategy

from rebal.backends.live.journal import Journal
from rebal.cli import main


def _perp_orders(emu) -> list[dict]:  # type: ignore[no-untyped-def]
    return [o for o in emu.orders() if o["contract"] == PERP]


def _cli(args: list[str], emu, monkeypatch, capsys) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    for k, v in environ(emu).items():
        monkeypatch.setenv(k, v)
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_apply_twice_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    state, plan = str(tmp_path / "st"), str(tmp_path / "plan.json")
    with deribit() as emu:
        emu.set_price("ETH", 3300)
        code, out, _ = _cli(["plan", str(SPEC), "--venue", "deribit", "--state", state,
                             "-o", plan], emu, monkeypatch, capsys)
        assert code == 2, out
        assert "OUTSIDE its band" in out and "buy 2 PERP (ETH-PERPETUAL)" in out
        doc = json.loads(Path(plan).read_text())
        assert doc["plan_version"] == 1 and doc["decision"]["orders"][0]["qty"] == 2.0
        assert _perp_orders(emu) == []  # a plan sends nothing
        code, out, err = _cli(["apply", plan, "--state", state], emu, monkeypatch, capsys)
        assert code == 0, err
        assert "filled" in out
        assert len(_perp_orders(emu)) == 1
        code, out, _ = _cli(["apply", plan, "--state", state], emu, monkeypatch, capsys)
        assert code == 0 and "already applied" in out
        assert len(_perp_orders(emu)) == 1  # applying twice sends nothing the second time
        code, out, _ = _cli(["status", str(SPEC), "--venue", "deribit", "--state", state],
                            emu, monkeypatch, capsys)
        assert code == 0 and "unsettled orders: 0" in out and "step 1" in out


def test_a_stale_plan_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    state, plan = str(tmp_path / "st"), str(tmp_path / "plan.json")
    with deribit() as emu:
        emu.set_price("ETH", 3300)
        code, _, _ = _cli(["plan", str(SPEC), "--venue", "deribit", "--state", state, "-o",
                           plan], emu, monkeypatch, capsys)
        assert code == 2
        emu.set_price("ETH", 3400)
        code, _, err = _cli(["apply", plan, "--state", state], emu, monkeypatch, capsys)
        assert code == 1 and "stale" in err and "moved" in err
        emu.set_position(PERP, 300)  # someone traded by hand meanwhile: a stray
        emu.set_price("ETH", 3300)
        code, _, err = _cli(["apply", plan, "--state", state], emu, monkeypatch, capsys)
        assert code == 1 and "stray position (PERP" in err
        assert _perp_orders(emu) == []


def test_twap_children_survive_a_restart_without_a_resend(tmp_path: Path) -> None:
    with deribit() as emu:
        emu.set_price("ETH", 3300)
        opened = session(emu, tmp_path)
        opened.session.start()
        first = opened.session.step()
        assert [o.qty for o in first.decision.orders] == [2.0]  # split 2 ETH every 2m
        want = first.decision.rows[0].measure
        opened.close()  # the process ends mid-TWAP
        ids = {o["client_id"] for o in _perp_orders(emu)}
        for _ in range(6):
            emu.advance(120)
            opened = session(emu, tmp_path)
            opened.session.start()
            opened.session.step()
            opened.close()
        orders = _perp_orders(emu)
        cids = [o["client_id"] for o in orders]
        assert len(cids) == len(set(cids)) and ids <= set(cids)  # no id twice, none lost
        total = sum(o["filled"] for o in orders)
        assert total > 2.0  # children kept coming after each restart
        j = Journal(tmp_path / "journal.sqlite")
        assert j.orders(final=False) == []
        filled = j.filled_by_instrument()["PERP"]
        assert abs(filled + want) < 0.5 + 0.01  # hedged back inside the band


def test_no_trade_inside_the_cooldown_after_a_restart(tmp_path: Path) -> None:
    spec = tmp_path / "nosplit.rebal"  # one order per decision: no TWAP parent in the way
    spec.write_text(SPEC.read_text().replace("split 2 ETH every 2m", ""))
    s = strategy(spec)
    with deribit(spec=spec) as emu:
        emu.set_price("ETH", 3300)
        opened = session(emu, tmp_path, s)
        opened.session.start()
        assert opened.session.step().sent
        opened.close()
        n = len(_perp_orders(emu))
        emu.advance(1)
        emu.set_price("ETH", 3000)  # a new breach the other way, inside the 5m cooldown
        opened = session(emu, tmp_path, s)
        opened.session.start()
        res = opened.session.step()
        opened.close()
        assert res.decision.rows[0].outside
        assert res.sent == [] and len(_perp_orders(emu)) == n
        emu.advance(300)
        opened = session(emu, tmp_path, s)
        opened.session.start()
        res = opened.session.step()
        opened.close()
        assert res.sent and res.decision.orders[0].qty < 0  # after the cooldown it hedges


def test_a_drawdown_halt_survives_restarts_until_resume(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    with deribit() as emu:
        opened = session(emu, tmp_path)
        opened.session.start()
        opened.session.step()  # peak equity recorded
        opened.close()
        n = len(_perp_orders(emu))
        emu.set_balance("ETH", 70.0)  # equity falls 30%: `halt when drawdown > 15%`
        opened = session(emu, tmp_path)
        opened.session.start()
        res = opened.session.step()
        opened.close()
        assert res.halted
        emu.set_balance("ETH", 100.0)
        emu.set_price("ETH", 3300)
        for _ in range(2):
            opened = session(emu, tmp_path)
            opened.session.start()
            res = opened.session.step()
            opened.close()
            assert res.halted and res.sent == []
        assert len(_perp_orders(emu)) == n
        code, out, _ = _cli(["resume", str(SPEC), "--venue", "deribit", "--state",
                             str(tmp_path)], emu, monkeypatch, capsys)
        assert code == 0 and "halt cleared" in out
        emu.advance(600)  # past the cooldown of the first step's trade
        opened = session(emu, tmp_path)
        opened.session.start()
        res = opened.session.step()
        opened.close()
        assert not res.halted and res.sent


@pytest.mark.parametrize("kind", ["lost", "timeout", "error5xx", "drop", "ratelimit"])
def test_an_order_whose_answer_is_lost_is_looked_up_never_doubled(tmp_path: Path,
                                                                  kind: str) -> None:
    """Lost answers and timeouts (the order may exist) are settled by lookup, never re-sent;
    a request the venue did not carry out (5xx, drop) is closed after the grace period and the
    kernel decides again; a rate-limit refusal is re-sent at once with the same id."""
    with deribit() as emu:
        emu.set_price("ETH", 3300)
        opened = session(emu, tmp_path)
        opened.session.start()
        settings = {"delay": 3.6} if kind == "timeout" else {}
        emu.add_fault(kind, on="order", count=1, **settings)
        first = opened.session.step().sent[0]
        deadline = time.monotonic() + 20
        while opened.session.unsettled() or not _perp_orders(emu):
            assert time.monotonic() < deadline
            time.sleep(0.2)
            emu.advance(120)  # the next TWAP child is due (split 2 ETH every 2m)
            opened.session.step()
        journal = opened.journal
        rows = journal.orders()
        opened.close()
        orders = _perp_orders(emu)
        ids = [o["client_id"] for o in orders]
        assert len(ids) == len(set(ids)), orders  # no client id placed twice
        assert all(r.final for r in rows)
        by_id = {r.client_id: r for r in rows}
        for o in orders:  # every venue order is journaled with the venue's fill
            assert by_id[o["client_id"]].venue_filled == o["filled"]
        if kind in ("lost", "timeout"):  # found by lookup, never re-sent
            assert ids.count(first) == 1 and by_id[first].attempts == 1
            assert by_id[first].state == "filled"
        elif kind == "ratelimit":  # refused unexecuted: sent again with the same id
            assert ids.count(first) == 1 and by_id[first].attempts == 2
        else:  # never carried out: closed after the grace period, the kernel decided again
            assert first not in ids and by_id[first].state == "expired"
            assert any(by_id[i].state == "filled" for i in ids)


def test_a_rejection_is_journaled_and_not_retried(tmp_path: Path) -> None:
    with deribit() as emu:
        emu.set_price("ETH", 3300)
        emu.add_fault("reject", on="order", count=1)
        opened = session(emu, tmp_path)
        opened.session.start()
        res = opened.session.step()
        opened.close()
        row = Journal(tmp_path / "journal.sqlite").order(res.sent[0])
        assert row is not None and row.state == "rejected" and row.attempts == 1
        assert "funds" in row.reason.lower()


def test_a_partial_fill_is_accounted_and_positions_verified(tmp_path: Path) -> None:
    with deribit() as emu:
        emu.set_price("ETH", 3300)
        emu.add_fault("partial", on="order", count=1, fraction=0.5)
        opened = session(emu, tmp_path)
        opened.session.start()
        res = opened.session.step()
        snap = opened.adapter.snapshot()
        opened.close()
        row = Journal(tmp_path / "journal.sqlite").order(res.sent[0])
        assert row is not None and row.final and 0 < row.filled < row.qty
        assert abs(snap.positions["PERP"] - row.filled) < 1e-3
        assert not res.halted  # positions = before + fills


def test_a_stray_position_halts_by_default(tmp_path: Path) -> None:
    with deribit() as emu:
        opened = session(emu, tmp_path)
        opened.session.start()
        opened.session.step()
        opened.close()
        emu.set_position(PERP, 3000)  # 1 ETH opened by hand (USD contracts)
        opened = session(emu, tmp_path)
        opened.session.start()
        res = opened.session.step()
        opened.close()
        assert res.halted and "stray position" in res.halted and "PERP" in res.halted


def test_on_stray_adopt_takes_the_position_and_trades_on(tmp_path: Path) -> None:
    text = SPEC.read_text().replace("url env EMU_URL", "url env EMU_URL\n    on_stray adopt")
    spec = tmp_path / "adopt.rebal"
    spec.write_text(text)
    s = strategy(spec)
    with deribit(spec=spec) as emu:
        opened = session(emu, tmp_path / "st", s)
        opened.session.start()
        opened.close()
        emu.set_position(PERP, 3000)
        opened = session(emu, tmp_path / "st", s)
        opened.session.start()
        res = opened.session.step()
        base = opened.journal.meta("baseline_venue")
        opened.close()
        assert not res.halted
        assert base["PERP"] == 3000.0  # adopted in the venue's units (USD contracts)


def test_secrets_never_appear_in_output_logs_journal_or_plan(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str],
                                                            caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    caplog.set_level(logging.DEBUG)
    plan = tmp_path / "plan.json"
    with deribit() as emu:
        emu.set_price("ETH", 3300)
        emu.add_fault("reject", on="order", count=1)
        texts = []
        for args in (["-v", "plan", str(SPEC), "--venue", "deribit", "--state",
                      str(tmp_path), "-o", str(plan)],
                     ["-v", "run", str(SPEC), "--venue", "deribit", "--state", str(tmp_path),
                      "--once"],
                     ["status", str(SPEC), "--venue", "deribit", "--state", str(tmp_path)]):
            _, out, err = _cli(args, emu, monkeypatch, capsys)
            texts += [out, err]
    texts.append(caplog.text)
    texts.append(plan.read_text())
    texts.append((tmp_path / "journal.sqlite").read_bytes().decode("latin-1"))
    for t in texts:
        assert KEY not in t and SECRET not in t
    assert any("rejected" in t for t in texts)
    assert CALL and PUT  # the book instruments are mapped on this venue
