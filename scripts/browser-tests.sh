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
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$binary" serve --data "$data" --port "$port" --demo-persons 60 >"$data/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT

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
python3 Tests/Browser/test_pages.py
echo "screenshots: $SCREENSHOTS"
