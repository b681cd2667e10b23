#!/usr/bin/python3
"""Test data and checks for the `seintje deliver` integration tests, in
plain Python (standard library only), independent of the C code.

usage:
  deliver_fixture.py make --redis URL --prefix HEX --count N [options] > intents.tsv
      writes N residents' profiles (contact data, consents) to Redis and prints
      N intents as "key<TAB>json" lines for `kcat -P -K '\\t'`. Intent ids are
      HEX (the test's own prefix, so peers' fault selectors and stats filters
      pick exactly this test's messages) followed by a counter, 32 hex in all.
      --channels email,sms,app   the intents' channel order (default email)
      --domain D                 e-mail addresses r<i>@D (default example.test)
      --nis N                    the residents' municipality (default 44084)
      --expires-in S             seconds until expires_at (default 30 days);
                                 negative: already expired
      --not-before-in S          seconds until not_before (default -3600)
      --start I                  first counter (default 0)
  deliver_fixture.py phone PREFIX I   the phone number of resident I
  deliver_fixture.py records FILE     summarises status records (JSON lines)
      as JSON: {"by_status": {status: n}, "final": {id: status}, "ids": n}
  deliver_fixture.py mime --index FILE --spool DIR --outbox DIR --prefix HEX
      parses every message the SMTP peer received for this prefix with
      Python's email package and compares it with the outbox rendering of the
      same intent (headers decoded, bodies decoded, Date excepted); checks
      that Message-ID is <id@...> and the envelope recipient the To address.
"""

import argparse
import datetime
import email
import email.policy
import hashlib
import json
import os
import socket
import sys
import urllib.parse


