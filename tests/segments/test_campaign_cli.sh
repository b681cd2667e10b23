#!/usr/bin/env bash
# `seintje campaign validate`: valid campaigns print one "<file>: ok: ..."
# line each (trigger, timing, reminders, goal, window, variants, channels) and
# exit 0, in file mode and directory mode; a broken campaign file or a missing
# template fails with exit 2 and the documented "<file>: <path>: <problem>"
# line on stderr.
# usage: test_campaign_cli.sh SEINTJE_BIN SOURCE_DIR
set -euo pipefail
BIN=$1
SRC=$2
DATA=$SRC/tests/segments/data
work=$(mktemp -d "${TMPDIR:-/tmp}/campaign-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# expect_fail EXPECTED_STDERR ARGS...: exit 2, exactly that message.
expect_fail() {
    local expected=$1 rc=0
    shift
    "$BIN" campaign validate "$@" >"$work/out.txt" 2>"$work/err.txt" || rc=$?
    [ "$rc" -eq 2 ] || fail "exit $rc, expected 2 for $*"
    [ "$(cat "$work/err.txt")" = "$expected" ] ||
        fail "got: $(cat "$work/err.txt")"$'\n'"expected: $expected"
}

# The fixture campaign: the exact line.
"$BIN" campaign validate -X "templates.dir=$DATA/templates" "$DATA/campaigns/c1.json" \
    >"$work/c1.txt"
expected="$DATA/campaigns/c1.json: ok: c1, on be.seintje.life.id-card-expiring with an \
audience rule, 60 days before data.expires at 09:00, reminders after 21 and 42 days, goal \
be.seintje.service.id-card-requested within 90 days, window mon-sat 09:00-18:00, \
experiment c1-2026: plain 45% / social 45% / control 10% held out, channels email,sms"
[ "$(cat "$work/c1.txt")" = "$expected" ] || fail "got: $(cat "$work/c1.txt")"

# The example campaigns and their templates: one ok line per file.
"$BIN" campaign validate -X "templates.dir=$SRC/templates/campaigns" \
    "$SRC"/segments/campaigns/*.json >"$work/ok.txt"
n=$(ls "$SRC"/segments/campaigns/*.json | wc -l)
[ "$(grep -c '\.json: ok: ' "$work/ok.txt")" -eq "$n" ] || fail "$(cat "$work/ok.txt")"
grep -qF 'id-card-renewal.json: ok: id-card-renewal, on be.seintje.life.id-card-expiring, 60 days before data.expires at 09:00, reminders after 21 and 42 days, goal be.seintje.service.id-card-requested within 90 days' "$work/ok.txt" ||
    fail "id-card-renewal line: $(cat "$work/ok.txt")"
grep -qF 'welcome-new-resident.json: ok: welcome-new-resident, on be.seintje.life.moved-in with an audience rule' "$work/ok.txt" ||
    fail "welcome-new-resident line: $(cat "$work/ok.txt")"

# Directory mode: the same lines, then the count.
"$BIN" campaign validate -X "campaigns.dir=$SRC/segments/campaigns" \
    -X "templates.dir=$SRC/templates/campaigns" >"$work/dir.txt"
[ "$(grep -c '\.json: ok: ' "$work/dir.txt")" -eq "$n" ] || fail "$(cat "$work/dir.txt")"
tail -n 1 "$work/dir.txt" | grep -qx "$SRC/segments/campaigns: $n campaigns ok" ||
    fail "dir mode: $(cat "$work/dir.txt")"

# A campaign without its own send window shows the setting.
sed '/"send_window"/d' "$DATA/campaigns/c1.json" >"$work/c1.json"
"$BIN" campaign validate -X "templates.dir=$DATA/templates" \
    -X "nudge.send-window=daily 08:00-20:00" "$work/c1.json" |
    grep -qF ', window daily 08:00-20:00 (nudge.send-window), ' || fail "default window"

# A broken campaign file.
sed 's/"sms"\]/"fax"]/' "$DATA/campaigns/c1.json" >"$work/bad.json"
expect_fail "$work/bad.json: \$.channels[1]: \"fax\" is not a channel (email, sms, app)" \
    -X "templates.dir=$DATA/templates" "$work/bad.json"
sed 's/"resident.age", 18/"resident.age", 18, 1/' "$DATA/campaigns/c1.json" >"$work/bad.json"
expect_fail "$work/bad.json: \$.audience[\">=\"][0]: \"var\" takes at most 2 arguments, got 3" \
    -X "templates.dir=$DATA/templates" "$work/bad.json"

# A missing template: the file, and where the campaign asks for it.
cp -r "$DATA/templates" "$work/templates"
rm "$work/templates/c1/social/nl/sms.mustache"
expect_fail "$DATA/campaigns/c1.json: \$.variants[1] / \$.languages[0] / \$.channels[1]: \
$work/templates/c1/social/nl/sms.mustache is missing (variant \"social\", language \"nl\", \
channel sms)" -X "templates.dir=$work/templates" "$DATA/campaigns/c1.json"
mkdir "$work/campaigns"
cp "$DATA/campaigns/c1.json" "$work/campaigns/"
expect_fail "$work/campaigns/c1.json: \$.variants[1] / \$.languages[0] / \$.channels[1]: \
$work/templates/c1/social/nl/sms.mustache is missing (variant \"social\", language \"nl\", \
channel sms)" -X "templates.dir=$work/templates" -X "campaigns.dir=$work/campaigns"
[ ! -s "$work/out.txt" ] || fail "dir mode printed on failure: $(cat "$work/out.txt")"
expect_fail "templates.dir $work/none: not a directory" \
    -X "templates.dir=$work/none" "$DATA/campaigns/c1.json"
echo "campaign validate: ok"
