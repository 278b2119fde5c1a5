"""`format_source`: canonical layout, idempotent, comments kept, the IR unchanged."""

from __future__ import annotations

import functools
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import UnexpectedInput

from rebal.compiler.api import check_source
from rebal.dsl.fmt import format_source
from rebal.dsl.grammar import _lark

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "specs"
SPECS = sorted(ROOT.glob("specs/*.rebal")) + sorted(SHARED.glob("*.rebal"))
SPEC_IDS = [f"{p.parent.parent.name}/{p.name}" for p in SPECS]


def fmt(text: str) -> str:
    out, diags = format_source(text)
    assert out is not None, diags
    return out


def tree_or_none(text: str) -> Any:
    try:
        return _lark().parse(text)
    except UnexpectedInput:
        return None


def compiled(text: str, *, clean: bool = True) -> list[dict[str, Any]]:
    """The IR of every strategy and policy; ``clean=False`` allows findings of the rules."""
    res = check_source(text)
    if clean:
        assert res.ok, [d.message for d in res.diagnostics if d.severity.value == "error"]
    out = [m.model_dump(mode="json") for m in (*res.strategies, *res.policies)]
    assert out, [d.message for d in res.diagnostics]
    return out


def test_there_are_specs_to_format() -> None:
    assert len(SPECS) >= 6


@pytest.mark.parametrize("path", SPECS, ids=SPEC_IDS)
def test_idempotent_and_ir_unchanged(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    once = fmt(text)
    assert fmt(once) == once
    assert compiled(once) == compiled(text)
    comments = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("#")]
    assert [ln.strip() for ln in once.splitlines() if ln.strip().startswith("#")] == comments


GOLDEN_STRADDLE = """\
# Delta-hedge a short ETH straddle with the perpetual.
# The band widens when realized volatility rises, so calm markets hedge
# tightly and stormy markets do not churn.
strategy eth_straddle_hedge {
  description "Short 10x ETH 25-Dec-2026 3000 straddle, delta-hedged with the perp"
  capital 150000 USD

  instruments {
    ETH_C option ETH call strike 3000 USD expiry 2026-12-25 settle ETH
    ETH_P option ETH put strike 3000 USD expiry 2026-12-25 settle ETH
    PERP  perp ETH settle ETH  # Deribit settles ETH-PERPETUAL and its options in ETH
  }

  book {
    ETH_C -10
    ETH_P -10
  }
  owns PERP

  target delta 0 ETH {
    band 0.5 ETH * clamp(realized_vol(ETH, 24h) / 60%, 0.5, 3)
    hedge with PERP
    rebalance to center
  }

  trigger {
    on breach
    every 8h
    cooldown 5m
  }

  costs {
    max slippage 20 bps
    max fee 5 bps
    min trade 0.1 ETH
    split 5 ETH every 2m
    budget 500 USD per 1d
  }

  risk {
    max leverage 3x
    liquidation buffer 25%
    max position PERP 50 ETH
    max orders 30 per 1h
    halt when drawdown > 15%
    halt when price_age > 30s
  }

  mode emergency when abs(delta) > 3 ETH {
    max slippage 100 bps
    cooldown 0s
  }

  venue deribit via ccxt {
    ETH_C = "ETH-25DEC26-3000-C"
    ETH_P = "ETH-25DEC26-3000-P"
    PERP  = "ETH-PERPETUAL"
  }

  venue paper via sim {
    model gbm
    ETH spot 3000 USD vol 60% drift 0%
    fee 3 bps
    horizon 30d step 5m paths 10000
  }
}
"""


def test_golden_straddle() -> None:
    path = ROOT / "specs" / "eth_straddle_hedge.rebal"
    assert fmt(path.read_text(encoding="utf-8")) == GOLDEN_STRADDLE


def test_messy_one_line_spec_becomes_canonical() -> None:
    messy = (
        'strategy  s{description "one  line";capital 100_000 USD instruments{P perp ETH '
        "LONG spot ETH}owns P ,LONG target delta 0 ETH{band 0.5 ETH*clamp( realized_vol(ETH,"
        "24 h)/60 %,0.5,3);hedge with P rebalance to edge}trigger{on breach every 8 h cooldown"
        " 5m}costs{max slippage 20bps;split 5 ETH every 2 m}risk{halt when drawdown>15 % or"
        " - delta < -(3 ETH);max position P 5 ETH}venue paper via sim{ETH spot 3000 USD vol "
        '60 % drift -1%;P="ETH-PERP" LONG = "ETH" horizon 1 d step 1h paths 10 seed 3}}'
    )
    want = """\
strategy s {
  description "one  line"
  capital 100_000 USD
  instruments {
    P    perp ETH
    LONG spot ETH
  }
  owns P, LONG
  target delta 0 ETH {
    band 0.5 ETH * clamp(realized_vol(ETH, 24h) / 60%, 0.5, 3)
    hedge with P
    rebalance to edge
  }
  trigger {
    on breach
    every 8h
    cooldown 5m
  }
  costs {
    max slippage 20 bps
    split 5 ETH every 2m
  }
  risk {
    halt when drawdown > 15% or -delta < -(3 ETH)
    max position P 5 ETH
  }
  venue paper via sim {
    ETH spot 3000 USD vol 60% drift -1%
    P    = "ETH-PERP"
    LONG = "ETH"
    horizon 1d step 1h paths 10 seed 3
  }
}
"""
    assert fmt(messy) == want
    assert compiled(want, clean=False) == compiled(messy, clean=False)


