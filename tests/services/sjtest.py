"""Shared pieces of the Python integration checks (engine_check.py,
experiment_check.py): the services' addresses, reading a topic with kcat,
valid national register numbers and the check/report pattern.

Import it with the directory on sys.path:

    sys.path.insert(0, os.path.join(os.environ["SEINTJE_SOURCE_DIR"], "tests/services"))
    import sjtest
"""
import json
import os
import subprocess
import sys
import urllib.parse


def services(db):
    """(brokers, redis host, port, the URL of Redis database db) from the
    env file of the services fixture (SEINTJE_SERVICES_ENV)."""
    env = {}
    with open(os.environ["SEINTJE_SERVICES_ENV"]) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                env[k] = v
    u = urllib.parse.urlparse(env["SEINTJE_TEST_REDIS_URL"])
    host, port = u.hostname, str(u.port or 6379)
    return env["SEINTJE_TEST_BROKERS"], host, port, f"redis://{host}:{port}/{db}"


def consume(brokers, topic, missing_ok=False):
    """Every committed message of topic, as JSON (an unknown topic is empty
    when missing_ok)."""
    p = subprocess.run(["kcat", "-C", "-b", brokers, "-t", topic, "-e", "-q",
                        "-X", "isolation.level=read_committed", "-f", "%s\n"],
                       capture_output=True, text=True)
    if p.returncode != 0 and not (missing_ok and "Unknown topic" in p.stderr):
        raise SystemExit("kcat: " + p.stderr)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def nrn(i):
    """A valid national register number of someone born in 1980 (distinct
    for i < 335,000)."""
    yymmdd = f"80{1 + (i // 28) % 12:02d}{1 + i % 28:02d}"
    serial = f"{(i % 997) + 1:03d}"
    base = int(yymmdd + serial)
    return yymmdd + serial + f"{97 - base % 97:02d}"


failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def finish():
    """Exits 1 when a check failed."""
    if failures:
        print(f"{len(failures)} checks failed")
        sys.exit(1)
    print("all checks passed")
