/* RFC 5322 message assembly: header validation, RFC 2047 encoded-words,
 * quoted-printable and base64 bodies, MIME structure. See email.h.
 *
 * The code is organised in the order the data flows: validate every input
 * first (so a message is either complete and correct or not built at all),
 * then write headers through a small "folding writer" that knows the current
 * column, then encode the bodies, pick a boundary that provably does not
 * occur in them, and copy the finished message into the caller's buffer.
 *
 * Header text is split into words at spaces. A word that is plain ASCII
 * (and, in a display name, made of atext only) is written as is; any other
 * word is written as encoded-words, and neighbouring encoded words are
 * merged into one run with their spaces inside (a decoder drops whitespace
 * between two encoded-words, so the spaces must travel encoded). Runs of
 * several spaces, and leading or trailing spaces, also go into encoded runs,
 * because unfolding and header parsers do not preserve them otherwise. Very
 * long words are encoded too, because encoded-words can be split between
 * characters where a plain word could not be folded at all. */
#include "email.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "chan_utf8.h"
#include "core/crypto.h"
#include "core/text.h"
#include "core/timeutil.h"

#define HDR_LINE_MAX    76 /* header lines with encoded-words, RFC 2047 section 2 */
#define EW_MAX          75 /* one encoded-word, RFC 2047 section 2 */
#define EW_OVERHEAD     12 /* "=?UTF-8?Q?" and "?=" */
#define EW_MIN_PAYLOAD  12 /* room for one 4-byte character, Q-encoded */
#define PLAIN_WORD_MAX  60 /* longer words are encoded so they can be split */
#define QP_LINE_MAX     76 /* RFC 2045 section 6.7 rule 5 */
#define B64_LINE        76
#define QUOTED_NAME_MAX 66 /* a quoted name fits after "Reply-To: " on one line */
#define MAX_WORDS       (SJ_EMAIL_MAX_SUBJECT / 2 + 2)
#define BOUNDARY_TRIES  8
#define BOUNDARY_HEX    24 /* hex digits of SHA-256 in the boundary */
#define BOUNDARY_SIZE   (5 + BOUNDARY_HEX + 1)
#define DATE_MS_MAX     253402300799999LL /* 9999-12-31T23:59:59.999Z */

static const char hexdig[] = "0123456789ABCDEF";
static const char b64dig[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- validation -------------------------------------------------------- */

static bool present(sj_email_span_t v)
{
    return v.ptr != NULL && v.len > 0;
}

static bool is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 5322 dot-atom-text: atext runs separated by single dots. */
static bool is_dot_atom(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' ? s[i + 1] == '.' : !is_atext(c)) return false;
    }
    return true;
}