def test_comments_stay_where_they_were() -> None:
    src = """\
# file header

# about the strategy
strategy s {   # after the brace
  capital 1000 USD # trailing
  instruments { P perp ETH }
  owns P
        # before the target, oddly indented
  target delta 0 ETH {
    band 0.5 ETH *    # inside a statement split over lines
      2
    hedge with P


    # at the end of the block
  }
  trigger { on breach } # after a closing brace
  # at the end of the strategy
}
# at the end of the file
"""
    want = """\
# file header

# about the strategy
strategy s {  # after the brace
  capital 1000 USD  # trailing
  instruments {
    P perp ETH
  }
  owns P
  # before the target, oddly indented
  target delta 0 ETH {
    # inside a statement split over lines
    band 0.5 ETH * 2
    hedge with P

    # at the end of the block
  }
  trigger {
    on breach
  }  # after a closing brace
  # at the end of the strategy
}
# at the end of the file
"""
    assert fmt(src) == want
    assert fmt(want) == want
    assert compiled(want, clean=False) == compiled(src, clean=False)


def test_comment_in_strings_is_not_a_comment() -> None:
    src = 'strategy s { description "not # a comment" # a comment\n}\n'
    assert fmt(src) == 'strategy s {\n  description "not # a comment"  # a comment\n}\n'


def test_blank_lines_at_most_one_and_none_at_block_edges() -> None:
    src = "strategy s {\n\n\n  capital 1 USD\n\n\n\n  owns P\n\n}\n\n\n\npolicy p {\n}\n"
    assert fmt(src) == "strategy s {\n  capital 1 USD\n\n  owns P\n}\n\npolicy p {\n}\n"


def test_semicolons_dropped_and_units_spaced() -> None:
    src = "policy p { max leverage 5 x ; max slippage 100bps; venues allowed a,b ;}"
    assert fmt(src) == "policy p {\n  max leverage 5x\n  max slippage 100 bps\n  venues allowed a, b\n}\n"


@pytest.mark.parametrize(
    ("src", "want"),
    [
        # without the `;`, `to 2.3x` would continue the band: `band 1.7x to 2.3x`
        ("strategy s { target leverage 2x { band 1.7x ;to 2.3x } }",
         "strategy s {\n  target leverage 2x {\n    band 1.7x;\n    to 2.3x\n  }\n}\n"),
        # without the `;`, `3 ETH` would be a quantity
        ("strategy s { venue v via sim { seed 3; ETH spot 3000 USD; } }",
         "strategy s {\n  venue v via sim {\n    seed 3;\n    ETH spot 3000 USD\n  }\n}\n"),
        ("strategy s { target weights { A 0.5; B 0.5; }; }",
         "strategy s {\n  target weights {\n    A 0.5;\n    B 0.5\n  }\n}\n"),
    ],
)
def test_semicolons_that_separate_statements_stay(src: str, want: str) -> None:
    assert fmt(src) == want
    assert fmt(want) == want
    assert _lark().parse(want) == _lark().parse(src)
    assert tree_or_none(want.replace(";", "")) != _lark().parse(src)  # another tree, or none


def test_numbers_keep_their_text() -> None:
    src = "strategy s { capital 1_000_000.50 USD; instruments { P perp ETH } }"
    assert "capital 1_000_000.50 USD" in fmt(src)


def test_calls_and_signs() -> None:
    src = (
        "strategy s { risk { halt when spot ( ETH ) * 2 > - 3 USD and not ( delta > 1 ETH )"
        " or max(leverage,2 x)>=+3x } venue v via sim { ETH spot (3000 USD) } }"
    )
    out = fmt(src)
    assert "halt when spot(ETH) * 2 > -3 USD and not (delta > 1 ETH) or max(leverage, 2x) >= +3x" in out
    assert "ETH spot (3000 USD)" in out  # `spot` the keyword, not the function


def test_byte_order_mark_is_dropped() -> None:
    assert format_source("\ufeffpolicy p { max leverage 5x }") == (
        "policy p {\n  max leverage 5x\n}\n", [])


def test_empty_and_comment_only_files() -> None:
    assert format_source("") == ("", [])
    assert format_source("  \n# only a comment   \n\n") == ("# only a comment\n", [])


@pytest.mark.parametrize(
    "bad", ["strategy {", "strategy s { capital 1 USD", "\x00\x01", "strategy s { 3 }"]
)
def test_bad_input_gives_diagnostics_not_text(bad: str) -> None:
    out, diags = format_source(bad, "bad.rebal")
    assert out is None
    assert diags and all(d.span is None or d.span.file == "bad.rebal" for d in diags)
    assert any(d.code.startswith("E1") for d in diags)


