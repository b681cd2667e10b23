#!/usr/bin/python3
"""A real SMTP server for `seintje deliver` tests and benchmarks, on Debian's
aiosmtpd: STARTTLS (required) with a self-signed certificate made at start,
an optional implicit-TLS port, AUTH PLAIN and LOGIN, every accepted message
kept as a file, duplicates counted by Message-ID, and faults on request
(permanent 550 rejections, 451 for the first attempts, slow answers, dropped
connections) through a small HTTP admin endpoint.

usage: smtp_server.py --dir DIR [--port N] [--tls-port N] [options]

  --host ADDR            listen address (default 127.0.0.1)
  --port N               submission port with STARTTLS; 0 (default) picks a
                         free port below the ephemeral range
  --tls-port N           also an implicit-TLS port (SMTPS); 0 picks one
  --admin-port N         HTTP admin port (default 0: picks one)
  --dir DIR              DIR/spool gets the messages, DIR/tls the certificate
  --cert F --key F       use this certificate instead of generating one
  --user U               require AUTH (PLAIN or LOGIN) as U; without it, no
                         AUTH is offered and none is needed
  --password P | --password-file F
                         U's password (the file form keeps it out of `ps`)
  --allow-plain          do not require STARTTLS on --port
  --reject ADDR          answer 550 5.1.1 to RCPT TO:<ADDR> (repeatable)
  --tempfail-first N     answer 451 at the end of DATA to the first N
                         attempts of every message (by Message-ID)
  --max-size BYTES       largest message accepted (default 10485760)
  --no-store             count and index messages but write no .eml files
                         (benchmarks)
  --ready-file F         written (atomically) once listening, KEY=VALUE lines:
                         SEINTJE_TEST_SMTP_HOST, SEINTJE_TEST_SMTP_PORT,
                         SEINTJE_TEST_SMTP_TLS_PORT, SEINTJE_TEST_SMTP_CA,
                         SEINTJE_TEST_SMTP_SPOOL, SEINTJE_TEST_SMTP_ADMIN_URL,
                         SEINTJE_TEST_SMTP_USER, SEINTJE_TEST_SMTP_PID
  --keep                 keep the messages already in the spool (default:
                         empty it)
  --log-level L          debug (one line per message, masked), info, warn

The spool: every accepted message is DIR/spool/NNNNNNNN.eml (8-digit
sequence, the DATA exactly as received with CRLF line ends, dot-unstuffed),
written to DIR/spool/tmp first and renamed, so a counted file is complete;
then a line is appended to DIR/spool/index.jsonl (both before the 250):
{"seq","file","t","mail_from","rcpt_tos","size","message_id","duplicate",
"tls","auth_user","port"}. Count messages with `ls DIR/spool/*.eml | wc -l`.
The certificate is DIR/tls/cert.pem (self-signed for localhost and
127.0.0.1, it is its own CA: `curl --cacert DIR/tls/cert.pem`).

Admin (HTTP on --admin-port):

  GET  /_admin/health        200 ok
  GET  /_admin/stats[?rcpt_suffix=S&message_id_prefix=P]
       {"connections","tls_connections","auth":{"ok","failed"},"messages",
        "unique_message_ids","duplicates","deliveries",
        "duplicate_deliveries","dropped","by_reply":{STAGE:{"250":n,...}}}
       messages = accepted DATA; duplicates = messages whose Message-ID
       (or, without one, content hash) was accepted before; deliveries =
       (message, recipient) pairs, duplicate_deliveries the repeats. With a
       filter: only the message counts and the rcpt and data replies.
  GET|POST|DELETE /_admin/faults, DELETE /_admin/faults/ID   fault rules
  POST /_admin/reset         forget faults and stats, empty the spool

Fault rules (POST /_admin/faults: a rule, a list, or {"rules":[...],
"replace":true}):

  "stage"    where it acts: connect | mail | rcpt | data (default data;
             data means after the message was received, before the answer)
  selectors  "rcpt" (a recipient, exact), "rcpt_suffix" (e.g. "@bad.test"),
             "mail_from", "message_id_prefix"
  limits     "count": N times; "fraction": f of the matches, spread evenly;
             "first": the first N attempts of each recipient (rcpt stage) or
             message (data stage: by Message-ID); none = always
  actions    "code": reply with this code (550, 451, 452, 554, 421 ...;
             "text" replaces the default text; 421 also closes the
             connection); "delay_ms": pause before answering (alone: then
             answer normally); "drop": "before" (or true) closes the
             connection without an answer, "after" (data stage) keeps the
             message and then closes without an answer (a retry makes a
             duplicate)

  curl -s $ADMIN/_admin/faults -d '{"stage":"rcpt","rcpt":"gone@x.test","code":550}'
  curl -s $ADMIN/_admin/faults -d '{"stage":"data","first":2,"code":451}'
  curl -s $ADMIN/_admin/faults -d '{"stage":"rcpt","rcpt_suffix":"@slow.test","delay_ms":3000}'
  curl -s $ADMIN/_admin/faults -d '{"stage":"data","drop":"after","count":1}'
  curl -s $ADMIN/_admin/faults -d '{"stage":"connect","code":421,"count":1}'

Logs are JSON lines on stderr with addresses masked. Runs until SIGTERM or
SIGINT, then closes its ports and exits 0.
"""

