/* Fuzz target: the e-mail builder on arbitrary bytes. The input is split at
 * 0xFF bytes (which never occur in UTF-8, so every valid value can still be
 * expressed) into subject, To display name, plain text, HTML, From display
 * name and To address; missing pieces get fixed, valid defaults. The first
 * byte's low bits choose whether there is an HTML part, a mailto and a
 * Reply-To. Each piece is copied into an exact-size buffer so ASan sees any
 * read past its end.
 *
 * Invariants: never crash; an error always explains itself and leaves the
 * output buffer untouched; on success every line ends in CRLF (no bare CR or
 * LF anywhere), is at most 998 octets, header lines are 7-bit and at most 78
 * octets unless they carry one long address, and a second build gives the
 * same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "templates/email.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_SUBJECT, F_TO_NAME, F_TEXT, F_HTML, F_FROM_NAME, F_TO_ADDR, NFIELDS };

/* A header line may exceed 78 octets only to carry one long address, which
 * cannot be folded (addresses are up to 254 octets): after the field name or
 * the folding space, the line must be that one address and nothing else. */
static int long_address_line(const char *line, size_t n)
{
    size_t i = 0;
    if (line[0] != ' ')
        while (i < n && line[i] != ':') i++;
    i++; /* the ':' or the folding space */
    if (i < n && line[i] == ' ' && line[0] != ' ') i++;
    int at = 0;
    for (; i < n; i++) {
        if (line[i] == ' ') return 0;
        if (line[i] == '@') at = 1;
    }
    return at;
}

static void check_message(const char *m, size_t n)
{
    if (n < 2 || m[n - 2] != '\r' || m[n - 1] != '\n') abort();
    size_t start = 0;
    int headers = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)m[i];
        if (c == '\n') abort(); /* a LF not preceded by CR (CRLF skips it) */
        if (c == '\r') {
            if (i + 1 >= n || m[i + 1] != '\n') abort();
            size_t len = i - start;
            if (len > 998) abort();
            if (headers && len == 0) headers = 0;
            if (headers && len > 78 && !long_address_line(m + start, len)) abort();
            start = i + 2;
            i++;
            continue;
        }
        if (headers && (c >= 0x80 || c == 0)) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    uint8_t flags = data[0];
    char *piece[NFIELDS] = {0};
    size_t plen[NFIELDS] = {0};
    int have[NFIELDS] = {0};
    size_t pos = 1;
    for (int f = 0; f < NFIELDS && pos <= size; f++) {
        size_t end = pos;
        while (end < size && data[end] != 0xFF) end++;
        plen[f] = end - pos;
        piece[f] = malloc(plen[f] ? plen[f] : 1);
        if (!piece[f]) goto out;
        if (plen[f]) memcpy(piece[f], data + pos, plen[f]);
        have[f] = 1;
        pos = end + 1;
    }

    sj_email_t m = {
        .from = {sj_email_cstr("Stad Gent"), sj_email_cstr("noreply@stad.gent")},
        .to = {sj_email_cstr(NULL), sj_email_cstr("resident@example.be")},
        .subject = sj_email_cstr("Onderwerp"),
        .text = sj_email_cstr("Tekst"),
        .notification_id = sj_email_cstr("fuzz-0001"),
        .domain = sj_email_cstr("stad.gent"),
        .date_ms = 1795858200000LL,
        .unsubscribe_url = sj_email_cstr("https://stad.gent/u?t=fuzz"),
    };
#define PIECE(f) ((sj_email_span_t){piece[f], plen[f]})
    if (have[F_SUBJECT]) m.subject = PIECE(F_SUBJECT);
    if (have[F_TO_NAME]) m.to.name = PIECE(F_TO_NAME);
    if (have[F_TEXT]) m.text = PIECE(F_TEXT);
    if (flags & 1) m.html = have[F_HTML] ? PIECE(F_HTML) : sj_email_cstr("<p>HTML</p>");
    if (have[F_FROM_NAME]) m.from.name = PIECE(F_FROM_NAME);
    if (have[F_TO_ADDR]) m.to.address = PIECE(F_TO_ADDR);
#undef PIECE
    if (flags & 2) m.unsubscribe_mailto = sj_email_cstr("mailto:unsub@stad.gent");
    if (flags & 4) m.reply_to = m.to;

    sj_buf_t out, again;
    sj_buf_init(&out, 1 << 22);
    sj_buf_init(&again, 1 << 22);
    char err[256] = "";
    sj_status_t st = sj_email_build(&m, &out, err, sizeof err);
    if (st == SJ_OK) {
        check_message(out.data, out.len);
        if (sj_email_build(&m, &again, NULL, 0) != SJ_OK || again.len != out.len ||
            memcmp(again.data, out.data, out.len) != 0)
            abort();
    } else {
        if (err[0] == '\0' || out.len != 0) abort();
        if (st != SJ_ERR_INPUT && st != SJ_ERR_TOO_BIG && st != SJ_ERR_NOMEM) abort();
    }
    sj_buf_free(&out);
    sj_buf_free(&again);
out:
    for (int f = 0; f < NFIELDS; f++) free(piece[f]);
    return 0;
}