/* A DNS host name: labels of 1..63 letters, digits and inner hyphens. */
static bool is_hostname(const char *s, size_t n)
{
    if (n == 0 || n > 253) return false;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? s[i] : '.';
        if (c == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '-') {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

/* Rejects control characters in data bound for a header. CR, LF and NUL get
 * their own wording: they are how header injection works. */
static sj_status_t check_header_bytes(const char *field, sj_email_span_t v, char *errstr,
                                      size_t errstr_size)
{
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (c == '\r' || c == '\n' || c == 0) {
            sj_seterr(errstr, errstr_size,
                      "%s contains %s at byte %zu: CR, LF and NUL are rejected in e-mail "
                      "headers (header injection)",
                      field,
                      c == '\r'   ? "a carriage return (CR)"
                      : c == '\n' ? "a line feed (LF)"
                                  : "a NUL byte",
                      i);
            return SJ_ERR_INPUT;
        }
        if (c < 0x20 || c == 0x7F) {
            sj_seterr(errstr, errstr_size,
                      "%s contains control character 0x%02X at byte %zu; control "
                      "characters are not allowed in e-mail headers",
                      field, c, i);
            return SJ_ERR_INPUT;
        }
    }
    return SJ_OK;
}

/* Subject or display name: optional unless required, bounded, no control
 * characters, valid UTF-8. */
static sj_status_t check_text_field(const char *field, sj_email_span_t v, size_t max,
                                    bool required, char *errstr, size_t errstr_size)
{
    size_t bad;
    if (!present(v)) {
        if (!required) return SJ_OK;
        sj_seterr(errstr, errstr_size, "%s is missing or empty", field);
        return SJ_ERR_INPUT;
    }
    if (v.len > max) {
        sj_seterr(errstr, errstr_size, "%s is %zu bytes long, the limit is %zu", field,
                  v.len, max);
        return SJ_ERR_INPUT;
    }
    sj_status_t st = check_header_bytes(field, v, errstr, errstr_size);
    if (st != SJ_OK) return st;
    if (!sj_utf8_valid(v.ptr, v.len, &bad)) {
        sj_seterr(errstr, errstr_size, "%s is not valid UTF-8 at byte %zu", field, bad);
        return SJ_ERR_INPUT;
    }
    return SJ_OK;
}

/* An addr-spec local@domain with a dot-atom local part and a host name.
 * Never quotes the address in the message: it is personal data. */
static sj_status_t check_address(const char *field, sj_email_span_t v, char *errstr,
                                 size_t errstr_size)
{
    if (!present(v)) {
        sj_seterr(errstr, errstr_size, "%s is missing", field);
        return SJ_ERR_INPUT;
    }
    sj_status_t st = check_header_bytes(field, v, errstr, errstr_size);
    if (st != SJ_OK) return st;
    if (v.len > SJ_EMAIL_MAX_ADDRESS) {
        sj_seterr(errstr, errstr_size, "%s is %zu bytes long, the limit is %d", field,
                  v.len, SJ_EMAIL_MAX_ADDRESS);
        return SJ_ERR_INPUT;
    }
    size_t at = SIZE_MAX, ats = 0;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        const char *what = c == ' '               ? "a space"
                           : c == '<' || c == '>' ? "an angle bracket"
                           : c >= 0x80
                               ? "a non-ASCII byte (use punycode for the domain; "
                                 "internationalised local parts are not supported)"
                               : NULL;
        if (what) {
            sj_seterr(errstr, errstr_size, "%s contains %s at byte %zu", field, what, i);
            return SJ_ERR_INPUT;
        }
        if (c == '@') {
            ats++;
            at = i;
        }
    }
    if (ats != 1) {
        sj_seterr(errstr, errstr_size, "%s must contain exactly one '@' (found %zu)",
                  field, ats);
        return SJ_ERR_INPUT;
    }
    if (at == 0 || at > 64 || !is_dot_atom(v.ptr, at)) {
        sj_seterr(errstr, errstr_size,
                  "%s has an invalid local part (1..64 characters of letters, digits, "
                  "dots and !#$%%&'*+-/=?^_`{|}~)",
                  field);
        return SJ_ERR_INPUT;
    }
    if (!is_hostname(v.ptr + at + 1, v.len - at - 1)) {
        sj_seterr(errstr, errstr_size, "%s has an invalid domain (expected a host name)",
                  field);
        return SJ_ERR_INPUT;
    }
    return SJ_OK;
}

/* A URL for List-Unsubscribe: printable ASCII without the characters that
 * would end or confuse an angle-bracketed URL, starting with scheme. */
static sj_status_t check_url(const char *field, sj_email_span_t v, const char *scheme,
                             char *errstr, size_t errstr_size)
{
    size_t sl = strlen(scheme);
    if (!present(v)) {
        sj_seterr(errstr, errstr_size, "%s is missing", field);
        return SJ_ERR_INPUT;
    }
    sj_status_t st = check_header_bytes(field, v, errstr, errstr_size);
    if (st != SJ_OK) return st;
    if (v.len > SJ_EMAIL_MAX_URL) {
        sj_seterr(errstr, errstr_size, "%s is %zu bytes long, the limit is %d", field,
                  v.len, SJ_EMAIL_MAX_URL);
        return SJ_ERR_INPUT;
    }
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (c <= 0x20 || c >= 0x7F || strchr("\"<>\\^`{|}", c)) {
            sj_seterr(errstr, errstr_size,
                      "%s has %s 0x%02X at byte %zu (percent-encode it)", field,
                      c == ' ' ? "a space" : "character", c, i);
            return SJ_ERR_INPUT;
        }
    }
    if (v.len <= sl || memcmp(v.ptr, scheme, sl) != 0) {
        sj_seterr(errstr, errstr_size, "%s must start with %s", field, scheme);
        return SJ_ERR_INPUT;
    }
    return SJ_OK;
}

