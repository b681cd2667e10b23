/* Unit tests for templates/email: a golden message byte for byte, header
 * injection attempts (CR, LF, NUL in every header input), address and URL
 * validation, RFC 2047 round trips through a small decoder written here,
 * quoted-printable and base64 bodies (line lengths, trailing whitespace,
 * '=' and long words), the 998-octet and CRLF invariants, the boundary, the
 * output cap, and that nothing in the HTML is unescaped. The independent
 * parser check is test_email_mime.py (Python's email package). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "templates/email.h"

static sj_email_t base(void)
{
    sj_email_t m = {
        .from = {sj_email_cstr("Stad Gent"), sj_email_cstr("noreply@stad.gent")},
        .to = {sj_email_cstr("Fran\xC3\xA7ois Dupont-\xC3\x8B"
                             "lla"),
               sj_email_cstr("francois@example.be")},
        .subject = sj_email_cstr("Zo\xC3\xAB's ID-kaart vervalt \xE2\x80\x93 verleng nu "
                                 "\xF0\x9F\xAA\xAA"),
        .text = sj_email_cstr("Beste Zo\xC3\xAB,\nUw kaart vervalt.\n"),
        .html = sj_email_cstr("<p>Beste Zo&euml;, &lt;script&gt;</p>"),
        .notification_id = sj_email_cstr("3f9a2c0d1e"),
        .domain = sj_email_cstr("stad.gent"),
        .date_ms = 1795858200000LL, /* 2026-11-28T09:30:00Z */
        .unsubscribe_url = sj_email_cstr("https://stad.gent/u?t=abc"),
        .unsubscribe_mailto = sj_email_cstr("mailto:unsub@stad.gent"),
    };
    return m;
}

/* Builds m; fails the test on error. Caller frees the result. */
static char *build_ok(const sj_email_t *m, size_t *len)
{
    sj_buf_t b;
    sj_buf_init(&b, SJ_EMAIL_MAX_MESSAGE);
    char err[256] = "";
    sj_status_t st = sj_email_build(m, &b, err, sizeof err);
    if (st != SJ_OK) fail_msg("sj_email_build: %s", err);
    return sj_buf_detach(&b, len);
}

/* Expects an error whose message contains every fragment given. */
static void build_err(const sj_email_t *m, sj_status_t want, const char *frag1,
                      const char *frag2)
{
    sj_buf_t b;
    sj_buf_init(&b, SJ_EMAIL_MAX_MESSAGE);
    char err[256] = "";
    sj_status_t st = sj_email_build(m, &b, err, sizeof err);
    if (st != want) fail_msg("status %d, want %d (%s)", st, want, err);
    if (frag1 && !strstr(err, frag1)) fail_msg("error '%s' lacks '%s'", err, frag1);
    if (frag2 && !strstr(err, frag2)) fail_msg("error '%s' lacks '%s'", err, frag2);
    assert_int_equal(b.len, 0);
    sj_buf_free(&b);
}

/* Every line ends in CRLF, none is longer than 998 octets, header lines are
 * 7-bit and at most 78 octets. */
static void check_lines(const char *msg, size_t len)
{
    assert_true(len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n');
    size_t start = 0;
    int in_headers = 1;
    for (size_t i = 0; i < len; i++) {
        if (msg[i] == '\r') {
            assert_true(i + 1 < len && msg[i + 1] == '\n');
            size_t n = i - start;
            assert_true(n <= 998);
            if (in_headers && n == 0) in_headers = 0;
            if (in_headers && n > 78) fail_msg("header line of %zu octets", n);
            start = i + 2;
            i++;
        } else if (msg[i] == '\n') {
            fail_msg("bare LF at %zu", i);
        } else if (in_headers && (unsigned char)msg[i] >= 0x80) {
            fail_msg("8-bit byte in header at %zu", i);
        }
    }
}

/* ---- small decoders, independent of the encoder's code --------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static int b64val(char c)
{
    const char *d = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strchr(d, c);
    return c && p ? (int)(p - d) : -1;
}

static void b64_decode(const char *s, size_t n, sj_buf_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(s[i]);
        if (v < 0) continue; /* '=', CR, LF */
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            sj_buf_addc(out, (char)(acc >> bits & 0xFF));
        }
    }
}

