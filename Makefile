# rebal: build, test and demo entry points. `make demo` and `make test` are all a newcomer needs.
#
# The virtualenv lives in .venv and is (re)built only when pyproject.toml changes
# (stamp file .venv/.stamp), so every target below is cheap to run again.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp
SPEC   := specs/eth_straddle_hedge.rebal
# pytest workers (pytest-xdist is in the dev extras); override with `make test JOBS=1`.
JOBS   ?= 2
ANVIL  := node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil


.PHONY: all venv setup demo demo-keeper demo-solver test bench lint typecheck clean help

all: test

help:
	@echo "make setup   create .venv and install rebal editable with [all,dev]"
	@echo "make demo    setup, then check, explain and simulate the example specs, and run"
	@echo "             the keeper example on a local chain (make demo-keeper: that part only)"
	@echo "             and the intents example through a local order book (make demo-solver)"
	@echo "make test    setup, then run the whole test suite (pytest -n $(JOBS))"
	@echo "make bench   setup, then run every benchmarks/bench_*.py"
	@echo "make lint    setup, then ruff check and mypy --strict on dsl, compiler and the kernel"
	@echo "make clean   remove .venv, build outputs and caches"

venv setup: $(STAMP)

# pip's default editable install maps rebal.dsl -> dsl/ etc. with an import hook, so new
# modules are picked up without reinstalling; only a pyproject.toml change needs `make setup`.
$(STAMP): pyproject.toml package.json
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "rebal needs Python 3.11+, got " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	@# anvil (a local EVM node) for the keeper and solver tests, pinned in package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	test -x $(ANVIL)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rebal check specs/
	$(BIN)/rebal explain $(SPEC)
	$(BIN)/rebal simulate $(SPEC) --venue paper --paths 2000
	BIN=$(BIN) bash scripts/demo-live.sh
	$(MAKE) --no-print-directory demo-keeper
	$(MAKE) --no-print-directory demo-solver

# The keeper part of the demo: anvil on a free port, the weights vault and its guard deployed
# with a rehearsal market, the oracle (and pool) moved, one `rebal run --once`, anvil stopped.
# The keys are anvil's public development keys; the state goes to a temporary folder.
KEEPER_SPEC := specs/eth_usdc_relative_weights.rebal
demo-keeper: $(STAMP)
	@set -e; state=$$(mktemp -d); port=$$($(BIN)/python -c 'from rebal.backends.chain.anvil import free_port; print(free_port())'); \
	$(ANVIL) --host 127.0.0.1 --port $$port --silent & pid=$$!; trap "kill $$pid; rm -rf $$state" EXIT; \
	export RPC_URL=http://127.0.0.1:$$port \
	  KEEPER_KEY=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d; \
	for i in $$(seq 50); do curl -s -o /dev/null -X POST -H 'Content-Type: application/json' --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' $$RPC_URL && break; sleep 0.1; done; \
	$(BIN)/rebal keeper deploy $(KEEPER_SPEC) --venue mainnet --local --state $$state; \
	$(BIN)/rebal keeper price $(KEEPER_SPEC) --venue mainnet ETH 4000 --state $$state; \
	$(BIN)/rebal run $(KEEPER_SPEC) --venue mainnet --once --state $$state; \
	$(BIN)/rebal status $(KEEPER_SPEC) --venue mainnet --state $$state

# The solver part: eth_cppi_vault's intents venue on anvil through the local order book and
# solver (scripts/demo-solver.sh: deploy --local, emulate solver, price, plan, apply, status).
demo-solver: $(STAMP)
	BIN=$(BIN) ANVIL=$(ANVIL) bash scripts/demo-solver.sh

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(JOBS)

bench: $(STAMP)
	@set -e; found=0; for b in benchmarks/bench_*.py; do \
		[ -e "$$b" ] || continue; found=1; \
		echo "== $$b"; $(BIN)/python "$$b"; \
	done; [ $$found = 1 ] || echo "no benchmarks/bench_*.py yet"

# mypy and the package-dir mapping: the editable install's import hook is invisible to mypy,
# and `mypy dsl compiler` would name the modules dsl.* / compiler.*, skipping the strict
# overrides for rebal.dsl.* / rebal.compiler.* in pyproject.toml. So lint lays out
# build/typecheck/rebal as the installed package (symlinks into rebal/, dsl/, compiler/,
# backends/), puts it on MYPYPATH and checks the packages by name. Findings are printed
# with their real paths (dsl/x.py). tests/test_lint.py does the same in a temp folder.
TYPECHECK := build/typecheck

lint typecheck: $(STAMP)
	$(BIN)/python -m ruff check $(wildcard dsl compiler backends rebal tests benchmarks)
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/rebal
	for f in rebal/*; do case "$$f" in */__pycache__) ;; *) ln -s "$(CURDIR)/$$f" $(TYPECHECK)/rebal/ ;; esac; done
	for d in dsl compiler backends; do ln -s "$(CURDIR)/$$d" $(TYPECHECK)/rebal/$$d; done
	MYPYPATH=$(TYPECHECK) $(BIN)/python -m mypy -p rebal.dsl -p rebal.compiler -p rebal.backends.kernel \
		| sed -E 's#^([^ :]*/)?$(TYPECHECK)/rebal/(dsl|compiler|backends)/#\2/#'

clean:
	rm -rf $(VENV) node_modules build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
