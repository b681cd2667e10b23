/* The behavioural nudging rules (nudge.h): consent and channel choice, the
 * frequency cap, the send window in Europe/Brussels wall-clock time, and the
 * experiment bucket and assignment. Pure functions: the engine gathers the
 * facts, these decide. Local time comes from the Europe/Brussels helpers of
 * intent.h so that the whole stage has one reading of the DST rules. */
#include "nudge.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"
#include "segments/intent.h"

#define MIN_MS  60000LL
#define HOUR_MS 3600000LL
#define DAY_MS  86400000LL
#define WEEK_MS (7 * DAY_MS)

#define WINDOW_TEXT_MAX 128   /* longest nudge.send-window accepted */
#define ALL_DAYS        0x7fu /* bit 0 Monday ... bit 6 Sunday */
/* sj_nudge_window_next() works between 1900 and 9999; outside, it gives the
 * time back unchanged rather than compute calendars it cannot represent. */
#define WINDOW_MIN_MS (-2208988800000LL)
#define WINDOW_MAX_MS (253402300800000LL - 16 * DAY_MS)

static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

const char *sj_nudge_reason_name(sj_nudge_reason_t r)
{
    static const char *const names[] = {"ok",           "no-consent",    "opted-out",
                                        "no-channel",   "frequency-cap", "send-window",
                                        "duplicate",    "holdout",       "audience",
                                        "goal-reached", "expired",       "inactive"};
    _Static_assert(SJ_ARRAY_LEN(names) == SJ_NUDGE_REASONS, "one name per reason");
    return (size_t)r < SJ_ARRAY_LEN(names) ? names[r] : "?";
}

/* ---- Europe/Brussels wall clock --------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Summer time (UTC+2) at utc_ms? Reading the instant as summer time and
 * converting back with sj_brussels_to_utc() gives the instant again exactly
 * when summer time holds there (it tries summer time first and checks it at
 * that very instant); in winter it lands an hour later. Changes happen on
 * whole hours, so the minute the instant falls in decides. */
static bool is_summer(int64_t utc_ms)
{
    int64_t m = floor_div(utc_ms, MIN_MS) * MIN_MS;
    int64_t local = m + 2 * HOUR_MS;
    int64_t day = floor_div(local, DAY_MS);
    int32_t minutes = (int32_t)((local - day * DAY_MS) / MIN_MS);
    return sj_brussels_to_utc((int32_t)day, minutes) == m;
}

static int64_t offset_ms(int64_t utc_ms)
{
    return is_summer(utc_ms) ? 2 * HOUR_MS : HOUR_MS;
}

/* The next change of offset after utc_ms and at most a week later, or
 * utc_ms + WEEK_MS when there is none (changes are months apart). */
static int64_t offset_change_after(int64_t utc_ms)
{
    bool now = is_summer(utc_ms);
    int64_t lo = floor_div(utc_ms, MIN_MS), hi = lo + WEEK_MS / MIN_MS;
    if (is_summer(hi * MIN_MS) == now) return utc_ms + WEEK_MS;
    while (hi - lo > 1) { /* minute lo has the old offset, minute hi the new */
        int64_t mid = lo + (hi - lo) / 2;
        if (is_summer(mid * MIN_MS) == now)
            lo = mid;
        else
            hi = mid;
    }
    return hi * MIN_MS;
}

/* ---- send window ------------------------------------------------------------ */

static bool window_valid(const sj_send_window_t *w)
{
    return w && w->set && (w->days & ALL_DAYS) && w->from_minutes >= 0 &&
           w->from_minutes < w->to_minutes && w->to_minutes <= 24 * 60;
}

/* Monday 0 ... Sunday 6 of a date (days since 1970-01-01, a Thursday). */
static unsigned weekday(int64_t days)
{
    return (unsigned)(((days % 7) + 7 + 3) % 7);
}

/* The earliest local wall-clock time >= local (ms on the local time line, as
 * if UTC) inside w, ignoring offset changes. Always within 8 days. */
static int64_t local_next(const sj_send_window_t *w, int64_t local)
{
    int64_t day = floor_div(local, DAY_MS);
    for (int k = 0; k < 8; k++, day++) {
        if (!(w->days & (1u << weekday(day)))) continue;
        int64_t open = day * DAY_MS + w->from_minutes * MIN_MS;
        int64_t close = day * DAY_MS + w->to_minutes * MIN_MS;
        if (local < close) return local > open ? local : open;
    }
    return local + 8 * DAY_MS; /* not reached for a valid window */
}

