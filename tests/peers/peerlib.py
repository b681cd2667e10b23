"""What the test peers (smtp_server.py, http_gateway.py) share: a small,
fast asyncio HTTP/1.1 server (keep-alive, pipelining, Content-Length and
chunked bodies, Expect: 100-continue) used for the gateway's endpoints and for
both peers' /_admin endpoints; the fault-rule engine behind POST /_admin/faults;
masking of e-mail addresses and phone numbers for the logs (the recordings
keep what was received, the logs never do); JSON-line logging; choosing a free
private port; the self-signed certificate; the ready file; and the SIGTERM
handling that stops a peer cleanly.

Standard library only (plus the openssl command line for the certificate), so
it runs on Debian's /usr/bin/python3 without anything from PyPI.
"""

import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

# ---------------------------------------------------------------------------
# Logging without personal data

_EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+)")
_PHONE = re.compile(r"\+?\d[\d \-]{6,}\d")


def mask(value):
    """A copy of VALUE (any JSON-able value) with e-mail addresses reduced to
    their first letter and domain (j***@example.org) and phone-like digit
    runs to their first three and last two digits (+32***56)."""
    if isinstance(value, str):
        value = _EMAIL.sub(lambda m: m.group(1) + "***@" + m.group(2), value)
        return _PHONE.sub(_mask_phone, value)
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value


def _mask_phone(m):
    digits = m.group(0)
    return digits[:3] + "***" + digits[-2:]


class Log:
    """JSON lines on stderr: {"ts","level","peer","msg",...fields}. Every
    field value goes through mask(); messages are fixed texts."""

    LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40}

    def __init__(self, peer, level="info"):
        self.peer = peer
        self.level = self.LEVELS[level]

    def _emit(self, level, msg, fields):
        if self.LEVELS[level] < self.level:
            return
        rec = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) +
               "Z", "level": level, "peer": self.peer, "msg": msg}
        rec.update(mask(fields))
        sys.stderr.write(json.dumps(rec, ensure_ascii=False) + "\n")
        sys.stderr.flush()

    def debug(self, msg, **f):
        self._emit("debug", msg, f)

    def info(self, msg, **f):
        self._emit("info", msg, f)

    def warn(self, msg, **f):
        self._emit("warn", msg, f)

    def error(self, msg, **f):
        self._emit("error", msg, f)


# ---------------------------------------------------------------------------
# Ports, certificate, ready file, signals

def listen_socket(host, port):
    """A listening TCP socket on HOST:PORT. PORT 0 picks a free port below the
    kernel's ephemeral range (10000..low), as scripts/redis.sh does, so it
    never collides with the client side of connections; binding here is
    what reserves it, so there is no race with other starters."""
    if port:
        return _bind(host, port)
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except OSError:
        low = 32768
    pool = list(range(10000, low)) if low > 12000 else []
    random.shuffle(pool)
    for candidate in pool[:200] + [0]:
        try:
            return _bind(host, candidate)
        except OSError:
            continue
    raise OSError("no free port on " + host)


def _bind(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(1024)
        s.setblocking(False)
        return s
    except OSError:
        s.close()
        raise


def make_cert(directory, log=None):
    """Generate a self-signed certificate for localhost and 127.0.0.1 in
    DIRECTORY (cert.pem, key.pem, mode 0600 for the key) with the openssl
    command line; it is its own CA, so clients pass cert.pem as the CA file.
    Returns (cert_path, key_path)."""
    os.makedirs(directory, exist_ok=True)
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    old = os.umask(0o077)
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "30", "-subj", "/CN=localhost/O=Seintje test peer",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-keyout", key, "-out", cert],
            check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise SystemExit("no openssl command (scripts/install-deps.sh)")
    except subprocess.CalledProcessError as e:
        raise SystemExit("openssl could not make a certificate: " +
                         e.stderr.decode(errors="replace").strip())
    finally:
        os.umask(old)
    os.chmod(cert, 0o644)
    if log:
        log.info("self-signed certificate generated", cert=cert)
    return cert, key


def write_ready(path, values):
    """Write VALUES (dict) as KEY=VALUE lines to PATH atomically: readers see
    either no file or the whole file. Values are shell-safe (no quoting)."""
    if not path:
        return
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "w") as f:
        for k, v in values.items():
            f.write("%s=%s\n" % (k, v))
    os.replace(tmp, path)


def run_forever(main_coro_factory, log):
    """Run MAIN (a coroutine function taking a stop Event and the loop's
    name) in a fresh asyncio event loop until SIGTERM or SIGINT sets the
    event; MAIN then closes its servers and files and returns. (Not uvloop:
    measured here it halved the SMTP peer's STARTTLS throughput, since
    aiosmtpd layers asyncio's own TLS protocol over the transport.)"""
    loop_name = "asyncio"

    async def runner():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.set_exception_handler(_quiet_exceptions(log))
        await main_coro_factory(stop, loop_name)

    asyncio.run(runner())