/* The unfolded value of header `name` (without "Name: "), or NULL. */
static char *header(const char *msg, const char *name)
{
    size_t nl = strlen(name);
    const char *end = strstr(msg, "\r\n\r\n");
    for (const char *p = msg; p && p < end; p = strstr(p, "\r\n"), p = p ? p + 2 : p) {
        if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
            sj_buf_t v;
            sj_buf_init(&v, 1 << 16);
            const char *q = p + nl + 1;
            if (*q == ' ') q++;
            for (;;) {
                const char *e = strstr(q, "\r\n");
                sj_buf_add(&v, q, (size_t)(e - q));
                if (e[2] != ' ' && e[2] != '\t') break;
                q = e + 2;
            }
            return sj_buf_detach(&v, NULL);
        }
    }
    return NULL;
}

/* RFC 2047 decoding of an unstructured value: encoded-words are decoded and
 * whitespace between two adjacent encoded-words is dropped (section 6.2). */
static char *decode_2047(const char *v)
{
    sj_buf_t out, ws;
    sj_buf_init(&out, 1 << 16);
    sj_buf_init(&ws, 1 << 16);
    int prev_ew = 0;
    const char *p = v;
    while (*p) {
        sj_buf_reset(&ws);
        while (*p == ' ') sj_buf_addc(&ws, *p++);
        if (!*p) {
            sj_buf_add(&out, ws.data, ws.len);
            break;
        }
        const char *e = p;
        while (*e && *e != ' ') e++;
        size_t n = (size_t)(e - p);
        int is_ew = n > 12 && strncmp(p, "=?UTF-8?", 8) == 0 && p[9] == '?' &&
                    p[n - 2] == '?' && p[n - 1] == '=';
        if (!(is_ew && prev_ew)) sj_buf_add(&out, ws.data, ws.len);
        if (is_ew) {
            const char *pl = p + 10, *pe = p + n - 2;
            if (p[8] == 'B') {
                b64_decode(pl, (size_t)(pe - pl), &out);
            } else {
                for (const char *c = pl; c < pe; c++) {
                    if (*c == '_') {
                        sj_buf_addc(&out, ' ');
                    } else if (*c == '=' && c + 2 < pe + 1) {
                        sj_buf_addc(&out, (char)(hexval(c[1]) * 16 + hexval(c[2])));
                        c += 2;
                    } else {
                        sj_buf_addc(&out, *c);
                    }
                }
            }
        } else {
            sj_buf_add(&out, p, n);
        }
        prev_ew = is_ew;
        p = e;
    }
    sj_buf_free(&ws);
    return sj_buf_detach(&out, NULL);
}

/* Quoted-printable decoding (soft breaks removed, CRLF kept). */
static char *decode_qp(const char *s, size_t n)
{
    sj_buf_t out;
    sj_buf_init(&out, 1 << 24);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
        } else if (s[i] == '=' && i + 2 < n) {
            assert_true(hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0);
            assert_true(s[i + 1] < 'a' && s[i + 2] < 'a'); /* uppercase hex */
            sj_buf_addc(&out, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
            i += 2;
        } else {
            sj_buf_addc(&out, s[i]);
        }
    }
    return sj_buf_detach(&out, NULL);
}

/* The encoded body of the part whose Content-Type starts with `type`
 * (first part for a single-part message); sets *b64 for base64. */