static sj_status_t check_body(const char *field, sj_email_span_t v, char *errstr,
                              size_t errstr_size)
{
    size_t bad;
    if (!present(v)) {
        sj_seterr(errstr, errstr_size, "%s is empty", field);
        return SJ_ERR_INPUT;
    }
    if (!sj_utf8_valid(v.ptr, v.len, &bad)) {
        sj_seterr(errstr, errstr_size, "%s is not valid UTF-8 at byte %zu", field, bad);
        return SJ_ERR_INPUT;
    }
    const char *nul = memchr(v.ptr, '\0', v.len);
    if (nul) {
        sj_seterr(errstr, errstr_size, "%s contains a NUL byte at byte %zu", field,
                  (size_t)(nul - v.ptr));
        return SJ_ERR_INPUT;
    }
    return SJ_OK;
}

static sj_status_t check_id(const sj_email_t *m, char *errstr, size_t errstr_size)
{
    sj_status_t st;
    if (!present(m->notification_id)) {
        sj_seterr(errstr, errstr_size, "notification id (Message-ID) is missing");
        return SJ_ERR_INPUT;
    }
    st = check_header_bytes("notification id (Message-ID)", m->notification_id, errstr,
                            errstr_size);
    if (st != SJ_OK) return st;
    if (m->notification_id.len > SJ_EMAIL_MAX_ID ||
        !is_dot_atom(m->notification_id.ptr, m->notification_id.len)) {
        sj_seterr(errstr, errstr_size,
                  "notification id (Message-ID) must be 1..%d letters, digits, dots or "
                  "!#$%%&'*+-/=?^_`{|}~",
                  SJ_EMAIL_MAX_ID);
        return SJ_ERR_INPUT;
    }
    if (!present(m->domain)) {
        sj_seterr(errstr, errstr_size, "Message-ID domain is missing");
        return SJ_ERR_INPUT;
    }
    st = check_header_bytes("Message-ID domain", m->domain, errstr, errstr_size);
    if (st != SJ_OK) return st;
    if (!is_hostname(m->domain.ptr, m->domain.len)) {
        sj_seterr(errstr, errstr_size, "Message-ID domain is not a valid host name");
        return SJ_ERR_INPUT;
    }
    return SJ_OK;
}

static sj_status_t validate(const sj_email_t *m, char *errstr, size_t errstr_size)
{
    sj_status_t st = SJ_OK;
#define CHECK(call)                                                                      \
    do {                                                                                 \
        if ((st = (call)) != SJ_OK) return st;                                           \
    } while (0)
    CHECK(check_text_field("From display name", m->from.name, SJ_EMAIL_MAX_NAME, false,
                           errstr, errstr_size));
    CHECK(check_address("From address", m->from.address, errstr, errstr_size));
    CHECK(check_text_field("To display name", m->to.name, SJ_EMAIL_MAX_NAME, false,
                           errstr, errstr_size));
    CHECK(check_address("To address", m->to.address, errstr, errstr_size));
    if (m->reply_to.address.ptr) {
        CHECK(check_text_field("Reply-To display name", m->reply_to.name,
                               SJ_EMAIL_MAX_NAME, false, errstr, errstr_size));
        CHECK(
            check_address("Reply-To address", m->reply_to.address, errstr, errstr_size));
    } else if (present(m->reply_to.name)) {
        sj_seterr(errstr, errstr_size, "Reply-To display name given without an address");
        return SJ_ERR_INPUT;
    }
    CHECK(check_text_field("Subject", m->subject, SJ_EMAIL_MAX_SUBJECT, true, errstr,
                           errstr_size));
    CHECK(check_id(m, errstr, errstr_size));
    CHECK(check_url("List-Unsubscribe URL", m->unsubscribe_url, "https://", errstr,
                    errstr_size));
    if (m->unsubscribe_mailto.ptr)
        CHECK(check_url("List-Unsubscribe mailto", m->unsubscribe_mailto,
                        "mailto:", errstr, errstr_size));
    CHECK(check_body("plain-text body", m->text, errstr, errstr_size));
    if (m->html.ptr) CHECK(check_body("HTML body", m->html, errstr, errstr_size));
#undef CHECK
    if (m->date_ms < 0 || m->date_ms > DATE_MS_MAX) {
        sj_seterr(errstr, errstr_size, "Date %lld ms is outside the years 1970..9999",
                  (long long)m->date_ms);
        return SJ_ERR_INPUT;
    }
    return SJ_OK;
}

