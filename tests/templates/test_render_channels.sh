#!/usr/bin/env bash
# `seintje render --channel email|sms|app` from the shell, checked by parsers
# we did not write: every campaign in templates/campaigns/ in every language
# and channel with the example contexts in tests/templates/data/; the e-mail
# parsed by Python's email package (decoded UTF-8 subject and recipient name,
# text and HTML parts, escaping only in HTML); SMS counts at the GSM-7 and
# UCS-2 boundaries and the too-many-segments error; app payload fields; exit
# codes, exact error lines and an empty stdout on every error.
# usage: test_render_channels.sh SEINTJE_BIN SOURCE_DIR
set -euo pipefail
BIN=$1
SRC=$2
PY=/usr/bin/python3
TPL=$SRC/templates/campaigns
DATA=$SRC/tests/templates/data
DATE=2026-12-02T09:00:00Z
work=$(mktemp -d "${TMPDIR:-/tmp}/render-channels.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

render() { # args... : stdout to $work/out, stderr to $work/err, exit code in $rc
    rc=0
    "$BIN" render "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
}
expect_ok() {
    render "$@"
    [ "$rc" -eq 0 ] || fail "render $*: exit $rc: $(cat "$work/err")"
    [ ! -s "$work/err" ] || fail "render $*: stderr: $(cat "$work/err")"
    [ -s "$work/out" ] || fail "render $*: empty output"
}
expect_err() { # exit-code expected-stderr args...
    local code=$1 want=$2
    shift 2
    render "$@"
    [ "$rc" -eq "$code" ] || fail "render $*: exit $rc, expected $code"
    [ "$(cat "$work/err")" = "$want" ] ||
        fail "render $*: stderr '$(cat "$work/err")', expected '$want'"
    [ ! -s "$work/out" ] || fail "render $*: wrote to stdout on error"
}

# check_email FILE SUBJECT-or-"" TO_NAME HAS_HTML [HTML_HAS TEXT_HAS [NOT_IN_HTML]]
# An empty SUBJECT only requires a decoded, non-empty subject.
check_email() {
    "$PY" - "$@" <<'EOF'
import email, email.policy, sys
path, subject, to_name, has_html = sys.argv[1:5]
html_has = sys.argv[5] if len(sys.argv) > 5 else None
text_has = sys.argv[6] if len(sys.argv) > 6 else None
not_in_html = sys.argv[7] if len(sys.argv) > 7 else None
raw = open(path, "rb").read()
def bad(why):
    sys.exit(f"{path}: {why}")
bare = raw.replace(b"\r\n", b"")
if b"\n" in bare or b"\r" in bare:
    bad("a line does not end in CRLF")
if any(len(l) > 998 for l in raw.split(b"\r\n")):
    bad("a line is longer than 998 octets")
msg = email.message_from_bytes(raw, policy=email.policy.default)
if msg.defects:
    bad(f"defects {msg.defects}")
got = str(msg["Subject"])
if (subject and got != subject) or not got or "=?" in got or "{{" in got:
    bad(f"Subject {got!r}, expected {subject!r}")
to = msg["To"].addresses[0]
if to.display_name != to_name or to.addr_spec != "resident@example.org":
    bad(f"To {to.display_name!r} <{to.addr_spec}>, expected {to_name!r}")
if msg["Date"].datetime.isoformat() != "2026-12-02T09:00:00+00:00":
    bad(f"Date {msg['Date']}")
if msg["From"].addresses[0].addr_spec != "noreply@example.org":
    bad(f"From {msg['From']}")
if not msg["List-Unsubscribe"].startswith("<https://www.example.org/"):
    bad(f"List-Unsubscribe {msg['List-Unsubscribe']}")
if msg["Message-ID"] != "<preview@seintje.example.org>":
    bad(f"Message-ID {msg['Message-ID']}")
want = ["text/plain", "text/html"] if has_html == "1" else ["text/plain"]
parts = list(msg.iter_parts()) if msg.is_multipart() else [msg]
if [p.get_content_type() for p in parts] != want:
    bad(f"parts {[p.get_content_type() for p in parts]}, expected {want}")
for p in parts:
    if p.defects:
        bad(f"part defects {p.defects}")
    if p.get_content_charset() != "utf-8":
        bad(f"charset {p.get_content_charset()}")
bodies = [p.get_content() for p in parts]
text, html = bodies[0], bodies[-1]
if any("{{" in b for b in bodies):
    bad("a Mustache tag was left in a body")
if html_has and html_has not in html:
    bad(f"{html_has!r} not in the HTML part:\n{html}")
if text_has and text_has not in text:
    bad(f"{text_has!r} not in the text part:\n{text}")
if not_in_html and not_in_html in html:
    bad(f"{not_in_html!r} in the HTML part: not escaped")
EOF
}

# check_json FILE PYTHON-EXPRESSION-over-j
check_json() {
    "$PY" -c 'import json, sys
j = json.load(open(sys.argv[1], encoding="utf-8"))
if not eval("(" + sys.argv[2] + ")"):
    sys.exit(f"{sys.argv[1]}: {sys.argv[2]} is false for {j}")' "$1" "$2" ||
        fail "json check $2"
}

# check_sms FILE: encoding and billed characters recomputed from the text with
# the GSM 03.38 tables, parts within deliver's limit of 3.
check_sms() {
    "$PY" - "$1" <<'EOF' || fail "sms check $1"
import json, math, sys
j = json.load(open(sys.argv[1], encoding="utf-8"))
basic = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
         "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
ext = "\f^{}\\[~]|€"
t = j["text"]
if all(c in basic or c in ext for c in t):
    enc, chars = "GSM-7", len(t) + sum(c in ext for c in t)
    segs = 1 if chars <= 160 else math.ceil(chars / 153)
else:
    enc, chars = "UCS-2", len(t.encode("utf-16-le")) // 2
    segs = 1 if chars <= 70 else math.ceil(chars / 67)
members = ["text", "encoding", "characters", "segments"]
if enc == "UCS-2":
    members += ["first_non_gsm", "first_non_gsm_offset"]
if sorted(j) != sorted(members):
    sys.exit(f"{sys.argv[1]}: members {sorted(j)}")
if (j["encoding"], j["characters"]) != (enc, chars) or not 1 <= j["segments"] <= 3:
    sys.exit(f"{sys.argv[1]}: {j}, expected {enc} {chars} characters, <= 3 parts")
# Parts never split an extension character or a surrogate pair, which can add
# one; without those the count is exact.
if j["segments"] != segs and not any(c in ext or ord(c) > 0xFFFF for c in t):
    sys.exit(f"{sys.argv[1]}: {j['segments']} parts, expected {segs}")
if t != t.strip() or "{{" in t:
    sys.exit(f"{sys.argv[1]}: untrimmed or unrendered text {t!r}")
EOF
}

# 1. Every template set in templates/campaigns/ in every channel, with its
# campaign's example context (tests/templates/data/<campaign>.json, else
# resident.json).
n=0
for set in "$TPL"/*/*/*/; do
    set=${set%/}
    lang=${set##*/}
    variant=${set%/*}
    campaign=${variant%/*}
    variant=${variant##*/}
    campaign=${campaign##*/}
    case $campaign in _*) continue ;; esac
    data=$DATA/$campaign.json
    [ -f "$data" ] || data=$DATA/resident.json
    name=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["given_name"])' "$data")
    has_html=0
    [ -f "$set/email.html.mustache" ] && has_html=1
    expect_ok "$set" --channel email --data "$data" --date $DATE
    check_email "$work/out" "" "$name" $has_html || fail "email $campaign/$variant/$lang"
    expect_ok "$set" --channel sms --data "$data"
    check_sms "$work/out"
    expect_ok "$set" --channel app --data "$data"
    check_json "$work/out" "j['id'] == 'preview' and j['language'] == '$lang'
        and j['category'] == 'informational' and j['title'] and j['body']
        and j['deep_link'].startswith('https://www.example.org/')
        and 'expires_at' not in j and '\n' not in j['title'] and '{{' not in j['body']"
    n=$((n + 3))
done
[ "$n" -ge 18 ] || fail "rendered $n messages, expected at least 18"
# The e-mails of the first example campaigns carry their data, decoded.
declare -A expiry=([nl]="31 januari 2027" [fr]="31 janvier 2027" [en]="31 January 2027")
for lang in nl fr en; do
    expect_ok "$TPL/id-card-renewal/plain/$lang/" --channel email \
        --data "$DATA/id-card-renewal.json" --date $DATE
    check_email "$work/out" "" "Zoë" 1 "${expiry[$lang]}" "${expiry[$lang]}" ||
        fail "id-card-renewal/plain/$lang: the expiry date"
    expect_ok "$TPL/welcome-new-resident/plain/$lang" --channel email \
        --data "$DATA/welcome-new-resident.json" --date $DATE
    check_email "$work/out" "" "François" 1 "Aalter" "Aalter" ||
        fail "welcome-new-resident/plain/$lang: the municipality"
done
# Reproducible: the same input gives the same bytes.
"$BIN" render "$TPL/welcome-new-resident/plain/en" --channel email --date $DATE \
    --data "$DATA/welcome-new-resident.json" >"$work/again"
cmp -s "$work/out" "$work/again" || fail "e-mail output is not reproducible"

# A set of our own with UTF-8 in the subject and the name, exact after decoding.
mkdir -p "$work/own/camp/plain/fr"
printf 'Zoë, votre carte – {{expires_long}} ✓\n' >"$work/own/camp/plain/fr/email.subject.mustache"
printf 'Bonjour {{given_name}},\n{{link}}\n' >"$work/own/camp/plain/fr/email.text.mustache"
printf '<p>Bonjour {{given_name}}, <a href="{{link}}">ici</a></p>\n' \
    >"$work/own/camp/plain/fr/email.html.mustache"
printf '{"given_name":"Anaïs Müller-Ørsted","expires":"2026-12-01"}' >"$work/own.json"
expect_ok "$work/own/camp/plain/fr" --channel email --data "$work/own.json" --date $DATE
check_email "$work/out" "Zoë, votre carte – 1er décembre 2026 ✓" "Anaïs Müller-Ørsted" 1 \
    '<a href="https://www.example.org">' "Bonjour Anaïs Müller-Ørsted," || fail "own e-mail"

# 2. Only the HTML part is HTML-escaped.
printf '{"given_name":"Zoë","nis":"44021","expires":"2027-01-31","municipality_title":"Stad Gent & <Co>"}' \
    >"$work/amp.json"
expect_ok "$TPL/id-card-renewal/plain/nl" --channel email --data "$work/amp.json" --date $DATE
check_email "$work/out" "" "Zoë" 1 "Stad Gent &amp; &lt;Co&gt;" "Stad Gent & <Co>" \
    "Stad Gent & <Co>" || fail "email escaping"
expect_ok "$TPL/id-card-renewal/plain/nl" --channel sms --data "$work/amp.json"
check_json "$work/out" "j['text'].startswith('Stad Gent & <Co>: ')"

# 3. SMS counts: GSM-7 160/161, extension characters, UCS-2 70/71, the limit.
printf '{{msg}}\n' >"$work/msg.mustache"
sms_case() { # message-python-expression encoding characters segments [options]
    local msg=$1 enc=$2 chars=$3 segs=$4
    shift 4
    "$PY" -c 'import json, sys; print(json.dumps({"msg": eval(sys.argv[1])}))' "$msg" \
        >"$work/msg.json"
    expect_ok "$work/msg.mustache" --channel sms --data "$work/msg.json" "$@"
    check_json "$work/out" "j['text'] == $msg and j['encoding'] == '$enc'
        and j['characters'] == $chars and j['segments'] == $segs"
}
sms_case "'a' * 160" GSM-7 160 1
sms_case "'a' * 161" GSM-7 161 2
sms_case "'€' * 80" GSM-7 160 1
sms_case "'€' * 81" GSM-7 162 2
sms_case "'Zoë ' + 'a' * 66" UCS-2 70 1
sms_case "'Zoë ' + 'a' * 67" UCS-2 71 2
sms_case "'a' * 459" GSM-7 459 3
sms_case "'a' * 460" GSM-7 460 4 --max-segments 4
check_json "$work/out" "'first_non_gsm' not in j"
sms_case "'ë' * 201" UCS-2 201 3
check_json "$work/out" "j['first_non_gsm'] == 'ë' and j['first_non_gsm_offset'] == 0"
"$PY" -c 'import json; print(json.dumps({"msg": "a" * 460}))' >"$work/msg.json"
expect_err 2 "seintje render: $work/msg.mustache: SMS needs 4 segments (460 GSM-7 characters) but the limit is 3" \
    "$work/msg.mustache" --channel sms --data "$work/msg.json"
"$PY" -c 'import json; print(json.dumps({"msg": "ë" * 135}))' >"$work/msg.json"
expect_err 2 "seintje render: $work/msg.mustache: SMS needs 3 segments (135 UCS-2 characters) but the limit is 2; UCS-2 because 'ë' (U+00EB) at byte 0 is not in GSM 03.38" \
    "$work/msg.mustache" --channel sms --data "$work/msg.json" --max-segments 2
expect_err 2 "seintje render: --max-segments 'x' is not a number from 1 to 255" \
    "$work/msg.mustache" --channel sms --max-segments x

# 4. App options, on a set of our own (the campaigns' wording changes).
mkdir -p "$work/own/camp/plain/de"
printf 'Willkommen in {{municipality}}, {{given_name}}\n' >"$work/own/camp/plain/de/app.title.mustache"
printf 'Zeile 1\n\tZeile 2 {{link}}\n\n' >"$work/own/camp/plain/de/app.body.mustache"
printf '{{municipality_url}}/willkommen?id={{intent_id}}\n' >"$work/own/camp/plain/de/link.mustache"
printf '{"given_name":"Jürgen","nis":"24062"}' >"$work/de.json"
expect_ok "$work/own/camp/plain/de" --channel app --data "$work/de.json" --id 0a1b2c
check_json "$work/out" "j == {'id': '0a1b2c', 'language': 'de', 'category': 'informational',
    'title': 'Willkommen in , Jürgen',
    'body': 'Zeile 1\\n\\tZeile 2 https://www.example.org/willkommen?id=0a1b2c',
    'deep_link': 'https://www.example.org/willkommen?id=0a1b2c'}"