static char *part_body(const char *msg, const char *type, int *b64, size_t *len)
{
    const char *ct = strstr(msg, type);
    assert_non_null(ct);
    const char *cte = strstr(ct, "Content-Transfer-Encoding: ");
    assert_non_null(cte);
    *b64 = strncmp(cte + 27, "base64", 6) == 0;
    const char *start = strstr(cte, "\r\n\r\n") + 4;
    const char *end = strstr(start, "\r\n--=_sj_");
    if (!end) end = msg + strlen(msg); /* single part: the body runs to the end */
    *len = (size_t)(end - start);
    char *r = malloc(*len + 1);
    assert_non_null(r);
    memcpy(r, start, *len);
    r[*len] = '\0';
    return r;
}

static char *decoded_part(const char *msg, const char *type)
{
    int b64;
    size_t n;
    char *enc = part_body(msg, type, &b64, &n);
    char *dec;
    if (b64) {
        sj_buf_t out;
        sj_buf_init(&out, 1 << 24);
        b64_decode(enc, n, &out);
        dec = sj_buf_detach(&out, NULL);
    } else {
        dec = decode_qp(enc, n);
    }
    free(enc);
    return dec;
}

/* ---- tests ------------------------------------------------------------ */

static void test_golden_message(void **state)
{
    (void)state;
    sj_email_t m = base();
    size_t len;
    char *msg = build_ok(&m, &len);
    const char *want =
        "Date: Sat, 28 Nov 2026 09:30:00 +0000\r\n"
        "From: Stad Gent <noreply@stad.gent>\r\n"
        "To: =?UTF-8?Q?Fran=C3=A7ois_Dupont-=C3=8Blla?= <francois@example.be>\r\n"
        "Subject: =?UTF-8?B?Wm/Dqydz?= ID-kaart vervalt =?UTF-8?B?4oCT?= verleng nu\r\n"
        " =?UTF-8?B?8J+qqg==?=\r\n"
        "Message-ID: <3f9a2c0d1e@stad.gent>\r\n"
        "List-Unsubscribe: <https://stad.gent/u?t=abc>,\r\n"
        " <mailto:unsub@stad.gent>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "Auto-Submitted: auto-generated\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/alternative;\r\n"
        " boundary=\"=_sj_0c48718a01926a6cfefa0206\"\r\n"
        "\r\n"
        "--=_sj_0c48718a01926a6cfefa0206\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "Beste Zo=C3=AB,\r\n"
        "Uw kaart vervalt.\r\n"
        "\r\n"
        "--=_sj_0c48718a01926a6cfefa0206\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "<p>Beste Zo&euml;, &lt;script&gt;</p>\r\n"
        "--=_sj_0c48718a01926a6cfefa0206--\r\n";
    assert_string_equal(msg, want);
    assert_int_equal(len, strlen(want));
    /* Same input, same bytes. */
    size_t len2;
    char *again = build_ok(&m, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(msg, again, len);
    free(again);
    free(msg);
}

static void test_header_injection_rejected(void **state)
{
    (void)state;
    static const char *const evil[] = {"x\r\nBcc: victim@example.com", "x\nBcc: v@e.be",
                                       "x\rBcc: v@e.be"};
    for (size_t i = 0; i < SJ_ARRAY_LEN(evil); i++) {
        sj_email_t m = base();
        m.subject = sj_email_cstr(evil[i]);
        build_err(&m, SJ_ERR_INPUT, "Subject", "header injection");
        m = base();
        m.to.name = sj_email_cstr(evil[i]);
        build_err(&m, SJ_ERR_INPUT, "To display name", "header injection");
        m = base();
        m.from.name = sj_email_cstr(evil[i]);
        build_err(&m, SJ_ERR_INPUT, "From display name", "header injection");
        m = base();
        m.reply_to.name = sj_email_cstr(evil[i]);
        m.reply_to.address = sj_email_cstr("balie@stad.gent");
        build_err(&m, SJ_ERR_INPUT, "Reply-To display name", "header injection");
    }
    sj_email_t m = base();
    m.to.address = sj_email_cstr("a@b.be\r\nBcc: c@d.be");
    build_err(&m, SJ_ERR_INPUT, "To address", "carriage return (CR) at byte 6");
    m = base();
    m.from.address = sj_email_cstr("a@b.be\r");
    build_err(&m, SJ_ERR_INPUT, "From address", "carriage return (CR) at byte 6");
    m = base();
    m.unsubscribe_url = sj_email_cstr("https://x.be/\r\nBcc: c@d.be");
    build_err(&m, SJ_ERR_INPUT, "List-Unsubscribe URL", "header injection");
    m = base();
    m.unsubscribe_mailto = sj_email_cstr("mailto:a@b.be\nX: y");
    build_err(&m, SJ_ERR_INPUT, "List-Unsubscribe mailto", "header injection");
    m = base();
    m.notification_id = sj_email_cstr("id\r\nX: y");
    build_err(&m, SJ_ERR_INPUT, "notification id", "header injection");
    m = base();
    m.domain = sj_email_cstr("stad.gent\n");
    build_err(&m, SJ_ERR_INPUT, "Message-ID domain", "header injection");

    /* NUL: with explicit lengths it is seen, not a silent end of string. */
    m = base();
    m.subject = (sj_email_span_t){"Hallo\0Bcc", 9};
    build_err(&m, SJ_ERR_INPUT, "Subject contains a NUL byte at byte 5", NULL);
    m = base();
    m.to.name = (sj_email_span_t){"Eve\0", 4};
    build_err(&m, SJ_ERR_INPUT, "To display name", "NUL");
    /* Other control characters are refused too, tabs included. */
    m = base();
    m.subject = sj_email_cstr("Hallo\twereld");
    build_err(&m, SJ_ERR_INPUT, "Subject contains control character 0x09", NULL);
    m.subject = sj_email_cstr("Hallo\x1B[31m");
    build_err(&m, SJ_ERR_INPUT, "0x1B", NULL);
}

static void test_address_validation(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"", "missing"},
        {"no-at-sign", "exactly one '@' (found 0)"},
        {"a@b@c.be", "exactly one '@' (found 2)"},
        {"a b@c.be", "a space"},
        {"<a@c.be>", "angle bracket"},
        {"a@c.be>, <x@y.be", "angle bracket"},
        {"z\xC3\xAB@c.be", "non-ASCII"},
        {"@c.be", "local part"},
        {"a.@c.be", "local part"},
        {"a..b@c.be", "local part"},
        {"a\"b@c.be", "local part"},
        {"a(b)@c.be", "local part"},
        {"a@", "domain"},
        {"a@-c.be", "domain"},
        {"a@c..be", "domain"},
        {"a@c_d.be", "domain"},
        {"a@[127.0.0.1]", "domain"},
    };
    for (size_t i = 0; i < SJ_ARRAY_LEN(bad); i++) {
        sj_email_t m = base();
        m.to.address = sj_email_cstr(bad[i][0]);
        build_err(&m, SJ_ERR_INPUT, "To address", bad[i][1]);
    }
    sj_email_t m = base();
    m.to.address = sj_email_cstr(NULL);
    build_err(&m, SJ_ERR_INPUT, "To address is missing", NULL);
    /* Errors never quote the address (personal data in logs). */
    m = base();
    m.to.address = sj_email_cstr("secret.person@c..be");
    sj_buf_t b;
    sj_buf_init(&b, 1 << 20);
    char err[256];
    assert_int_equal(sj_email_build(&m, &b, err, sizeof err), SJ_ERR_INPUT);
    assert_null(strstr(err, "secret"));
    sj_buf_free(&b);
    /* Unusual but valid addresses pass. */
    static const char *const good[] = {"a+tag@c.be", "o'brien@x.ie", "a.b.c@sub.x-y.be",
                                       "x@localhost", "#!$%&'*+-/=?^_`{|}~@x.be"};
    for (size_t i = 0; i < SJ_ARRAY_LEN(good); i++) {
        m = base();
        m.to.address = sj_email_cstr(good[i]);
        free(build_ok(&m, NULL));
    }
}

