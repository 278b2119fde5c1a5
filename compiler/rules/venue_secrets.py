"""Secrets and API roots never appear in specs: E804 (a credential) and E805 (a URL).

A spec may come from an author the operator does not trust. Credentials and API roots are
therefore only *named* (`account env NAME`, `url env NAME`, `rpc env NAME`, `signer env
NAME`) and read from the environment where the spec runs. Two things are refused:

* **E804**, a credential written in the spec: a literal after `account` or `signer`, a
  32-byte hex private key (64 hex digits, `0x` optional; an address has 40), a BIP-39 style
  seed phrase (12 to 24 lower-case words), or an exchange API key or secret (20 or more
  letters and digits mixing upper case, lower case and digits, as Binance, Deribit and most
  exchanges issue them; venue symbols are upper case and addresses are `0x` and 40 hex).
* **E805**, a URL written in the spec: a literal after `url` or `rpc`, or any venue string
  with a scheme (`https://`, `wss://`) or a host name. A spec that chose the API root could
  send the operator's signed requests, API key included, to its author's server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from rebal.dsl import ast
from rebal.dsl.diagnostics import Diagnostic, make

from . import RuleContext

_PRIVATE_KEY = re.compile(r"(?:0x)?[0-9a-fA-F]{64}")
_SEED_PHRASE = re.compile(r"[a-z]{3,8}(?: [a-z]{3,8}){11,23}")
_API_KEY = re.compile(r"[A-Za-z0-9_+/=-]{20,}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*|(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?(?:/\S*)?"
                  r"|(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?(?:/\S*)?|localhost(?::\d+)?(?:/\S*)?")
#: Settings that take `env NAME`: what a literal there would be.
_CREDENTIAL_SETTINGS = {"account": "exchange credentials", "signer": "a signing key"}
_URL_SETTINGS = {"url": "the API root", "rpc": "the RPC endpoint"}
_ENV_HELP = ("put it in an environment variable and name it with `env NAME` "
             "(e.g. `{key} env {var}`)")


def _strings(s: ast.Strategy) -> Iterator[tuple[ast.Str, bool]]:
    """Every string of a strategy, and whether it is a venue's (settings and symbol maps).
    The grammar allows strings only in top-level clauses (`description`) and in venues."""
    for c in s.clauses:
        yield from ((a, False) for a in c.args if isinstance(a, ast.Str))
    for v in s.venues:
        for c in v.clauses:
            # a sim venue's `model replay "file.csv"` names a local file, never a host
            yield from ((a, c.key != "model") for a in c.args if isinstance(a, ast.Str))
        yield from ((m.symbol, True) for m in v.symbols)


def _looks_like_api_key(text: str) -> bool:
    return (bool(_API_KEY.fullmatch(text)) and not _ADDRESS.fullmatch(text)
            and any(ch.islower() for ch in text) and any(ch.isupper() for ch in text)
            and any(ch.isdigit() for ch in text))


def _secret_kind(text: str) -> str | None:
    if _PRIVATE_KEY.fullmatch(text):
        return "a private key"
    if _SEED_PHRASE.fullmatch(text):
        return "a seed phrase"
    if _looks_like_api_key(text):
        return "an API key or secret"
    return None


def _literal_settings(tree: ast.Strategy, keys: Mapping[str, str]
                      ) -> Iterator[tuple[ast.Venue, ast.Clause, ast.Str]]:
    """Venue settings among ``keys`` written as a literal string instead of `env NAME`."""
    for v in tree.venues:
        for c in v.clauses:
            if c.key in keys and c.args and isinstance(c.args[0], ast.Str):
                yield v, c, c.args[0]


def secret_in_spec(cx: RuleContext) -> Iterator[Diagnostic]:
    """E804: a credential written where only its variable may be named."""
    tree = cx.lowered.syntax
    if tree is None:
        return
    literal: set[int] = set()
    for v, c, arg in _literal_settings(tree, _CREDENTIAL_SETTINGS):
        literal.add(id(arg))
        yield make("E804", f"`{c.key}` takes the name of an environment variable, "
                   f"never {_CREDENTIAL_SETTINGS[c.key]} themselves", arg.span,
                   _ENV_HELP.format(key=c.key, var=v.name.text.upper())
                   + "; a spec is shared and committed, so treat this value as leaked")
    for s, _ in _strings(tree):
        if id(s) in literal:
            continue
        what = _secret_kind(s.value.strip())
        if what is None:
            continue
        yield make("E804", f"this string looks like {what}; secrets never belong in a spec",
                   s.span, "put it in an environment variable and name it with `env NAME` "
                   "(e.g. `signer env KEEPER_KEY`); and treat this one as leaked: rotate it")


def url_in_spec(cx: RuleContext) -> Iterator[Diagnostic]:
    """E805: an API root or any other URL written in a venue instead of `url env NAME`."""
    tree = cx.lowered.syntax
    if tree is None:
        return
    named: set[int] = set()
    for v, c, arg in _literal_settings(tree, _URL_SETTINGS):
        named.add(id(arg))
        var = f"{v.name.text.upper()}_{'URL' if c.key == 'url' else 'RPC'}"
        yield make("E805", f"`{c.key}` takes the name of an environment variable, never "
                   f"{_URL_SETTINGS[c.key]} itself: a spec must not choose where "
                   "credentials are sent", arg.span,
                   f"write `{c.key} env {var}` and set {var} where the spec runs")
    for s, in_venue in _strings(tree):
        text = s.value.strip()
        if not in_venue or id(s) in named or not _URL.fullmatch(text):
            continue
        yield make("E805", "this venue string is a URL; a spec never names where requests go",
                   s.span, "an API root override is `url env NAME` (a variable set where the "
                   "spec runs); symbols are the exchange's ids like \"ETH-PERPETUAL\"")


RULES = (secret_in_spec, url_in_spec)