def _quiet_exceptions(log):
    # Dropped connections (our own fault injection, or clients that give up)
    # surface as reset errors in transports; they are expected here.
    def handler(loop, context):
        exc = context.get("exception")
        if isinstance(exc, (ConnectionError, asyncio.CancelledError, OSError)):
            return
        log.warn("event loop: " + str(context.get("message")),
                 error=repr(exc) if exc else None)
    return handler


# ---------------------------------------------------------------------------
# Fault rules

class FaultRules:
    """An ordered list of fault rules. A rule is a dict; its selectors say
    which requests it may hit, its limits how many, its actions what happens:

      selectors  any keys listed in MATCH_KEYS given to the constructor (for
                 example endpoint, recipient, reference_prefix); a request
                 matches when every selector present equals (or, for *_prefix
                 and *_suffix keys, starts/ends with) the request's value
      count      apply to the next N matching requests, then the rule is spent
      fraction   apply to that fraction of matching requests, spread evenly
                 and deterministically (0.25: the 4th, 8th, 12th ...)
      first      apply to the first N attempts of each key (the reference of
                 an HTTP request, the recipient or Message-ID in SMTP): a
                 message then fails N times and succeeds on attempt N+1
      actions    peer-specific (status, retry_after, delay_ms, drop, code ...)

    The first rule in order that matches and whose limits allow it applies;
    the others do not see the request. Rules get ids (1, 2, ...) for
    DELETE /_admin/faults/ID and report how often they were applied."""

    def __init__(self, match_keys, action_keys):
        self.match_keys = set(match_keys)
        self.action_keys = set(action_keys)
        self.rules = []
        self.next_id = 1

    def validate(self, rule):
        if not isinstance(rule, dict):
            raise ValueError("a rule is a JSON object")
        known = self.match_keys | self.action_keys | {
            "count", "fraction", "first", "note"}
        for k in rule:
            if k not in known:
                raise ValueError("unknown rule key %r (known: %s)" %
                                 (k, ", ".join(sorted(known))))
        if not any(k in rule for k in self.action_keys):
            raise ValueError("a rule needs an action: one of " +
                             ", ".join(sorted(self.action_keys)))
        for k in ("count", "first"):
            if k in rule and (not isinstance(rule[k], int) or rule[k] < 1):
                raise ValueError("%s must be a positive integer" % k)
        if "fraction" in rule:
            f = rule["fraction"]
            if not isinstance(f, (int, float)) or not 0 < f <= 1:
                raise ValueError("fraction must be in (0, 1]")

    def add(self, rules, replace=False):
        """Validate all of RULES (a list of dicts), then add them (replacing
        the current ones when REPLACE). Returns their ids. Raises ValueError
        naming the bad rule; nothing is added then."""
        for i, r in enumerate(rules):
            try:
                self.validate(r)
            except ValueError as e:
                raise ValueError("rule %d: %s" % (i + 1, e))
        if replace:
            self.rules = []
        ids = []
        for r in rules:
            r = dict(r)
            r["id"] = self.next_id
            self.next_id += 1
            r["_seen"] = 0
            r["_applied"] = 0
            r["_keys"] = {}
            ids.append(r["id"])
            self.rules.append(r)
        return ids

    def remove(self, rule_id=None):
        before = len(self.rules)
        if rule_id is None:
            self.rules = []
        else:
            self.rules = [r for r in self.rules if r["id"] != rule_id]
        return before - len(self.rules)

    def describe(self):
        out = []
        for r in self.rules:
            d = {k: v for k, v in r.items() if not k.startswith("_")}
            d["matched"] = r["_seen"]
            d["applied"] = r["_applied"]
            if "count" in r:
                d["remaining"] = r["count"] - r["_applied"]
            out.append(d)
        return out

    def pick(self, attrs, key=None):
        """The rule to apply to a request with ATTRS (dict of the selector
        values) and KEY (for `first`), or None. Counts the attempt."""
        if not self.rules:
            return None
        for r in self.rules:
            if not self._matches(r, attrs):
                continue
            if "count" in r and r["_applied"] >= r["count"]:
                continue
            r["_seen"] += 1
            if "first" in r:
                k = key if key is not None else ""
                n = r["_keys"].get(k, 0) + 1
                r["_keys"][k] = n
                if n > r["first"]:
                    continue
            if "fraction" in r:
                f = r["fraction"]
                s = r["_seen"]
                if int(s * f + 1e-9) == int((s - 1) * f + 1e-9):
                    continue
            r["_applied"] += 1
            return r
        return None

    def _matches(self, r, attrs):
        for k in self.match_keys:
            if k not in r:
                continue
            want = r[k]
            if want == "*" or want is None:
                continue
            have = attrs.get(k.rsplit("_", 1)[0] if k.endswith(
                ("_prefix", "_suffix")) else k)
            if have is None:
                return False
            values = have if isinstance(have, (list, tuple)) else (have,)
            if not any(self._match_one(k, str(want), str(v)) for v in values):
                return False
        return True

    @staticmethod
    def _match_one(key, want, have):
        if key.endswith("_prefix"):
            return have.startswith(want)
        if key.endswith("_suffix"):
            return have.lower().endswith(want.lower())
        return have.lower() == want.lower()