import argparse
import asyncio
import hashlib
import logging
import os
import re
import shutil
import ssl
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402
from peerlib import json_response  # noqa: E402

try:
    from aiosmtpd.smtp import SMTP, AuthResult
except ImportError:
    sys.exit("smtp_server.py: needs aiosmtpd (Debian python3-aiosmtpd, "
             "scripts/install-deps.sh); run it with /usr/bin/python3")

STAGES = ("connect", "mail", "rcpt", "data")
MESSAGE_ID = re.compile(rb"(?im)^message-id:[ \t]*<?([^>\r\n]*)>?")
DEFAULT_TEXT = {
    421: "4.3.2 Service not available, closing transmission channel",
    450: "4.2.0 Mailbox unavailable, try again later",
    451: "4.3.0 Temporary failure, try again later",
    452: "4.3.1 Insufficient system storage",
    550: "5.1.1 Recipient address rejected: user unknown",
    552: "5.3.4 Message too big",
    553: "5.1.3 Mailbox name not allowed",
    554: "5.7.1 Transaction failed",
}


class Dropped(asyncio.CancelledError):
    """Raised after closing a connection on purpose: aiosmtpd then ends the
    session without trying to answer."""


class Stats:
    def __init__(self):
        self.connections = 0
        self.tls_connections = 0
        self.auth_ok = 0
        self.auth_failed = 0
        self.dropped = 0
        self.by_reply = {s: {} for s in STAGES}
        # Replies that concern recipients, for the filtered report:
        # (stage, code, rcpts tuple, message_id)
        self.replies = []
        self.messages = []       # (message_id, rcpts tuple)
        self.seen_ids = {}
        self.seen_pairs = set()
        self.duplicates = 0
        self.deliveries = 0
        self.dup_deliveries = 0

    def reply(self, stage, code, rcpts=(), mid=None):
        code = str(code)
        counts = self.by_reply[stage]
        counts[code] = counts.get(code, 0) + 1
        if rcpts:
            self.replies.append((stage, code, tuple(rcpts), mid))

    def accept(self, mid, rcpts):
        """Count an accepted message; returns whether it is a duplicate."""
        self.messages.append((mid, tuple(rcpts)))
        dup = mid in self.seen_ids
        self.seen_ids[mid] = self.seen_ids.get(mid, 0) + 1
        if dup:
            self.duplicates += 1
        for r in rcpts:
            self.deliveries += 1
            pair = (mid, r.lower())
            if pair in self.seen_pairs:
                self.dup_deliveries += 1
            else:
                self.seen_pairs.add(pair)
        return dup

    def report(self, rcpt_suffix=None, mid_prefix=None):
        def keep(rcpts, mid):
            if rcpt_suffix and not any(r.lower().endswith(rcpt_suffix.lower())
                                       for r in rcpts):
                return False
            if mid_prefix and not (mid or "").startswith(mid_prefix):
                return False
            return True

        if rcpt_suffix or mid_prefix:
            by_reply = {s: {} for s in STAGES}
            for stage, code, rcpts, mid in self.replies:
                if keep(rcpts, mid):
                    by_reply[stage][code] = by_reply[stage].get(code, 0) + 1
            out = {"by_reply": by_reply}
            ids, pairs = {}, set()
            n = dups = deliveries = dup_del = 0
            for mid, rcpts in self.messages:
                if not keep(rcpts, mid):
                    continue
                n += 1
                dups += mid in ids
                ids[mid] = 1
                for r in rcpts:
                    if rcpt_suffix and not r.lower().endswith(
                            rcpt_suffix.lower()):
                        continue
                    deliveries += 1
                    p = (mid, r.lower())
                    dup_del += p in pairs
                    pairs.add(p)
            out.update(messages=n, unique_message_ids=len(ids),
                       duplicates=dups, deliveries=deliveries,
                       duplicate_deliveries=dup_del)
            return out
        out = {"by_reply": {s: dict(c) for s, c in self.by_reply.items()}}
        out.update(connections=self.connections,
                   tls_connections=self.tls_connections,
                   auth={"ok": self.auth_ok, "failed": self.auth_failed},
                   messages=len(self.messages),
                   unique_message_ids=len(self.seen_ids),
                   duplicates=self.duplicates, deliveries=self.deliveries,
                   duplicate_deliveries=self.dup_deliveries,
                   dropped=self.dropped)
        return out


