#!/usr/bin/env bash
# The solver part of `make demo`: anvil on a free loopback port, eth_cppi_vault's `intents`
# venue deployed locally (vault, guard, rehearsal market, Settlement), the local order book and
# solver, the oracle moved, `rebal plan` (the signed intent), `rebal apply`, `rebal status`.
# The keys are anvil's public development keys; the state goes to a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
ANVIL=${ANVIL:-node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}
SPEC=specs/eth_cppi_vault.rebal  # the shared spec as written (same bytes)
work=$(mktemp -d)
trap 'kill "${solver_pid:-}" "${anvil_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

port=$("$BIN/python" -c 'from rebal.backends.chain.anvil import free_port; print(free_port())')
"$ANVIL" --host 127.0.0.1 --port "$port" --silent & anvil_pid=$!
export RPC_URL=http://127.0.0.1:$port
# the spec's `intents` venue names no `rpc env`: it reads <VENUE>_RPC_URL
export INTENTS_RPC_URL=$RPC_URL
export KEEPER_KEY=0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
export REBAL_SOLVER_KEY=0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
for _ in $(seq 100); do
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
    --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$RPC_URL" && break
  sleep 0.1
done
state=$work/state
venue=(--venue intents --state "$state")

echo "== rebal keeper deploy $SPEC --venue intents --local"
"$BIN/rebal" keeper deploy "$SPEC" "${venue[@]}" --local
echo "== rebal emulate solver (order book and solver over the local chain)"
"$BIN/rebal" emulate solver --rpc "$RPC_URL" --state "$state" --interval 0.5 \
  > "$work/solver.log" 2>&1 & solver_pid=$!
for _ in $(seq 300); do grep -q "listening on" "$work/solver.log" 2>/dev/null && break; sleep 0.1; done
cat "$work/solver.log"
REBAL_ORDERBOOK_URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/solver.log")
export REBAL_ORDERBOOK_URL
echo "== rebal keeper price: ETH falls to 2700, the CPPI cushion shrinks"
"$BIN/rebal" keeper price "$SPEC" "${venue[@]}" ETH 2700
echo "== rebal plan (exit 2: trades planned)"
"$BIN/rebal" plan "$SPEC" "${venue[@]}" -o "$work/plan.json" || [ $? -eq 2 ]
echo "== rebal apply: place the intent, post it, the solver settles it"
"$BIN/rebal" apply "$work/plan.json" --state "$state"
echo "== rebal status"
"$BIN/rebal" status "$SPEC" "${venue[@]}"
