/* Fuzz target: the parsers deliver applies to what providers and peers send
 * back, and to addresses it puts into SMTP commands. The first byte picks
 * the parser, the rest is its input (copied into an exact-size buffer, so
 * a read past it is caught):
 *   0 Retry-After        a delay within [0, SJ_RETRY_AFTER_MAX_MS] or an error
 *   1 OAuth2 token       a non-empty printable token and a positive lifetime,
 *                        or an error that explains itself
 *   2 provider answers   ids and error texts are printable ASCII, bounded
 *   3 envelope address   accepted only without CR, LF, NUL, spaces, controls,
 *                        angle brackets, non-ASCII, with exactly one '@',
 *                        at most 254 bytes
 *   4 form encoding      only unreserved bytes, '+', '%XX', '=' and '&' come
 *                        out, and the sender-id check does not crash
 *   5 dead-letter record validation and matching do not crash */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "consumers/deadletter.h"
#include "consumers/http_gateway.h"
#include "consumers/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void printable_bounded(const char *s, size_t size)
{
    size_t n = strlen(s);
    if (n >= size) abort();
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e) abort();
}

static void retry_after(const char *s, size_t n)
{
    int64_t d = -1;
    if (sj_retry_after_parse(s, n, 1700000000000LL, &d) == SJ_OK &&
        (d < 0 || d > SJ_RETRY_AFTER_MAX_MS))
        abort();
}

static void oauth(const char *s, size_t n)
{
    char tok[256], why[200];
    int64_t ttl = 0;
    if (sj_oauth_token_parse(s, n, tok, sizeof tok, &ttl, why, sizeof why) == SJ_OK) {
        if (!tok[0] || ttl < 1000) abort();
        for (const char *p = tok; *p; p++)
            if (*p < 0x21 || *p > 0x7e) abort();
    } else if (!why[0]) {
        abort();
    }
}

static void answers(const char *s, size_t n)
{
    char out[64];
    sj_gateway_member(s, n, "id", out, sizeof out);
    printable_bounded(out, sizeof out);
    sj_gateway_member(s, n, "sid", out, sizeof out);
    printable_bounded(out, sizeof out);
    sj_gateway_error_text(s, n, out, sizeof out);
    printable_bounded(out, sizeof out);
}

static void address(const char *s, size_t n)
{
    char why[160];
    if (sj_smtp_check_address(s, n, why, sizeof why) != SJ_OK) {
        if (!why[0]) abort();
        return;
    }
    size_t ats = 0;
    if (n == 0 || n > SJ_SMTP_MAX_ADDRESS) abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>') abort();
        ats += c == '@';
    }
    if (ats != 1) abort();
}

static void form(const char *s, size_t n)
{
    (void)n;
    sj_buf_t b;
    sj_buf_init(&b, 1 << 16);
    if (sj_form_add(&b, "k", s) == SJ_OK)
        for (size_t i = 0; i < b.len; i++) {
            char c = b.data[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || strchr("-._~+%=&", c)))
                abort();
        }
    sj_buf_free(&b);
    sj_sms_sender_check(s);
}

static void dead_letter(const char *s, size_t n)
{
    json_t *r = json_loadb(s, n, 0, NULL);
    char problem[128];
    if (r && sj_dl_record_valid(r, problem, sizeof problem)) {
        sj_dl_filter_t f = {
            .campaign = "c", .intent_prefix = "ab", .final_only = true, .since_ms = 1};
        sj_dl_match(r, &f);
    }
    json_decref(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t n = size - 1;
    char *s = malloc(n + 1);
    if (!s) return 0;
    memcpy(s, data + 1, n);
    s[n] = '\0'; /* the parsers get n; the NUL is for the C-string ones */
    switch (data[0] % 6) {
    case 0:
        retry_after(s, n);
        break;
    case 1:
        oauth(s, n);
        break;
    case 2:
        answers(s, n);
        break;
    case 3:
        address(s, n);
        break;
    case 4:
        form(s, n);
        break;
    default:
        dead_letter(s, n);
    }
    free(s);
    return 0;
}
