#!/usr/bin/env bash
# Browser tests (issue 6): starts `citizencard serve` on a fresh embedded database with the demo
# city, then drives the pages with Debian's chromium and chromium-driver through selenium
# (Tests/Browser/test_pages.py). Needs: chromium, chromium-driver, python3 with selenium.
#
#   scripts/browser-tests.sh [screenshot-folder]
#
# The binary is the debug build (`swift build` first); CITIZENCARD_BIN overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=${CITIZENCARD_BIN:-.build/debug/citizencard}
[ -x "$binary" ] || swift build --product citizencard
export SCREENSHOTS=${1:-${SCREENSHOTS:-$PWD/.build/browser-screenshots}}
mkdir -p "$SCREENSHOTS"

data=$(mktemp -d /tmp/citizencard-browser.XXXXXX)
server=""
bank=""
stop() {
    for pid in $server $bank; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$data"
}
trap stop EXIT

# A partner bank (issue 20): the bank simulator on a loopback port, with a fresh shared secret,
# registered as the city's default bank before the first start, so that the demo city's cards get
# accounts at production. Notices give up fast, so that the tests can see one parked.
python3 -c 'import secrets, sys; sys.stdout.write(secrets.token_hex(32))' >"$data/icbc.secret"
chmod 600 "$data/icbc.secret"
"$binary" bank simulate --code ICBC --bin 622202 --secret-file "$data/icbc.secret" --state "$data/bank.jsonl" \
    --port 0 >"$data/bank.log" 2>&1 &
bank=$!
bank_port=""
for _ in $(seq 1 60); do
    bank_port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\).*/\1/p' "$data/bank.log" | head -1)
    if [ -n "$bank_port" ]; then break; fi
    if ! kill -0 $bank 2>/dev/null; then cat "$data/bank.log"; echo "the bank simulator stopped" >&2; exit 1; fi
    sleep 0.5
done
[ -n "$bank_port" ] || { cat "$data/bank.log"; echo "the bank simulator does not listen" >&2; exit 1; }
"$binary" migrate --data "$data" >"$data/migrate.log" 2>&1 || { cat "$data/migrate.log"; exit 1; }
python3 - "$data/citizencard.json" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as file:
    configuration = json.load(file)
configuration["banks"] = {"maxAttempts": 2, "maxBackoffSeconds": 1}
with open(path, "w") as file:
    json.dump(configuration, file, indent=2, ensure_ascii=False)
PY
"$binary" bank add --data "$data" --code ICBC --name "工商银行舟山分行" --bin 622202 \
    --endpoint "http://127.0.0.1:$bank_port" --is-default --secret-file "$data/icbc.secret" >"$data/bank-add.log" 2>&1 \
    || { cat "$data/bank-add.log"; exit 1; }
export CITIZENCARD_BANK_URL="http://127.0.0.1:$bank_port"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$binary" serve --data "$data" --port "$port" --demo-persons 60 --no-demo-bank >"$data/serve.log" 2>&1 &
server=$!

for _ in $(seq 1 240); do
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 $server 2>/dev/null; then cat "$data/serve.log"; echo "the server stopped" >&2; exit 1; fi
    sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null

export CITIZENCARD_URL="http://127.0.0.1:$port"
# The demo holder's card, as the server printed it (the electronic card's test logs in with it).
demo_card=$(sed -n 's/.*Portal demo: card \([0-9]*\).*/\1/p' "$data/serve.log" | head -1)
if [ -n "$demo_card" ]; then export CITIZENCARD_DEMO_CARD=$demo_card; fi
export CHROMEDRIVER=${CHROMEDRIVER:-$(command -v chromedriver || echo /usr/bin/chromedriver)}
# The counter's card reader (issue 21): the test runs its own pcscd, the software card and the
# counter agent with this binary, whose card is made with this data directory's issuer keyring.
export CITIZENCARD_BIN=$(realpath "$binary")
export CITIZENCARD_DATA=$data
python3 Tests/Browser/test_pages.py
echo "screenshots: $SCREENSHOTS"
