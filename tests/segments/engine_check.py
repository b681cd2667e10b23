#!/usr/bin/env python3
"""The nudging rules of `seintje segment`, against a real Kafka broker and
redis-server (the services fixture), with the clock set per run (--now).

The campaigns are tests/segments/engine/campaigns/*.json, one per rule:

  c-consent   moved-in        consent per channel and opt-out per topic
  c-aud       birthday        audience rule (age 18 only)
  c-cap-a/b/c death-of-partner three at once: the cap (2 per 7 days) lets the
                               two highest priorities through, defers the third
  c-window    marriage        send window mon-fri 09-18, across the DST change
  c-reminder  id-card-expiring two reminders; the goal event cancels them
  c-holdout   income-changed  30/30/40 with a holdout, predicted here from
                               SHA-256("exp-test|" + pseudonym); its goal
                               (social-tariff-requested, 90 days) drives the
                               experiment counters sj:{exp}:exp-test, checked
                               exactly, and `seintje experiment report`; the
                               engine exposes the holdout only (the delivery
                               stage, not run here, exposes the others:
                               tests/e2e/experiment_check.py)
  c-batch     seintje batch   the residents named "Batch" who have not answered
                               yet (resident.goals), once however often the
                               batch runs

Run 1 at Tuesday 24 March 2026 10:30 CET, run 2 on Saturday 28 March (window
closed; the clocks go forward the next night), run 3 on Wednesday 1 April
(due steps released by the engine's own ticks). Run 2 goes one message per
batch with every second transaction aborted (SEINTJE_FAULT_ABORT_EVERY=2), so
each of its messages is handled twice: the experiment counters must not count
anything twice. Then a fresh consumer group replays both topics from the start
over the same Redis: nothing new may come out, and the counters stay as they
were. Every intent id appears at most once on the notifications topic. Last, a
goal event after the experiment's window (run at 1 July) counts nothing.

Environment (sj_integration_test): SEINTJE_SERVICES_ENV, SEINTJE_BIN,
SEINTJE_SOURCE_DIR, SEINTJE_BUILD_DIR."""
import atexit
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["SEINTJE_SOURCE_DIR"], "tests/services"))
import sjtest  # noqa: E402
from sjtest import check, failures, nrn  # noqa: E402

BIN = os.environ["SEINTJE_BIN"]
SRC = os.environ["SEINTJE_SOURCE_DIR"]
REDIS_DB = "11"
BROKERS, REDIS_HOST, REDIS_PORT, REDIS = sjtest.services(REDIS_DB)
RUN = f"eng-{os.getpid()}-{int(time.time())}"
WORK = tempfile.mkdtemp(prefix="engine-", dir=os.environ.get("SEINTJE_BUILD_DIR"))
atexit.register(shutil.rmtree, WORK, True)


def settings(group="segment"):
    x = {
        "brokers": BROKERS, "redis.url": REDIS, "topic.partitions": "3",
        "topic.life-events": RUN + ".life-events",
        "topic.notifications": RUN + ".notifications",
        "topic.delivery-status": RUN + ".status",
        "topic.segment-due": RUN + ".due",
        "segment.group": RUN + "-" + group, "segment.instance": RUN + "-" + group,
        "campaigns.dir": SRC + "/tests/segments/engine/campaigns",
        "nudge.send-window": "daily 00:00-23:59", "nudge.cap-count": "2",
        "nudge.cap-days": "7", "produce.reject-file": WORK + "/rejects.jsonl",
    }
    args = []
    for k, v in x.items():
        args += ["-X", f"{k}={v}"]
    return args + ["--log-level", "warn"]


def run(args, **kw):
    p = subprocess.run([BIN] + args, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"seintje {args[0]} exited {p.returncode}")
    return p.stdout


def redis(*cmd):
    p = subprocess.run(["redis-cli", "-h", REDIS_HOST, "-p", REDIS_PORT, "-n", REDIS_DB,
                        "--raw"] + list(cmd),
                       capture_output=True, text=True, check=True)
    return p.stdout


