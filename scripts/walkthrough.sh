#!/usr/bin/env bash
# The whole life of one citizen card (市民卡), through the real HTTP API of a running server:
#
#   register a resident and take the portrait, apply (申领), verify (校核), produce (制卡), issue at
#   the counter (发卡), report the loss in writing (挂失), reissue (补领), produce and issue the new
#   card, cancel it (注销), and check the audit chain.
#
# Usage: scripts/walkthrough.sh [BASE_URL]        (default http://127.0.0.1:8080)
#
# Needs a server started with the demo city (`citizencard serve`, the default): it logs in as the
# demo staff admin, dh01.operator and dh01.supervisor (password `citizencard`). Each run registers a
# new resident with a fresh, valid resident ID number, so it can run any number of times against
# the same server. Every HTTP status is checked, and the states after each step; anything
# unexpected stops the script with a non-zero exit status and the response body.
#
# Needs bash, curl and python3 (for reading JSON). Personal data travels only in request bodies,
# never in URLs; the script prints the ID number masked. README.md explains each request.
set -euo pipefail

BASE="${1:-http://127.0.0.1:8080}"
BASE="${BASE%/}"
API="$BASE/api/v1"
PASSWORD="citizencard"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/citizencard-walkthrough.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
RESPONSE="$WORK/response"
HEADERS="$WORK/headers"
STEP=0

# --- helpers ---------------------------------------------------------------------------------

fail() {
    echo "FAILED: $*" >&2
    exit 1
}

step() {
    STEP=$((STEP + 1))
    printf '\n== %2d. %s\n' "$STEP" "$*"
}

# call METHOD PATH EXPECTED TOKEN [JSON_BODY]
# Sends the request (with the JSON body, if given), leaves the response in $RESPONSE, its headers
# in $HEADERS and its status in $STATUS, and fails unless the status is the expected one (or one of
# several written 201|409).
call() {
    local method="$1" path="$2" expected="$3" token="$4" body="${5-}"
    local args=(-sS -X "$method" -o "$RESPONSE" -D "$HEADERS" -w '%{http_code}' --max-time 120
        -H 'Accept: application/json' -H 'Accept-Language: en')
    if [[ -n "$token" ]]; then args+=(-H "Authorization: Bearer $token"); fi
    if [[ -n "$body" ]]; then args+=(-H 'Content-Type: application/json' --data-binary "$body"); fi
    STATUS="$(curl "${args[@]}" "$API$path")" || fail "$method $path: no answer from $BASE (is the server running?)"
    check_status "$method" "$path" "$expected"
}

# upload PATH TOKEN FILE MEDIA_TYPE: PUT a file as the request body, expecting 200.
upload() {
    local path="$1" token="$2" file="$3" media="$4"
    STATUS="$(curl -sS -X PUT -o "$RESPONSE" -D "$HEADERS" -w '%{http_code}' --max-time 120 \
        -H 'Accept: application/json' -H 'Accept-Language: en' -H "Authorization: Bearer $token" \
        -H "Content-Type: $media" --data-binary "@$file" "$API$path")" ||
        fail "PUT $path: no answer from $BASE"
    check_status PUT "$path" 200
}

check_status() {
    local method="$1" path="$2" expected="$3"
    echo "   $method $path -> $STATUS"
    if [[ "|$expected|" != *"|$STATUS|"* ]]; then
        echo "FAILED: $method $path answered $STATUS, expected $expected. Body:" >&2
        cat "$RESPONSE" >&2
        echo >&2
        exit 1
    fi
}

