#!/usr/bin/env bash
# Page throughput (docs/performance.md, "Pages"): the release binary on a fresh demo city, wrk
# against three pages, each next to GET /health measured in the same run (a ratio, since the
# machine is shared). Needs wrk (Debian: wrk).
#
#   scripts/bench-pages.sh [seconds per URL, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
binary=${CITIZENCARD_BIN:-.build-release/release/citizencard}
[ -x "$binary" ] || swift build -c release --scratch-path .build-release --product citizencard
data=$(mktemp -d /tmp/citizencard-bench-pages.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$binary" serve --data "$data" --port "$port" --demo-persons 300 >"$data/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.5; done
base="http://127.0.0.1:$port"
token=$(curl -fsS -H 'Content-Type: application/json' -d '{"username":"dh01.operator","password":"citizencard"}' \
    "$base/api/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
card=$(curl -fsS -H "Authorization: Bearer $token" "$base/api/v1/cards?state=active&limit=1" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); items=d if isinstance(d,list) else d.get("items", d.get("cards", [])); print(items[0]["id"])')
rate() { # url [cookie]
    local args=(-t2 -c16 -d"${seconds}s" --latency)
    [ -n "${2:-}" ] && args+=(-H "Cookie: cc_session=$2")
    wrk "${args[@]}" "$1" | awk '/Requests\/sec/ {print $2} / 99%/ {p99=$2} END {print p99}' | paste -sd' '
}
read -r health health99 < <(rate "$base/health")
printf '%-34s %10s %8s %8s\n' "page" "req/s" "p99" "ratio"
printf '%-34s %10s %8s %8s\n' "GET /health (baseline)" "$health" "$health99" "1.00"
for spec in "/console/login|" "/console|$token" "/console/cards/$card|$token"; do
    path=${spec%%|*}; cookie=${spec#*|}
    read -r value p99 < <(rate "$base$path" "$cookie")
    ratio=$(python3 -c "print(f'{$value / $health:.2f}')")
    label="GET ${path/$card/{id\}}"
    printf '%-34s %10s %8s %8s\n' "$label" "$value" "$p99" "$ratio"
done