def consume(topic):
    return sjtest.consume(BROKERS, topic, missing_ok=True)


seq = [0]


def event(who, typ, time_, **data):
    seq[0] += 1
    return {"specversion": "1.0", "id": f"{RUN}-{seq[0]}", "source": "urn:nis:44084:test",
            "type": "be.seintje." + typ, "time": time_, "subject": nrn(who), "data": data}


def produce(events):
    path = f"{WORK}/in-{seq[0]}.jsonl"
    with open(path, "w") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    run(["produce", "--insecure-dev-key", "-q"] + settings() + [path])


def pseudonyms(ids):
    """Pseudonyms as `seintje produce --dry-run` computes them."""
    path = f"{WORK}/ps.jsonl"
    with open(path, "w") as f:
        for i in ids:
            f.write(json.dumps(event(i, "life.registered", "2026-01-01T00:00:00Z")) + "\n")
    out = run(["produce", "--dry-run", "--insecure-dev-key", "-q"] + settings() + [path])
    return {i: json.loads(l)["subject"] for i, l in zip(ids, out.splitlines())}


def segment(now, group="segment", extra=(), env=None):
    return run(["segment", "-e", "--now", now] + list(extra) + settings(group),
               env=env)


def holdout_variant(p):
    b = int.from_bytes(hashlib.sha256(("exp-test|" + p).encode()).digest()[:8], "big") % 10000
    return "plain" if b < 3000 else "social" if b < 6000 else "holdout"


def contact(email=False, sms=False, app=False, consent=None):
    d = {"language": "nl", "given_name": "Test"}
    if email:
        d["email"] = "t@example.org"
    if sms:
        d["phone"] = "+32470000000"
    if app:
        d["app_inbox"] = "inbox-1"
    d["consents"] = consent or {"email": True, "sms": True, "app": True}
    return d


# residents
R1, R2, R3, R4, R5, R6, A1, A2, B1, B2, B3 = range(1, 12)
H = list(range(100, 160))
P = pseudonyms([R1, R2, R3, R4, R5, R6, A1, A2, B1, B2, B3] + H + list(range(200, 260)))
# The engine exposes the holdout itself (when its message would have been
# sent); the other arms are exposed by the delivery stage when a message is
# sent, which this test does not run: their residents stay unexposed here.
HH = [h for h in H if holdout_variant(P[h]) == "holdout"]
# held out, with their goal event in the same run (most likely the same poll
# batch as their exposure): G after the exposure, G0 dated before it
_held = [i for i in range(200, 260) if holdout_variant(P[i]) == "holdout"]
G, G0 = _held[:4], _held[4]

redis("FLUSHDB")
T0 = "2026-03-24T09:30:00Z"
ev0 = "2026-03-24T08:30:00Z"
reg = [
    event(R1, "life.registered", ev0, **contact(True, True, True,
                                                {"email": False, "sms": True, "app": True})),
    event(R2, "life.registered", ev0, **contact(email=True, consent={"email": False})),
    event(R3, "life.registered", ev0, **contact(email=True)),
    event(R3, "life.consent-changed", ev0, topic="welcome",
          consents={"email": False, "sms": False, "app": False}),
    event(R4, "life.registered", ev0, **contact(email=True)),
    event(R5, "life.registered", ev0, **contact(email=True)),
    event(R6, "life.registered", ev0, **contact(app=True)),
    event(A1, "life.registered", ev0, **contact(email=True)),
    event(A2, "life.registered", ev0, **contact(email=True)),
    event(B1, "life.registered", ev0, **dict(contact(email=True), given_name="Batch")),
    event(B2, "life.registered", ev0, **dict(contact(email=True), given_name="Batch")),
    event(B3, "life.registered", ev0, **dict(contact(email=True), given_name="Batch")),
    event(B3, "service.waste-discount-requested", ev0),
] + [event(h, "life.registered", ev0, **contact(email=True)) for h in H + G + [G0]]
moved = event(R1, "life.moved-in", ev0)
trig = [
    moved, dict(moved),  # the same event twice: one decision
    event(R2, "life.moved-in", ev0), event(R3, "life.moved-in", ev0),
    event(R4, "life.death-of-partner", ev0),
    event(R6, "life.id-card-expiring", ev0, expires="2026-05-20"),
    event(A1, "life.birthday", ev0, age=18), event(A2, "life.birthday", ev0, age=65),
] + [event(h, "life.income-changed", ev0, income_band="low",
           previous_income_band="middle") for h in H + G + [G0]]
