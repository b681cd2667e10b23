#!/usr/bin/python3
"""A real HTTP peer for `seintje deliver` tests and benchmarks: one process
serving the SMS gateways (a generic JSON webhook and Twilio's Messages API
format) and a citizen-app inbox API with OAuth2 client credentials. It
records everything it receives, counts duplicates by reference, and can be
told to fail in every way delivery must survive.

usage: http_gateway.py --dir DIR [--port N] [--ready-file FILE] [options]

  --host ADDR             listen address (default 127.0.0.1)
  --port N                port; 0 (default) picks a free one below the
                          ephemeral range
  --https-port N          also serve HTTPS on N (0 picks one; needs --cert
                          and --key), for example with the SMTP peer's
                          self-signed certificate
  --cert FILE, --key FILE certificate and key for --https-port
  --dir DIR               where the recordings go (created): sms.jsonl,
                          twilio.jsonl, inbox.jsonl, token.jsonl
  --ready-file FILE       written (atomically) once listening, KEY=VALUE lines:
                          SEINTJE_TEST_HTTP_URL, SEINTJE_TEST_HTTP_PORT,
                          SEINTJE_TEST_HTTPS_URL (with --https-port),
                          SEINTJE_TEST_HTTP_SPOOL, SEINTJE_TEST_HTTP_PID
  --twilio-sid SID        account SID for the Twilio-style API
                          (default AC00000000000000000000000000000000)
  --twilio-token-file F   its auth token (default: test-token)
  --client-id ID          OAuth2 client of the inbox API (default seintje)
  --client-secret-file F  its secret (default: test-secret)
  --token-ttl S           access tokens' lifetime in seconds (default 5)
  --sms-api-key-file F    when given, POST /sms wants Authorization: Bearer KEY
  --log-level L           debug (one line per request, masked), info, warn
  --keep                  append to existing recordings (default: truncate)

Endpoints (all JSON answers; recipients never appear in the log):

  POST /sms   generic webhook, JSON {"to","from","text","reference"}; "to"
              E.164, "from" a sender id (E.164, or 1-11 letters/digits/space
              with a letter), "text" 1..1600 characters, "reference" the
              idempotency key, unknown members refused -> 202
              {"id","status":"queued","reference","duplicate"}; 400 with
              {"error"} on a bad request, 401 without the API key (if set).
  POST /2010-04-01/Accounts/{SID}/Messages.json
              Twilio-style: form-encoded To, From (or MessagingServiceSid),
              Body; HTTP basic auth SID:TOKEN -> 201 with a Message resource
              (sid "SM" + 32 hex, status "queued"); errors as Twilio sends
              them, {"code","message","more_info","status"}: 20003 (401),
              20404 (404, SID in the path differs from the user), 21604 no To,
              21211 bad To, 21603 no From, 21212 bad From, 21602 no Body,
              21617 Body over 1600 characters. The reference is the
              Idempotency-Key (or I-Twilio-Idempotency-Token) header, else
              "sha256:" of To, From and Body.
  POST /oauth/token
              OAuth2 client credentials (RFC 6749 4.4): grant_type=
              client_credentials, client_id/client_secret by basic auth or
              in the form -> 200 {"access_token","token_type":"Bearer",
              "expires_in"}; 401 invalid_client, 400 unsupported_grant_type.
  POST /inbox/messages
              Authorization: Bearer TOKEN; JSON {"recipient","title","body",
              "deep_link","category","expires_at","reference"}: category
              informational|action_required, deep_link an absolute URL
              (optional), expires_at RFC 3339 (optional), reference required,
              unknown members refused -> 201 {"id","status":"accepted",
              "reference","duplicate"}; 401 (WWW-Authenticate: Bearer
              error="invalid_token") for a missing, unknown, revoked or
              expired token; 400 {"error"} for a bad message.

Admin (no auth; never faulted):

  GET  /_admin/health      200 ok
  GET  /_admin/stats[?endpoint=E&reference_prefix=P]
       {"endpoints": {E: {"received","accepted","unique_references",
       "duplicates","by_status":{"202":n,"429":n,"drop":n,"drop_after":n,
       ...},"faulted"}}, "total": {...}, "tokens_issued"}: accepted = 2xx
       answers and drop_after; duplicates = accepted - unique_references;
       total leaves out the token endpoint (tokens are no messages).
  GET  /_admin/received?endpoint=E[&reference_prefix=P][&limit=N]
       the recorded entries, as a JSON array
  GET|POST|DELETE /_admin/faults, DELETE /_admin/faults/ID   fault rules
  POST /_admin/tokens/revoke   every issued token becomes invalid (401)
  GET|POST /_admin/config      {"token_ttl": S}
  POST /_admin/reset           forget faults, stats, tokens; truncate files

Fault rules (POST /_admin/faults: a rule, a list, or {"rules":[...],
"replace":true}; answer {"ids":[...]}):

  selectors  "endpoint": sms|twilio|token|inbox (default: all four),
             "recipient" (to / To / recipient, exact), "reference_prefix",
             "sender" (from / From)
  limits     "count": N next matching requests; "fraction": f of them, evenly
             spread (0.5 = every 2nd); "first": N attempts of each reference
             (it fails N times, then goes through); none = every match
  actions    "delay_ms": answer after a pause (alone: then answer normally);
             "status": answer with this status instead (429 and 503 carry
             Retry-After: "retry_after" seconds, default 1); "body": the JSON
             to answer with (default: the endpoint's error format);
             "drop": "before" (or true) closes the connection without an
             answer and without accepting; "after" accepts and records the
             message, then closes without an answer (the client cannot know
             it went through: a retry makes a duplicate)

  curl -s $URL/_admin/faults -d '{"endpoint":"sms","status":429,"retry_after":2,"count":3}'
  curl -s $URL/_admin/faults -d '{"recipient":"+32470000001","status":400}'
  curl -s $URL/_admin/faults -d '{"endpoint":"inbox","fraction":0.1,"drop":"after"}'
  curl -s $URL/_admin/faults -d '{"first":2,"status":500}'  # each ref: 2 x 500
  curl -s -X DELETE $URL/_admin/faults

Recordings: one JSON line per request (after any fault) in DIR/ENDPOINT.jsonl:
{"t","endpoint","status","reference","recipient","duplicate","fault",
"request"} where request is the JSON body or form fields as received (never
credentials). A line is in the file before the request is answered.
Runs until SIGTERM or SIGINT, then closes its ports and exits 0.
"""

