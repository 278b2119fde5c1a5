"""`rebal lsp`: the language server for editors, over stdio (see docs/editors.md)."""

from __future__ import annotations

import argparse
from typing import TextIO

COMMANDS = ("lsp",)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("lsp", help="language server for editors (Language Server Protocol on stdio)")
    p.add_argument("--stdio", action="store_true",
                   help="talk over stdin/stdout (the default and only transport; accepted "
                        "because editor clients pass it)")
    p.set_defaults(handler=_cmd_lsp)


def _cmd_lsp(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        from rebal.lsp.server import main
    except ImportError as exc:
        print(f"rebal: the language server needs pygls and lsprotocol ({exc.name} is missing); "
              "install them with `pip install 'rebal[lsp]'`", file=err)
        return 2
    return main()