trig += [event(h, "service.social-tariff-requested", "2026-03-24T09:45:00Z") for h in G]
trig += [event(G0, "service.social-tariff-requested", "2026-03-24T09:00:00Z")]

print("== run 1:", T0)
produce(reg + trig)
out1 = segment(T0)
print(out1)

intents = consume(RUN + ".notifications")
status = consume(RUN + ".status")
by = {}
for i in intents:
    by.setdefault((i["campaign"], i["resident"], i["step"]), []).append(i)
st_by = {}
for s in status:
    st_by.setdefault((s["campaign"], s["resident"], s["step"]), []).append(s)

i1 = by.get(("c-consent", P[R1], "initial"), [])
check(len(i1) == 1, "R1: one c-consent intent although the event came twice")
check(i1 and i1[0]["channels"] == ["sms", "app"],
      "R1: e-mail refused, so the channels are sms, app in campaign order")
check(("c-consent", P[R2], "initial") not in by, "R2: no consent on any channel: nothing sent")
check([s.get("reason") for s in st_by.get(("c-consent", P[R2], "initial"), [])]
      == ["no-consent"], "R2: suppressed, reason no-consent")
check(("c-consent", P[R3], "initial") not in by, "R3: opted out of the topic: nothing sent")
check([s.get("reason") for s in st_by.get(("c-consent", P[R3], "initial"), [])]
      == ["opted-out"], "R3: suppressed, reason opted-out")
check(("c-aud", P[A1], "initial") in by, "A1 turns 18: in the audience")
check(("c-aud", P[A2], "initial") not in by, "A2 turns 65: not in the audience")
check(("c-cap-a", P[R4], "initial") in by and ("c-cap-b", P[R4], "initial") in by,
      "R4: the two highest priorities pass the cap")
check(("c-cap-c", P[R4], "initial") not in by, "R4: the third waits")
capc = st_by.get(("c-cap-c", P[R4], "initial"), [])
check([(s["status"], s.get("reason"), s.get("due")) for s in capc]
      == [("deferred", "frequency-cap", "2026-03-31T09:30:00Z")],
      "R4: c-cap-c deferred by the cap to 7 days after the second send")
check(("c-reminder", P[R6], "initial") in by, "R6: ID-card message sent (60 days before)")
rem = st_by.get(("c-reminder", P[R6], "reminder-1"), [])
check([(s["status"], s.get("due")) for s in rem] == [("scheduled", "2026-03-31T08:00:00Z")],
      "R6: reminder-1 scheduled 7 days later at 10:00 CEST")
exp = {"plain": 0, "social": 0, "holdout": 0}
ok_variants = True
for h in H:
    v = holdout_variant(P[h])
    exp[v] += 1
    sent = by.get(("c-holdout", P[h], "initial"), [])
    if v == "holdout":
        ok_variants &= not sent and [s.get("reason") for s in st_by.get(
            ("c-holdout", P[h], "initial"), [])] == ["holdout"]
    else:
        ok_variants &= len(sent) == 1 and sent[0]["variant"] == v
check(ok_variants, f"holdout experiment: every resident got the predicted arm {exp}")
exposed = {h for h in H if redis("HGET", f"sj:res:{{{P[h]}}}:exposure", "exp-test").strip()}
check(exposed == set(HH), f"holdout experiment: the {len(HH)} held-out residents recorded as "
      f"exposed by the engine, the {len(H) - len(HH)} sent a message not (the delivery "
      f"stage exposes them when it sends)")

EXP_KEY = "sj:{exp}:exp-test"


