#!/usr/bin/env python3
"""Independent oracle for the thin-slice end-to-end test.

Reads the synthetic population's input events (`seintje synth` output, with
national register numbers as subjects), pseudonymises them itself with the
public development key (HMAC-SHA256, as `produce --insecure-dev-key` does),
replays the documented rules of the segment and deliver stages in plain
Python (for campaigns without audience rules, reminders or experiments, and
with the nudges that do not change the outbox set aside: an always-open send
window, no frequency cap; the engine's own rules have their own test,
tests/segments/engine_check.py) (campaign files read from disk, Europe/Brussels via zoneinfo), and
then checks what the C pipeline wrote: the exact set of outbox files per
channel, each file's content (e-mail parsed with the email package, SMS and
app records with json), and the numbers in the stages' summaries.

    thin_slice_check.py expect --events synth.jsonl --campaigns DIR --now ISO
                               [--deliver-replay] > expect.json
    thin_slice_check.py outbox --expect expect.json --outbox DIR
    thin_slice_check.py summary --expect expect.json --stage segment|deliver FILE
"""
import argparse
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import json
import os
import re
import sys
from zoneinfo import ZoneInfo

DEV_KEY = b"seintje-insecure-development-key-do-not-use"
BRU = ZoneInfo("Europe/Brussels")
PROFILE_FIELDS = ["given_name", "birth_date", "nis", "postcode", "language", "household",
                  "email", "phone", "app_inbox"]
STATUS = {"be.seintje.life.registered": "active", "be.seintje.life.moved-in": "active",
          "be.seintje.life.moved-within": "active", "be.seintje.life.moved-out": "moved-out",
          "be.seintje.life.deceased": "deceased"}
CONTACT = {"email": "email", "sms": "phone", "app": "app_inbox"}