class Peer:
    """The server's state and aiosmtpd's handler (handle_MAIL, _RCPT,
    _DATA): faults, the spool, the counters."""

    def __init__(self, args, log):
        self.args = args
        self.log = log
        self.user = args.user
        self.password = args.password
        self.rules = peerlib.FaultRules(
            ("stage", "rcpt", "rcpt_suffix", "mail_from",
             "message_id_prefix"),
            ("code", "text", "delay_ms", "drop"))
        self.stats = Stats()
        self.spool = os.path.join(args.dir, "spool")
        self.tmp = os.path.join(self.spool, "tmp")
        if not args.keep and os.path.isdir(self.spool):
            shutil.rmtree(self.spool)
        os.makedirs(self.tmp, exist_ok=True)
        self.seq = max([int(f[:8]) for f in os.listdir(self.spool)
                        if re.fullmatch(r"\d{8}\.eml", f)] or [0])
        self.index = peerlib.Recorder(os.path.join(self.spool, "index.jsonl"))
        rules = [{"stage": "rcpt", "rcpt": a, "code": 550}
                 for a in args.reject or []]
        if args.tempfail_first:
            rules.append({"stage": "data", "first": args.tempfail_first,
                          "code": 451})
        if rules:
            self.add_rules(rules)

    def add_rules(self, rules, replace=False):
        for r in rules:
            if isinstance(r, dict):
                r.setdefault("stage", "data")
                if r["stage"] not in STAGES:
                    raise ValueError("stage: one of " + ", ".join(STAGES))
                if "code" in r and (not isinstance(r["code"], int) or
                                    not 400 <= r["code"] <= 599):
                    raise ValueError("code: an SMTP error code, 400..599")
                if r.get("drop") == "after" and r["stage"] != "data":
                    raise ValueError('drop "after" is for the data stage')
        return self.rules.add(rules, replace)

    # -- faults --------------------------------------------------------------

    async def fault(self, server, stage, attrs, key, rcpts=(), mid=None):
        """Apply the fault rule for this STAGE, if any: sleeps, drops (raises
        Dropped) or returns the reply to send instead (None: go on)."""
        attrs["stage"] = stage
        rule = self.rules.pick(attrs, key)
        if rule is None:
            return None, None
        if "delay_ms" in rule:
            await asyncio.sleep(rule["delay_ms"] / 1000.0)
        if rule.get("drop") in (True, "before"):
            self.drop(server, stage, rcpts, mid)
        if "code" in rule:
            code = rule["code"]
            text = rule.get("text") or DEFAULT_TEXT.get(
                code, ("4.0.0 Temporary failure" if code < 500
                       else "5.0.0 Permanent failure"))
            self.stats.reply(stage, code, rcpts, mid)
            return "%d %s" % (code, text), rule
        return None, rule

    def drop(self, server, stage, rcpts=(), mid=None):
        self.stats.dropped += 1
        self.stats.reply(stage, "drop", rcpts, mid)
        self.log.debug("dropping connection", stage=stage)
        if server.transport is not None:
            server.transport.abort()
        raise Dropped()

    async def on_connect(self, server):
        self.stats.connections += 1
        if server.implicit_tls:
            self.stats.tls_connections += 1
        reply, _ = await self.fault(server, "connect", {}, None)
        if reply is not None:
            return reply
        self.stats.reply("connect", 220)
        return None

    # -- aiosmtpd hooks ------------------------------------------------------

    def handle_STARTTLS(self, server, session, envelope):
        # aiosmtpd calls this one synchronously, after the handshake.
        self.stats.tls_connections += 1
        return True

    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        reply, _ = await self.fault(server, "mail", {"mail_from": address},
                                    address.lower())
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        self.stats.reply("mail", 250)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        reply, _ = await self.fault(
            server, "rcpt", {"rcpt": address, "mail_from": envelope.mail_from},
            address.lower(), (address,))
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        self.stats.reply("rcpt", 250, (address,))
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content or b""
        head = data[:data.find(b"\r\n\r\n") + 2 if b"\r\n\r\n" in data
                    else 65536]
        m = MESSAGE_ID.search(head.replace(b"\r\n ", b" ").replace(
            b"\r\n\t", b" "))
        mid = m.group(1).strip().decode("utf-8", "replace") if m else \
            "sha256:" + hashlib.sha256(data).hexdigest()
        rcpts = tuple(envelope.rcpt_tos)
        reply, rule = await self.fault(
            server, "data", {"rcpt": list(rcpts), "mail_from":
                             envelope.mail_from, "message_id": mid},
            mid, rcpts, mid)
        if reply is not None:
            return reply
        self.store(server, session, envelope, data, mid, rcpts)
        if rule is not None and rule.get("drop") == "after":
            self.drop(server, "data", rcpts, mid)
        self.stats.reply("data", 250, rcpts, mid)
        return "250 2.0.0 OK queued as %08d" % self.seq

    def store(self, server, session, envelope, data, mid, rcpts):
        self.seq += 1
        name = "%08d.eml" % self.seq
        if not self.args.no_store:
            tmp = os.path.join(self.tmp, name)
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, os.path.join(self.spool, name))
        dup = self.stats.accept(mid, rcpts)
        user = session.auth_data
        self.index.write({
            "seq": self.seq, "file": name, "t": round(time.time(), 6),
            "mail_from": envelope.mail_from, "rcpt_tos": list(rcpts),
            "size": len(data), "message_id": mid, "duplicate": dup,
            "tls": bool(session.ssl) or server.implicit_tls,
            "auth_user": user.decode("utf-8", "replace")
            if isinstance(user, bytes) else user,
            "port": server.local_port})
        self.log.debug("message", seq=self.seq, mail_from=envelope.mail_from,
                       rcpt_tos=list(rcpts), size=len(data), duplicate=dup)

    async def handle_exception(self, error):
        # aiosmtpd would log a traceback (a client that refuses our
        # certificate ends up here, on purpose in tests): one line instead.
        cause = error.__cause__ or error
        self.log.warn("session error", error="%s: %s" % (
            type(cause).__name__, str(cause)[:200]))
        return "500 Error: (%s) %s" % (type(error).__name__,
                                       str(error)[:200])

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (self.user is not None and
              auth_data.login == self.user.encode() and
              auth_data.password == self.password.encode())
        if ok:
            self.stats.auth_ok += 1
            return AuthResult(success=True, auth_data=auth_data.login)
        self.stats.auth_failed += 1
        self.log.info("authentication failed", mechanism=mechanism)
        return AuthResult(success=False, handled=False)

    # -- admin ---------------------------------------------------------------

    async def admin(self, req):
        q = {k: v[0] for k, v in req.query.items()}
        if req.path == "/_admin/health":
            return peerlib.Response(200, "ok\n",
                                    {"Content-Type": "text/plain"})
        if req.path == "/_admin/stats":
            return json_response(200, self.stats.report(
                q.get("rcpt_suffix"), q.get("message_id_prefix")))
        if req.path.startswith("/_admin/faults"):
            if req.method == "POST" and req.path.rstrip("/") == \
                    "/_admin/faults":
                try:
                    body = req.json()
                    replace = False
                    if isinstance(body, dict) and "rules" in body:
                        replace = bool(body.get("replace"))
                        body = body["rules"]
                    if isinstance(body, dict):
                        body = [body]
                    if not isinstance(body, list):
                        raise ValueError("expected a rule or a list of rules")
                    ids = self.add_rules(body, replace)
                except ValueError as e:
                    return json_response(400, {"error": str(e)})
                self.log.info("faults changed", rules=len(self.rules.rules))
                return json_response(200, {"ids": ids,
                                           "rules": self.rules.describe()})
            return peerlib.admin_faults(req, self.rules)
        if req.path == "/_admin/reset" and req.method == "POST":
            self.rules.remove()
            self.stats = Stats()
            for f in os.listdir(self.spool):
                if f.endswith(".eml"):
                    os.unlink(os.path.join(self.spool, f))
            self.index.truncate()
            self.seq = 0
            self.log.info("reset")
            return json_response(200, {"reset": True})
        return json_response(404, {"error": "no such admin endpoint"})


