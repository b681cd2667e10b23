#!/usr/bin/env bash
# Delivery benchmark: `seintje deliver` sending SMS (generic webhook), app
# inbox messages (OAuth2 bearer token) and e-mails (SMTP with STARTTLS and
# AUTH) to the local peers (tests/peers: the HTTP gateway and the aiosmtpd
# SMTP server, --no-store), next to curl's own command line sending the
# same requests with the same parallelism (-Z --parallel-max C, one config
# file of N transfers; curl reuses its connections across them).
#
# What is timed is not the same work, and the table says so: seintje does
# the whole job per message (consume the intent from Kafka, claim it and
# read the profile in Redis, choose the channel, render the templates, send,
# record the state in Redis, publish the status record, store the offset);
# its rate is messages over the time from the first send to the last
# outcome (its summary's "throughput" line). curl only sends requests that
# are already built (the bodies seintje sent, taken from the peer's
# recording; the e-mails seintje rendered); its rate is messages over the
# wall time of the curl command.
#
# usage: bench/deliver_vs_curl.sh [-n HTTP_MESSAGES] [-m EMAILS] [-r ROUNDS]
#                                 [-c CONNECTIONS] [-C "sms app email"]
#                                 [-e SERVICES_ENV] [-B SEINTJE]
#   -n  messages per HTTP round (default 20000)
#   -m  e-mails per round (default 10000)
#   -r  rounds, alternating which tool goes first (default 3)
#   -c  connections / parallel transfers per channel (default 16)
#   -C  channels to run (default "sms app email")
#   -e  use running services (an env file written by scripts/services.sh);
#       default: start Kafka, Redis and the peers (SMTP --no-store, token
#       lifetime 1 h) in a temporary directory and stop them at the end
#   -B  the seintje binary (default build/release/cli/seintje)
# Needs: kcat, curl, python3 with aiosmtpd (scripts/install-deps.sh) and a
# Release build: cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=20000 M=10000 R=3 C=16 channels="sms app email" envfile= bin=$root/build/release/cli/seintje
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
while getopts "n:m:r:c:C:e:B:h" o; do
    case $o in
    n) N=$OPTARG ;;
    m) M=$OPTARG ;;
    r) R=$OPTARG ;;
    c) C=$OPTARG ;;
    C) channels=$OPTARG ;;
    e) envfile=$OPTARG ;;
    B) bin=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
[ -x "$bin" ] || { echo "deliver_vs_curl: no $bin (build it, or -B)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/deliver-bench.XXXXXX")
svc=
cleanup() {
    [ -z "$svc" ] || "$root/scripts/services.sh" stop "$svc" > /dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$envfile" ]; then
    svc=$work/svc
    echo "starting Kafka, Redis and the peers in $svc ..."
    SEINTJE_PEERS_ARGS_SMTP=--no-store SEINTJE_PEERS_TOKEN_TTL=3600 \
        "$root/scripts/services.sh" start "$svc" > "$work/services.log" 2>&1 ||
        { tail -20 "$work/services.log"; exit 1; }
    envfile=$svc/env
fi
set -a
# shellcheck disable=SC1090
source "$envfile"
set +a
FIX="python3 $root/tests/consumers/deliver_fixture.py"
REDIS=${SEINTJE_TEST_REDIS_URL%/*}
case "$SEINTJE_TEST_REDIS_URL" in redis://*/*) ;; *) REDIS=$SEINTJE_TEST_REDIS_URL ;; esac
URL=$SEINTJE_TEST_HTTP_URL
run=bench-$$-$(date +%s)
for db in 14 15; do redis-cli -u "$REDIS/$db" FLUSHDB > /dev/null; done

hex() { od -An -N4 -tx1 /dev/urandom | tr -d ' \n'; }

settings() { # TOPIC DB GROUP
    X=(-X "brokers=$SEINTJE_TEST_BROKERS" -X "redis.url=$REDIS/$2" -X "topic.notifications=$1"
       -X "topic.delivery-status=$1.status" -X "topic.dead-letter=$1.dead"
       -X "topic.partitions=2" -X "deliver.group=$3" -X "deliver.instance=$3"
       -X "templates.dir=$root/templates/campaigns" -X "outbox.dir=$work/outbox"
       -X "deliver.max-in-flight=2000" --log-level warn)
}

