"""`rebal plan | apply | run | status | resume`: the live commands (parsing and printing).

Exit codes: ``plan`` 0 nothing to do, 2 trades planned, 1 error or refusal; ``apply`` 0 done
(or already applied), 1 stale, refused or failed; ``run`` 0 stopped cleanly, 1 halted or
failed; ``status``/``resume`` 0, 1 on error. Usage errors are 2 (argparse).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rebal.compiler import ir

COMMANDS = ("plan", "apply", "run", "status", "resume")

log = logging.getLogger("rebal")


def register(sub: Any) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--state", help="state folder (default .rebal/<strategy>/<venue>/)")

    p = sub.add_parser("plan", help="read the venue and show the trades the spec would make")
    p.add_argument("spec")
    p.add_argument("--venue", required=True)
    p.add_argument("-o", "--output", help="write the plan file here (for `rebal apply`)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--ttl", type=float, default=300.0, help="seconds the plan stays valid")
    common(p)
    p.set_defaults(handler=_plan)

    a = sub.add_parser("apply", help="carry out a reviewed plan (refused when stale)")
    a.add_argument("plan")
    a.add_argument("--spec", help="the spec file (default: the one recorded in the plan)")
    common(a)
    a.set_defaults(handler=_apply)

    r = sub.add_parser("run", help="keep running: snapshot, decide, send, verify, repeat")
    r.add_argument("spec")
    r.add_argument("--venue", required=True)
    r.add_argument("--once", action="store_true", help="one step, then stop")
    r.add_argument("--interval", type=float, help="seconds between decisions")
    r.add_argument("--steps", type=int, help="stop after this many steps")
    common(r)
    r.set_defaults(handler=_run)

    s = sub.add_parser("status", help="positions, open orders, last decisions and any halt")
    s.add_argument("spec")
    s.add_argument("--venue", required=True)
    s.add_argument("--offline", action="store_true", help="journal only, do not read the venue")
    common(s)
    s.set_defaults(handler=_status)

    u = sub.add_parser("resume", help="clear a halt after review")
    u.add_argument("spec")
    u.add_argument("--venue", required=True)
    common(u)
    u.set_defaults(handler=_resume)


def _strategy(spec: str, err: TextIO) -> ir.Strategy | None:
    from rebal.cli import _load_one

    s = _load_one(spec, err)
    return s  # type: ignore[return-value]


def _guarded(fn: Any) -> Any:
    """Turn the live layer's user-facing errors into one line and exit code 1."""

    def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        from rebal.backends.live.adapter import AdapterError
        from rebal.backends.live.folder import Locked
        from rebal.backends.live.opening import LiveError
        from rebal.backends.live.plans import PlanError
        from rebal.backends.live.render import safe

        try:
            code: int = fn(args, out, err)
            return code
        except (LiveError, Locked, PlanError) as exc:
            print(f"rebal: {safe(exc)}", file=err)
            return 1
        except AdapterError as exc:
            print(f"rebal: the venue failed: {safe(exc)}", file=err)
            return 1

    return run


@_guarded
def _plan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from rebal.backends.live import plans
    from rebal.backends.live.opening import open_session
    from rebal.backends.live.render import render_plan
    from rebal.compiler.files import atomic_write

    strategy = _strategy(args.spec, err)
    if strategy is None:
        return 1
    opened = open_session(strategy, args.venue, state_dir=args.state)
    try:
        session = opened.session
        snap = session.start()
        halt = opened.journal.active_halt()
        d = session.decide(snap)
        doc = plans.build_plan(strategy=strategy.name, venue=args.venue,
                               backend=session.venue.backend, ir_hash=session.ir_hash,
                               snap=snap, decision=d, ttl_s=args.ttl,
                               extra={"spec": str(Path(args.spec).resolve()),
                                      **({"halt": halt} if halt else {})},
                               venue_orders=session.venue_view(d))
    finally:
        opened.close()
    text = plans.plan_json(doc)
    if args.output:
        atomic_write(Path(args.output), text)
    if args.format == "json":
        out.write(text)
    else:
        print(render_plan(doc, strategy.numeraire), file=out)
        if args.output:
            print(f"plan written to {args.output}; carry it out with `rebal apply "
                  f"{args.output}`", file=out)
    if halt or d.refused or d.halted:
        return 1
    return 2 if d.orders else 0


