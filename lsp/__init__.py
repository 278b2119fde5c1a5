"""The rebal language server (`rebal lsp`): the compiler's diagnostics, hover, go-to-definition,
completion, formatting and outline for editors, over the Language Server Protocol on stdio.

The features are pure functions of a document's text and its last check (``analysis``,
``hover``, ``completion``, ``navigation``); ``server`` only wires them to pygls. This package
imports the dsl and the compiler, and the backend registry's light capability declarations,
never a backend's heavy libraries (numpy, ccxt, web3).
"""