def exp_counters():
    out = redis("HGETALL", EXP_KEY).split("\n")
    return {out[i]: int(out[i + 1]) for i in range(0, len(out) - 1, 2)}


exp_all = {v: 0 for v in exp}
exp_all["holdout"] = len(HH) + len(G) + 1
want_exp = {"holdout|exposed": exp_all["holdout"]}
want_conv = {}
for g in G:
    v = holdout_variant(P[g])
    want_conv[f"{v}|converted"] = want_conv.get(f"{v}|converted", 0) + 1
check(exp_counters() == dict(want_exp, **want_conv),
      f"experiment counters after run 1: every resident exposed once, the goal "
      f"events of the same run counted (not G0's, dated before its exposure) "
      f"{exp_counters()}")

# The experiment's goal, exposure at run 1's clock (T0 = 24 March 09:30Z):
# HH[0..5] inside the 90-day window, HH[5] twice (counted once), HH[6] with
# an event time before its exposure (not counted), HH[7] after the window
# (sent last, at 1 July: not counted), R5 and the residents sent a message
# (not exposed without the delivery stage) count nothing.
GOAL = "service.social-tariff-requested"
conv_in = HH[:6]
sent_h = [h for h in H if h not in HH][:3]
goals = [event(h, GOAL, "2026-03-27T10:00:00Z") for h in conv_in + sent_h]
goals += [event(HH[5], GOAL, "2026-03-28T09:00:00Z"),
          event(HH[6], GOAL, "2026-03-24T08:00:00Z"),
          event(R5, GOAL, "2026-03-27T10:00:00Z")]
for h in conv_in:
    v = holdout_variant(P[h])
    want_conv[f"{v}|converted"] = want_conv.get(f"{v}|converted", 0) + 1

print("== run 2: Saturday 28 March 2026 11:00 CET (one message per batch, every "
      "second transaction aborted)")
produce([event(R5, "life.marriage", "2026-03-28T09:55:00Z"),
         event(R6, "service.id-card-requested", "2026-03-27T14:00:00Z")] + goals)
out2 = segment("2026-03-28T10:00:00Z", extra=["--batch", "1"],
               env=dict(os.environ, SEINTJE_FAULT_ABORT_EVERY="2"))
print(out2)
check(" 0 aborted)" not in out2, "run 2: transactions were aborted and replayed")
check(exp_counters() == dict(want_exp, **want_conv),
      f"experiment counters after run 2: each converting resident once, inside the "
      f"window and not before exposure, although every batch ran twice {exp_counters()}")
conv_rec = {h for h in H if redis("HGET", f"sj:res:{{{P[h]}}}:converted", "exp-test").strip()}
conv_rec |= {g for g in G + [G0]
             if redis("HGET", f"sj:res:{{{P[g]}}}:converted", "exp-test").strip()}
check(conv_rec == set(conv_in + G), "per-resident conversion records: exactly the converted")
check(redis("EXISTS", "sj:{exp}:c-reminder").strip() == "0",
      "a campaign with one variant keeps no experiment counters")
status = consume(RUN + ".status")
win = [s for s in status if s["campaign"] == "c-window" and s["resident"] == P[R5]]
check([(s["status"], s.get("reason"), s.get("due")) for s in win]
      == [("deferred", "send-window", "2026-03-30T07:00:00Z")],
      "R5: Saturday is outside the window: deferred to Monday 09:00 CEST (07:00Z, "
      "after the clocks went forward)")

print("== run 3: Wednesday 1 April 2026 14:00 CEST")
print(segment("2026-04-01T12:00:00Z"))
intents = consume(RUN + ".notifications")
status = consume(RUN + ".status")
sent = {(i["campaign"], i["resident"], i["step"]) for i in intents}
check(("c-cap-c", P[R4], "initial") in sent, "R4: c-cap-c sent once the cap period ended")
check(("c-window", P[R5], "initial") in sent, "R5: c-window sent when the window opened")
check(not any(k[0] == "c-reminder" and k[2] != "initial" for k in sent),
      "R6: no reminder after the goal event")