# get EXPRESSION: evaluates a Python expression on the last response's JSON, bound to `d`, and
# prints the result (true/false/null for JSON literals, compact JSON for objects and arrays).
get() {
    python3 - "$RESPONSE" "$1" <<'PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    d = json.load(f)
value = eval(sys.argv[2], {"d": d})
if value is None or isinstance(value, (bool, dict, list)):
    print(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
else:
    print(value)
PY
}

# expect EXPRESSION VALUE: the expression on the last response must print VALUE.
expect() {
    local actual
    actual="$(get "$1")" || fail "cannot read $1 from the response: $(cat "$RESPONSE")"
    if [[ "$actual" != "$2" ]]; then
        echo "FAILED: $1 is '$actual', expected '$2'. Body:" >&2
        cat "$RESPONSE" >&2
        echo >&2
        exit 1
    fi
    echo "   ok: $1 = $2"
}

# expect_header NAME PATTERN: a header of the last response must match the (grep -i) pattern.
expect_header() {
    grep -i "^$1:" "$HEADERS" | grep -qi "$2" || fail "header $1 does not match '$2': $(grep -i "^$1:" "$HEADERS" || true)"
    echo "   ok: $1 matches $2"
}

# login USER VARIABLE: logs in and stores the bearer token in VARIABLE.
login() {
    call POST /auth/login 200 "" "{\"username\":\"$1\",\"password\":\"$PASSWORD\"}"
    expect 'd["operator"]["username"]' "$1"
    printf -v "$2" '%s' "$(get 'd["token"]')"
}

# identity: the identity document the holder shows at the counter, as a JSON object.
identity() { printf '{"idNumber":"%s","documentChecked":true}' "$ID_NUMBER"; }

# produce CARD_ID OUTLET_ID KIND: the card center puts the outlet's approved cards into a production
# batch, fetches the personalisation file for the factory, records the factory's results (every
# card of the batch made) and delivers the batch to the outlets.
# KIND is the card kind expected in the personalisation file.
produce() {
    local card="$1" outlet="$2" kind="$3" batch number
    step "制卡 production: admin creates a batch of the approved cards of outlet DH01"
    call POST /production-batches 201 "$ADMIN" "{\"outletId\":\"$outlet\"}"
    expect 'd["batch"]["state"]' exported
    expect "[c['state'] for c in d['cards'] if c['id'] == '$card']" '["in_production"]'
    batch="$(get 'd["batch"]["id"]')"
    number="$(get "[c['number'] for c in d['cards'] if c['id'] == '$card'][0]")"
    python3 - "$RESPONSE" >"$WORK/results.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
print(json.dumps({"results": [{"cardNumber": c["number"], "outcome": "ok"}
                              for c in d["cards"] if c["state"] == "in_production"]}))
PY
    echo "   batch $(get 'd["batch"]["number"]'), $(get 'len(d["cards"])') card(s); ours is $number"

    step "制卡 production: the personalisation file for the card factory"
    call GET "/production-batches/$batch/personalisation" 200 "$ADMIN"
    expect "[(r['photoMediaType'], r['cardKind']) for r in d['records'] if r['cardNumber'] == '$number']" \
        "[[\"image/png\",\"$kind\"]]"
    expect_header cache-control no-store

    step "制卡 production: the factory reports every card of the batch made"
    call POST "/production-batches/$batch/results" 200 "$ADMIN" "$(cat "$WORK/results.json")"
    expect 'd["batch"]["state"]' produced
    expect "[c['state'] for c in d['cards'] if c['id'] == '$card']" '["produced"]'

    step "制卡 production: delivery of the batch to the outlets"
    call POST "/production-batches/$batch/delivery" 200 "$ADMIN"
    expect 'd["batch"]["state"]' delivered
    expect "[c['state'] for c in d['cards'] if c['id'] == '$card']" '["delivered"]'
}

# --- a new, valid resident ID number (GB 11643) ------------------------------------------------
# 330902 (Dinghai) + a birth date between 1950 and about 2003 taken from the clock + a 3-digit
# sequence from $RANDOM whose last digit is odd for a man, even for a woman + the ISO 7064
# MOD 11-2 check character.

check_character() {
    local body="$1" sum=0 i
    local weights=(7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2)
    for i in {0..16}; do sum=$((sum + ${body:i:1} * weights[i])); done
    local map="10X98765432"
    echo "${map:$((sum % 11)):1}"
}

new_id_number() {
    local now days birth sequence
    now="$(date +%s)"
    days=$(((now + RANDOM) % 19700))
    birth="$(python3 -c 'import datetime, sys
print((datetime.date(1950, 1, 1) + datetime.timedelta(days=int(sys.argv[1]))).strftime("%Y%m%d"))' "$days")"
    sequence=$((RANDOM % 500 * 2))  # even: 000-998
    [[ "$SEX" == male ]] && sequence=$((sequence + 1))
    sequence="$(printf '%03d' "$sequence")"
    local body="330902$birth$sequence"
    echo "$body$(check_character "$body")"
}

masked() { echo "${1:0:6}********${1:14:4}"; }

# --- the walkthrough -------------------------------------------------------------------------

echo "CitizenCard walkthrough against $BASE"
status="$(curl -sS -o "$RESPONSE" -w '%{http_code}' --max-time 30 "$BASE/health")" ||
    fail "no answer from $BASE/health (is the server running?)"
[[ "$status" == 200 ]] || fail "$BASE/health answered $status: $(cat "$RESPONSE")"

step "log in as dh01.operator, dh01.supervisor and admin"
login dh01.operator OPERATOR
OUTLET="$(get 'd["operator"]["outletId"]')"
login dh01.supervisor SUPERVISOR
login admin ADMIN
echo "   three sessions; outlet DH01 is $OUTLET"

step "register a new resident in the population database (人口库)"
if ((RANDOM % 2)); then SEX=male; else SEX=female; fi
for attempt in 1 2 3 4 5; do
    ID_NUMBER="$(new_id_number)"
    registration="$(printf '{"idNumber":"%s","name":"舟山市民","sex":"%s","phone":"13800571234","address":"浙江省舟山市定海区环城南路1号","household":"local","socialInsurance":true,"ruralMedical":false,"reason":"walkthrough"}' "$ID_NUMBER" "$SEX")"
    # 409 person_exists only if an earlier run drew the same number: then draw another one.
    call POST /persons "201|409" "$OPERATOR" "$registration"
    [[ "$STATUS" == 201 ]] && break
    expect 'd["code"]' person_exists
    ((attempt < 5)) || fail "five ID numbers in a row are registered already"
done
echo "   ID number $(masked "$ID_NUMBER") ($SEX)"
expect 'd["masked"]' true
expect 'd["idNumber"]' "$(masked "$ID_NUMBER")"
expect 'd["sex"]' "$SEX"
expect 'd["hasPhoto"]' false
PERSON="$(get 'd["id"]')"
echo "   person $PERSON"

step "take the portrait (PUT a PNG image)"
# A 1x1 PNG.
base64 -d >"$WORK/portrait.png" <<'PNG'
iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==
PNG
upload "/persons/$PERSON/photo" "$OPERATOR" "$WORK/portrait.png" image/png
expect 'd["hasPhoto"]' true

step "申领 application at outlet DH01 (the first card is free)"
call POST /applications 201 "$OPERATOR" "{\"personId\":\"$PERSON\"}"
expect 'd["card"]["state"]' applied
expect 'd["card"]["kind"]' application
expect 'd["receipt"]["item"]' first_card
expect 'd["receipt"]["amount"]' 0
CARD="$(get 'd["card"]["id"]')"
echo "   card $CARD, number $(get 'd["card"]["number"]'), receipt $(get 'd["receipt"]["number"]')"

step "校核 verification by dh01.supervisor"
call POST "/cards/$CARD/verification" 200 "$SUPERVISOR" '{"decision":"approve"}'
expect 'd["card"]["state"]' approved

produce "$CARD" "$OUTLET" application

step "发卡 issue at the counter, after checking the holder's identity document"
call POST "/cards/$CARD/issue" 200 "$OPERATOR" "{\"identity\":$(identity)}"
expect 'd["card"]["state"]' active
expect 'd["card"]["usable"]' true
echo "   valid until $(get 'd["card"]["expiresAt"]')"

step "挂失 written loss report at the outlet (takes effect at once)"
call POST "/cards/$CARD/loss" 200 "$OPERATOR" "{\"identity\":$(identity)}"
expect 'd["card"]["state"]' lost
expect 'd["card"]["usable"]' false
expect 'd["card"]["loss"]["kind"]' written
echo "   effective at $(get 'd["card"]["loss"]["effectiveAt"]')"

step "a second written loss report is refused (409, problem+json)"
call POST "/cards/$CARD/loss" 409 "$OPERATOR" "{\"identity\":$(identity)}"
expect 'd["code"]' transition_not_allowed
expect 'd["status"]' 409
expect_header content-type 'application/problem+json'

step "补领 reissue: the lost card ends, a new card goes to production; the fee is 20 yuan"
call POST "/cards/$CARD/reissue" 201 "$OPERATOR" "{\"identity\":$(identity),\"expectedFeeFen\":2000}"
expect 'd["card"]["state"]' replaced
expect 'd["newCard"]["state"]' approved
expect 'd["newCard"]["kind"]' reissue
expect 'd["newCard"]["predecessorId"]' "$CARD"
expect 'd["receipt"]["item"]' reissue
expect 'd["receipt"]["amount"]' 2000
expect 'd["receipt"]["paymentMethod"]' cash
NEW_CARD="$(get 'd["newCard"]["id"]')"
RECEIPT="$(get 'd["receipt"]["id"]')"
echo "   new card $NEW_CARD, receipt $(get 'd["receipt"]["number"]')"

step "the receipt of the reissue fee"
call GET "/receipts/$RECEIPT" 200 "$OPERATOR"
expect 'd["id"]' "$RECEIPT"
expect 'd["item"]' reissue
expect 'd["amount"]' 2000

produce "$NEW_CARD" "$OUTLET" reissue

step "发卡 issue the new card at the counter"
call POST "/cards/$NEW_CARD/issue" 200 "$OPERATOR" "{\"identity\":$(identity)}"
expect 'd["card"]["state"]' active

step "注销 cancellation at the holder's request"
call POST "/cards/$NEW_CARD/cancellation" 200 "$OPERATOR" \
    "{\"reason\":\"holder_request\",\"applicant\":\"holder\",\"documentReference\":\"written request of the holder\",\"identity\":$(identity)}"
expect 'd["card"]["state"]' cancelled
expect 'd["card"]["cancellation"]["reason"]' holder_request

step "the resident's cards: the lost one replaced, the new one cancelled"
call GET "/persons/$PERSON/cards" 200 "$OPERATOR"
expect "sorted((c['kind'], c['state']) for c in d['items'])" '[["application","replaced"],["reissue","cancelled"]]'

step "the history of the first card"
call GET "/cards/$CARD/events" 200 "$OPERATOR"
expect "[e['action'] for e in d['items']]" \
    '["create","approve","add_to_batch","production_succeeded","deliver","issue","report_written_loss","reissue"]'

step "the audit chain is intact (admin)"
call GET /audit/verification 200 "$ADMIN"
expect 'd["intact"]' true
echo "   $(get 'd["entriesChecked"]') entries checked, head $(get 'd["headHash"]')"

echo
echo "walkthrough complete: every step answered as expected"