/* ---- folding header writer ---------------------------------------------- */

/* Writes into a buffer and remembers the column, so words can be folded onto
 * a continuation line before the line grows past HDR_LINE_MAX. The first
 * failure (buffer cap, memory) sticks in st and later writes are no-ops. */
typedef struct writer {
    sj_buf_t *b;
    size_t col;      /* bytes on the current line */
    bool line_empty; /* nothing but the field name or the fold on this line */
    sj_status_t st;
} writer_t;

static void w_add(writer_t *w, const char *p, size_t n)
{
    if (w->st == SJ_OK) w->st = sj_buf_add(w->b, p, n);
    w->col += n;
}

static void w_adds(writer_t *w, const char *s)
{
    w_add(w, s, strlen(s));
}

static void hdr_begin(writer_t *w, const char *name)
{
    w->col = 0;
    w_adds(w, name);
    w->line_empty = true;
}

static void hdr_end(writer_t *w)
{
    w_add(w, "\r\n", 2);
    w->col = 0;
}

static void hdr_fold(writer_t *w)
{
    w_add(w, "\r\n", 2);
    w->col = 0;
    w->line_empty = true;
}

/* Writes the space before an item of width n, folding first if needed. */
static void hdr_space(writer_t *w, size_t n)
{
    if (!w->line_empty && w->col + 1 + n > HDR_LINE_MAX) hdr_fold(w);
    w_add(w, " ", 1);
    w->line_empty = false;
}

static void hdr_item(writer_t *w, const char *p, size_t n)
{
    hdr_space(w, n);
    w_add(w, p, n);
}

/* ---- RFC 2047 encoded-words ---------------------------------------------- */

/* Characters that Q encoding may leave literal in every context (the
 * restrictive "phrase" set of RFC 2047 section 5 rule 3). */
static bool q_literal(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!*+-/", c) != NULL);
}

static size_t q_cost(unsigned char c)
{
    return q_literal(c) || c == ' ' ? 1 : 3;
}

static size_t b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Base64 of p[0..n) into out (room for b64_len(n) bytes); returns length. */
static size_t b64_encode(const unsigned char *p, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        out[k++] = b64dig[v >> 18 & 63];
        out[k++] = b64dig[v >> 12 & 63];
        out[k++] = i + 1 < n ? b64dig[v >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? b64dig[v & 63] : '=';
    }
    return k;
}

/* Writes s[0..n) as encoded-words, each holding whole UTF-8 characters and
 * sized to the room left on the line. Q is used unless B is shorter: Q keeps
 * Dutch and French readable, B is compact for emoji and non-Latin text. */