import argparse
import asyncio
import base64
import binascii
import datetime
import email.utils
import hashlib
import hmac
import os
import re
import secrets
import ssl
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402
from peerlib import DROP, Response, json_response  # noqa: E402

ENDPOINTS = ("sms", "twilio", "token", "inbox")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
ALNUM_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
RFC3339 = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
SMS_FIELDS = {"to", "from", "text", "reference"}
INBOX_FIELDS = {"recipient", "title", "body", "deep_link", "category",
                "expires_at", "reference"}
INBOX_REQUIRED = ("recipient", "title", "body", "category", "reference")
CATEGORIES = ("informational", "action_required")
MAX_TEXT = 1600


class Bad(Exception):
    """A request the endpoint refuses: status and the answer's body."""

    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def twilio_error(status, code, message):
    return Bad(status, {"code": code, "message": message,
                        "more_info": "https://www.twilio.com/docs/errors/%d"
                        % code, "status": status})


class Endpoint:
    """Counters and recording of one endpoint."""

    def __init__(self, name, directory, keep):
        self.name = name
        path = os.path.join(directory, name + ".jsonl")
        if not keep and os.path.exists(path):
            os.truncate(path, 0)
        self.rec = peerlib.Recorder(path)
        self.reset()

    def reset(self):
        self.log = []            # (reference, status) per request
        self.by_status = {}
        self.accepted = 0
        self.refs = {}           # reference -> [times accepted, answer id]
        self.faulted = 0
        self.seq = 0

    def note(self, reference, status, accepted):
        key = str(status)
        self.by_status[key] = self.by_status.get(key, 0) + 1
        self.log.append((reference, key, accepted))
        if accepted:
            self.accepted += 1

    def stats(self, prefix=None):
        if prefix is None:
            uniq = sum(1 for v in self.refs.values() if v[0] > 0)
            return {"received": len(self.log), "accepted": self.accepted,
                    "unique_references": uniq,
                    "duplicates": self.accepted - uniq if uniq else 0,
                    "by_status": dict(self.by_status),
                    "faulted": self.faulted}
        received = accepted = 0
        by_status = {}
        seen = set()
        for ref, key, acc in self.log:
            if ref is None or not ref.startswith(prefix):
                continue
            received += 1
            by_status[key] = by_status.get(key, 0) + 1
            if acc:
                accepted += 1
                seen.add(ref)
        return {"received": received, "accepted": accepted,
                "unique_references": len(seen),
                "duplicates": accepted - len(seen), "by_status": by_status}