def resp_cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Redis:
    """A minimal pipelining RESP client: enough to write test profiles."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.s = socket.create_connection((u.hostname, u.port or 6379), timeout=10)
        self.f = self.s.makefile("rb")
        db = (u.path or "/0").strip("/") or "0"
        self.pipeline([("SELECT", db)])

    def reply(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t == b"-":
            raise SystemExit("redis error: " + rest.decode())
        if t in (b"+", b":"):
            return rest
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if t == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise SystemExit("redis: unexpected reply %r" % line)

    def pipeline(self, cmds):
        self.s.sendall(b"".join(resp_cmd(*c) for c in cmds))
        return [self.reply() for _ in cmds]


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def pseudonym(prefix, i):
    return hashlib.sha256(("%s|%d" % (prefix, i)).encode()).hexdigest()


def phone(prefix, i):
    # +3247 then 8 digits from the prefix and counter: unique per test run
    return "+3247%02d%06d" % (int(prefix[:4], 16) % 100, i % 1000000)


def make(a):
    r = Redis(a.redis)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    channels = a.channels.split(",")
    cmds, lines = [], []
    for i in range(a.start, a.start + a.count):
        p = pseudonym(a.prefix, i)
        key = "sj:res:{%s}" % p
        cmds.append(("HSET", key, "given_name", "Zoë", "nis", a.nis, "language", "nl",
                     "email", "r%d@%s" % (i, a.domain), "phone", phone(a.prefix, i),
                     "app_inbox", "inbox-%s-%d" % (a.prefix, i), "status", "active"))
        for ch in ("email", "sms", "app"):
            cmds.append(("HSET", key + ":consent", ch,
                         "1 2026-01-01T00:00:00.000Z urn:test"))
        iid = a.prefix + "%0*x" % (32 - len(a.prefix), i)
        nb = now + datetime.timedelta(seconds=a.not_before_in)
        ex = now + datetime.timedelta(seconds=a.expires_in)
        intent = {
            "id": iid, "campaign": "id-card-renewal", "step": "initial",
            "variant": "plain", "experiment": "id-card-2026", "resident": p,
            "trigger": {"id": "t-%s-%d" % (a.prefix, i),
                        "type": "be.seintje.life.id-card-expiring",
                        "time": rfc3339(now)},
            "channels": channels, "language": "nl",
            "template": "id-card-renewal/plain",
            "context": {"given_name": "Zoë", "nis": a.nis, "postcode": "9910",
                        "event_date": "2026-07-12", "send_date": "2026-08-11",
                        "deadline": "2026-10-09", "expires": "2026-10-10",
                        "step": "initial"},
            "not_before": rfc3339(nb), "expires_at": rfc3339(ex),
            "created_at": rfc3339(now), "topic": "identity", "priority": 5,
            "mandatory": i % 2 == 1, "reason": "test intent %d" % i}
        lines.append("%s\t%s" % (p, json.dumps(intent, ensure_ascii=False)))
        if len(cmds) > 2000:
            r.pipeline(cmds)
            cmds = []
    if cmds:
        r.pipeline(cmds)
    sys.stdout.write("\n".join(lines) + "\n")


def records(a):
    by_status, final, seen = {}, {}, set()
    with open(a.file, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if r.get("stage") != "deliver":
                continue
            st = r["status"]
            if st == "permanent-failure" and r.get("fallback"):
                st = "fell-back"
            by_status[st] = by_status.get(st, 0) + 1
            seen.add(r["intent"])
            if st in ("sent", "suppressed") or (st == "permanent-failure"):
                final[r["intent"]] = st
    json.dump({"by_status": by_status, "final": final, "ids": len(seen)}, sys.stdout,
              sort_keys=True)
    sys.stdout.write("\n")


def parts(msg):
    out = {}
    for h in ("Subject", "From", "To", "Message-ID", "List-Unsubscribe",
              "List-Unsubscribe-Post", "Auto-Submitted", "MIME-Version"):
        out[h] = str(msg.get(h, ""))
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            out[part.get_content_type()] = part.get_content()
    return out


def mime(a):
    pol = email.policy.default
    got = 0
    with open(a.index, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            mid = e.get("message_id") or ""
            if not mid.startswith(a.prefix):
                continue
            iid = mid.split("@")[0]
            with open(os.path.join(a.spool, e["file"]), "rb") as m:
                received = email.message_from_binary_file(m, policy=pol)
            with open(os.path.join(a.outbox, "email", iid + ".eml"), "rb") as m:
                intended = email.message_from_binary_file(m, policy=pol)
            pr, pi = parts(received), parts(intended)
            if pr != pi:
                diff = [k for k in set(pr) | set(pi) if pr.get(k) != pi.get(k)]
                sys.exit("mime: %s differs from the outbox rendering in %s" % (iid, diff))
            if mid != "%s@%s" % (iid, mid.split("@")[1]) or len(iid) != 32:
                sys.exit("mime: Message-ID %s does not carry the intent id" % mid)
            to = received["To"].addresses[0].addr_spec
            if e["rcpt_tos"] != [to]:
                sys.exit("mime: %s: envelope recipient is not the To address" % iid)
            if not e.get("tls") or not e.get("auth_user"):
                sys.exit("mime: %s arrived without TLS or AUTH" % iid)
            if "text/plain" not in pr or "text/html" not in pr or not pr["Subject"]:
                sys.exit("mime: %s lacks a text or HTML part or a subject" % iid)
            got += 1
    print("mime: %d messages equal to their intended rendering" % got)
    if got == 0:
        sys.exit("mime: no message for prefix %s" % a.prefix)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--redis", required=True)
    m.add_argument("--prefix", required=True)
    m.add_argument("--count", type=int, required=True)
    m.add_argument("--start", type=int, default=0)
    m.add_argument("--channels", default="email")
    m.add_argument("--domain", default="example.test")
    m.add_argument("--nis", default="44084")
    m.add_argument("--expires-in", type=int, default=30 * 86400)
    m.add_argument("--not-before-in", type=int, default=-3600)
    p = sub.add_parser("phone")
    p.add_argument("prefix")
    p.add_argument("i", type=int)
    r = sub.add_parser("records")
    r.add_argument("file")
    x = sub.add_parser("mime")
    x.add_argument("--index", required=True)
    x.add_argument("--spool", required=True)
    x.add_argument("--outbox", required=True)
    x.add_argument("--prefix", required=True)
    a = ap.parse_args()
    if a.cmd == "make":
        make(a)
    elif a.cmd == "phone":
        print(phone(a.prefix, a.i))
    elif a.cmd == "records":
        records(a)
    else:
        mime(a)


if __name__ == "__main__":
    main()
