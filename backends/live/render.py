"""Plans, step results and status as text (pure functions: only the CLI prints).

Every string that came from a spec or a venue (names, symbols, venue messages) goes through
:func:`safe`, so neither a spec nor an exchange can put escape sequences on a terminal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from rebal.dsl.safe_text import visible

__all__ = ["render_plan", "render_status", "render_step", "safe"]


def safe(text: object) -> str:
    """``text`` with control characters shown visibly (one line), as ``rebal check`` shows them."""
    return visible(str(text))


def _num(x: float | None, digits: int = 6) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "none" if x is None else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    if abs(x) >= 1e5:
        return f"{x:,.0f}"
    return f"{x:,.{digits}g}"


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def render_decision(d: Mapping[str, Any], numeraire: str) -> list[str]:
    out = []
    out.append(f"  equity {_num(d['equity'])} {safe(numeraire)}; decision step {d['seq']} at "
               f"{_when(float(d['t_s']))}")
    if d.get("mode"):
        out.append(f"  mode: {safe(d['mode'])}")
    out.append("  positions:")
    for name, q in sorted(d["positions"].items()):
        out.append(f"    {safe(name):<12} {_num(q)}")
    for name, declared, actual in d.get("book_diffs", []):
        out.append(f"  warning: book says {safe(name)} {_num(declared)}, the venue holds "
                   f"{_num(actual)}; the venue's position is used")
    if d["rows"]:
        out.append("  targets:")
    for r in d["rows"]:
        inside = r["lo"] - 1e-12 <= r["measure"] <= r["hi"] + 1e-12
        where = "inside its band" if inside else "OUTSIDE its band"
        out.append(f"    {safe(r['label']):<20} {_num(r['measure'])} (center {_num(r['center'])}"
                   f", band {_num(r['lo'])} .. {_num(r['hi'])}): {where}"
                   + ("; cannot be met by the hedges" if r.get("unmet") else ""))
    if d.get("halted"):
        out.append("  HALTED: a `halt when` condition holds; nothing is sent")
    if d.get("refused"):
        out.append(f"  refused by `{safe(d['refused'])}`: no orders this step")
    orders = d["orders"]
    if orders:
        out.append(f"  orders ({safe(d['reason']) or 'trade'}):")
        for o in orders:
            side = "buy" if o["qty"] > 0 else "sell"
            lim = "market" if o["limit_price"] is None else f"limit {_num(o['limit_price'])}"
            out.append(f"    {side} {_num(abs(o['qty']))} {safe(o['instrument'])} "
                       f"({safe(o['symbol'])}) {lim}, est. cost {_num(o['est_cost'], 3)} "
                       f"{safe(numeraire)}{', reduce-only' if o['reduce_only'] else ''}  "
                       f"id {safe(o['client_id'])}")
        out.append(f"  after the trade: leverage {_num(d['leverage_after'], 3)}x, "
                   f"liquidation {_liq(d['liquidation_after'])}")
    elif not d.get("halted") and not d.get("refused"):
        out.append("  nothing to do")
    return out


def _liq(x: float | None) -> str:
    if x is None:
        return "out of reach"
    return f"{100 * x:.1f}% away"


def render_plan(doc: Mapping[str, Any], numeraire: str) -> str:
    head = (f"plan for {safe(doc['strategy'])} on {safe(doc['venue'])} "
            f"({safe(doc['backend'])}), valid until {_when(float(doc['expires_s']))}")
    lines = [head, *render_decision(doc["decision"], numeraire)]
    lines.extend(_venue_orders(doc.get("venue_orders") or []))
    for key, value in sorted((doc.get("extra") or {}).items()):
        lines.append(f"  {safe(key)}: {safe(value)}")
    return "\n".join(lines)


def _venue_orders(views: Sequence[Mapping[str, Any]]) -> list[str]:
    """A venue's own form of each order (a solver's signed intent): every field, so a
    reviewer can re-derive the digest and check the signature with any EIP-712 tool."""
    if not views:
        return []
    out = ["  as sent to the venue (signed, not posted):"]
    for v in views:
        out.append(f"    {safe(v.get('client_id', ''))}:")
        typed = v.get("typed_data")
        if isinstance(typed, Mapping):
            dom = typed.get("domain", {})
            out.append(f"      domain {safe(dom.get('name'))} {safe(dom.get('version'))}, chain "
                       f"{safe(dom.get('chainId'))}, verifyingContract "
                       f"{safe(dom.get('verifyingContract'))}")
            for key, value in (typed.get("message") or {}).items():
                shown = str(value).lower() if isinstance(value, bool) else value  # as in JSON
                out.append(f"      {safe(key):<18} {safe(shown)}")
        for key in ("owner", "signing_scheme", "digest", "uid", "signature", "app_data"):
            if key in v:
                out.append(f"      {key:<18} {safe(v[key])}")
    return out


def render_step(res: Any, numeraire: str, journal: Any) -> str:
    lines = []
    if res.decision is not None:
        lines.extend(render_decision(res.decision.summary(), numeraire))
    for cid in res.sent:
        row = journal.order(cid)
        if row is not None:
            lines.append(f"  {safe(cid)}: {row.state}, filled {_num(row.filled)}"
                         + (f" at {_num(row.avg_price)}" if row.avg_price else "")
                         + (f" ({safe(row.reason)})" if row.reason else ""))
    if res.unsettled:
        lines.append(f"  {res.unsettled} order(s) unsettled: reconciling before anything else")
    for m in res.messages:
        lines.append(f"  {safe(m)}")
    if res.halted:
        lines.append(f"  HALTED: {safe(res.halted)} (clear with `rebal resume` after review)")
    return "\n".join(lines)


def render_status(*, strategy: str, venue: str, numeraire: str, snap: Any, halt: str | None,
                  open_rows: Sequence[Any], steps: Sequence[tuple[int, float, Mapping[str, Any]]],
                  events: Sequence[tuple[float, str, str]]) -> str:
    lines = [f"{safe(strategy)} on {safe(venue)}"]
    lines.append(f"  halt: {safe(halt)}" if halt else "  halt: none")
    if snap is not None:
        lines.append(f"  equity {_num(snap.equity)} {safe(numeraire)} at {_when(snap.time_s)}")
        for name, q in sorted(snap.positions.items()):
            lines.append(f"    {safe(name):<12} {_num(q)}")
    lines.append(f"  unsettled orders: {len(open_rows)}")
    for r in open_rows:
        lines.append(f"    {safe(r.client_id)} {safe(r.instrument)} {_num(r.qty)} {r.state}")
    if steps:
        lines.append("  last decisions:")
    for seq, t, s in steps:
        n = len(s.get("orders", []))
        what = f"{n} order(s), {safe(s.get('reason', ''))}" if n else "nothing to do"
        lines.append(f"    step {seq} at {_when(t)}: {what}")
        for r in s.get("rows", []):
            lines.append(f"      {safe(r['label'])}: {_num(r['measure'])} "
                         f"(band {_num(r['lo'])} .. {_num(r['hi'])})")
            break
    if events:
        lines.append("  events:")
    for t, kind, msg in events:
        lines.append(f"    {_when(t)} {safe(kind)}: {safe(msg)}")
    return "\n".join(lines)