# ------------------------------------------------------------------ random whitespace

_TOKEN = re.compile(
    r'#.*|"(?:[^"\\\n]|\\.)*"|\d{4}-\d{2}-\d{2}|[A-Za-z_]\w*'
    r"|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?|\.\d[\d_]*|<=|>=|==|!=|\S"
)
_INLINE = (" ", "  ", "\t", " \t ", "\n", "\n    ", " \n\t")
_TIGHT = ("", "", " ", "\t")


def _perturb(canonical: str, rnd: random.Random) -> str:
    """Rewrite every gap of canonical text with other whitespace that means the same.

    Gaps inside a line (inside one statement) get any whitespace with at most one newline;
    gaps between lines get spaces, tabs or a newline (a newline where a comment ends or a
    comment line follows), more newlines where the layout drops them, and `;` after
    statements.
    """
    out: list[str] = [rnd.choice(("", "\n", " \n\n", "\t"))]
    lines = canonical.splitlines()
    depth = 0
    blank_pending = False
    prev_kind = "start"  # start | head | stmt | comment
    for line in lines:
        if not line.strip():
            blank_pending = True
            continue
        toks = list(_TOKEN.finditer(line))
        comment = toks[-1].group() if toks[-1].group().startswith("#") else None
        code = [m for m in toks if not m.group().startswith("#")]
        is_close = bool(code) and code[0].group() == "}"
        # the gap before this line
        if prev_kind != "start":
            if blank_pending:
                gap = "\n" * rnd.randint(2, 4) + rnd.choice(("", "  ", "\t"))
            elif prev_kind == "head" or is_close:
                gap = "\n" * rnd.randint(1, 3) + rnd.choice(("", " ", "\t"))
            elif prev_kind == "comment_end" or not code:
                gap = "\n" + rnd.choice(("", "  ", "\t", "      "))
            else:
                gap = rnd.choice((" ", "\n", "\t", "\n  ", "  \n"))
            out.append(gap)
        blank_pending = False
        for i, m in enumerate(code):
            if i:
                tight = m.start() == code[i - 1].end()
                out.append(rnd.choice(_TIGHT if tight else _INLINE))
            out.append(m.group())
        for m in code:
            depth += {"{": 1, "}": -1}.get(m.group(), 0)
        ends_head = bool(code) and code[-1].group() == "{"
        if code and not ends_head and depth > 0 and rnd.random() < 0.4:
            out.append(rnd.choice(("", " ", "\t")) + ";")
        if comment is not None:
            out.append(rnd.choice((" " if code else "", "   ", "\t")) + comment)
        prev_kind = "head" if ends_head else "comment_end" if comment else "stmt"
    out.append(rnd.choice(("", "\n", "\n\n\n", "  ")))
    return "".join(out)


@functools.cache
def canonical_of(path: Path) -> str:
    return fmt(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", SPECS, ids=SPEC_IDS)
@settings(max_examples=15, deadline=None)
@given(rnd=st.randoms(use_true_random=False))
def test_random_whitespace_and_semicolons_give_the_same_text(
    path: Path, rnd: random.Random
) -> None:
    canonical = canonical_of(path)
    messy = _perturb(canonical, rnd)
    assert fmt(messy) == canonical, messy


def test_perturbation_really_changes_the_text() -> None:
    canonical = fmt((ROOT / "specs" / "eth_straddle_hedge.rebal").read_text(encoding="utf-8"))
    rnd = random.Random(7)
    messy = [_perturb(canonical, rnd) for _ in range(5)]
    assert all(m != canonical for m in messy)
    assert any(";" in m for m in messy)
    assert compiled(messy[0]) == compiled(canonical)


_PIECES = (" # c\n", "\n# own line\n", "\n\n", ";", " ", "-", "(", ")", "1", "x", "%", "ETH",
           "band 1 ETH", "{", "}", ",", "to", "0.5", "seed 3", "PERP", "\t", "not", '"s"')


@settings(max_examples=150, deadline=None)
@given(rnd=st.randoms(use_true_random=False))
def test_mutated_specs_never_crash_and_stay_stable(rnd: random.Random) -> None:
    """Any edit of a spec either fails to parse (diagnostics) or formats idempotently."""
    parts = re.findall(r'#.*|"(?:[^"\\\n]|\\.)*"|\S+|\s+', rnd.choice(SPECS).read_text("utf-8"))
    for _ in range(rnd.randint(1, 5)):
        k = rnd.randrange(len(parts) + 1)
        if rnd.random() < 0.25 and k < len(parts):
            parts[k] = ""
        else:
            parts.insert(k, rnd.choice(_PIECES))
    src = "".join(parts)
    out, diags = format_source(src)
    if out is None:
        assert diags
        return
    assert fmt(out) == out
    assert _lark().parse(out) == _lark().parse(src)