/* Walks the stretches of constant UTC offset: inside each the wall clock is
 * the UTC time plus the offset, so the answer is the first local match mapped
 * back, provided it falls before the stretch ends. A wall-clock time skipped
 * in spring is never inside, so an opening in the gap becomes the first
 * minute after it; the hour repeated in autumn is inside both times. */
int64_t sj_nudge_window_next(const sj_send_window_t *w, int64_t utc_ms)
{
    if (!window_valid(w) || utc_ms < WINDOW_MIN_MS || utc_ms > WINDOW_MAX_MS)
        return utc_ms;
    int64_t t = utc_ms, found = utc_ms;
    for (int stretch = 0; stretch < 4; stretch++) {
        int64_t off = offset_ms(t);
        int64_t end = offset_change_after(t);
        found = local_next(w, t + off) - off;
        if (found < end) return found;
        t = end;
    }
    return found; /* not reached: at most one offset change a week */
}

static void trunc_copy(char *dst, size_t dst_size, const char *s, size_t n)
{
    if (n >= dst_size) n = dst_size - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* s[0..n) equals the lower-case word, in any case? */
static bool word_eq(const char *s, size_t n, const char *word)
{
    size_t i = 0;
    while (i < n && word[i] && tolower((unsigned char)s[i]) == word[i]) i++;
    return i == n && !word[i];
}

/* The index of a day name (any case) in s[0..n); -1 when unknown. */
static int day_index(const char *s, size_t n)
{
    for (int i = 0; i < 7; i++)
        if (word_eq(s, n, day_names[i])) return i;
    return -1;
}

/* "daily", or a comma-separated list of days and ranges ("mon-fri", "fri-mon"
 * wraps over the weekend), into a day mask. */
static sj_status_t parse_days(const char *s, size_t n, uint8_t *days, char *errstr,
                              size_t errstr_size)
{
    char item[16];
    if (word_eq(s, n, "daily")) {
        *days = ALL_DAYS;
        return SJ_OK;
    }
    *days = 0;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && s[j] != ',') j++;
        if (j == i) {
            sj_seterr(errstr, errstr_size,
                      "empty day in \"%.*s\": separate days by single commas, e.g. "
                      "\"mon,wed,fri\"",
                      (int)(n < 40 ? n : 40), s);
            return SJ_ERR_INPUT;
        }
        const char *dash = memchr(s + i, '-', j - i);
        int a = day_index(s + i, dash ? (size_t)(dash - (s + i)) : j - i);
        int b = dash ? day_index(dash + 1, (size_t)(s + j - dash - 1)) : a;
        if (a < 0 || b < 0) {
            trunc_copy(item, sizeof item, s + i, j - i);
            sj_seterr(errstr, errstr_size,
                      "unknown day \"%s\": use mon, tue, wed, thu, fri, sat, sun, a "
                      "range such as mon-fri, or daily",
                      item);
            return SJ_ERR_INPUT;
        }
        for (int d = a;; d = (d + 1) % 7) {
            *days |= (uint8_t)(1u << d);
            if (d == b) break;
        }
        i = j + 1;
    }
    return SJ_OK;
}

/* "H:MM" or "HH:MM" with hours 0-24 (24 only as 24:00), into minutes. */
static sj_status_t parse_time(const char *s, size_t n, int32_t *minutes, char *errstr,
                              size_t errstr_size)
{
    char text[16];
    trunc_copy(text, sizeof text, s, n);
    bool digits = (n == 4 || n == 5) && s[n - 3] == ':';
    for (size_t i = 0; digits && i < n; i++)
        if (i != n - 3 && !isdigit((unsigned char)s[i])) digits = false;
    if (!digits) {
        sj_seterr(errstr, errstr_size, "bad time \"%s\": expected HH:MM, e.g. 09:00",
                  text);
        return SJ_ERR_INPUT;
    }
    int h = n == 5 ? (s[0] - '0') * 10 + (s[1] - '0') : s[0] - '0';
    int m = (s[n - 2] - '0') * 10 + (s[n - 1] - '0');
    if (h > 24 || m > 59 || (h == 24 && m != 0)) {
        sj_seterr(errstr, errstr_size,
                  "time \"%s\" out of range: hours 00-23 (or 24:00 to close at "
                  "midnight), minutes 00-59",
                  text);
        return SJ_ERR_INPUT;
    }
    *minutes = h * 60 + m;
    return SJ_OK;
}