static void emit_encoded(writer_t *w, const char *s, size_t n)
{
    size_t qlen = 0;
    for (size_t i = 0; i < n; i++) qlen += q_cost((unsigned char)s[i]);
    bool use_b = qlen > b64_len(n);
    size_t i = 0;
    while (i < n) {
        size_t room = w->col + 1 < HDR_LINE_MAX ? HDR_LINE_MAX - w->col - 1 : 0;
        /* Fold when the rest fits in one word on a fresh line but not here:
         * fewer splits, and some decoders (Python's address parser) wrongly
         * keep the space between adjacent encoded-words in a display name. */
        size_t rest = use_b ? b64_len(n - i) : qlen;
        bool whole_fits_fresh = EW_OVERHEAD + rest <= EW_MAX;
        if (!w->line_empty && (room < EW_OVERHEAD + EW_MIN_PAYLOAD ||
                               (whole_fits_fresh && EW_OVERHEAD + rest > room))) {
            hdr_fold(w);
            room = HDR_LINE_MAX - 1;
        }
        if (room > EW_MAX) room = EW_MAX;
        size_t cap =
            room > EW_OVERHEAD + EW_MIN_PAYLOAD ? room - EW_OVERHEAD : EW_MIN_PAYLOAD;
        size_t j = i, used = 0;
        while (j < n) {
            size_t k = sj_chan_utf8_seqlen((unsigned char)s[j]);
            if (k > n - j) k = n - j;
            size_t cost = 0;
            if (use_b) {
                cost = b64_len(j + k - i);
            } else {
                cost = used;
                for (size_t x = 0; x < k; x++) cost += q_cost((unsigned char)s[j + x]);
            }
            if (cost > cap) break;
            used = cost;
            j += k;
        }
        if (j == i) j = i + 1; /* unreachable with cap >= 12; guarantees progress */
        char payload[EW_MAX];
        size_t plen = 0;
        if (use_b) {
            plen = b64_encode((const unsigned char *)s + i, j - i, payload);
        } else {
            for (size_t x = i; x < j; x++) {
                unsigned char c = (unsigned char)s[x];
                if (q_literal(c)) {
                    payload[plen++] = (char)c;
                } else if (c == ' ') {
                    payload[plen++] = '_';
                } else {
                    payload[plen++] = '=';
                    payload[plen++] = hexdig[c >> 4];
                    payload[plen++] = hexdig[c & 15];
                }
            }
        }
        w_add(w, " ", 1);
        w->line_empty = false;
        w_adds(w, use_b ? "=?UTF-8?B?" : "=?UTF-8?Q?");
        w_add(w, payload, plen);
        w_add(w, "?=", 2);
        if (!use_b) qlen -= used;
        i = j;
    }
}

/* ---- words: plain where possible, encoded where needed ----------------- */

typedef enum { CTX_TEXT, CTX_PHRASE } word_ctx_t;

typedef struct word {
    size_t start, len, gap; /* gap: spaces before the word */
    bool enc;
} word_t;

static bool plain_word(const char *s, size_t n, word_ctx_t ctx)
{
    if (n > PLAIN_WORD_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 || (ctx == CTX_PHRASE && !is_atext(c))) return false;
        if (c == '=' && i + 1 < n && s[i + 1] == '?') return false; /* looks encoded */
    }
    return true;
}

/* Splits s[0..n) at spaces and marks the words that must be encoded (see the
 * file comment). Returns the number of words; *trailing gets the spaces
 * after the last one. The value is at most SJ_EMAIL_MAX_SUBJECT bytes, so
 * MAX_WORDS always suffices. */
static size_t split_words(const char *s, size_t n, word_ctx_t ctx, word_t *words,
                          size_t *trailing)
{
    size_t nw = 0, i = 0, gap = 0;
    while (i < n && nw < MAX_WORDS) {
        for (gap = 0; i < n && s[i] == ' '; i++) gap++;
        if (i == n) break;
        size_t start = i;
        while (i < n && s[i] != ' ') i++;
        words[nw] =
            (word_t){start, i - start, gap, !plain_word(s + start, i - start, ctx)};
        if (gap > 1 && nw > 0) words[nw - 1].enc = words[nw].enc = true;
        nw++;
        gap = 0;
    }
    if (i < n && nw > 0) words[nw - 1].enc = true; /* unreachable: see MAX_WORDS */
    *trailing = gap;
    if (nw > 0 && words[0].gap > 0) words[0].enc = true;
    if (nw > 0 && gap > 0) words[nw - 1].enc = true;
    return nw;
}

static void emit_words(writer_t *w, const char *s, size_t n, word_ctx_t ctx)
{
    word_t words[MAX_WORDS];
    size_t trailing = 0;
    size_t nw = split_words(s, n, ctx, words, &trailing);
    if (nw == 0) { /* only spaces */
        emit_encoded(w, s, n);
        return;
    }
    for (size_t k = 0; k < nw;) {
        if (!words[k].enc) {
            hdr_item(w, s + words[k].start, words[k].len);
            k++;
            continue;
        }
        size_t m = k;
        while (m + 1 < nw && words[m + 1].enc) m++;
        size_t from = k == 0 ? 0 : words[k].start;
        size_t to = m == nw - 1 ? n : words[m].start + words[m].len;
        emit_encoded(w, s + from, to - from);
        k = m + 1;
    }
}