static void test_other_validation(void **state)
{
    (void)state;
    sj_email_t m = base();
    m.subject = sj_email_cstr("");
    build_err(&m, SJ_ERR_INPUT, "Subject is missing or empty", NULL);
    m = base();
    m.subject = sj_email_cstr("Zo\xC3");
    build_err(&m, SJ_ERR_INPUT, "Subject is not valid UTF-8 at byte 2", NULL);
    m = base();
    m.text = sj_email_cstr("");
    build_err(&m, SJ_ERR_INPUT, "plain-text body is empty", NULL);
    m = base();
    m.html = (sj_email_span_t){"a\0b", 3};
    build_err(&m, SJ_ERR_INPUT, "HTML body contains a NUL byte at byte 1", NULL);
    m = base();
    m.text = sj_email_cstr("\xC0\xAF");
    build_err(&m, SJ_ERR_INPUT, "plain-text body is not valid UTF-8 at byte 0", NULL);
    m = base();
    m.unsubscribe_url = sj_email_cstr("http://stad.gent/u");
    build_err(&m, SJ_ERR_INPUT, "must start with https://", NULL);
    m.unsubscribe_url = sj_email_cstr(NULL);
    build_err(&m, SJ_ERR_INPUT, "List-Unsubscribe URL is missing", NULL);
    m = base();
    m.unsubscribe_url = sj_email_cstr("https://x.be/a b");
    build_err(&m, SJ_ERR_INPUT, "a space 0x20 at byte 14", NULL);
    m.unsubscribe_url = sj_email_cstr("https://x.be/>");
    build_err(&m, SJ_ERR_INPUT, "0x3E", NULL);
    m = base();
    m.unsubscribe_mailto = sj_email_cstr("unsub@stad.gent");
    build_err(&m, SJ_ERR_INPUT, "must start with mailto:", NULL);
    m = base();
    m.notification_id = sj_email_cstr("a b");
    build_err(&m, SJ_ERR_INPUT, "notification id", NULL);
    m.notification_id = sj_email_cstr(".abc");
    build_err(&m, SJ_ERR_INPUT, "notification id", NULL);
    m.notification_id = sj_email_cstr(NULL);
    build_err(&m, SJ_ERR_INPUT, "notification id (Message-ID) is missing", NULL);
    m = base();
    m.domain = sj_email_cstr("stad gent");
    build_err(&m, SJ_ERR_INPUT, "Message-ID domain is not a valid host name", NULL);
    m = base();
    m.date_ms = -1;
    build_err(&m, SJ_ERR_INPUT, "Date", NULL);
    m.date_ms = 253402300800000LL;
    build_err(&m, SJ_ERR_INPUT, "Date", NULL);
    m = base();
    m.reply_to.name = sj_email_cstr("Balie");
    build_err(&m, SJ_ERR_INPUT, "Reply-To display name given without an address", NULL);
    char big[SJ_EMAIL_MAX_SUBJECT + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    m = base();
    m.subject = sj_email_cstr(big);
    build_err(&m, SJ_ERR_INPUT, "Subject is 999 bytes long, the limit is 998", NULL);
    /* errstr may be NULL */
    sj_buf_t b;
    sj_buf_init(&b, 1 << 20);
    assert_int_equal(sj_email_build(&m, &b, NULL, 0), SJ_ERR_INPUT);
    sj_buf_free(&b);
}

static void check_subject_round_trip(const char *subject)
{
    sj_email_t m = base();
    m.subject = sj_email_cstr(subject);
    size_t len;
    char *msg = build_ok(&m, &len);
    check_lines(msg, len);
    char *raw = header(msg, "Subject");
    assert_non_null(raw);
    char *dec = decode_2047(raw);
    assert_string_equal(dec, subject);
    /* Every encoded-word is at most 75 characters. */
    for (const char *p = strstr(raw, "=?"); p; p = strstr(p + 2, "=?")) {
        const char *e = strstr(p + 10, "?=");
        assert_non_null(e);
        assert_true(e + 2 - p <= 75);
        p = e;
    }
    free(dec);
    free(raw);
    free(msg);
}

static void test_rfc2047_round_trip(void **state)
{
    (void)state;
    check_subject_round_trip("Zo\xC3\xAB's ID-kaart vervalt \xE2\x80\x93 verleng nu "
                             "\xF0\x9F\xAA\xAA");
    check_subject_round_trip("Rappel\xC2\xA0: votre carte d\xE2\x80\x99identit\xC3\xA9 "
                             "expire le 1er d\xC3\xA9"
                             "cembre");
    check_subject_round_trip("  leading, trailing  and  double spaces  ");
    check_subject_round_trip("looks =?UTF-8?Q?encoded?= but is not");
    check_subject_round_trip("under_score and =3D and ?= and _");
    check_subject_round_trip(" ");
    char s[SJ_EMAIL_MAX_SUBJECT + 1];
    /* 249 four-byte emoji (996 bytes): many encoded-words, no character split. */
    for (size_t i = 0; i < 249; i++) memcpy(s + 4 * i, "\xF0\x9F\xAA\xAA", 4);
    s[996] = '\0';
    check_subject_round_trip(s);
    /* 998 ASCII bytes without a space: folded as encoded-words, never > 998. */
    memset(s, 'W', 998);
    s[998] = '\0';
    check_subject_round_trip(s);
    /* Mixed 2-byte and 3-byte characters in a long run. */
    size_t k = 0;
    while (k + 5 <= 990) {
        memcpy(s + k, "\xC3\xAB\xE2\x82\xAC", 5);
        k += 5;
    }
    s[k] = '\0';
    check_subject_round_trip(s);

    /* Plain ASCII stays readable. */
    sj_email_t m = base();
    m.subject = sj_email_cstr("Uw aanvraag (nr. 42) is goedgekeurd: 100% klaar!");
    char *msg = build_ok(&m, NULL);
    assert_non_null(strstr(msg, "\r\nSubject: Uw aanvraag (nr. 42) is goedgekeurd: 100% "
                                "klaar!\r\n"));
    free(msg);
}

static void test_display_name_forms(void **state)
{
    (void)state;
    sj_email_t m = base();
    m.to.name = sj_email_cstr("Dupont, Jean \"JJ\"");
    char *msg = build_ok(&m, NULL);
    assert_non_null(
        strstr(msg, "\r\nTo: \"Dupont, Jean \\\"JJ\\\"\" <francois@example.be>\r\n"));
    free(msg);
    m.to.name = sj_email_cstr(NULL);
    msg = build_ok(&m, NULL);
    assert_non_null(strstr(msg, "\r\nTo: francois@example.be\r\n"));
    free(msg);
    m.to.name = sj_email_cstr("Zo\xC3\xAB Peeters");
    m.reply_to.address = sj_email_cstr("balie@stad.gent");
    msg = build_ok(&m, NULL);
    char *to = header(msg, "To");
    char *dec = decode_2047(to);
    assert_string_equal(dec, "Zo\xC3\xAB Peeters <francois@example.be>");
    assert_non_null(strstr(msg, "\r\nReply-To: balie@stad.gent\r\n"));
    free(dec);
    free(to);
    free(msg);
    /* A 256-byte name of 'ë' spans several encoded-words on folded lines. */
    char name[SJ_EMAIL_MAX_NAME + 1];
    for (size_t i = 0; i < 128; i++) memcpy(name + 2 * i, "\xC3\xAB", 2);
    name[256] = '\0';
    m = base();
    m.to.name = sj_email_cstr(name);
    size_t len;
    msg = build_ok(&m, &len);
    check_lines(msg, len);
    to = header(msg, "To");
    dec = decode_2047(to);
    assert_non_null(strstr(dec, name));
    free(dec);
    free(to);
    free(msg);
    name[256] = 'x';
    m.to.name = (sj_email_span_t){name, 257};
    build_err(&m, SJ_ERR_INPUT, "To display name is 257 bytes long", NULL);
}

static void test_qp_long_word_and_escapes(void **state)
{
    (void)state;
    char *text = malloc(5100);
    assert_non_null(text);
    memcpy(text, "begin ", 6);
    memset(text + 6, 'x', 5000);
    memcpy(text + 5006, " a=b trailing   \n\tx\t\n.\nFrom here\n", 34);
    text[5040] = '\0';
    sj_email_t m = base();
    m.text = sj_email_cstr(text);
    m.html = sj_email_cstr(NULL);
    size_t len;
    char *msg = build_ok(&m, &len);
    check_lines(msg, len);
    int b64;
    size_t n;
    char *enc = part_body(msg, "text/plain", &b64, &n);
    assert_false(b64);
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || enc[i] == '\r') {
            assert_true(i - start <= 76);
            /* no trailing whitespace on any encoded line */
            if (i > start) assert_true(enc[i - 1] != ' ' && enc[i - 1] != '\t');
            start = i + 2;
        }
    }
    assert_non_null(strstr(enc, "a=3Db trailing  =20\r\n"));
    assert_non_null(strstr(enc, "\r\n=2E\r\n=46rom here"));
    char *dec = decode_qp(enc, n);
    /* The decoded text is the input with CRLF line breaks. */
    assert_int_equal(strncmp(dec, text, 5006), 0);
    assert_non_null(strstr(dec, " a=b trailing   \r\n\tx\t\r\n.\r\nFrom here\r\n"));
    free(dec);
    free(enc);
    free(msg);
    free(text);
}

