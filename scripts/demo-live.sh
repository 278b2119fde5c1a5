#!/usr/bin/env bash
# The live part of `make demo`: start the Deribit emulator on 127.0.0.1, then `rebal plan`,
# `rebal apply` and `rebal status` of the straddle example against it, then stop it.
# Only loopback is contacted; the credentials are throwaway values for the emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
work=$(mktemp -d)
trap 'kill "${emu_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

export REBAL_EMULATOR_API_KEY=demo-key-not-secret REBAL_EMULATOR_SECRET=demo-secret-not-secret
export DERIBIT_API_KEY=$REBAL_EMULATOR_API_KEY DERIBIT_SECRET=$REBAL_EMULATOR_SECRET
port=$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DERIBIT_URL="http://127.0.0.1:$port"

# The example names Deribit's own API; the demo copy adds `url env DERIBIT_URL` so it talks
# to the emulator instead (a spec names the variable, never the URL).
sed 's/^\(  venue deribit via ccxt {\)$/\1\n    url env DERIBIT_URL/' specs/eth_straddle_hedge.rebal \
  > "$work/eth_straddle_hedge.rebal"

echo "== rebal emulate deribit (prices from the example's paper venue, ETH moved to 3300)"
"$BIN/rebal" emulate deribit --port "$port" --speed 0 --spec specs/eth_straddle_hedge.rebal \
  --venue paper --price ETH=3300 > "$work/emulator.log" 2>&1 &
emu_pid=$!
# once it answers, give it the short straddle of the example's book
"$BIN/python" - <<'PY'
import json, os, time, urllib.request
url = os.environ["DERIBIT_URL"]
for _ in range(300):
    try:
        urllib.request.urlopen(url + "/_control/state", timeout=1).read()
        break
    except OSError:
        time.sleep(0.1)
body = {"account": "main", "positions": {"ETH-25DEC26-3000-C": -10, "ETH-25DEC26-3000-P": -10}}
req = urllib.request.Request(url + "/_control/positions", data=json.dumps(body).encode(),
                             method="POST")
urllib.request.urlopen(req, timeout=5).read()
PY

state="$work/state"
echo "== rebal plan"
"$BIN/rebal" plan "$work/eth_straddle_hedge.rebal" --venue deribit --state "$state" \
  -o "$work/plan.json" || [ $? = 2 ]   # exit 2: trades planned
echo "== rebal apply"
"$BIN/rebal" apply "$work/plan.json" --state "$state"
echo "== rebal status"
"$BIN/rebal" status "$work/eth_straddle_hedge.rebal" --venue deribit --state "$state"