cp "$SRC/templates/campaigns/_site.json" "$work/own/_site.json"
expect_ok "$work/own/camp/plain/de" --channel app --data "$work/de.json" --id 0a1b2c \
    --category action-required --expires 2027-02-27T00:00:00+01:00 --link https://example.org/x
check_json "$work/out" "j == {'id': '0a1b2c', 'language': 'de', 'category': 'action-required',
    'title': 'Willkommen in Löwen, Jürgen',
    'body': 'Zeile 1\\n\\tZeile 2 https://example.org/x',
    'deep_link': 'https://example.org/x', 'expires_at': '2027-02-26T23:00:00Z'}"
expect_err 2 "seintje render: $TPL/welcome-new-resident/plain/fr: app category 'urgent' is unknown: use informational or action-required" \
    "$TPL/welcome-new-resident/plain/fr" --channel app --category urgent

# 5. Errors: hostile data, missing part, broken template, usage; nothing on stdout.
expect_err 2 "seintje render: $TPL/id-card-renewal/plain/nl: To display name contains a carriage return (CR) at byte 4: CR, LF and NUL are rejected in e-mail headers (header injection)" \
    "$TPL/id-card-renewal/plain/nl" --channel email --data "$DATA/hostile-name.json"
mkdir -p "$work/t/camp/v/nl"
cp "$TPL/id-card-renewal/plain/nl/"*.mustache "$work/t/camp/v/nl/"
rm "$work/t/camp/v/nl/email.text.mustache"
expect_err 2 "seintje render: $work/t/camp/v/nl/email.text.mustache: missing (--channel email needs it)" \
    "$work/t/camp/v/nl" --channel email