static sj_status_t parse_hours(const char *s, size_t n, sj_send_window_t *w, char *errstr,
                               size_t errstr_size)
{
    const char *dash = memchr(s, '-', n);
    if (!dash) {
        sj_seterr(errstr, errstr_size,
                  "bad hours \"%.*s\": expected opening-closing, e.g. 09:00-18:00",
                  (int)(n < 40 ? n : 40), s);
        return SJ_ERR_INPUT;
    }
    sj_status_t st =
        parse_time(s, (size_t)(dash - s), &w->from_minutes, errstr, errstr_size);
    if (st == SJ_OK)
        st = parse_time(dash + 1, (size_t)(s + n - dash - 1), &w->to_minutes, errstr,
                        errstr_size);
    if (st == SJ_OK && w->from_minutes >= w->to_minutes) {
        sj_seterr(errstr, errstr_size,
                  "hours \"%.*s\" close before they open: the opening must come "
                  "before the closing on the same day (a window cannot span midnight)",
                  (int)n, s);
        st = SJ_ERR_INPUT;
    }
    return st;
}

sj_status_t sj_nudge_window_parse(const char *s, sj_send_window_t *w, char *errstr,
                                  size_t errstr_size)
{
    memset(w, 0, sizeof *w);
    size_t len = s ? strnlen(s, WINDOW_TEXT_MAX + 1) : 0;
    if (len > WINDOW_TEXT_MAX) {
        sj_seterr(errstr, errstr_size,
                  "send window is longer than %d characters: \"%.40s...\"",
                  WINDOW_TEXT_MAX, s);
        return SJ_ERR_INPUT;
    }
    /* Tokens: days, then hours, separated (and surrounded) by blanks. */
    const char *tok[3];
    size_t tok_len[3], n_tok = 0;
    for (size_t i = 0; i < len;) {
        if (isspace((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && !isspace((unsigned char)s[j])) j++;
        if (n_tok < 3) {
            tok[n_tok] = s + i;
            tok_len[n_tok] = j - i;
        }
        n_tok++;
        i = j;
    }
    if (n_tok == 0) {
        sj_seterr(
            errstr, errstr_size,
            "empty send window: expected days and hours, e.g. \"mon-fri 09:00-18:00\"");
        return SJ_ERR_INPUT;
    }
    if (n_tok == 1) {
        sj_seterr(errstr, errstr_size,
                  "missing hours after \"%.*s\": expected days and hours, e.g. "
                  "\"mon-fri 09:00-18:00\"",
                  (int)(tok_len[0] < 40 ? tok_len[0] : 40), tok[0]);
        return SJ_ERR_INPUT;
    }
    if (n_tok > 2) {
        sj_seterr(errstr, errstr_size,
                  "unexpected \"%.*s\" after the hours: expected days and hours only, "
                  "e.g. \"mon-fri 09:00-18:00\"",
                  (int)(tok_len[2] < 40 ? tok_len[2] : 40), tok[2]);
        return SJ_ERR_INPUT;
    }
    sj_send_window_t v = {.set = true};
    sj_status_t st = parse_days(tok[0], tok_len[0], &v.days, errstr, errstr_size);
    if (st == SJ_OK) st = parse_hours(tok[1], tok_len[1], &v, errstr, errstr_size);
    if (st == SJ_OK) *w = v;
    return st;
}

void sj_nudge_window_format(const sj_send_window_t *w, char *out, size_t out_size)
{
    char days[40] = "";
    size_t n = 0;
    if (out_size == 0) return;
    if (!w || !w->set) {
        out[0] = '\0';
        return;
    }
    if ((w->days & ALL_DAYS) == ALL_DAYS) {
        memcpy(days, "daily", 6);
    } else {
        /* Runs of three days or more as ranges, the rest listed. */
        for (int d = 0; d < 7;) {
            if (!(w->days & (1u << d))) {
                d++;
                continue;
            }
            int e = d;
            while (e + 1 < 7 && (w->days & (1u << (e + 1)))) e++;
            if (e - d >= 2) {
                n += (size_t)snprintf(days + n, sizeof days - n, "%s%s-%s", n ? "," : "",
                                      day_names[d], day_names[e]);
            } else {
                for (int k = d; k <= e; k++)
                    n += (size_t)snprintf(days + n, sizeof days - n, "%s%s", n ? "," : "",
                                          day_names[k]);
            }
            d = e + 1;
        }
    }
    int32_t f = w->from_minutes, t = w->to_minutes;
    snprintf(out, out_size, "%s %02d:%02d-%02d:%02d", days, (int)(f / 60), (int)(f % 60),
             (int)(t / 60), (int)(t % 60));
}

/* ---- consent and channels --------------------------------------------------- */

sj_nudge_reason_t sj_nudge_channels(const int *channels, size_t n_channels,
                                    const sj_nudge_contact_t *c, bool require_consent,
                                    int *out, size_t *n_out)
{
    bool reachable = false, topic_refused = false, seen[SJ_NUDGE_CHANNELS] = {0};
    *n_out = 0;
    for (size_t i = 0; i < n_channels; i++) {
        int ch = channels[i];
        if (ch < 0 || ch >= SJ_NUDGE_CHANNELS || seen[ch] || !c->reachable[ch]) continue;
        seen[ch] = true;
        reachable = true;
        int consent = c->consent[ch], topic = c->topic_consent[ch];
        /* A "yes" for this very topic is consent enough when the channel as
         * a whole was never stated; a channel refusal always wins. */
        bool channel_ok =
            consent == 1 || (consent != 0 && (topic == 1 || !require_consent));
        if (!channel_ok) continue;
        if (topic == 0) {
            topic_refused = true;
            continue;
        }
        out[(*n_out)++] = ch;
    }
    if (*n_out > 0) return SJ_NUDGE_OK;
    if (!reachable) return SJ_NUDGE_NO_CHANNEL;
    return topic_refused ? SJ_NUDGE_OPTED_OUT : SJ_NUDGE_NO_CONSENT;
}

/* ---- frequency cap ---------------------------------------------------------- */

/* How many sends are >= v among those after `after`. */
static size_t count_from(const int64_t *sent_ms, size_t n_sent, int64_t after, int64_t v)
{
    size_t k = 0;
    for (size_t i = 0; i < n_sent; i++) k += sent_ms[i] > after && sent_ms[i] >= v;
    return k;
}

bool sj_nudge_cap(const int64_t *sent_ms, size_t n_sent, int64_t now_ms,
                  unsigned cap_count, unsigned cap_days, int64_t *next_ms)
{
    if (next_ms) *next_ms = now_ms;
    if (cap_count == 0 || cap_days == 0) return true;
    int64_t period = (int64_t)cap_days * DAY_MS;
    int64_t after = now_ms < INT64_MIN + period ? INT64_MIN : now_ms - period;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    size_t counted = 0;
    for (size_t i = 0; i < n_sent; i++) {
        if (sent_ms[i] <= after) continue;
        counted++;
        if (sent_ms[i] < lo) lo = sent_ms[i];
        if (sent_ms[i] > hi) hi = sent_ms[i];
    }
    if (counted < cap_count) return true;
    /* The cap_count-th most recent send: the largest v with at least
     * cap_count sends >= v (bisection, no copy of the input to sort). */
    while (lo < hi) {
        int64_t mid = (int64_t)((uint64_t)lo + ((uint64_t)hi - (uint64_t)lo + 1) / 2);
        if (count_from(sent_ms, n_sent, after, mid) >= cap_count)
            lo = mid;
        else
            hi = mid - 1;
    }
    if (next_ms) *next_ms = lo > INT64_MAX - period ? INT64_MAX : lo + period;
    return false;
}

/* ---- experiments ------------------------------------------------------------ */

unsigned sj_nudge_bucket(const char *experiment, const char *pseudonym)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!experiment) experiment = "";
    if (!pseudonym) pseudonym = "";
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, experiment, strlen(experiment)) == 1 &&
              EVP_DigestUpdate(ctx, "|", 1) == 1 &&
              EVP_DigestUpdate(ctx, pseudonym, strlen(pseudonym)) == 1 &&
              EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len >= 8;
    EVP_MD_CTX_free(ctx);
    if (!ok) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | md[i];
    return (unsigned)(v % 10000);
}

size_t sj_nudge_assign(unsigned bucket, const unsigned *weights, size_t n)
{
    uint64_t upto = 0;
    for (size_t i = 0; i < n; i++) {
        upto += (uint64_t)weights[i] * 100;
        if (bucket < upto) return i;
    }
    return n ? n - 1 : 0;
}
