#!/usr/bin/env bash
# API fuzzing (issue 16): schemathesis against the real server on a fresh demo city, as the card
# center (admin), as an outlet operator (dh01.operator) and as a purchase terminal, with a fixed
# seed and a time budget. Fails on any 5xx, any answer that openapi.yaml does not describe (status,
# content type, headers, body schema), or an audit chain that does not verify once the server has
# stopped. docs/api-fuzzing.md explains it and how to reproduce a failure.
#
#   scripts/api-fuzz.sh [path/to/citizencard]       (default: .build/debug/citizencard, built if missing)
#
# Environment: FUZZ_SEED (default 16016); FUZZ_SECONDS, the time budget of each of the three main
# runs (default 95; the whole script then takes about 5.5 minutes); FUZZ_EXAMPLES, examples per
# operation and cycle (default 25); FUZZ_WORKERS (default 1); FUZZ_ROLES (default "terminal
# operator admin staff"); FUZZ_REPORTS, where the logs, the schemathesis configuration and the
# JUnit reports go (default .build/api-fuzz). Needs curl and python3 with pip; installs
# schemathesis if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

schemathesis_version=4.32.5
binary=${1:-.build/debug/citizencard}
seed=${FUZZ_SEED:-16016}
seconds=${FUZZ_SECONDS:-95}
examples=${FUZZ_EXAMPLES:-25}
workers=${FUZZ_WORKERS:-1}
roles=${FUZZ_ROLES:-terminal operator admin staff}
reports=${FUZZ_REPORTS:-$PWD/.build/api-fuzz}
# The document of the checkout (the binary built from it serves the same bytes).
schema=$PWD/Sources/CitizenCardHTTP/Resources/openapi.yaml
demo_persons=40