/* True when a display name can be written as a bare phrase of atoms. */
static bool phrase_is_plain(const char *s, size_t n)
{
    if (s[0] == ' ' || s[n - 1] == ' ') return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ' ? s[i + 1] == ' ' : !is_atext((unsigned char)s[i])) return false;
    word_t words[MAX_WORDS];
    size_t trailing;
    size_t nw = split_words(s, n, CTX_PHRASE, words, &trailing);
    for (size_t k = 0; k < nw; k++)
        if (words[k].enc) return false;
    return true;
}

/* A display name: bare atoms when possible ("Stad Gent"), a quoted string for
 * short ASCII with specials ("Dupont, Jean"), encoded-words otherwise. */
static void emit_phrase(writer_t *w, const char *s, size_t n)
{
    if (phrase_is_plain(s, n)) {
        emit_words(w, s, n, CTX_PHRASE);
        return;
    }
    bool ascii = true, looks_encoded = false;
    size_t quoted = 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        ascii = ascii && c < 0x80;
        looks_encoded = looks_encoded || (c == '=' && i + 1 < n && s[i + 1] == '?');
        quoted += c == '"' || c == '\\' ? 2 : 1;
    }
    if (!ascii || looks_encoded || quoted > QUOTED_NAME_MAX ||
        w->col + 1 + quoted > HDR_LINE_MAX) {
        emit_words(w, s, n, CTX_PHRASE);
        return;
    }
    char q[QUOTED_NAME_MAX + 1];
    size_t k = 0;
    q[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') q[k++] = '\\';
        q[k++] = s[i];
    }
    q[k++] = '"';
    hdr_item(w, q, k);
}

static void emit_address(writer_t *w, const char *field, const sj_email_addr_t *a)
{
    hdr_begin(w, field);
    if (present(a->name)) {
        char angle[SJ_EMAIL_MAX_ADDRESS + 2];
        emit_phrase(w, a->name.ptr, a->name.len);
        angle[0] = '<';
        memcpy(angle + 1, a->address.ptr, a->address.len);
        angle[a->address.len + 1] = '>';
        hdr_item(w, angle, a->address.len + 2);
    } else {
        hdr_item(w, a->address.ptr, a->address.len);
    }
    hdr_end(w);
}

static void emit_date(writer_t *w, int64_t ms)
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t secs = ms / 1000; /* validate() guarantees ms >= 0 */
    int32_t days = (int32_t)(secs / 86400);
    unsigned sod = (unsigned)(secs % 86400);
    int y;
    unsigned m, d;
    sj_civil_from_days(days, &y, &m, &d);
    char buf[64];
    snprintf(buf, sizeof buf, "Date: %s, %u %s %04d %02u:%02u:%02u +0000\r\n",
             wd[(days + 4) % 7], d, mon[m - 1], y, sod / 3600, sod / 60 % 60, sod % 60);
    w_adds(w, buf);
}

static void emit_headers(writer_t *w, const sj_email_t *m)
{
    emit_date(w, m->date_ms);
    emit_address(w, "From:", &m->from);
    emit_address(w, "To:", &m->to);
    if (m->reply_to.address.ptr) emit_address(w, "Reply-To:", &m->reply_to);
    hdr_begin(w, "Subject:");
    emit_words(w, m->subject.ptr, m->subject.len, CTX_TEXT);
    hdr_end(w);
    w_adds(w, "Message-ID: <");
    w_add(w, m->notification_id.ptr, m->notification_id.len);
    w_add(w, "@", 1);
    w_add(w, m->domain.ptr, m->domain.len);
    w_adds(w, ">\r\nList-Unsubscribe: <");
    w_add(w, m->unsubscribe_url.ptr, m->unsubscribe_url.len);
    if (m->unsubscribe_mailto.ptr) {
        w_adds(w, ">,\r\n <");
        w_add(w, m->unsubscribe_mailto.ptr, m->unsubscribe_mailto.len);
    }
    w_adds(w, ">\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
              "Auto-Submitted: auto-generated\r\n"
              "MIME-Version: 1.0\r\n");
}

/* ---- bodies --------------------------------------------------------------- */

/* Quoted-printable of one line (no line break inside). Whole UTF-8 characters
 * stay on one physical line, which is kinder to naive clients. A '.' or
 * "From " at the start of a line is encoded too, so neither SMTP dot handling
 * nor mbox "From " quoting can touch the text. */