@_guarded
def _apply(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from rebal.backends.live import plans
    from rebal.backends.live.opening import open_session
    from rebal.backends.live.render import render_step, safe
    from rebal.backends.live.runner import Stop, stop_on_signals

    doc = plans.load_plan(args.plan)
    spec = args.spec or (doc.get("extra") or {}).get("spec")
    if not spec:
        print("rebal: the plan names no spec file; pass --spec", file=err)
        return 1
    strategy = _strategy(spec, err)
    if strategy is None:
        return 1
    opened = open_session(strategy, doc["venue"], state_dir=args.state)
    try:
        session, journal = opened.session, opened.journal
        if journal.step_summary(int(doc["step"])) is not None:
            print(f"plan step {doc['step']} was already applied; nothing sent", file=out)
            return 0
        snap = session.start()
        halt = journal.active_halt()
        if halt:
            print(f"rebal: halted ({safe(halt)}); review, then `rebal resume`", file=err)
            return 1
        d = session.decide(snap, seq=int(doc["step"]))
        why = plans.staleness(doc, ir_hash=session.ir_hash, snap=snap,
                              next_step=journal.next_step(), positions=d.positions,
                              now_s=snap.time_s)
        planned = plans.plan_orders(doc)
        if not why and _sides(planned) != _sides(d.orders):
            why.append("the kernel no longer decides these orders on the venue's state")
        if why:
            print("rebal: the plan is stale, nothing sent:\n  " + "\n  ".join(why)
                  + "\nmake a new plan with `rebal plan`", file=err)
            return 1
        with stop_on_signals(Stop()) as stop:  # a signal ends the wait on a resting order
            session.policy = replace(session.policy, stop=lambda: stop.requested)
            res = session.execute(d, planned)
        print(render_step(res, strategy.numeraire, journal), file=out)
        return 1 if res.halted or res.unsettled else 0
    finally:
        opened.close()


def _sides(orders: Any) -> list[tuple[str, int]]:
    return sorted({(o.instrument, 1 if o.qty > 0 else -1) for o in orders})


@_guarded
def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from rebal.backends.live.opening import open_session
    from rebal.backends.live.render import render_step
    from rebal.backends.live.runner import Stop, decision_interval, run_loop, stop_on_signals

    strategy = _strategy(args.spec, err)
    if strategy is None:
        return 1
    opened = open_session(strategy, args.venue, state_dir=args.state)
    halted = False
    try:
        session = opened.session
        session.start()
        interval = args.interval if args.interval is not None else decision_interval(strategy)

        def show(res: Any) -> None:
            nonlocal halted
            halted = bool(res.halted)
            text = render_step(res, strategy.numeraire, opened.journal)
            if text:
                print(text, file=out, flush=True)

        with stop_on_signals(Stop()) as stop:
            run_loop(session, interval_s=interval, once=args.once, max_steps=args.steps,
                     stop=stop, on_step=show)
    finally:
        opened.close()
    return 1 if halted else 0


@_guarded
def _status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from rebal.backends.live.opening import open_session
    from rebal.backends.live.render import render_status

    strategy = _strategy(args.spec, err)
    if strategy is None:
        return 1
    opened = open_session(strategy, args.venue, state_dir=args.state, lock=False,
                          connect=not args.offline)
    try:
        j = opened.journal
        snap = None if args.offline else opened.adapter.snapshot()
        print(render_status(strategy=strategy.name, venue=args.venue,
                            numeraire=strategy.numeraire, snap=snap, halt=j.active_halt(),
                            open_rows=j.orders(final=False), steps=j.recent_steps(5),
                            events=j.events(10)), file=out)
    finally:
        opened.close()
    return 0


@_guarded
def _resume(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from rebal.backends.live.opening import open_session
    from rebal.backends.live.render import safe

    strategy = _strategy(args.spec, err)
    if strategy is None:
        return 1
    opened = open_session(strategy, args.venue, state_dir=args.state, connect=False)
    try:
        last = opened.journal.last_step()
        if last is not None:
            opened.session.driver.restore(last[2])
        reason = opened.session.resume()
    finally:
        opened.close()
    print(f"halt cleared: {safe(reason)}" if reason else "no halt to clear", file=out)
    return 0
