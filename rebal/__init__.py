"""rebal: declarative rebalancing intents for crypto derivative positions.

The public API is small and stable::

    import rebal
    result = rebal.check_file("specs/eth_straddle_hedge.rebal")
    strategy, diagnostics = rebal.compile_file("specs/eth_straddle_hedge.rebal")

Everything else lives in ``rebal.dsl`` (grammar, parser, diagnostics), ``rebal.compiler``
(IR and validation) and ``rebal.backends`` (the decision kernel, sim, ccxt, keeper, solver).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "check_file", "check_source", "compile_file", "compile_text"]

if TYPE_CHECKING:
    from rebal.compiler import check_file, check_source, compile_file, compile_text


def __getattr__(name: str) -> Any:
    # Lazy, so `import rebal` (and `rebal --version`) stays instant.
    if name in ("check_file", "check_source", "compile_file", "compile_text"):
        import rebal.compiler as c

        return getattr(c, name)
    raise AttributeError(f"module 'rebal' has no attribute {name!r}")