class PeerSMTP(SMTP):
    """aiosmtpd's SMTP with a hook before the greeting (connect-stage
    faults) and a note of which port and TLS mode it serves."""

    def __init__(self, peer, local_port, implicit_tls, **kw):
        super().__init__(peer, **kw)
        self.peer = peer
        self.local_port = local_port
        self.implicit_tls = implicit_tls
        self._greeted = False

    async def push(self, status):
        if not self._greeted:
            self._greeted = True
            reply = await self.peer.on_connect(self)
            if reply is not None:
                await super().push(reply)
                self.transport.close()
                raise Dropped()
        await super().push(status)
        if isinstance(status, str) and status.startswith("421 "):
            self.transport.close()


def parse_args(argv):
    if "-h" in argv or "--help" in argv:
        print(__doc__.rstrip())
        sys.exit(0)
    ap = argparse.ArgumentParser(
        prog="smtp_server.py", add_help=False,
        usage="smtp_server.py --dir DIR [options] (--help: all of them)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-port", type=int)
    ap.add_argument("--admin-port", type=int, default=0)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--password-file")
    ap.add_argument("--allow-plain", action="store_true")
    ap.add_argument("--reject", action="append")
    ap.add_argument("--tempfail-first", type=int)
    ap.add_argument("--max-size", type=int, default=10 * 1024 * 1024)
    ap.add_argument("--no-store", action="store_true")
    ap.add_argument("--ready-file")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--log-level", default="info",
                    choices=("debug", "info", "warn", "error"))
    args = ap.parse_args(argv)
    if args.password_file:
        with open(args.password_file, encoding="utf-8") as f:
            args.password = f.read().strip()
    if args.user and not args.password:
        ap.error("--user needs --password or --password-file")
    if bool(args.cert) != bool(args.key):
        ap.error("--cert and --key go together")
    return args