expect_ok "$work/t/camp/v/nl" --channel sms --data "$DATA/id-card-renewal.json"
check_json "$work/out" "j['text'].startswith(': ') and '31 januari 2027' in j['text']"
printf 'Uw kaart\n{{#expires}}vervalt {{expires_long}\n' >"$work/t/camp/v/nl/app.body.mustache"
expect_err 2 "seintje render: $work/t/camp/v/nl/app.body.mustache:2:21: unclosed tag \"{{expires_long} \": no \"}}\" follows" \
    "$work/t/camp/v/nl" --channel sms
expect_err 2 "seintje render: unknown channel 'fax' (text, email, sms or app)" \
    "$work/t/camp/v/nl" --channel fax
expect_err 2 "seintje render: $TPL/id-card-renewal/plain/nl/sms.mustache: --channel app needs a template set, a directory <campaign>/<variant>/<lang>/ (see --help)" \
    "$TPL/id-card-renewal/plain/nl/sms.mustache" --channel app
expect_err 2 "seintje render: cannot open template $work/none: No such file or directory" \
    "$work/none" --channel email

# 6. The text channel is unchanged: exactly the rendered bytes.
printf 'A {{x}} & {{{x}}}' >"$work/t.mustache"
printf '{"x":"<b>"}' >"$work/t.json"
expect_ok "$work/t.mustache" --data "$work/t.json"
[ "$(cat "$work/out")" = 'A &lt;b&gt; & <b>' ] || fail "text channel: $(cat "$work/out")"
[ "$(wc -c <"$work/out")" -eq 17 ] || fail "text channel added bytes"

"$BIN" render --help >"$work/help"
for opt in --channel --max-segments --from --to --id --date --unsubscribe --link --category \
    --expires --lang --domain; do
    grep -q -- "$opt" "$work/help" || fail "--help does not mention $opt"
done
echo "render channels: ok ($n campaign messages)"