canc = [s for s in status if s["campaign"] == "c-reminder" and s["step"] == "reminder-1"]
check([s["status"] for s in canc] == ["scheduled", "cancelled"] and
      canc[-1].get("reason") == "goal-reached", "R6: reminder-1 cancelled, goal-reached")

print("== batch: c-batch on 2 April 2026, twice")
for _ in range(2):
    print(run(["batch", "--campaign", "c-batch", "--date", "2026-04-02",
               "--now", "2026-04-02T08:00:00Z"] + settings()))
    print(segment("2026-04-02T08:00:00Z"))
intents = consume(RUN + ".notifications")
got = sorted(i["resident"] for i in intents if i["campaign"] == "c-batch")
check(got == sorted([P[B1], P[B2]]), f"batch: one intent for each resident named Batch "
      f"who has not answered (not B3, whose goal is in resident.goals), none twice "
      f"({len(got)})")

print("== replay: a fresh consumer group over the same history and Redis")
print(segment("2026-04-01T12:00:00Z", group="replay"))
intents2 = consume(RUN + ".notifications")
check(len(intents2) == len(intents), f"replay: no new intents ({len(intents)} before, "
      f"{len(intents2)} after)")
ids = [i["id"] for i in intents2]
check(len(ids) == len(set(ids)), f"every intent id once on the topic ({len(ids)} intents)")
check(exp_counters() == dict(want_exp, **want_conv),
      f"replay: the experiment counters did not change {exp_counters()}")

print("== experiment report")
chart = WORK + "/uptake.svg"
rep = json.loads(run(["experiment", "report", "exp-test", "--format", "json",
                      "--chart", chart] + settings()))
arms = {a["name"]: a for a in rep["arms"]}
check([a["name"] for a in rep["arms"]] == ["plain", "social", "holdout"]
      and rep["control"] == "holdout" and rep["experiment"] == "exp-test"
      and rep["campaign"] == "c-holdout",
      "report: the campaign's arms in order, the holdout as control")
check(all(arms[v]["exposed"] == exp_all[v] and
          arms[v]["converted"] == want_conv.get(f"{v}|converted", 0) for v in exp),
      "report: exposed and converted per arm are the counters")
check([round(a["weight"], 6) for a in rep["arms"]] == [0.3, 0.3, 0.4],
      "report: weights from the campaign (SRM check)")
check(all(a["exposed"] == 0 or abs(a["rate"] - a["converted"] / a["exposed"]) < 1e-12
          for a in rep["arms"]),
      "report: rates")
import xml.etree.ElementTree as ET
svg = ET.parse(chart).getroot()
NS = "{http://www.w3.org/2000/svg}"
bars = [g for g in svg.iter(NS + "g") if g.get("class") == "arm"]
check(svg.tag == NS + "svg" and [g.get("data-arm") for g in bars] ==
      ["plain", "social", "holdout"] and
      all(float(g.get("data-lo")) <= float(g.get("data-rate")) <= float(g.get("data-hi"))
          for g in bars),
      "report --chart: a valid SVG with one bar and interval per arm")
text = run(["experiment", "report", "exp-test"] + settings())
check("Verdicts:" in text and "holdout" in text, "report: the text report")
p = subprocess.run([BIN, "experiment", "report", "no-such"] + settings(),
                   capture_output=True, text=True)
check(p.returncode == 2 and "unknown experiment" in p.stderr,
      "report: an unknown experiment is a usage error")
p = subprocess.run([BIN, "experiment", "report", "c-aud"] + settings(),
                   capture_output=True, text=True)
check(p.returncode == 2 and "no counters" in p.stderr,
      "report: an experiment without counters is a usage error")

print("== a goal event after the window: 1 July 2026")
produce([event(HH[7], GOAL, "2026-06-30T10:00:00Z")])
print(segment("2026-07-01T10:00:00Z"))
check(exp_counters() == dict(want_exp, **want_conv) and
      not redis("HGET", f"sj:res:{{{P[HH[7]]}}}:converted", "exp-test").strip(),
      "a goal event after window_days counts nothing")

sjtest.finish()
