"""Shared pytest fixtures (each group in its own module, imported here)."""

from __future__ import annotations

from chain_fixtures import _chain_base, anvil_node, chain  # noqa: F401  (pytest fixtures)