transport() { # CHANNEL
    case $1 in
    sms) T=(-X sms.transport=webhook -X "sms.url=$URL/sms" -X "sms.connections=$C") ;;
    app) T=(-X app.transport=inbox -X "app.url=$URL/inbox/messages"
            -X "app.token-url=$URL/oauth/token" -X "app.client-id=$SEINTJE_TEST_INBOX_CLIENT_ID"
            -X "app.client-secret-file=$SEINTJE_TEST_INBOX_CLIENT_SECRET_FILE"
            -X "app.connections=$C") ;;
    email) T=(-X email.transport=smtp -X "smtp.host=$SEINTJE_TEST_SMTP_HOST"
              -X "smtp.port=$SEINTJE_TEST_SMTP_PORT" -X "smtp.ca-file=$SEINTJE_TEST_SMTP_CA"
              -X "smtp.user=$SEINTJE_TEST_SMTP_USER"
              -X "smtp.password-file=$SEINTJE_TEST_SMTP_PASSWORD_FILE"
              -X "smtp.connections=$C") ;;
    esac
}

# seintje_round CHANNEL COUNT PREFIX: prints messages/s
seintje_round() {
    local ch=$1 n=$2 p=$3
    local topic=$run.$p
    $FIX make --redis "$REDIS/15" --prefix "$p" --count "$n" --channels "$ch" \
        --domain bench.test > "$work/in.tsv"
    kcat -P -b "$SEINTJE_TEST_BROKERS" -t "$topic" -K $'\t' -l "$work/in.tsv"
    settings "$topic" 15 "$run-$p"
    transport "$ch"
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$bin" deliver --until-idle 1000 \
        "${X[@]}" "${T[@]}" > "$work/seintje.txt" 2> "$work/seintje.log"
    local sent
    sent=$(sed -nE 's/.*throughput: +([0-9]+) messages\/s \(([0-9]+) in.*/\2/p' "$work/seintje.txt")
    [ "$sent" = "$n" ] || { cat "$work/seintje.txt" "$work/seintje.log" >&2; echo "deliver sent ${sent:-0} of $n" >&2; exit 1; }
    read -r _ user sys rss < "$work/time"
    echo "$(sed -nE 's/.*throughput: +([0-9]+) messages\/s.*/\1/p' "$work/seintje.txt") $user $sys $((rss / 1024))"
}