class Gateway:
    def __init__(self, args, log):
        self.args = args
        self.log = log
        self.rules = peerlib.FaultRules(
            ("endpoint", "recipient", "reference_prefix", "sender"),
            ("status", "delay_ms", "drop", "body", "retry_after"))
        os.makedirs(args.dir, exist_ok=True)
        self.eps = {n: Endpoint(n, args.dir, args.keep) for n in ENDPOINTS}
        self.tokens = {}   # access token -> expiry (time.monotonic)
        self.tokens_issued = 0
        self.token_ttl = args.token_ttl
        self.twilio_sid = args.twilio_sid
        self.twilio_token = read_secret(args.twilio_token_file, "test-token")
        self.client_id = args.client_id
        self.client_secret = read_secret(args.client_secret_file,
                                         "test-secret")
        self.sms_key = read_secret(args.sms_api_key_file, None)

    # -- dispatch ----------------------------------------------------------

    async def handle(self, req):
        path = req.path
        if path.startswith("/_admin/"):
            return self.admin(req)
        if path == "/sms":
            name = "sms"
        elif path == "/inbox/messages":
            name = "inbox"
        elif path == "/oauth/token":
            name = "token"
        elif TWILIO_PATH.match(path):
            name = "twilio"
        else:
            return json_response(404, {"error": "no such endpoint: " +
                                       path[:100]})
        if req.method != "POST":
            return json_response(405, {"error": "POST only"},
                                 {"Allow": "POST"})
        ep = self.eps[name]
        fields, reference, recipient, sender = self.peek(name, req)
        rule = self.rules.pick({"endpoint": name, "recipient": recipient,
                                "reference": reference, "sender": sender},
                               key=reference)
        drop_after = False
        if rule is not None:
            ep.faulted += 1
            if "delay_ms" in rule:
                await asyncio.sleep(rule["delay_ms"] / 1000.0)
            drop = rule.get("drop")
            if drop in (True, "before"):
                self.record(ep, "drop", reference, recipient, fields, rule,
                            False)
                return DROP
            if "status" in rule:
                resp = self.fault_response(name, rule)
                self.record(ep, rule["status"], reference, recipient, fields,
                            rule, 200 <= rule["status"] < 300)
                return resp
            drop_after = drop == "after"
        try:
            resp = getattr(self, "do_" + name)(req, ep, fields, reference,
                                               recipient, rule)
        except Bad as e:
            self.record(ep, e.status, reference, recipient, fields, rule,
                        False)
            return json_response(e.status, e.body, e.headers)
        if drop_after:
            return DROP
        return resp

    def peek(self, name, req):
        """The request's fields, reference, recipient and sender as far as
        they can be read (fault selectors need them before validation)."""
        fields = None
        try:
            if name in ("sms", "inbox"):
                fields = req.json()
            else:
                fields = req.form()
        except ValueError:
            pass
        if not isinstance(fields, dict):
            return fields, None, None, None
        if name == "sms":
            return (fields, _str(fields.get("reference")),
                    _str(fields.get("to")), _str(fields.get("from")))
        if name == "inbox":
            return (fields, _str(fields.get("reference")),
                    _str(fields.get("recipient")), None)
        if name == "twilio":
            ref = req.headers.get("idempotency-key") or \
                req.headers.get("i-twilio-idempotency-token")
            if not ref:
                h = hashlib.sha256()
                for k in ("To", "From", "MessagingServiceSid", "Body"):
                    h.update(fields.get(k, "").encode() + b"\0")
                ref = "sha256:" + h.hexdigest()
            return (fields, ref, fields.get("To"),
                    fields.get("From") or fields.get("MessagingServiceSid"))
        # token: no recipient; the form may carry the client secret
        fields = {k: v for k, v in fields.items() if k != "client_secret"}
        return fields, None, None, None

    def fault_response(self, name, rule):
        status = rule["status"]
        headers = {}
        if status in (429, 503):
            headers["Retry-After"] = str(rule.get("retry_after", 1))
        elif "retry_after" in rule:
            headers["Retry-After"] = str(rule["retry_after"])
        if "body" in rule:
            body = rule["body"]
        elif name == "twilio":
            code = {429: 20429, 400: 21211, 401: 20003, 404: 20404}.get(
                status, 20500)
            msg = {429: "Too Many Requests", 400: "Invalid 'To' Phone Number",
                   401: "Authenticate", 404: "Not Found"}.get(
                status, peerlib.REASONS.get(status, "Error"))
            body = twilio_error(status, code, msg).body
        elif name == "token":
            body = {"error": "temporarily_unavailable" if status >= 500 or
                    status == 429 else "invalid_request",
                    "error_description": "injected fault"}
        else:
            body = {"error": "injected fault: %d %s" % (
                status, peerlib.REASONS.get(status, ""))}
        if isinstance(body, (dict, list)):
            return json_response(status, body, headers)
        return Response(status, str(body), dict(headers, **{
            "Content-Type": "text/plain"}))

    def record(self, ep, status, reference, recipient, fields, rule,
               accepted, duplicate=False, extra=None):
        ep.note(reference, status, accepted)
        entry = {"t": round(time.time(), 6), "endpoint": ep.name,
                 "status": status, "reference": reference,
                 "recipient": recipient, "duplicate": duplicate,
                 "fault": rule["id"] if rule is not None else None,
                 "request": fields}
        if extra:
            entry.update(extra)
        ep.rec.write(entry)
        self.log.debug("request", endpoint=ep.name, status=status,
                       recipient=recipient, duplicate=duplicate)

    def accept(self, ep, reference, recipient, fields, rule, status,
               prefix, extra=None):
        """Record an accepted message; returns (id, duplicate)."""
        seen = ep.refs.get(reference)
        if seen is None:
            ep.seq += 1
            seen = ep.refs[reference] = [0, "%s-%08d" % (prefix, ep.seq)]
        seen[0] += 1
        dup = seen[0] > 1
        if rule is not None and rule.get("drop") == "after":
            status = "drop_after"
        self.record(ep, status, reference, recipient, fields, rule, True,
                    dup, extra)
        return seen[1], dup

    # -- endpoints -----------------------------------------------------------

    def do_sms(self, req, ep, fields, reference, recipient, rule):
        if self.sms_key is not None:
            auth = req.headers.get("authorization", "")
            if not hmac.compare_digest(auth, "Bearer " + self.sms_key):
                raise Bad(401, {"error": "missing or wrong API key"},
                          {"WWW-Authenticate": 'Bearer realm="sms"'})
        if not isinstance(fields, dict):
            raise Bad(400, {"error": "body must be a JSON object"})
        unknown = set(fields) - SMS_FIELDS
        if unknown:
            raise Bad(400, {"error": "unknown member: " + sorted(unknown)[0]})
        for k in ("to", "from", "text", "reference"):
            if not isinstance(fields.get(k), str) or not fields[k]:
                raise Bad(400, {"error": "%s: required, a non-empty string"
                                % k})
        if not E164.match(fields["to"]):
            raise Bad(400, {"error": "to: not an E.164 number"})
        if not (E164.match(fields["from"]) or
                ALNUM_SENDER.match(fields["from"])):
            raise Bad(400, {"error": "from: not a sender id (E.164, or 1-11 "
                            "letters, digits, spaces)"})
        if len(fields["text"]) > MAX_TEXT:
            raise Bad(400, {"error": "text: longer than %d characters" %
                            MAX_TEXT})
        if len(reference) > 200:
            raise Bad(400, {"error": "reference: longer than 200 bytes"})
        mid, dup = self.accept(ep, reference, recipient, fields, rule, 202,
                               "sms")
        return json_response(202, {"id": mid, "status": "queued",
                                   "reference": reference, "duplicate": dup})

    def do_twilio(self, req, ep, fields, reference, recipient, rule):
        sid = TWILIO_PATH.match(req.path).group(1)
        user, password = basic_auth(req)
        if user is None or not (
                hmac.compare_digest(user, self.twilio_sid) and
                hmac.compare_digest(password, self.twilio_token)):
            e = twilio_error(401, 20003, "Authenticate")
            e.headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'}
            raise e
        if sid != user:
            raise twilio_error(404, 20404, "The requested resource %s was "
                               "not found" % req.path[:100])
        if not isinstance(fields, dict):
            raise twilio_error(400, 21604, "A 'To' phone number is required.")
        to = fields.get("To", "")
        frm = fields.get("From", "")
        service = fields.get("MessagingServiceSid", "")
        body = fields.get("Body", "")
        if not to:
            raise twilio_error(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            raise twilio_error(400, 21211, "Invalid 'To' Phone Number: %s" %
                               peerlib.mask(to))
        if not frm and not service:
            raise twilio_error(400, 21603,
                               "A 'From' phone number is required.")
        if frm and not (E164.match(frm) or ALNUM_SENDER.match(frm)):
            raise twilio_error(400, 21212, "Invalid From Number (caller ID)")
        if not body and not fields.get("MediaUrl"):
            raise twilio_error(400, 21602, "Message body is required.")
        if len(body) > MAX_TEXT:
            raise twilio_error(400, 21617, "The concatenated message body "
                               "exceeds the 1600 character limit.")
        msid = "SM" + secrets.token_hex(16)
        _, dup = self.accept(ep, reference, recipient, fields, rule, 201,
                             "tw", {"sid": msid})
        now = email.utils.formatdate(usegmt=True).replace("GMT", "+0000")
        segments = 1 if len(body) <= 160 else (len(body) + 152) // 153
        uri = "/2010-04-01/Accounts/%s/Messages/%s" % (sid, msid)
        return json_response(201, {
            "account_sid": sid, "api_version": "2010-04-01", "body": body,
            "date_created": now, "date_sent": None, "date_updated": now,
            "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": frm or None,
            "messaging_service_sid": service or None, "num_media": "0",
            "num_segments": str(segments), "price": None,
            "price_unit": "USD", "sid": msid, "status": "queued",
            "subresource_uris": {"media": uri + "/Media.json"}, "to": to,
            "uri": uri + ".json"})

    def do_token(self, req, ep, fields, reference, recipient, rule):
        form = {}
        try:
            form = req.form()
        except ValueError:
            pass
        cid, secret = basic_auth(req)
        if cid is not None:
            cid = urllib.parse.unquote_plus(cid)
            secret = urllib.parse.unquote_plus(secret)
        else:
            cid = form.get("client_id")
            secret = form.get("client_secret")
        if cid is None or secret is None or not (
                hmac.compare_digest(cid, self.client_id) and
                hmac.compare_digest(secret, self.client_secret)):
            raise Bad(401, {"error": "invalid_client",
                            "error_description": "unknown client or wrong "
                            "secret"},
                      {"WWW-Authenticate": 'Basic realm="inbox"'})
        if form.get("grant_type") != "client_credentials":
            raise Bad(400, {"error": "unsupported_grant_type",
                            "error_description": "only client_credentials"})
        token = secrets.token_urlsafe(24)
        now = time.monotonic()
        if len(self.tokens) > 10000:
            self.tokens = {t: e for t, e in self.tokens.items() if e > now}
        self.tokens[token] = now + self.token_ttl
        self.tokens_issued += 1
        self.record(ep, 200, None, None, fields, rule, True,
                    extra={"expires_in": self.token_ttl})
        body = {"access_token": token, "token_type": "Bearer",
                "expires_in": self.token_ttl}
        if form.get("scope"):
            body["scope"] = form["scope"]
        return json_response(200, body, {"Cache-Control": "no-store",
                                         "Pragma": "no-cache"})

    def check_bearer(self, req):
        auth = req.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Bad(401, {"error": "invalid_request",
                            "error_description": "Bearer token required"},
                      {"WWW-Authenticate": 'Bearer realm="inbox"'})
        expiry = self.tokens.get(token.strip())
        if expiry is None or expiry <= time.monotonic():
            why = "unknown token" if expiry is None else "token expired"
            raise Bad(401, {"error": "invalid_token",
                            "error_description": why},
                      {"WWW-Authenticate": 'Bearer realm="inbox", error='
                       '"invalid_token", error_description="%s"' % why})

    def do_inbox(self, req, ep, fields, reference, recipient, rule):
        self.check_bearer(req)
        if not isinstance(fields, dict):
            raise Bad(400, {"error": "body must be a JSON object"})
        unknown = set(fields) - INBOX_FIELDS
        if unknown:
            raise Bad(400, {"error": "unknown member: " + sorted(unknown)[0]})
        for k in INBOX_REQUIRED:
            if not isinstance(fields.get(k), str) or not fields[k]:
                raise Bad(400, {"error": "%s: required, a non-empty string"
                                % k})
        limits = {"recipient": 128, "title": 200, "body": 10000,
                  "reference": 200, "deep_link": 2000}
        for k, n in limits.items():
            if isinstance(fields.get(k), str) and len(fields[k]) > n:
                raise Bad(400, {"error": "%s: longer than %d" % (k, n)})
        if fields["category"] not in CATEGORIES:
            raise Bad(400, {"error": "category: one of " +
                            ", ".join(CATEGORIES)})
        link = fields.get("deep_link")
        if link is not None:
            u = urllib.parse.urlsplit(link) if isinstance(link, str) else None
            if u is None or not u.scheme or not (u.netloc or u.path):
                raise Bad(400, {"error": "deep_link: not an absolute URL"})
        exp = fields.get("expires_at")
        if exp is not None:
            if not isinstance(exp, str) or not RFC3339.match(exp) or \
                    not parses_rfc3339(exp):
                raise Bad(400, {"error": "expires_at: not an RFC 3339 time"})
        mid, dup = self.accept(ep, reference, recipient, fields, rule, 201,
                               "inb")
        return json_response(201, {"id": mid, "status": "accepted",
                                   "reference": reference, "duplicate": dup})

    # -- admin ---------------------------------------------------------------

    def admin(self, req):
        p = req.path
        q = {k: v[0] for k, v in req.query.items()}
        if p == "/_admin/health":
            return Response(200, "ok\n", {"Content-Type": "text/plain"})
        if p == "/_admin/stats":
            return json_response(200, self.stats(q.get("endpoint"),
                                                 q.get("reference_prefix")))
        if p == "/_admin/received":
            return self.received(q)
        if p.startswith("/_admin/faults"):
            resp = peerlib.admin_faults(req, self.rules)
            if req.method != "GET":
                self.log.info("faults changed", method=req.method,
                              rules=len(self.rules.rules))
            return resp
        if req.method != "POST" and p != "/_admin/config":
            return json_response(405, {"error": "POST only"})
        if p == "/_admin/tokens/revoke":
            n = len(self.tokens)
            self.tokens.clear()
            self.log.info("tokens revoked", count=n)
            return json_response(200, {"revoked": n})
        if p == "/_admin/config":
            if req.method == "POST":
                try:
                    cfg = req.json()
                    ttl = cfg.get("token_ttl", self.token_ttl)
                    if not isinstance(ttl, int) or ttl < 1:
                        raise ValueError("token_ttl: a positive integer")
                except (ValueError, AttributeError) as e:
                    return json_response(400, {"error": str(e)})
                self.token_ttl = ttl
                self.log.info("config changed", token_ttl=ttl)
            return json_response(200, {"token_ttl": self.token_ttl})
        if p == "/_admin/reset":
            self.rules.remove()
            self.tokens.clear()
            self.tokens_issued = 0
            for ep in self.eps.values():
                ep.reset()
                ep.rec.truncate()
            self.log.info("reset")
            return json_response(200, {"reset": True})
        return json_response(404, {"error": "no such admin endpoint"})

    def stats(self, only=None, prefix=None):
        names = [only] if only in self.eps else list(ENDPOINTS)
        out = {"endpoints": {}, "tokens_issued": self.tokens_issued}
        total = {"received": 0, "accepted": 0, "unique_references": 0,
                 "duplicates": 0, "by_status": {}}
        for n in names:
            s = self.eps[n].stats(prefix)
            out["endpoints"][n] = s
            if n == "token":
                continue   # tokens are no messages
            for k in ("received", "accepted", "unique_references",
                      "duplicates"):
                total[k] += s[k]
            for k, v in s["by_status"].items():
                total["by_status"][k] = total["by_status"].get(k, 0) + v
        out["total"] = total
        return out

    def received(self, q):
        name = q.get("endpoint")
        if name not in self.eps:
            return json_response(400, {"error": "endpoint: one of " +
                                       ", ".join(ENDPOINTS)})
        prefix = q.get("reference_prefix")
        limit = int(q.get("limit", "10000"))
        out = []
        with open(self.eps[name].rec.path, encoding="utf-8") as f:
            for line in f:
                if prefix is not None:
                    e = peerlib.json.loads(line)
                    if not (e.get("reference") or "").startswith(prefix):
                        continue
                    out.append(e)
                else:
                    out.append(peerlib.json.loads(line))
                if len(out) >= limit:
                    break
        return json_response(200, out)


def _str(v):
    return v if isinstance(v, str) else None


def basic_auth(req):
    """(user, password) from an Authorization: Basic header, or (None, None)."""
    auth = req.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, sep, password = raw.partition(":")
    return (user, password) if sep else (None, None)


def parses_rfc3339(s):
    try:
        datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def read_secret(path, default):
    if not path:
        return default
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def parse_args(argv):
    if "-h" in argv or "--help" in argv:
        print(__doc__.rstrip())
        sys.exit(0)
    ap = argparse.ArgumentParser(
        prog="http_gateway.py", add_help=False,
        usage="http_gateway.py --dir DIR [options] (--help: all of them)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--https-port", type=int)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ready-file")
    ap.add_argument("--twilio-sid", default="AC" + "0" * 32)
    ap.add_argument("--twilio-token-file")
    ap.add_argument("--client-id", default="seintje")
    ap.add_argument("--client-secret-file")
    ap.add_argument("--token-ttl", type=int, default=5)
    ap.add_argument("--sms-api-key-file")
    ap.add_argument("--log-level", default="info",
                    choices=("debug", "info", "warn", "error"))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    if args.https_port is not None and not (args.cert and args.key):
        ap.error("--https-port needs --cert and --key")
    if args.token_ttl < 1:
        ap.error("--token-ttl must be at least 1")
    return args


def main(argv):
    args = parse_args(argv)
    log = peerlib.Log("http_gateway", args.log_level)
    try:
        gw = Gateway(args, log)
    except OSError as e:
        print("http_gateway.py: %s" % e, file=sys.stderr)
        return 1

    async def run(stop, loop_name):
        sock = peerlib.listen_socket(args.host, args.port)
        port = sock.getsockname()[1]
        servers = [await peerlib.serve_http(gw.handle, sock, log)]
        ready = {"SEINTJE_TEST_HTTP_URL": "http://%s:%d" % (args.host, port),
                 "SEINTJE_TEST_HTTP_PORT": port}
        if args.https_port is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(args.cert, args.key)
            tsock = peerlib.listen_socket(args.host, args.https_port)
            tport = tsock.getsockname()[1]
            servers.append(await peerlib.serve_http(gw.handle, tsock, log,
                                                    ctx))
            ready["SEINTJE_TEST_HTTPS_URL"] = "https://localhost:%d" % tport
        ready["SEINTJE_TEST_HTTP_SPOOL"] = os.path.abspath(args.dir)
        ready["SEINTJE_TEST_HTTP_PID"] = os.getpid()
        peerlib.write_ready(args.ready_file, ready)
        log.info("listening", url=ready["SEINTJE_TEST_HTTP_URL"],
                 https=ready.get("SEINTJE_TEST_HTTPS_URL"), loop=loop_name,
                 dir=os.path.abspath(args.dir))
        print("READY " + " ".join("%s=%s" % kv for kv in ready.items()),
              flush=True)
        await stop.wait()
        for s in servers:
            s.close()
        for ep in gw.eps.values():
            ep.rec.close()
        st = gw.stats()["total"]
        log.info("stopped", received=st["received"], accepted=st["accepted"],
                 duplicates=st["duplicates"])

    peerlib.run_forever(run, log)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
