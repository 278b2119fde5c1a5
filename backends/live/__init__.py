"""The live layer shared by every live backend (ccxt, keeper, solver, plugins).

See ``../shared/design/live.md`` and ``docs/live.md``: the session loop, plan files, the
SQLite order journal, reconciliation, post-trade verification, halts and the state folder
live here; adapters (``backends/<name>/adapter.py``) only read venue state and carry out
orders through the contract in :mod:`rebal.backends.live.adapter`.
"""