if [ ! -x "$binary" ] && [ $# -eq 0 ]; then swift build --product citizencard; fi
[ -x "$binary" ] || { echo "api-fuzz: no citizencard binary at $binary" >&2; exit 2; }
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")

if [ "$(python3 -c 'import schemathesis; print(schemathesis.__version__)' 2>/dev/null)" != "$schemathesis_version" ]; then
    echo "api-fuzz: installing schemathesis $schemathesis_version"
    python3 -m pip install --quiet "schemathesis==$schemathesis_version"
fi

started=$(date +%s)
mkdir -p "$reports" && rm -f "$reports"/*.log "$reports"/*.toml "$reports"/*.junit.xml
data=$(mktemp -d /tmp/citizencard-fuzz.XXXXXX)
server=""
keep_data=0
stop_server() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    server=""
}
# The server is stopped whatever happens; the data directory stays when something failed.
trap 'stop_server; if [ "$keep_data" = 0 ]; then rm -rf "$data"; else echo "api-fuzz: data directory kept: $data"; fi' EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$binary" serve --data "$data" --host 127.0.0.1 --port "$port" --demo-persons "$demo_persons" \
    >"$reports/serve.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 240); do
    if curl -fsS "$base/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$server" 2>/dev/null; then
        cat "$reports/serve.log" >&2
        echo "api-fuzz: the server stopped" >&2
        exit 1
    fi
    sleep 0.5
done
curl -fsS "$base/health" >/dev/null

# One JSON request; prints the answer's body, fails on a status other than 2xx.
call() { # method path token [body]
    curl -fsS -X "$1" "$base$2" -H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} \
        ${4:+--data-binary "$4"}
}
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
login() { call POST /api/v1/auth/login "" "{\"username\":\"$1\",\"password\":\"citizencard\"}" | field token; }

# The callers, before any fuzzing: the fuzzer's failed log-ins soon lock this address out.
admin_token=$(login admin)
operator_token=$(login dh01.operator)
merchant=$(call POST /api/v1/merchants "$admin_token" \
    '{"code":"FUZZ-BUS","name":"Fuzz bus line","commissionBasisPoints":60}' | field id)
terminal_token=$(call POST "/api/v1/merchants/$merchant/terminals" "$admin_token" \
    '{"number":"F022F022F022","psamSerial":"F0221600","location":"fuzzing"}' | field key)
# The terminal signs in, as a terminal in service does before it uploads.
call POST /api/v1/terminal/sign-in "$terminal_token" '{"hotlistVersion":0}' >/dev/null

# A schemathesis configuration per caller (`schemathesis-<caller>.toml`): dictionaries of ids and
# numbers of the demo city (persons and their real resident ID numbers, cards in every state and
# their numbers and ASNs, batches, outlets, staff, rules, merchants, terminals, loads, receipts),
# from which about half of the values of those parameters are drawn, so that the runs reach the
# use cases and not only 404. The operator's cards and holders are those of its own outlet (the
# others are 403 `wrong_outlet`); the terminal's records name its own terminal id and PSAM.
BASE=$base ADMIN=$admin_token OPERATOR=$operator_token TERMINAL_NUMBER=F022F022F022 PSAM=F0221600 \
    python3 - "$reports" <<'PY'
import json, os, sys, urllib.request

base, admin, operator = os.environ["BASE"], os.environ["ADMIN"], os.environ["OPERATOR"]


def get(path, token=admin):
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


states = ["applied", "rejected", "approved", "in_production", "produced", "delivered", "active", "pre_lost",
          "lost", "replaced", "cancelled", "expired"]
cards = [card for state in states for card in get(f"/api/v1/cards?state={state}&limit=8")["items"]]
own_outlet = get("/api/v1/auth/me", operator)["outletId"]
own_cards = [card for card in cards if card["outletId"] == own_outlet]
id_numbers = {}


def holders(chosen):
    persons = sorted({card["personId"] for card in chosen})[:20]
    for person in persons:
        if person not in id_numbers:
            id_numbers[person] = get(f"/api/v1/persons/{person}?reveal=true&purpose=fuzzing", operator)["idNumber"]
    return persons, [id_numbers[person] for person in persons]


def common(chosen):
    persons, numbers = holders(chosen)
    return {
        "cardIds": [card["id"] for card in chosen],
        "cardNumbers": [card["number"] for card in chosen],
        "asns": [card["asn"] for card in chosen],
        "personIds": persons,
        "idNumbers": numbers,
    }


shared = {
    "batchIds": [batch["id"] for batch in get("/api/v1/production-batches")["items"]],
    "outletIds": [outlet["id"] for outlet in get("/api/v1/outlets")["items"]],
    # Not the administrators: a password reset ends every session of the account.
    "operatorIds": [staff["id"] for staff in get("/api/v1/operators")["items"] if staff["role"] != "admin"],
    "ruleIds": [rule["id"] for rule in get("/api/v1/eligibility-rules")["items"]],
    "merchantIds": [merchant["id"] for merchant in get("/api/v1/merchants")["items"]],
    "terminalIds": [terminal["id"] for terminal in get("/api/v1/terminals")["items"]],
    "loadIds": sorted({load["id"] for card in cards if card["state"] == "active"
                       for load in get(f"/api/v1/cards/{card['id']}/loads")["items"]}),
    "receiptIds": sorted({event["receiptId"] for card in cards
                          for event in get(f"/api/v1/cards/{card['id']}/events")["items"] if "receiptId" in event}),
    "terminalNumbers": [os.environ["TERMINAL_NUMBER"]],
    "psamSerials": [os.environ["PSAM"]],
}
bindings = {
    "path.personId": "personIds", "body.personId": "personIds", "query.personId": "personIds",
    "path.cardId": "cardIds", "body.cardIds[*]": "cardIds",
    "path.cardNumber": "cardNumbers", "body.results[*].cardNumber": "cardNumbers",
    "body.idNumber": "idNumbers", "body.identity.idNumber": "idNumbers", "body.idNumbers[*]": "idNumbers",
    "path.batchId": "batchIds",
    "query.outletId": "outletIds", "body.outletId": "outletIds",
    "path.operatorId": "operatorIds", "path.ruleId": "ruleIds",
    "path.merchantId": "merchantIds", "query.merchantId": "merchantIds",
    "path.terminalId": "terminalIds", "path.receiptId": "receiptIds", "path.loadId": "loadIds",
    "body.records[*].asn": "asns", "body.records[*].terminalID": "terminalNumbers",
    "body.records[*].psamSerialNumber": "psamSerials",
}
for caller, chosen in (("terminal", cards), ("operator", own_cards), ("admin", cards), ("staff", cards)):
    values = {**common(chosen), **shared}
    with open(os.path.join(sys.argv[1], f"schemathesis-{caller}.toml"), "w", encoding="utf-8") as config:
        for name, entries in values.items():
            if entries:
                config.write(f"[dictionaries.{name}]\nvalues = {json.dumps(entries)}\n\n")
        config.write("[parameters]\n")
        for key, name in bindings.items():
            if values[name]:
                config.write(f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}\n')
    if caller in ("operator", "admin"):
        print(f"api-fuzz: {caller}: " + ", ".join(f"{len(entries)} {name}" for name, entries in values.items()))
PY

# One schemathesis run per caller; every caller is sent to every operation (those it may not use
# must answer 401 or 403 as documented). Left out: POST /api/v1/auth/logout, which would end the
# session the run uses, and, except in the last run (`staff`, 15 s), PATCH /api/v1/operators/{id}:
# the administrator's run learns its own id from the answers, and a password reset of its own
# account would end its session for the rest of the run.
staff_operation=/api/v1/operators/{operatorId}
failed=()
summary=()
for role in $roles; do
    budget=$seconds
    only=(--exclude-path /api/v1/auth/logout --exclude-path "$staff_operation")
    case $role in
        terminal) token=$terminal_token ;;
        operator) token=$operator_token ;;
        admin) token=$admin_token ;;
        staff) token=$admin_token budget=15 only=(--include-path "$staff_operation") ;;
        *) echo "api-fuzz: unknown role $role" >&2; exit 2 ;;
    esac
    echo "== schemathesis as $role (seed $seed, at most ${budget}s)"
    set +e
    (cd "$reports" && python3 -m schemathesis.cli --config-file "$reports/schemathesis-$role.toml" run "$schema" \
        --url "$base" \
        --header "Authorization: Bearer $token" \
        "${only[@]}" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
        --seed "$seed" \
        --max-examples "$examples" \
        --max-time "$budget" \
        --workers "$workers" \
        --request-timeout 20 \
        --generation-database none \
        --suppress-health-check all \
        --no-color \
        --report junit --report-junit-path "$reports/$role.junit.xml" \
        >"$reports/$role.log" 2>&1)
    rc=$?
    set -e
    if [ $rc -ne 0 ]; then
        failed+=("$role")
        # The failures with their curl command lines, not the warnings about coverage.
        sed -n '/= FAILURES =/,/= WARNINGS =/p;/= ERRORS =/,/= WARNINGS =/p' "$reports/$role.log"
    fi
    cases=$(grep -A1 '^Test cases:' "$reports/$role.log" | tail -1 | sed 's/^ *//')
    verdict=$(tail -1 "$reports/$role.log" | tr -d '=' | sed 's/^ *//; s/ *$//')
    summary+=("$role: ${cases:-no test cases}; ${verdict:-no result} (exit $rc)")
    if ! kill -0 "$server" 2>/dev/null; then
        echo "api-fuzz: the server stopped during the run as $role" >&2
        failed+=("server")
        break
    fi
done

# Stop the server (SIGTERM: it finishes what is in flight and closes the store), then check the
# audit chain that everything above has written.
stop_server
set +e
"$binary" audit verify --data "$data" >"$reports/audit-verify.log" 2>&1
audit=$?
set -e
[ $audit -eq 0 ] || failed+=("audit chain")

echo "== api-fuzz summary: schemathesis $schemathesis_version, seed $seed, $(($(date +%s) - started)) s, logs in $reports"
printf '  %s\n' "${summary[@]}"
echo "  audit verify: $(head -1 "$reports/audit-verify.log") (exit $audit)"
if ((${#failed[@]})); then
    keep_data=1
    echo "api-fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "api-fuzz: passed"