# ---------------------------------------------------------------------------
# A small HTTP/1.1 server on asyncio

MAX_HEAD = 64 * 1024
MAX_BODY = 4 * 1024 * 1024

REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted",
    204: "No Content", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 409: "Conflict", 411: "Length Required",
    413: "Payload Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Entity", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Request:
    __slots__ = ("method", "target", "path", "query", "version", "headers",
                 "body", "peer")

    def __init__(self, method, target, version, headers, peer):
        self.method = method
        self.target = target
        path, _, query = target.partition("?")
        self.path = urllib.parse.unquote(path)
        self.query = urllib.parse.parse_qs(query)
        self.version = version
        self.headers = headers
        self.body = b""
        self.peer = peer

    def json(self):
        """The body as JSON; raises ValueError with a reason."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError("body is not valid JSON: %s" % e)

    def form(self):
        """The body as application/x-www-form-urlencoded fields (first value
        of each); raises ValueError with a reason."""
        try:
            pairs = urllib.parse.parse_qsl(self.body.decode("utf-8"),
                                           keep_blank_values=True,
                                           strict_parsing=False)
        except UnicodeDecodeError as e:
            raise ValueError("form body is not UTF-8: %s" % e)
        out = {}
        for k, v in pairs:
            out.setdefault(k, v)
        return out


class Response:
    __slots__ = ("status", "headers", "body", "drop", "close")

    def __init__(self, status=200, body=b"", headers=None, drop=False):
        self.status = status
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {})
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        self.body = body
        self.headers = headers or {}
        self.drop = drop      # close the connection instead of answering
        self.close = False


def json_response(status, obj, headers=None):
    h = {"Content-Type": "application/json"}
    if headers:
        h.update(headers)
    return Response(status, json.dumps(obj).encode(), h)


DROP = Response(drop=True)


class HTTPProtocol(asyncio.Protocol):
    """One connection: parses requests as they arrive and answers them in
    order through the async HANDLER(request) -> Response."""

    def __init__(self, handler, log):
        self.handler = handler
        self.log = log
        self.buf = bytearray()
        self.queue = []
        self.busy = False
        self.transport = None
        self.peer = None
        self.closed = False
        self.pending = None   # (Request, remaining header info) awaiting body

    def connection_made(self, transport):
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def connection_lost(self, exc):
        self.closed = True

    def data_received(self, data):
        self.buf += data
        while not self.closed:
            req = self._parse_one()
            if req is None:
                break
            self.queue.append(req)
        if self.queue and not self.busy:
            self.busy = True
            asyncio.ensure_future(self._serve())

    def _error(self, status, text):
        self.queue.append(Response(status, text + "\n",
                                   {"Content-Type": "text/plain"}))
        self.buf.clear()
        self.closed = True  # stop parsing; close after answering

    def _parse_one(self):
        """One complete request from the buffer, or None (need more data).
        Sends 100 Continue when a client waits for it."""
        if self.pending is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self._error(431, "request head too large")
                return None
            head = bytes(self.buf[:end]).decode("latin-1")
            del self.buf[:end + 4]
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self._error(400, "bad request line")
                return None
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    self._error(400, "bad header line")
                    return None
                name = name.strip().lower()
                value = value.strip()
                if name in headers:
                    headers[name] += ", " + value
                else:
                    headers[name] = value
            req = Request(parts[0], parts[1], parts[2], headers, self.peer)
            te = headers.get("transfer-encoding", "").lower()
            if te:
                if te != "chunked":
                    self._error(501, "transfer-encoding not supported")
                    return None
                length = -1
            else:
                try:
                    length = int(headers.get("content-length", "0"))
                except ValueError:
                    self._error(400, "bad content-length")
                    return None
                if length < 0:
                    self._error(400, "bad content-length")
                    return None
            if length > MAX_BODY:
                self._error(413, "body larger than %d bytes" % MAX_BODY)
                return None
            self.pending = (req, length)
            if headers.get("expect", "").lower() == "100-continue":
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        req, length = self.pending
        if length >= 0:
            if len(self.buf) < length:
                return None
            req.body = bytes(self.buf[:length])
            del self.buf[:length]
        else:
            body = self._dechunk()
            if body is None:
                return None
            req.body = body
        self.pending = None
        return req

    def _dechunk(self):
        # Parses the whole chunked body when it is complete (bodies are small).
        pos = 0
        out = bytearray()
        buf = self.buf
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            try:
                size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
            except ValueError:
                self._error(400, "bad chunk size")
                return None
            pos = eol + 2
            if size == 0:
                end = buf.find(b"\r\n\r\n", pos - 2)
                if end < 0:
                    return None
                del buf[:end + 4]
                return bytes(out)
            if len(buf) < pos + size + 2:
                return None
            out += buf[pos:pos + size]
            pos += size + 2
            if len(out) > MAX_BODY:
                self._error(413, "body larger than %d bytes" % MAX_BODY)
                return None

    async def _serve(self):
        try:
            while self.queue and self.transport is not None and \
                    not self.transport.is_closing():
                req = self.queue.pop(0)
                if isinstance(req, Response):   # a parse error
                    req.close = True
                    self._write(req, "HTTP/1.1")
                    self.transport.close()
                    return
                try:
                    resp = await self.handler(req)
                except Exception as e:  # a peer bug must not kill the peer
                    self.log.error("handler failed", path=req.path,
                                   error=repr(e))
                    resp = json_response(500, {"error": "peer bug: %r" % e})
                if self.transport.is_closing():
                    return
                if resp.drop:
                    self.transport.abort()
                    return
                conn = req.headers.get("connection", "").lower()
                if conn == "close" or (req.version == "HTTP/1.0" and
                                       conn != "keep-alive"):
                    resp.close = True
                self._write(resp, req.version)
                if resp.close:
                    self.transport.close()
                    return
        finally:
            self.busy = False

    def _write(self, resp, version):
        reason = REASONS.get(resp.status, "Status")
        head = ["%s %d %s" % ("HTTP/1.1", resp.status, reason),
                "Content-Length: %d" % len(resp.body)]
        for k, v in resp.headers.items():
            head.append("%s: %s" % (k, v))
        if resp.close:
            head.append("Connection: close")
        elif version == "HTTP/1.0":
            head.append("Connection: keep-alive")
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode(
            "latin-1") + resp.body)


async def serve_http(handler, sock, log, ssl_context=None):
    """Serve HANDLER on the listening socket SOCK; returns the asyncio
    Server (close() and wait_closed() it to stop)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: HTTPProtocol(handler, log),
                                    sock=sock, ssl=ssl_context)