static void test_html_not_unescaped(void **state)
{
    (void)state;
    const char *html = "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;amp; "
                       "=3D &#60;</p>\n<p>Zo&euml; \xC3\xAB</p>\n";
    sj_email_t m = base();
    m.html = sj_email_cstr(html);
    size_t len;
    char *msg = build_ok(&m, &len);
    assert_null(strstr(msg, "<script>"));
    char *dec = decoded_part(msg, "text/html");
    /* byte-exact, except LF became CRLF */
    assert_string_equal(dec,
                        "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;amp; "
                        "=3D &#60;</p>\r\n<p>Zo&euml; \xC3\xAB</p>\r\n");
    free(dec);
    free(msg);
}

static void test_base64_when_shorter(void **state)
{
    (void)state;
    sj_buf_t t;
    sj_buf_init(&t, 1 << 20);
    for (int i = 0; i < 200; i++) sj_buf_adds(&t, "\xF0\x9F\x98\x80\xE4\xB8\xAD");
    sj_buf_adds(&t, "\nregel twee\n");
    sj_email_t m = base();
    m.text = (sj_email_span_t){t.data, t.len};
    size_t len;
    char *msg = build_ok(&m, &len);
    check_lines(msg, len);
    int b64;
    size_t n;
    char *enc = part_body(msg, "text/plain", &b64, &n);
    assert_true(b64);
    free(enc);
    char *dec = decoded_part(msg, "text/plain");
    assert_int_equal(strlen(dec), t.len + 2); /* two LF became CRLF */
    assert_int_equal(memcmp(dec, t.data, t.len - 12), 0);
    assert_string_equal(dec + t.len - 12, "\r\nregel twee\r\n");
    /* The Dutch HTML part of the same message stays quoted-printable. */
    enc = part_body(msg, "text/html", &b64, &n);
    assert_false(b64);
    free(enc);
    free(dec);
    free(msg);
    sj_buf_free(&t);
}