def parse_time(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def local_date(t):
    return t.astimezone(BRU).date()


def anchor(a, ev, default_at):
    rel = a["relative_to"]
    if rel == "time":
        d = local_date(parse_time(ev["time"]))
    else:
        v = ev.get("data", {}).get(rel[5:])
        if not isinstance(v, str):
            return None
        d = dt.date.fromisoformat(v) if len(v) == 10 else local_date(parse_time(v))
    hh, mm = map(int, a.get("at", default_at).split(":"))
    d = d + dt.timedelta(days=a["offset_days"])
    return dt.datetime(d.year, d.month, d.day, hh, mm, tzinfo=BRU).astimezone(dt.timezone.utc)


def expect(args):
    campaigns = []
    for name in sorted(os.listdir(args.campaigns)):
        if name.endswith(".json"):
            with open(os.path.join(args.campaigns, name)) as f:
                campaigns.append(json.load(f))
    now = parse_time(args.now)
    profiles, intents = {}, []
    skipped = {"expired": 0, "missing-date": 0, "inactive": 0}
    events = 0
    with open(args.events) as f:
        for line in f:
            if not line.strip():
                continue
            ev = json.loads(line)
            events += 1
            pseudo = hmac.new(DEV_KEY, ev["subject"].encode(), hashlib.sha256).hexdigest()
            p = profiles.setdefault(pseudo, {})
            data = ev.get("data") or {}
            for k in PROFILE_FIELDS:
                if k in data:
                    if data[k] is None:
                        p.pop(k, None)
                    else:
                        p[k] = data[k]
            for ch, v in (data.get("consents") or {}).items():
                p["consent." + ch] = bool(v)
            if ev["type"] in STATUS:
                p["status"] = STATUS[ev["type"]]
            for c in campaigns:
                if c["trigger"]["event"] != ev["type"]:
                    continue
                if p.get("status", "active") != "active":
                    skipped["inactive"] += 1
                    continue
                nb = anchor(c["timing"], ev, "09:00")
                ex = anchor(c["expiry"], ev, "00:00")
                if nb is None or ex is None:
                    skipped["missing-date"] += 1
                    continue
                nb = max(nb, parse_time(ev["time"]))  # the segment stage's replay clock
                if ex <= nb:
                    skipped["expired"] += 1
                    continue
                lang = p.get("language")
                lang = lang if lang in c["languages"] else c["default_language"]
                iid = hashlib.sha256(f'{c["id"]}|initial|{pseudo}|{ev["id"]}'.encode()
                                     ).hexdigest()[:32]
                intents.append({"id": iid, "resident": pseudo, "campaign": c["id"],
                                "channels": c["channels"], "mandatory": c.get("mandatory", False),
                                "language": lang, "not_before": nb.isoformat(),
                                "expires_at": ex.isoformat()})
    sent = {"email": [], "sms": [], "app": []}
    suppressed = {"no-channel": 0, "expired": 0, "inactive": 0, "no-profile": 0}
    parked, residents = [], {}
    for it in intents:
        nb, ex = parse_time(it["not_before"]), parse_time(it["expires_at"])
        if nb > now:
            parked.append(it["id"])
            continue
        if ex <= (nb if args.deliver_replay else now):
            suppressed["expired"] += 1
            continue
        p = profiles[it["resident"]]
        if p.get("status", "active") != "active":
            suppressed["inactive"] += 1
            continue
        for ch in it["channels"]:
            if p.get(CONTACT[ch]) and (it["mandatory"] or p.get("consent." + ch)):
                sent[ch].append(it["id"])
                residents[it["id"]] = {"channel": ch, "contact": p[CONTACT[ch]],
                                       "language": it["language"],
                                       "campaign": it["campaign"]}
                break
        else:
            suppressed["no-channel"] += 1
    json.dump({"events": events, "intents": len(intents), "skipped": skipped,
               "sent": {k: sorted(v) for k, v in sent.items()}, "suppressed": suppressed,
               "parked": sorted(parked), "messages": residents}, sys.stdout, indent=1)
    return 0


def fail(msg):
    print("thin_slice_check: " + msg, file=sys.stderr)
    return 1


def check_email(path, m):
    with open(path, "rb") as f:
        raw = f.read()
    if b"\n" in raw.replace(b"\r\n", b""):
        return "bare LF in " + path
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    iid = os.path.basename(path)[:-4]
    to = msg["To"].addresses[0].addr_spec if msg["To"] else None
    if to != m["contact"]:
        return f"{path}: To is not the resident's e-mail address"
    if not msg["Subject"] or not msg["Date"] or not msg["From"]:
        return f"{path}: missing Subject, Date or From"
    if iid not in msg["Message-ID"] or "One-Click" not in str(msg["List-Unsubscribe-Post"]):
        return f"{path}: Message-ID or List-Unsubscribe-Post wrong"
    if msg.get_content_type() != "multipart/alternative":
        return f"{path}: not multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    if "https://www.example.org/" not in text or f'lang="{m["language"]}"' not in html:
        return f"{path}: body lacks the deep link or the language {m['language']}"
    if "{{" in text or "{{" in html or "unsubscribe?id=" + iid not in text:
        return f"{path}: unrendered tag or missing unsubscribe link"
    return None


def check_json(path, ch, m):
    with open(path) as f:
        j = json.load(f)
    iid = os.path.basename(path)[:-5]
    if j.get("id") != iid or j.get("language") != m["language"]:
        return f"{path}: id or language wrong"
    if ch == "sms":
        if j.get("to") != m["contact"] or not 1 <= j.get("segments", 0) <= 3 or not j.get("text"):
            return f"{path}: SMS to/segments/text wrong"
        if "{{" in j["text"]:
            return f"{path}: unrendered tag"
    else:
        if j.get("inbox") != m["contact"] or not j.get("deep_link", "").startswith("https://"):
            return f"{path}: app inbox or deep link wrong"
        if not j.get("title") or not j.get("body") or "{{" in j["title"] + j["body"]:
            return f"{path}: app title/body wrong"
    return None


def outbox(args):
    with open(args.expect) as f:
        exp = json.load(f)
    for ch, ext in (("email", ".eml"), ("sms", ".json"), ("app", ".json")):
        d = os.path.join(args.outbox, ch)
        names = sorted(os.listdir(d)) if os.path.isdir(d) else []
        tmp = [n for n in names if n.startswith(".")]
        if tmp:
            return fail(f"{d}: temporary files left: {tmp[:3]}")
        got = sorted(n[: -len(ext)] for n in names)
        want = exp["sent"][ch]
        if got != want:
            missing, extra = set(want) - set(got), set(got) - set(want)
            return fail(f"{ch}: {len(got)} files, expected {len(want)} "
                        f"(missing {sorted(missing)[:3]}, unexpected {sorted(extra)[:3]})")
        for n in names:
            m = exp["messages"][n[: -len(ext)]]
            err = (check_email(os.path.join(d, n), m) if ch == "email"
                   else check_json(os.path.join(d, n), ch, m))
            if err:
                return fail(err)
        print(f"{ch}: {len(got)} files as expected")
    return 0


def summary(args):
    with open(args.expect) as f:
        exp = json.load(f)
    with open(args.file) as f:
        text = f.read()

    def num(pattern):
        m = re.search(pattern, text)
        if not m:
            raise SystemExit(f"thin_slice_check: no /{pattern}/ in the {args.stage} summary:\n{text}")
        return [int(g) for g in m.groups()]

    if args.stage == "segment":
        # The engine decides channels, consent and status when a step is due,
        # so how the non-sent intents split between the stages depends on
        # timing; what is fixed is what was read and what reached the outbox.
        got = num(r"events:\s+(\d+) \((\d+) malformed")
        want = [exp["events"] + args.malformed, args.malformed]
    else:
        got = num(r"messages:\s+email (\d+), sms (\d+), app (\d+)")
        want = [len(exp["sent"]["email"]), len(exp["sent"]["sms"]), len(exp["sent"]["app"])]
    if got != want:
        return fail(f"{args.stage} summary {got} != expected {want}:\n{text}")
    print(f"{args.stage} summary as expected: {got}")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("expect")
    e.add_argument("--events", required=True)
    e.add_argument("--campaigns", required=True)
    e.add_argument("--now", required=True)
    e.add_argument("--deliver-replay", action="store_true")
    o = sub.add_parser("outbox")
    o.add_argument("--expect", required=True)
    o.add_argument("--outbox", required=True)
    s = sub.add_parser("summary")
    s.add_argument("--expect", required=True)
    s.add_argument("--stage", choices=["segment", "deliver"], required=True)
    s.add_argument("--malformed", type=int, default=0,
                   help="malformed events added to the topic besides the population")
    s.add_argument("file")
    args = ap.parse_args()
    return {"expect": expect, "outbox": outbox, "summary": summary}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