def parse_rules_body(req, rules):
    """POST /_admin/faults: a rule object, a list of rules, or
    {"rules": [...], "replace": true}. Returns a Response."""
    try:
        body = req.json()
        replace = False
        if isinstance(body, dict) and "rules" in body:
            replace = bool(body.get("replace", False))
            body = body["rules"]
        if isinstance(body, dict):
            body = [body]
        if not isinstance(body, list):
            raise ValueError("expected a rule, a list of rules or "
                             "{\"rules\": [...]}")
        ids = rules.add(body, replace=replace)
    except ValueError as e:
        return json_response(400, {"error": str(e)})
    return json_response(200, {"ids": ids, "rules": rules.describe()})


def admin_faults(req, rules):
    """The shared part of /_admin/faults[/ID]: GET, POST, DELETE."""
    rest = req.path[len("/_admin/faults"):]
    if rest in ("", "/"):
        if req.method == "GET":
            return json_response(200, {"rules": rules.describe()})
        if req.method == "POST":
            return parse_rules_body(req, rules)
        if req.method == "DELETE":
            return json_response(200, {"removed": rules.remove()})
        return json_response(405, {"error": "GET, POST or DELETE"})
    try:
        rid = int(rest.strip("/"))
    except ValueError:
        return json_response(404, {"error": "no such rule"})
    if req.method != "DELETE":
        return json_response(405, {"error": "DELETE only"})
    n = rules.remove(rid)
    return json_response(200 if n else 404, {"removed": n})


class Recorder:
    """Appends JSON lines to a file. Each line is written through before the
    peer answers the request it records, so a client that got an answer (or a
    test that checks after the fact) finds it in the file."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "a", encoding="utf-8", buffering=1 << 16)

    def write(self, obj):
        self.f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.f.flush()

    def truncate(self):
        self.f.flush()
        self.f.truncate(0)
        self.f.seek(0)

    def close(self):
        self.f.close()

