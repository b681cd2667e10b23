#!/usr/bin/python3
"""The end state of the deliver kill test, checked from the outside: Redis
(the ledger), the peers (what they accepted, their duplicate counts) and
Kafka (status and dead-letter records, read with kcat).

usage: kill_check.py --redis URL --prefix HEX --count N --kills K
                     --max-in-flight M --recovered R --connections C
                     --status FILE --dead FILE
                     --smtp-index FILE --smtp-admin URL --http URL

Every intent must be in a final state: sent (and then accepted by its
server at least once) or dead-lettered (with a final dead-letter record);
every one must have a final status record. Prints the duplicates the
servers saw (same Message-ID, same reference): only a message on the wire
when deliver died can arrive twice, so they are at most K x C (C the
connections of all providers together) and at most R, the intents deliver
re-sent after finding its own claim from before a kill (claimed but
possibly still queued: at most K x M).
"""

import argparse
import json
import sys
import urllib.request

sys.path.insert(0, __import__("os").path.dirname(__file__))
from deliver_fixture import Redis, pseudonym  # noqa: E402


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.load(r)


def main():
    ap = argparse.ArgumentParser()
    for k in ("redis", "prefix", "status", "dead", "smtp_index", "smtp_admin", "http"):
        ap.add_argument("--" + k.replace("_", "-"), required=True)
    for k in ("count", "kills", "max_in_flight", "recovered", "connections"):
        ap.add_argument("--" + k.replace("_", "-"), type=int, required=True)
    a = ap.parse_args()
    ids = [a.prefix + "%0*x" % (32 - len(a.prefix), i) for i in range(a.count)]
    r = Redis(a.redis)
    states = r.pipeline([("HGET", "sj:dlv:{%s}" % i, "state") for i in ids])
    by_state = {}
    for i, s in zip(ids, states):
        by_state.setdefault((s or b"(none)").decode(), []).append(i)
    summary = {k: len(v) for k, v in sorted(by_state.items())}
    print("ledger states:", summary)
    bad = {k: v[:3] for k, v in by_state.items() if k not in ("sent", "dead")}
    if bad:
        sys.exit("FAIL: intents not in a final state: %s" % bad)

    accepted = set()
    with open(a.smtp_index, encoding="utf-8") as f:
        for line in f:
            mid = json.loads(line).get("message_id") or ""
            if mid.startswith(a.prefix):
                accepted.add(mid.split("@")[0])
    for ep in ("sms", "inbox"):
        for e in get("%s/_admin/received?endpoint=%s&reference_prefix=%s&limit=10000000" %
                     (a.http, ep, a.prefix)):
            if e["status"] in (201, 202, "drop_after"):
                accepted.add(e["reference"])
    lost = [i for i in by_state.get("sent", []) if i not in accepted]
    if lost:
        sys.exit("FAIL: %d intents are 'sent' but no server accepted them: %s" %
                 (len(lost), lost[:3]))

    final_dead = set()
    with open(a.dead, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if d["final"]:
                final_dead.add(d["intent"])
    missing = [i for i in by_state.get("dead", []) if i not in final_dead]
    if missing:
        sys.exit("FAIL: dead intents without a final dead letter: %s" % missing[:3])

    final = {}
    with open(a.status, encoding="utf-8") as f:
        for line in f:
            s = json.loads(line)
            if s["status"] == "sent" or (s["status"] == "permanent-failure" and
                                         s.get("fallback") is None):
                final[s["intent"]] = s["status"]
    nofinal = [i for i in ids if i not in final]
    if nofinal:
        sys.exit("FAIL: %d intents without a final status record: %s" %
                 (len(nofinal), nofinal[:3]))

    # Experiment exposure (every intent is the experiment id-card-2026's, one
    # resident each): a record for every resident whose intent was sent, and
    # none for the dead-lettered; the counter may miss the residents of the
    # flushes a kill cut between record and count (at most one flush, at most
    # deliver.max-in-flight intents, per kill), never count one twice.
    sent_ids = set(by_state.get("sent", []))
    res = [pseudonym(a.prefix, i) for i in range(a.count)]
    exp = r.pipeline([("HGET", "sj:res:{%s}:exposure" % p, "id-card-2026") for p in res])
    wrong = [i for i, e in zip(ids, exp)
             if (e is not None) != (i in sent_ids) or
             (e is not None and not e.decode().startswith("plain "))]
    if wrong:
        sys.exit("FAIL: %d residents with an exposure record that does not match their "
                 "intent's state: %s" % (len(wrong), wrong[:3]))
    counted = int(r.pipeline([("HGET", "sj:{exp}:id-card-2026", "plain|exposed")])[0] or 0)
    print("experiment: %d residents sent a message, %d exposure records, counter %d "
          "(lower bound: %d)" % (len(sent_ids), len(sent_ids), counted,
                                 len(sent_ids) - a.kills * a.max_in_flight))
    if not len(sent_ids) - a.kills * a.max_in_flight <= counted <= len(sent_ids):
        sys.exit("FAIL: the exposure counter %d is outside [sent - kills x "
                 "max-in-flight, sent]" % counted)

    smtp = get("%s/_admin/stats?message_id_prefix=%s" % (a.smtp_admin, a.prefix))
    http = get("%s/_admin/stats?reference_prefix=%s" % (a.http, a.prefix))
    dups = {"email": smtp["duplicates"], "sms": http["endpoints"]["sms"]["duplicates"],
            "app": http["endpoints"]["inbox"]["duplicates"]}
    total = sum(dups.values())
    print("kill test: %d intents, %d kills: %d sent, %d dead-lettered; duplicates seen "
          "by the servers %d (%s; bound: kills x connections = %d); intents re-sent "
          "after a kill %d (bound: kills x deliver.max-in-flight = %d)" %
          (a.count, a.kills, len(by_state.get("sent", [])), len(by_state.get("dead", [])),
           total, ", ".join("%s %d" % kv for kv in dups.items()),
           a.kills * a.connections, a.recovered, a.kills * a.max_in_flight))
    if total > a.kills * a.connections:
        sys.exit("FAIL: more duplicates (%d) than kills x connections (%d)" %
                 (total, a.kills * a.connections))
    if total > a.recovered:
        sys.exit("FAIL: more duplicates (%d) than messages re-sent after a kill (%d)" %
                 (total, a.recovered))
    if a.recovered > a.kills * a.max_in_flight:
        sys.exit("FAIL: more re-sends than kills x max-in-flight")


if __name__ == "__main__":
    main()
