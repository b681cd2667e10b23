#!/usr/bin/env python3
"""Independent check of templates/email: messages built by sj_email_build()
(through the mime_sample helper) are parsed with Python's standard `email`
package (policy=email.policy.default), a parser we did not write, and must
decode back to exactly what went in: UTF-8 subject and display names, both
body parts, the List-Unsubscribe headers, the Message-ID. Every line must end
in CRLF and be at most 998 octets (header lines at most 78), with no defects
reported by the parser. Hostile inputs must be refused with exit status 2.

Usage: test_email_mime.py /path/to/mime_sample
"""
import email
import email.header
import email.policy
import re
import email.utils
import json
import subprocess
import sys
import unittest

SAMPLE = None  # path to mime_sample, from argv

BASE = {
    "from_name": "Stad Gent",
    "from": "noreply@stad.gent",
    "to_name": "Fran\u00e7ois Dupont-\u00cblla",
    "to": "francois.dupont@example.be",
    "subject": "Zo\u00eb's ID-kaart vervalt \u2013 verleng nu \U0001FAAA",
    "text": "Beste Zo\u00eb,\n\nUw identiteitskaart vervalt op 28 november 2026.\n"
            "Verleng ze via https://stad.gent/eid.\n\nMet vriendelijke groeten,\nStad Gent\n",
    "html": "<p>Beste Zo\u00eb,</p>\n<p>Uw identiteitskaart vervalt op "
            "<strong>28 november 2026</strong>. &lt;script&gt;alert(1)&lt;/script&gt;</p>\n",
    "id": "3f9a2c0d1e5b",
    "domain": "seintje.stad.gent",
    "date_ms": 1795858200000,  # 2026-11-28T09:30:00Z
    "unsubscribe_url": "https://stad.gent/afmelden?t=3f9a2c0d1e5b",
    "unsubscribe_mailto": "mailto:afmelden@stad.gent?subject=3f9a2c0d1e5b",
}


