#!/usr/bin/env python3
"""An experiment end to end, against the REAL Kafka broker and redis-server
of the services fixture: a synthetic population with a known true uptake per
variant goes through `seintje produce` -> `seintje segment` -> `seintje
deliver` (outbox) -> goal events -> `seintje segment` -> `seintje experiment
report`, and the report must recover the truth within its intervals.

The campaign is the shipped id-card-renewal (segments/campaigns, with its
templates): plain 45 % / deadline 45 % / holdout 10 %, goal
be.seintje.service.id-card-requested within 90 days of exposure.

The population (N residents, Tuesday 10 March 2026):
  - each gets an id-card-expiring event (card expiring 9 May, so the first
    message is due now); 1 % have no contact data (nothing can be sent, so
    they are never exposed), 2 % get a second trigger (two messages, one
    exposure);
  - the residents the delivery stage sent a message to (status records
    `sent`) and the held-out residents (`suppressed`/`holdout`) are the
    exposed ones; the test reads their variant from those records, as a
    resident "responds" to what they got;
  - each exposed resident converts with the TRUE probability of their
    variant (a fixed seed), with a goal event between 3 hours and 85 days
    after exposure; 10 % of converters request twice (counted once);
  - noise that must count nothing: goal events dated before the exposure
    (2 % of everybody), after the 90-day window (2 % of non-converters), and
    from residents who were never exposed.

Checks: the counters sj:{exp}:id-card-2026 equal, exactly, the residents
exposed (from the status topic) and converted (from the test's own draw) per
variant; every exposure record's time is its first `sent` record's time;
the outbox holds one file per `sent` record; `experiment report` puts every
true rate inside its Wilson interval and every true difference against the
holdout inside its interval, finds the deadline arm's effect (verdict
"raised") and no sample-ratio mismatch; `experiment rebuild` (the counters
again from the two topics) gives the same numbers.

With the seed fixed the test is deterministic. A 95 % interval misses the
truth for 1 draw in 20, so another seed could fail one interval check; that
is what 95 % means, and why the seed is fixed and printed.

Environment (sj_integration_test): SEINTJE_SERVICES_ENV, SEINTJE_BIN,
SEINTJE_SOURCE_DIR, SEINTJE_BUILD_DIR. Redis database 22 (its own)."""
import atexit
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

N = int(os.environ.get("SEINTJE_EXPERIMENT_RESIDENTS", "20000"))
SEED = 20261129
TRUE = {"holdout": 0.20, "plain": 0.25, "deadline": 0.31}
EXPERIMENT, CAMPAIGN = "id-card-2026", "id-card-renewal"
GOAL = "be.seintje.service.id-card-requested"

sys.path.insert(0, os.path.join(os.environ["SEINTJE_SOURCE_DIR"], "tests/services"))
import sjtest  # noqa: E402
from sjtest import check, failures, nrn  # noqa: E402

BIN = os.environ["SEINTJE_BIN"]
SRC = os.environ["SEINTJE_SOURCE_DIR"]
REDIS_DB = "22"
BROKERS, REDIS_HOST, REDIS_PORT, REDIS = sjtest.services(REDIS_DB)
RUN = f"exp-{os.getpid()}-{int(time.time())}"
WORK = tempfile.mkdtemp(prefix="experiment-", dir=os.environ.get("SEINTJE_BUILD_DIR"))
if not os.environ.get("SEINTJE_KEEP_WORK"):
    atexit.register(shutil.rmtree, WORK, True)
OUTBOX = WORK + "/outbox"


def settings():
    x = {
        "brokers": BROKERS, "redis.url": REDIS, "topic.partitions": "3",
        "topic.life-events": RUN + ".life-events",
        "topic.notifications": RUN + ".notifications",
        "topic.delivery-status": RUN + ".status",
        "topic.segment-due": RUN + ".due",
        "topic.dead-letter": RUN + ".dead-letter",
        "segment.group": RUN + "-segment", "segment.instance": RUN + "-segment",
        "deliver.group": RUN + "-deliver",
        "campaigns.dir": SRC + "/segments/campaigns",
        "templates.dir": SRC + "/templates/campaigns",
        "nudge.cap-count": "0",
        "outbox.dir": OUTBOX, "produce.reject-file": WORK + "/rejects.jsonl",
    }
    args = []
    for k, v in x.items():
        args += ["-X", f"{k}={v}"]
    return args + ["--log-level", "warn"]


