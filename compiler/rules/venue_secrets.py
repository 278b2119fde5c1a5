"""Secrets never appear in specs: a private key or seed phrase written as a string is E804.

The grammar already requires `env NAME` where a backend takes credentials (`rpc`, `signer`,
`account`), so what is left to catch is a secret pasted into another string: a vault or
router address, a symbol, the description. Two shapes are recognised, both unmistakable:
a 32-byte hex private key (64 hex digits, `0x` optional; an address has 40) and a BIP-39
style seed phrase (12 to 24 lower-case words).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rebal.dsl import ast
from rebal.dsl.diagnostics import Diagnostic, make

from . import RuleContext

_PRIVATE_KEY = re.compile(r"(?:0x)?[0-9a-fA-F]{64}")
_SEED_PHRASE = re.compile(r"[a-z]{3,8}(?: [a-z]{3,8}){11,23}")


def _strings(s: ast.Strategy) -> Iterator[ast.Str]:
    """Every string of a strategy: the grammar allows them only in top-level clauses
    (`description`) and in venues (settings and symbol maps)."""
    for c in s.clauses:
        yield from (a for a in c.args if isinstance(a, ast.Str))
    for v in s.venues:
        for c in v.clauses:
            yield from (a for a in c.args if isinstance(a, ast.Str))
        yield from (m.symbol for m in v.symbols)


def secret_in_spec(cx: RuleContext) -> Iterator[Diagnostic]:
    """E804: a string that holds a private key or a seed phrase."""
    tree = cx.lowered.syntax
    if tree is None:
        return
    for s in _strings(tree):
        text = s.value.strip()
        what = ("a private key" if _PRIVATE_KEY.fullmatch(text)
                else "a seed phrase" if _SEED_PHRASE.fullmatch(text) else None)
        if what is None:
            continue
        yield make("E804", f"this string looks like {what}; secrets never belong in a spec",
                   s.span, "put it in an environment variable and name it with `env NAME` "
                   "(e.g. `signer env KEEPER_KEY`); and treat this one as leaked: rotate it")


RULES = (secret_in_spec,)