def run(fields):
    """Runs mime_sample on fields; returns (exit status, stdout bytes, stderr)."""
    p = subprocess.run([SAMPLE], input=json.dumps(fields).encode(),
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def build(**overrides):
    fields = dict(BASE)
    for k, v in overrides.items():
        if v is None:
            fields.pop(k, None)
        else:
            fields[k] = v
    rc, out, err = run(fields)
    if rc != 0:
        raise AssertionError(f"mime_sample failed ({rc}): {err}")
    return fields, out


def nl(s):
    """Canonical line breaks for comparing decoded text."""
    return s.replace("\r\n", "\n").replace("\r", "\n")


class MimeTest(unittest.TestCase):
    def check_lines(self, raw):
        self.assertTrue(raw.endswith(b"\r\n"), "message must end with CRLF")
        self.assertNotIn(b"\0", raw)
        lines = raw[:-2].split(b"\r\n")
        in_headers = True
        for i, line in enumerate(lines):
            self.assertNotIn(b"\n", line, f"bare LF in line {i}")
            self.assertNotIn(b"\r", line, f"bare CR in line {i}")
            self.assertLessEqual(len(line), 998, f"line {i} is {len(line)} octets")
            if in_headers and line == b"":
                in_headers = False
            elif in_headers:
                self.assertLessEqual(len(line), 78, f"header line {i}: {line[:80]!r}")
                self.assertTrue(all(b < 0x80 for b in line), f"8-bit header line {i}")

    def parse(self, raw):
        self.check_lines(raw)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        for part in msg.walk():
            self.assertEqual(part.defects, [], f"defects in {part.get_content_type()}")
            for name, value in part.items():
                self.assertEqual(getattr(value, "defects", ()), (), f"defects in {name}")
        return msg

    def check_bodies(self, msg, fields):
        plain = msg.get_body(("plain",))
        self.assertIsNotNone(plain)
        self.assertEqual(nl(plain.get_content()), nl(fields["text"]))
        if "html" in fields:
            html = msg.get_body(("html",))
            self.assertIsNotNone(html)
            self.assertEqual(nl(html.get_content()), nl(fields["html"]))

    def test_unicode_round_trip(self):
        fields, raw = build()
        msg = self.parse(raw)
        self.assertEqual(str(msg["Subject"]), fields["subject"])
        to = msg["To"].addresses[0]
        self.assertEqual(to.display_name, "Fran\u00e7ois Dupont-\u00cblla")
        self.assertEqual(to.addr_spec, fields["to"])
        frm = msg["From"].addresses[0]
        self.assertEqual((frm.display_name, frm.addr_spec), ("Stad Gent", "noreply@stad.gent"))
        self.assertEqual(msg["Message-ID"], "<3f9a2c0d1e5b@seintje.stad.gent>")
        self.assertEqual(email.utils.parsedate_to_datetime(msg["Date"]).timestamp(),
                         fields["date_ms"] / 1000)
        self.assertEqual(" ".join(str(msg["List-Unsubscribe"]).split()),
                         "<https://stad.gent/afmelden?t=3f9a2c0d1e5b>, "
                         "<mailto:afmelden@stad.gent?subject=3f9a2c0d1e5b>")
        self.assertEqual(msg["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        parts = list(msg.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts], ["text/plain", "text/html"])
        for p in parts:
            self.assertEqual(p.get_content_charset(), "utf-8")
        self.check_bodies(msg, fields)
        # HTML escaping is the template's job: the builder must not undo it.
        self.assertIn("&lt;script&gt;", msg.get_body(("html",)).get_content())
        self.assertNotIn(b"<script>", raw)
        # Plain ASCII stays readable in the raw header.
        self.assertIn(b"From: Stad Gent <noreply@stad.gent>\r\n", raw)
        self.assertIn(b" ID-kaart vervalt ", raw)

    def test_deterministic(self):
        self.assertEqual(build()[1], build()[1])
        self.assertNotEqual(build()[1], build(id="other-id")[1])

    def test_long_word_in_body(self):
        word = "x" * 5000
        fields, raw = build(text=f"begin {word} einde\n", html=f"<p>{word}</p>")
        msg = self.parse(raw)
        self.check_bodies(msg, fields)
        body = raw.split(b"\r\n\r\n", 1)[1]
        for line in body.split(b"\r\n"):
            self.assertLessEqual(len(line), 76)

    def test_qp_edge_cases(self):
        text = ("trailing spaces   \nand a tab\t\n.\n.dot first\nFrom the mayor\n"
                "a=b =?x?= 100%\n\u00e9" * 3 + "\r\nCRLF and\rlone CR\n" + "\u00eb" * 40 + "\n")
        fields, raw = build(text=text)
        msg = self.parse(raw)
        self.check_bodies(msg, fields)
        self.assertNotIn(b"\r\n.\r\n", raw)
        self.assertNotIn(b"\r\nFrom ", raw)

    def test_base64_when_shorter(self):
        text = "\U0001F600\U0001FAAA\u4e2d\u6587" * 300
        fields, raw = build(text=text)
        msg = self.parse(raw)
        self.assertEqual(msg.get_body(("plain",))["Content-Transfer-Encoding"], "base64")
        self.check_bodies(msg, fields)

    def test_text_only(self):
        fields, raw = build(html=None)
        msg = self.parse(raw)
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertFalse(msg.is_multipart())
        self.check_bodies(msg, fields)

    def test_display_names(self):
        names = [
            "Dupont, Jean \"JJ\" (Burgerzaken)",
            "=?utf-8?q?not_encoded?=",
            "  spaces  inside  ",
            "Ana\u00efs M\u00fcller-\u0130\u015f\u00e7i \u738b\u5c0f\u660e",
            "\u00eb" * 120,
            "a" * 200,
            "Zo\u00eb \U0001FAAA",
            "back\\slash",
        ]
        for name in names:
            with self.subTest(name=name):
                fields, raw = build(to_name=name, reply_to="balie@stad.gent",
                                    reply_to_name=name)
                msg = self.parse(raw)
                for header in ("To", "Reply-To"):
                    self.check_display_name(raw, msg, header, name)
                self.assertEqual(msg["Reply-To"].addresses[0].addr_spec, "balie@stad.gent")

    def check_display_name(self, raw, msg, header, name):
        """A name too long for one encoded-word spans several. RFC 2047 6.2
        says the whitespace between adjacent encoded-words is not part of the
        text, and the legacy email.header decoder honours that; the modern
        address parser keeps it (a CPython deviation). So: exact match with the
        modern parser when there is one word, with the RFC decoder always."""
        value = re.search(rb"\r\n" + header.encode() + rb":(.*?)\r\n(?! )", raw, re.S)
        value = value.group(1).replace(b"\r\n", b"").decode()
        phrase = value.rsplit("<", 1)[0].strip()
        decoded = str(email.header.make_header(email.header.decode_header(phrase)))
        if decoded.startswith('"'):
            decoded = email.utils.parseaddr(value)[0]
        self.assertEqual(decoded, name)
        modern = msg[header].addresses[0].display_name
        if "?= =?" in phrase:
            self.assertEqual(modern.replace(" ", ""), name.replace(" ", ""))
        else:
            self.assertEqual(modern, name)

    def test_subjects(self):
        subjects = [
            "Plain ASCII subject: 100% (readable) & fine!",
            "  leading and trailing  ",
            "double  spaces and =?utf-8?q?x?= lookalikes",
            "L" * 300,
            ("Uw aanvraag voor een parkeerkaart \u00e9\u00e8\u00eb " * 15).strip(),
            "\U0001FAAA" * 100,
            "\u00e9",
            "Rappel\u00a0: votre carte d\u2019identit\u00e9 expire le 1er d\u00e9cembre",
        ]
        for subject in subjects:
            with self.subTest(subject=subject[:40]):
                fields, raw = build(subject=subject)
                msg = self.parse(raw)
                self.assertEqual(str(msg["Subject"]), subject)
        _, raw = build(subject="Plain ASCII subject")
        self.assertIn(b"\r\nSubject: Plain ASCII subject\r\n", raw)

    def test_hostile_inputs_rejected(self):
        cases = [
            ("subject", "Hallo\r\nBcc: victim@example.com", "Subject"),
            ("subject", "Hallo\nBcc: x@y.be", "Subject"),
            ("subject", "Hallo\u0000", "Subject"),
            ("to_name", "Eve\r\nBcc: x@y.be", "To display name"),
            ("from_name", "Eve\rX", "From display name"),
            ("to", "x@y.be\r\nBcc: z@y.be", "To address"),
            ("to", "x@y.be>, <z@y.be", "To address"),
            ("to", "a b@y.be", "To address"),
            ("to", "no-at-sign", "To address"),
            ("to", "two@@y.be", "To address"),
            ("reply_to", "x@y.be\nX: y", "Reply-To address"),
            ("unsubscribe_url", "https://x.be/\r\nBcc: y@z.be", "List-Unsubscribe URL"),
            ("unsubscribe_url", "http://x.be/", "List-Unsubscribe URL"),
            ("unsubscribe_mailto", "mailto:a@b.be>\r\nX: y", "List-Unsubscribe mailto"),
            ("id", "abc\r\nBcc: y@z.be", "notification id"),
            ("id", "a b", "notification id"),
            ("domain", "x.be\r\n", "Message-ID domain"),
            ("text", "", "plain-text body"),
            ("html", "a\u0000b", "HTML body"),
        ]
        for key, value, field in cases:
            with self.subTest(key=key, value=value):
                fields = dict(BASE)
                fields[key] = value
                rc, out, err = run(fields)
                self.assertEqual(rc, 2, f"accepted: {out[:200]!r}")
                self.assertEqual(out, b"")
                self.assertIn(field, err)
                if "\r" in value or "\n" in value or "\0" in value:
                    if key not in ("text", "html"):
                        self.assertIn("header injection", err)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_email_mime.py /path/to/mime_sample")
    SAMPLE = sys.argv.pop(1)
    unittest.main(verbosity=2)