def main(argv):
    args = parse_args(argv)
    log = peerlib.Log("smtp_server", args.log_level)
    # aiosmtpd's own log has the raw commands (addresses): keep it quiet.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    # Said for the implicit-TLS port, where AUTH does run over TLS.
    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
    os.makedirs(args.dir, exist_ok=True)
    if args.cert:
        cert, key = args.cert, args.key
    else:
        cert, key = peerlib.make_cert(os.path.join(args.dir, "tls"), log)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    peer = Peer(args, log)

    def factory(port, implicit):
        # Without --user, AUTH is still advertised (aiosmtpd) but never
        # succeeds, and it is not needed.
        auth = {"auth_required": bool(args.user),
                "authenticator": peer.authenticate if args.user else None}
        if implicit:
            return lambda: PeerSMTP(
                peer, port, True, hostname="localhost", enable_SMTPUTF8=True,
                data_size_limit=args.max_size, timeout=120,
                auth_require_tls=False, **auth)
        return lambda: PeerSMTP(
            peer, port, False, hostname="localhost", enable_SMTPUTF8=True,
            data_size_limit=args.max_size, timeout=120, tls_context=ctx,
            require_starttls=not args.allow_plain, auth_require_tls=True,
            **auth)

    async def run(stop, loop_name):
        loop = asyncio.get_running_loop()
        sock = peerlib.listen_socket(args.host, args.port)
        port = sock.getsockname()[1]
        servers = [await loop.create_server(factory(port, False), sock=sock)]
        ready = {"SEINTJE_TEST_SMTP_HOST": args.host,
                 "SEINTJE_TEST_SMTP_PORT": port}
        if args.tls_port is not None:
            tsock = peerlib.listen_socket(args.host, args.tls_port)
            tport = tsock.getsockname()[1]
            servers.append(await loop.create_server(
                factory(tport, True), sock=tsock, ssl=ctx))
            ready["SEINTJE_TEST_SMTP_TLS_PORT"] = tport
        asock = peerlib.listen_socket(args.host, args.admin_port)
        servers.append(await peerlib.serve_http(peer.admin, asock, log))
        ready.update({
            "SEINTJE_TEST_SMTP_ADMIN_URL": "http://%s:%d" % (
                args.host, asock.getsockname()[1]),
            "SEINTJE_TEST_SMTP_CA": os.path.abspath(cert),
            "SEINTJE_TEST_SMTP_SPOOL": os.path.abspath(peer.spool),
            "SEINTJE_TEST_SMTP_PID": os.getpid()})
        if args.user:
            ready["SEINTJE_TEST_SMTP_USER"] = args.user
        peerlib.write_ready(args.ready_file, ready)
        log.info("listening", port=port, tls_port=ready.get(
            "SEINTJE_TEST_SMTP_TLS_PORT"), admin=ready[
            "SEINTJE_TEST_SMTP_ADMIN_URL"], auth=bool(args.user),
            loop=loop_name, spool=peer.spool)
        print("READY " + " ".join("%s=%s" % kv for kv in ready.items()),
              flush=True)
        await stop.wait()
        for s in servers:
            s.close()
        peer.index.close()
        st = peer.stats.report()
        log.info("stopped", connections=st["connections"],
                 messages=st["messages"], duplicates=st["duplicates"])

    peerlib.run_forever(run, log)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