def run(args, **kw):
    t = time.monotonic()
    p = subprocess.run([BIN] + args, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"seintje {args[0]} exited {p.returncode}")
    print(f"-- seintje {' '.join(args[:2])}: {time.monotonic() - t:.1f} s", flush=True)
    return p.stdout


def redis(*cmd):
    p = subprocess.run(["redis-cli", "-h", REDIS_HOST, "-p", REDIS_PORT, "-n", REDIS_DB,
                        "--raw"] + list(cmd), capture_output=True, text=True, check=True)
    return p.stdout


def consume(topic):
    return sjtest.consume(BROKERS, topic)


def iso(dt):
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{dt.microsecond // 1000:03d}Z"


def ms_of(s):
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


seq = [0]


def event(i, typ, when, **data):
    seq[0] += 1
    return {"specversion": "1.0", "id": f"{RUN}-{seq[0]}", "source": "urn:nis:44084:test",
            "type": typ, "time": when, "subject": nrn(i), "data": data}


def produce(events, name):
    path = f"{WORK}/{name}.jsonl"
    with open(path, "w") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    run(["produce", "--insecure-dev-key", "-q"] + settings() + [path])


rng = random.Random(SEED)
print(f"== {N} residents, seed {SEED}, true uptake {TRUE}")
redis("FLUSHDB")
T0 = datetime(2026, 3, 10, 8, 0, tzinfo=timezone.utc)  # Tuesday 09:00 CET
no_contact = set(rng.sample(range(N), N // 100))
twice = set(rng.sample(range(N), N // 50))
trig = []
for i in range(N):
    data = {"expires": "2026-05-09", "language": "nl", "given_name": "Test"}
    if i not in no_contact:
        data.update(email=f"r{i}@example.org", consents={"email": True})
    trig.append(event(i, "be.seintje.life.id-card-expiring", iso(T0), **data))
    if i in twice:
        trig.append(event(i, "be.seintje.life.id-card-expiring",
                          iso(T0 + timedelta(minutes=5)), **data))
# goal events dated before anybody's exposure: they count nothing
early = [event(i, GOAL, iso(T0 - timedelta(days=5))) for i in rng.sample(range(N), N // 50)]
produce(trig + early, "triggers")
print(run(["segment", "-e", "--now", "2026-03-10T09:00:00Z"] + settings()))
print(run(["deliver", "--until-idle", "1500", "--now", "2026-03-10T09:30:00Z"] +
          settings()))

# Who was exposed, when, to what: the status topic (pseudonyms as `seintje
# produce --dry-run` computes them).
out = run(["produce", "--dry-run", "--insecure-dev-key", "-q"] + settings() +
          [f"{WORK}/triggers.jsonl"])
by_nrn = {nrn(i): i for i in range(N)}
res_of = {json.loads(line)["subject"]: by_nrn[e["subject"]]
          for e, line in zip(trig + early, out.splitlines())}
status = consume(RUN + ".status")
exposure = {}  # resident -> (variant, ms), the first
sent_records = 0
for s in status:
    if s.get("campaign") != CAMPAIGN:
        continue
    first = False
    if s.get("stage") == "deliver" and s.get("status") == "sent":
        sent_records += 1
        first = True
    elif (s.get("stage") == "segment" and s.get("status") == "suppressed"
          and s.get("reason") == "holdout"):
        first = True
    if first:
        if s.get("experiment") != EXPERIMENT:
            failures.append(f"a status record without experiment {EXPERIMENT}: {s}")
        r, t = res_of[s["resident"]], ms_of(s["time"])
        if r not in exposure or t < exposure[r][1]:
            exposure[r] = (s["variant"], t)
arms = {v: sum(1 for x in exposure.values() if x[0] == v) for v in TRUE}
print(f"exposed per arm (status topic): {arms}")
check(not (set(exposure) & no_contact),
      f"the {len(no_contact)} residents without contact data were not exposed")
check(len(exposure) == N - len(no_contact),
      f"every resident with contact data was exposed once ({len(exposure)})")
files = sum(len(fs) for _, _, fs in os.walk(OUTBOX))
check(files == sent_records, f"one outbox file per 'sent' record ({files}, "
      f"{sent_records}; {len(twice)} residents got two)")

# The residents' behaviour: conversions at the true rate of their variant.
t_exp_max = max(t for _, t in exposure.values())
goals, converted = [], {v: 0 for v in TRUE}
for r in sorted(exposure):
    v, t = exposure[r]
    base = datetime.fromtimestamp(t / 1000, timezone.utc)
    if rng.random() < TRUE[v]:
        converted[v] += 1
        when = base + timedelta(hours=3) + timedelta(seconds=rng.uniform(0, 85 * 86400))
        goals.append(event(r, GOAL, iso(when)))
        if rng.random() < 0.10:
            goals.append(event(r, GOAL, iso(when + timedelta(days=2))))
    elif rng.random() < 0.02:  # too late: after the 90-day window
        goals.append(event(r, GOAL, iso(base + timedelta(days=95))))
for r in sorted(no_contact)[: len(no_contact) // 2]:  # never exposed
    goals.append(event(r, GOAL, iso(T0 + timedelta(days=3))))
rng.shuffle(goals)
print(f"converted per arm (drawn): {converted}")
produce(goals, "goals")
print(run(["segment", "-e", "--now", "2026-07-01T09:00:00Z"] + settings()))

counters = redis("HGETALL", "sj:{exp}:" + EXPERIMENT).split("\n")
counters = {counters[i]: int(counters[i + 1]) for i in range(0, len(counters) - 1, 2)}
want = {f"{v}|exposed": arms[v] for v in TRUE}
want.update({f"{v}|converted": converted[v] for v in TRUE if converted[v]})
check(counters == want, f"counters sj:{{exp}}:{EXPERIMENT} are exactly the residents "
      f"exposed and converted per variant {counters}")
sample = rng.sample(sorted(exposure), 200)
ps = {r: p for p, r in res_of.items()}
bad = [r for r in sample
       if redis("HGET", f"sj:res:{{{ps[r]}}}:exposure", EXPERIMENT).split() !=
       [exposure[r][0], str(exposure[r][1])]]
check(not bad, f"exposure records: variant and time of the first 'sent' (or holdout) "
      f"record, 200 sampled ({len(bad)} differ)")

rep = json.loads(run(["experiment", "report", EXPERIMENT, "--format", "json"] +
                     settings()))
by = {a["name"]: a for a in rep["arms"]}
check(rep["control"] == "holdout" and set(by) == set(TRUE), "report: arms, holdout control")
for v, p in TRUE.items():
    lo, hi = by[v]["rate_ci"]
    check(lo <= p <= hi, f"report: {v}: true uptake {p:.3f} inside the Wilson interval "
          f"{lo:.4f}-{hi:.4f} (observed {by[v]['rate']:.4f}, n={by[v]['exposed']})")
for v in ("plain", "deadline"):
    d, (lo, hi) = TRUE[v] - TRUE["holdout"], by[v]["vs_control"]["diff_ci"]
    check(lo <= d <= hi, f"report: {v} vs holdout: true difference {d:+.3f} inside "
          f"the interval {lo:+.4f}..{hi:+.4f} (observed "
          f"{by[v]['vs_control']['diff']:+.4f})")
check(by["deadline"]["vs_control"]["verdict"] == "raised",
      f"report: the deadline arm raised uptake: "
      f"{by['deadline']['vs_control']['verdict_text']}")
check(not rep["srm"]["mismatch"], f"report: no sample-ratio mismatch "
      f"(p = {rep['srm']['p_value']:.3g})")

reb = json.loads(run(["experiment", "rebuild", EXPERIMENT, "--format", "json"] +
                     settings()))
got = {}
for a in reb["arms"]:
    got[f"{a['variant']}|exposed"] = a["exposed"]
    if a["converted"]:
        got[f"{a['variant']}|converted"] = a["converted"]
check(got == counters, f"experiment rebuild: the same numbers from the topics {got}")

sjtest.finish()