static void test_line_breaks_normalised(void **state)
{
    (void)state;
    sj_email_t m = base();
    m.html = sj_email_cstr(NULL);
    m.text = sj_email_cstr("een\r\ntwee\rdrie\nvier");
    char *msg = build_ok(&m, NULL);
    /* Single part: no multipart header, body ends with CRLF. */
    assert_null(strstr(msg, "multipart"));
    assert_non_null(strstr(msg, "\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                                "een\r\ntwee\r\ndrie\r\nvier\r\n"));
    free(msg);
}

static void test_boundary_absent_from_bodies(void **state)
{
    (void)state;
    /* Bodies that contain the boundary string literally: it is
     * quoted-printable encoded ("=_" becomes "=3D_"), so the boundary still
     * cannot occur in the encoded parts. */
    sj_email_t m = base();
    m.text = sj_email_cstr(
        "--=_sj_0c48718a01926a6cfefa0206\n--=_sj_0c48718a01926a6cfefa0206--");
    m.html = m.text;
    size_t len;
    char *msg = build_ok(&m, &len);
    const char *b = "=_sj_0c48718a01926a6cfefa0206";
    size_t count = 0;
    for (const char *p = strstr(msg, b); p; p = strstr(p + 1, b)) count++;
    assert_int_equal(count, 4); /* header + 2 delimiters + closing */
    free(msg);
}

static void test_output_cap(void **state)
{
    (void)state;
    sj_email_t m = base();
    sj_buf_t b;
    sj_buf_init(&b, 600); /* the message is about 1000 bytes */
    sj_buf_adds(&b, "kept");
    char err[256] = "";
    assert_int_equal(sj_email_build(&m, &b, err, sizeof err), SJ_ERR_TOO_BIG);
    assert_non_null(strstr(err, "600-byte limit"));
    assert_string_equal(sj_buf_cstr(&b), "kept"); /* untouched on error */
    sj_buf_free(&b);
    /* Appends to what the buffer already holds. */
    sj_buf_init(&b, SJ_EMAIL_MAX_MESSAGE);
    sj_buf_adds(&b, "X-Prefix\r\n");
    assert_int_equal(sj_email_build(&m, &b, err, sizeof err), SJ_OK);
    assert_int_equal(strncmp(b.data, "X-Prefix\r\nDate: ", 16), 0);
    sj_buf_free(&b);
}

static void test_dates(void **state)
{
    (void)state;
    sj_email_t m = base();
    m.date_ms = 0;
    char *msg = build_ok(&m, NULL);
    assert_int_equal(strncmp(msg, "Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n", 38), 0);
    free(msg);
    m.date_ms = 253402300799999LL;
    msg = build_ok(&m, NULL);
    assert_int_equal(strncmp(msg, "Date: Fri, 31 Dec 9999 23:59:59 +0000\r\n", 39), 0);
    free(msg);
    m.date_ms = 1709208000123LL; /* 2024-02-29T12:00:00.123Z */
    msg = build_ok(&m, NULL);
    assert_int_equal(strncmp(msg, "Date: Thu, 29 Feb 2024 12:00:00 +0000\r\n", 39), 0);
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_message),
        cmocka_unit_test(test_header_injection_rejected),
        cmocka_unit_test(test_address_validation),
        cmocka_unit_test(test_other_validation),
        cmocka_unit_test(test_rfc2047_round_trip),
        cmocka_unit_test(test_display_name_forms),
        cmocka_unit_test(test_qp_long_word_and_escapes),
        cmocka_unit_test(test_html_not_unescaped),
        cmocka_unit_test(test_base64_when_shorter),
        cmocka_unit_test(test_line_breaks_normalised),
        cmocka_unit_test(test_boundary_absent_from_bodies),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