static void qp_line(writer_t *w, const char *s, size_t n)
{
    size_t col = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = sj_chan_utf8_seqlen(c);
        if (k > n - i) k = n - i;
        bool last = i + k == n;
        for (int pass = 0; pass < 2; pass++) {
            bool literal = k == 1 && (((c >= 33 && c <= 126 && c != '=')) ||
                                      ((c == ' ' || c == '\t') && !last));
            if (col == 0 &&
                (c == '.' || (c == 'F' && n - i >= 5 && memcmp(s + i, "From ", 5) == 0)))
                literal = false;
            size_t width = literal ? 1 : 3 * k;
            /* Room for a soft break's '=' unless this is the line's end. */
            if (pass == 0 && col + width > QP_LINE_MAX - 1 &&
                !(last && col + width <= QP_LINE_MAX)) {
                w_add(w, "=\r\n", 3);
                col = 0;
                continue; /* re-decide: column 0 has its own rules */
            }
            if (literal) {
                w_add(w, s + i, 1);
            } else {
                for (size_t x = 0; x < k; x++) {
                    unsigned char b = (unsigned char)s[i + x];
                    char esc[3] = {'=', hexdig[b >> 4], hexdig[b & 15]};
                    w_add(w, esc, 3);
                }
            }
            col += width;
            break;
        }
        i += k;
    }
}

/* Calls line(w, start, len) for every line of s, with CRLF between lines.
 * CRLF, LF and a lone CR all count as one line break. */
static void for_lines(writer_t *w, const char *s, size_t n,
                      void (*line)(writer_t *, const char *, size_t))
{
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < n && s[j] != '\r' && s[j] != '\n') j++;
        line(w, s + i, j - i);
        if (j == n) break;
        w_add(w, "\r\n", 2);
        i = j + (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n' ? 2 : 1);
    }
}

static void copy_line(writer_t *w, const char *s, size_t n)
{
    w_add(w, s, n);
}

/* Base64 of the text with canonical CRLF line breaks, 76 characters a line. */
static void b64_body(writer_t *w, const char *canon, size_t n)
{
    char out[B64_LINE];
    for (size_t i = 0; i < n; i += B64_LINE / 4 * 3) {
        size_t chunk = n - i < B64_LINE / 4 * 3 ? n - i : B64_LINE / 4 * 3;
        if (i > 0) w_add(w, "\r\n", 2);
        w_add(w, out, b64_encode((const unsigned char *)canon + i, chunk, out));
    }
}

typedef struct part {
    sj_buf_t enc;
    bool base64;
} part_t;

/* Encodes a body as quoted-printable, or base64 when that is shorter. */
static sj_status_t encode_body(sj_email_span_t body, size_t max, part_t *p)
{
    sj_buf_t canon;
    sj_buf_init(&canon, max);
    sj_buf_init(&p->enc, max);
    writer_t cw = {&canon, 0, true, SJ_OK};
    for_lines(&cw, body.ptr, body.len, copy_line);
    writer_t qw = {&p->enc, 0, true, SJ_OK};
    for_lines(&qw, body.ptr, body.len, qp_line);
    sj_status_t st = cw.st != SJ_OK ? cw.st : qw.st;
    size_t b64 = b64_len(canon.len);
    b64 += b64 > 0 ? 2 * ((b64 - 1) / B64_LINE) : 0;
    p->base64 = false;
    if (st == SJ_OK && p->enc.len > b64) {
        sj_buf_reset(&p->enc);
        writer_t bw = {&p->enc, 0, true, SJ_OK};
        b64_body(&bw, canon.data, canon.len);
        st = bw.st;
        p->base64 = true;
    }
    sj_buf_free(&canon);
    return st;
}

static bool contains(const sj_buf_t *b, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; b->len >= m && i <= b->len - m; i++)
        if (b->data[i] == needle[0] && memcmp(b->data + i, needle, m) == 0) return true;
    return false;
}

/* A boundary derived from the notification id, so the same input gives the
 * same bytes. "=_" can never occur in quoted-printable or base64 output, so
 * the first candidate always works; the check and retry keep that a
 * verified fact rather than an assumption. */