# curl_config CHANNEL PREFIX CURLPREFIX: the same requests as a curl config
curl_config() {
    local ch=$1 p=$2 q=$3
    mkdir -p "$work/req"
    rm -f "$work/req/"*
    if [ "$ch" = email ]; then
        # the messages as seintje rendered them (an outbox run, not timed),
        # Message-IDs renamed so the peer does not count duplicates
        $FIX make --redis "$REDIS/14" --prefix "$p" --count "$M" --channels email \
            --domain bench.test > /dev/null
        settings "$run.$p" 14 "$run-$p-outbox"
        rm -rf "$work/outbox"
        "$bin" deliver --until-idle 1000 "${X[@]}" > "$work/outbox-run.txt" 2>&1 ||
            { cat "$work/outbox-run.txt" >&2; exit 1; }
        [ -d "$work/outbox/email" ] || { cat "$work/outbox-run.txt" >&2; exit 1; }
        python3 - "$work/outbox/email" "$work/req" "$p" "$q" "$work/curl.cfg" \
            "$SEINTJE_TEST_SMTP_HOST:$SEINTJE_TEST_SMTP_PORT" "$SEINTJE_TEST_SMTP_CA" \
            "$SEINTJE_TEST_SMTP_USER" "$SEINTJE_TEST_SMTP_PASSWORD" <<'EOF'
import os, sys, email, email.policy
src, dst, p, q, cfg, hostport, ca, user, pw = sys.argv[1:]
with open(cfg, "w") as out:
    for i, name in enumerate(sorted(os.listdir(src))):
        if i:
            out.write("next\n")
        raw = open(os.path.join(src, name), "rb").read().replace(b"<" + p.encode(), b"<" + q.encode())
        path = os.path.join(dst, "%d.eml" % i)
        open(path, "wb").write(raw)
        rcpt = email.message_from_bytes(raw, policy=email.policy.default)["To"].addresses[0].addr_spec
        out.write('url = "smtp://%s/seintje.example.org"\nssl-reqd\ncacert = "%s"\n'
                  'user = "%s:%s"\nmail-from = "noreply@example.org"\nmail-rcpt = "%s"\n'
                  'upload-file = "%s"\n' % (hostport, ca, user, pw, rcpt, path))
EOF
        return
    fi
    local ep=sms auth=
    if [ "$ch" = app ]; then
        ep=inbox
        auth=$(curl -fsS -u "$SEINTJE_TEST_INBOX_CLIENT_ID:$SEINTJE_TEST_INBOX_CLIENT_SECRET" \
            -d grant_type=client_credentials "$URL/oauth/token" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    fi
    curl -fsS "$URL/_admin/received?endpoint=$ep&reference_prefix=$p&limit=10000000" > "$work/rec.json"
    python3 - "$work/rec.json" "$work/req" "$p" "$q" "$work/curl.cfg" "$URL/${ep/inbox/inbox/messages}" "$auth" <<'EOF'
import json, os, sys
rec, dst, p, q, cfg, url, token = sys.argv[1:]
seen = set()
with open(cfg, "w") as out:
    for e in json.load(open(rec)):
        if e["reference"] in seen or e["status"] not in (201, 202):
            continue
        if seen:
            out.write("next\n")
        seen.add(e["reference"])
        body = dict(e["request"], reference=q + e["reference"][len(p):])
        path = os.path.join(dst, "%d.json" % len(seen))
        open(path, "w").write(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
        out.write('url = "%s"\nheader = "Content-Type: application/json"\n' % url)
        if token:
            out.write('header = "Authorization: Bearer %s"\n' % token)
        out.write('data-binary = "@%s"\noutput = "/dev/null"\n' % path)
EOF
}

# curl_round: prints messages/s (and checks the peer accepted them all)
curl_round() {
    local ch=$1 n=$2 q=$3 t0 t1 got
    t0=$(date +%s.%N)
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" curl -sS --no-progress-meter -Z \
        --parallel-max "$C" -K "$work/curl.cfg"
    t1=$(date +%s.%N)
    if [ "$ch" = email ]; then
        got=$(curl -fsS "$SEINTJE_TEST_SMTP_ADMIN_URL/_admin/stats?message_id_prefix=$q" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"])')
    else
        got=$(curl -fsS "$URL/_admin/stats?reference_prefix=$q" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["accepted"])')
    fi
    [ "$got" = "$n" ] || { echo "curl: the peer accepted $got of $n" >&2; exit 1; }
    read -r _ user sys rss < "$work/time"
    python3 -c "import sys; print(round($n / ($t1 - $t0)), '$user', '$sys', $rss // 1024)"
}

printf '%-6s %5s %-7s %10s %10s %8s %8s %7s %7s\n' channel round first seintje/s curl/s ratio \
    s-cpu c-cpu s-rss
for ch in $channels; do
    n=$N
    [ "$ch" = email ] && n=$M
    for ((r = 1; r <= R; r++)); do
        p=$(hex) q=$(hex)
        # the requests curl replays come from a seintje run; the timed runs
        # alternate which tool goes first
        if ((r % 2)); then
            seintje_round "$ch" "$n" "$p" > "$work/s.out"
            curl_config "$ch" "$p" "$q"
            curl_round "$ch" "$n" "$q" > "$work/c.out"
            first=seintje
        else
            pp=$(hex)
            seintje_round "$ch" "$n" "$pp" > /dev/null # builds the requests
            curl_config "$ch" "$pp" "$q"
            curl_round "$ch" "$n" "$q" > "$work/c.out"
            seintje_round "$ch" "$n" "$p" > "$work/s.out"
            first=curl
        fi
        read -r s su ss srss < "$work/s.out"
        read -r c cu cs _ < "$work/c.out"
        printf '%-6s %5d %-7s %10d %10d %8.2f %8s %7s %6sM\n' "$ch" "$r" "$first" "$s" "$c" \
            "$(python3 -c "print($s / $c)")" "$(python3 -c "print(round($su + $ss, 2))")" \
            "$(python3 -c "print(round($cu + $cs, 2))")" "$srss"
    done
done
echo "(rates: messages/s; s-cpu/c-cpu: user+system seconds of seintje deliver / curl for the round; s-rss: peak RSS of seintje)"
