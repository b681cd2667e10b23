#!/usr/bin/env bash
# `seintje campaign validate`: the example campaigns pass (exit 0), a broken
# file fails with exit 2 and the documented "<file>: <path>: <problem>" line.
# usage: test_campaign_cli.sh SEINTJE_BIN SOURCE_DIR
set -euo pipefail
BIN=$1
SRC=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/campaign-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$BIN" campaign validate "$SRC"/segments/campaigns/*.json >"$work/ok.txt"
grep -q 'id-card-renewal.json: ok: id-card-renewal, on be.seintje.life.id-card-expiring, 60 days before data.expires, channels app,email,sms' "$work/ok.txt"
grep -q 'welcome-new-resident.json: ok: welcome-new-resident, on be.seintje.life.moved-in, 1 day after the event, channels email,app,sms' "$work/ok.txt"
"$BIN" campaign validate -X "campaigns.dir=$SRC/segments/campaigns" | grep -q '2 campaigns ok'
sed 's/"sms"\]/"fax"]/' "$SRC/segments/campaigns/id-card-renewal.json" >"$work/bad.json"
rc=0
"$BIN" campaign validate "$work/bad.json" 2>"$work/err.txt" || rc=$?
[ "$rc" -eq 2 ] || { echo "exit $rc, expected 2"; exit 1; }
expected="$work/bad.json: \$.channels[2]: \"fax\" is not a channel (email, sms, app)"
[ "$(cat "$work/err.txt")" = "$expected" ] || { echo "got: $(cat "$work/err.txt")"; exit 1; }
echo "campaign validate: ok"