static sj_status_t pick_boundary(const sj_email_t *m, const part_t *parts, size_t nparts,
                                 char boundary[BOUNDARY_SIZE])
{
    for (unsigned attempt = 0; attempt < BOUNDARY_TRIES; attempt++) {
        char seed[SJ_EMAIL_MAX_ID + 16], hex[65];
        int n = snprintf(seed, sizeof seed, "%.*s/%u", (int)m->notification_id.len,
                         m->notification_id.ptr, attempt);
        sj_sha256_hex(seed, (size_t)n, hex, BOUNDARY_HEX);
        memcpy(boundary, "=_sj_", 5);
        memcpy(boundary + 5, hex, BOUNDARY_HEX);
        boundary[5 + BOUNDARY_HEX] = '\0';
        bool clash = false;
        for (size_t i = 0; i < nparts; i++)
            clash = clash || contains(&parts[i].enc, boundary);
        if (!clash) return SJ_OK;
    }
    return SJ_ERR;
}

static void emit_part_headers(writer_t *w, const char *type, const part_t *p)
{
    w_adds(w, "Content-Type: ");
    w_adds(w, type);
    w_adds(w, "; charset=utf-8\r\nContent-Transfer-Encoding: ");
    w_adds(w, p->base64 ? "base64\r\n\r\n" : "quoted-printable\r\n\r\n");
}

static void emit_body(writer_t *w, const sj_email_t *m, const part_t *parts,
                      const char *boundary)
{
    if (!m->html.ptr) {
        emit_part_headers(w, "text/plain", &parts[0]);
        w_add(w, parts[0].enc.data, parts[0].enc.len);
        const sj_buf_t *e = &parts[0].enc;
        if (e->len < 2 || memcmp(e->data + e->len - 2, "\r\n", 2) != 0)
            w_add(w, "\r\n", 2);
        return;
    }
    w_adds(w, "Content-Type: multipart/alternative;\r\n boundary=\"");
    w_adds(w, boundary);
    w_adds(w, "\"\r\n\r\n");
    static const char *const types[] = {"text/plain", "text/html"};
    for (size_t i = 0; i < 2; i++) {
        w_adds(w, "--");
        w_adds(w, boundary);
        w_adds(w, "\r\n");
        emit_part_headers(w, types[i], &parts[i]);
        w_add(w, parts[i].enc.data, parts[i].enc.len);
        w_adds(w, "\r\n");
    }
    w_adds(w, "--");
    w_adds(w, boundary);
    w_adds(w, "--\r\n");
}

sj_status_t sj_email_build(const sj_email_t *m, sj_buf_t *out, char *errstr,
                           size_t errstr_size)
{
    sj_status_t st = validate(m, errstr, errstr_size);
    if (st != SJ_OK) return st;

    part_t parts[2];
    size_t nparts = m->html.ptr ? 2 : 1;
    char boundary[BOUNDARY_SIZE] = "";
    sj_buf_t msg;
    sj_buf_init(&msg, out->max);
    sj_buf_init(&parts[0].enc, 0);
    sj_buf_init(&parts[1].enc, 0);
    st = encode_body(m->text, out->max, &parts[0]);
    if (st == SJ_OK && nparts == 2) st = encode_body(m->html, out->max, &parts[1]);
    if (st == SJ_OK && pick_boundary(m, parts, nparts, boundary) != SJ_OK) {
        sj_seterr(errstr, errstr_size,
                  "could not find a MIME boundary absent from the bodies");
        st = SJ_ERR;
    }
    if (st == SJ_OK) {
        writer_t w = {&msg, 0, true, SJ_OK};
        emit_headers(&w, m);
        emit_body(&w, m, parts, boundary);
        st = w.st;
    }
    if (st == SJ_OK) st = sj_buf_add(out, msg.data, msg.len);
    if (st == SJ_ERR_TOO_BIG)
        sj_seterr(errstr, errstr_size, "e-mail message exceeds the %zu-byte limit",
                  out->max);
    else if (st == SJ_ERR_NOMEM)
        sj_seterr(errstr, errstr_size, "out of memory building the e-mail message");
    sj_buf_free(&msg);
    sj_buf_free(&parts[0].enc);
    sj_buf_free(&parts[1].enc);
    return st;
}
