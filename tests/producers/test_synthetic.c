/* Unit tests of the synthetic population generator: determinism, the
 * CloudEvents shape of every line, register numbers checked by an independent
 * implementation of the check-digit rule, time order, the Flemish
 * distributions within tolerance, consistency of event fields and of each
 * resident's timeline, fictional contact data, and that every event passes the
 * producer's own check. One population of 20 000 residents is generated once
 * for the whole group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/lines.h"
#include "core/timeutil.h"
#include "producers/lifeevent.h"
#include "producers/synthetic.h"

#define N    20000u
#define SEED 42u

/* ---- the shared population ---------------------------------------------- */

typedef struct {
    char *text; /* all lines, each ending in '\n' */
    size_t len;
    uint64_t count;
} population_t;

static population_t pop;

/* Generates all lines of one population into p; returns the generator's count. */
static uint64_t generate(const sj_synth_opts_t *o, population_t *p)
{
    char err[256] = "";
    sj_synth_t *s = sj_synth_new(o, err, sizeof err);
    if (!s) fail_msg("sj_synth_new: %s", err);
    uint64_t expected = sj_synth_count(s);
    sj_buf_t all, line;
    sj_buf_init(&all, (size_t)1 << 31);
    sj_buf_init(&line, 1 << 16);
    int rc;
    p->count = 0;
    while ((rc = sj_synth_next(s, &line)) == SJ_OK) {
        assert_null(memchr(line.data, '\n', line.len));
        assert_int_equal(sj_buf_add(&all, line.data, line.len), SJ_OK);
        assert_int_equal(sj_buf_addc(&all, '\n'), SJ_OK);
        sj_buf_reset(&line);
        p->count++;
    }
    assert_int_equal(rc, SJ_EOF);
    assert_int_equal(sj_synth_next(s, &line), SJ_EOF); /* stays at the end */
    sj_buf_free(&line);
    sj_synth_destroy(s);
    p->text = sj_buf_detach(&all, &p->len);
    return expected;
}

static int setup(void **state)
{
    (void)state;
    sj_synth_opts_t o = {.residents = N, .seed = SEED};
    uint64_t expected = generate(&o, &pop);
    return expected == pop.count ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(pop.text);
    return 0;
}

/* Iterates the lines of p: returns the next line (not NUL-terminated) or NULL. */
static const char *next_line(const population_t *p, size_t *pos, size_t *len)
{
    if (*pos >= p->len) return NULL;
    const char *l = p->text + *pos, *nl = memchr(l, '\n', p->len - *pos);
    *len = (size_t)(nl - l);
    *pos += *len + 1;
    return l;
}

static json_t *parse(const char *l, size_t len)
{
    json_error_t e;
    json_t *j = json_loadb(l, len, JSON_REJECT_DUPLICATES, &e);
    if (!j) fail_msg("not JSON (%s): %.*s", e.text, (int)len, l);
    return j;
}

static const char *str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *short_type(const json_t *ev)
{
    const char *t = str(ev, "type");
    const char *dot = strrchr(t, '.');
    return dot + 1;
}

static int32_t date_of(const char *s)
{
    int32_t d;
    if (sj_date_parse(s, 10, &d) != SJ_OK) fail_msg("bad date %s", s);
    return d;
}

/* ---- register numbers, checked independently of the generator ----------- */

/* True when nrn is 11 digits whose check digits verify by exactly one of the
 * two rules, whose serial is 001..997, and whose YYMMDD with the century the
 * rule implies is birth_date. */
static bool nrn_matches(const char *nrn, const char *birth_date)
{
    if (strlen(nrn) != 11) return false;
    uint64_t first9 = 0, check = 0;
    for (int i = 0; i < 11; i++) {
        if (nrn[i] < '0' || nrn[i] > '9') return false;
        if (i < 9)
            first9 = first9 * 10 + (uint64_t)(nrn[i] - '0');
        else
            check = check * 10 + (uint64_t)(nrn[i] - '0');
    }
    bool before2000 = 97 - first9 % 97 == check;
    bool from2000 = 97 - (2000000000u + first9) % 97 == check;
    if (before2000 == from2000) return false;
    unsigned serial = (unsigned)(first9 % 1000);
    if (serial < 1 || serial > 997) return false;
    char expect[16];
    snprintf(expect, sizeof expect, "%d%.2s-%.2s-%.2s", from2000 ? 20 : 19, nrn, nrn + 2,
             nrn + 4);
    return strcmp(expect, birth_date) == 0;
}

static void check_digits_self_test(void **state)
{
    (void)state;
    /* Worked examples: 85073003328 (1985: 97 - 850730033 mod 97 = 28);
     * 010101001: 97 - 2010101001 mod 97 = 26 for 2001, 97 - 10101001 mod 97 = 94 for
     * 1901. */
    assert_true(nrn_matches("85073003328", "1985-07-30"));
    assert_false(nrn_matches("85073003329", "1985-07-30"));
    assert_false(nrn_matches("85073003328", "2085-07-30"));
    assert_true(nrn_matches("01010100126", "2001-01-01"));
    assert_false(nrn_matches("01010100126", "1901-01-01"));
    assert_true(nrn_matches("01010100194", "1901-01-01"));
    assert_false(nrn_matches("0101010012", "2001-01-01"));
}

/* ---- tests -------------------------------------------------------------- */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static void same_options_give_identical_bytes(void **state)
{
    (void)state;
    sj_synth_opts_t o = {.residents = N, .seed = SEED};
    population_t again;
    generate(&o, &again);
    assert_int_equal(again.len, pop.len);
    assert_memory_equal(again.text, pop.text, pop.len);
    free(again.text);

    /* Another seed, year or town gives another population. */
    sj_synth_opts_t other[] = {{.residents = N, .seed = SEED + 1},
                               {.residents = N, .seed = SEED, .year = 2027},
                               {.residents = N, .seed = SEED, .nis = "44021"}};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        population_t p;
        generate(&other[i], &p);
        assert_true(p.len != pop.len || fnv1a(p.text, p.len) != fnv1a(pop.text, pop.len));
        free(p.text);
    }
}

/* The exact bytes are part of the contract: the same options must give the
 * same population on every machine and compiler. When the generator changes
 * on purpose, update these values and say so in the commit message. */
static void output_is_pinned(void **state)
{
    (void)state;
    sj_synth_opts_t o = {.residents = 1000, .seed = 1};
    population_t p;
    generate(&o, &p);
    size_t pos = 0, len;
    const char *first = next_line(&p, &pos, &len);
    static const char expect[] =
        "{\"specversion\":\"1.0\",\"id\":\"synth-1-1\",\"source\":\"urn:nis:44084:"
        "population\",\"type\":\"be.seintje.life.registered\",\"time\":\"2026-01-01T00:"
        "00:00Z\",\"subject\":\"03020370389\",\"datacontenttype\":\"application/json\","
        "\"data\":{\"given_name\":\"Seppe\",\"birth_date\":\"2003-02-03\",\"nis\":"
        "\"44084\",\"postcode\":\"9880\",\"language\":\"nl\",\"household\":\"hh-1-0\","
        "\"phone\":\"+32404909768\",\"app_inbox\":\"bp-44f2-d619-751b-84f2\","
        "\"consents\":{\"email\":false,\"sms\":true,\"app\":true}}}";
    assert_int_equal(len, sizeof expect - 1);
    assert_memory_equal(first, expect, len);
    assert_int_equal(p.count, 1441);
    assert_int_equal(p.len, 634312);
    assert_true(fnv1a(p.text, p.len) == 0xb841d8a3762829f7ull);
    free(p.text);
}

static void every_line_is_an_input_cloudevent(void **state)
{
    (void)state;
    static const char *const attrs[] = {"given_name", "birth_date", "nis",
                                        "postcode",   "language",   "household"};
    size_t pos = 0, len;
    const char *l;
    uint64_t n = 0;
    while ((l = next_line(&pop, &pos, &len))) {
        n++;
        json_t *ev = parse(l, len);
        assert_true(json_is_object(ev));
        assert_string_equal(str(ev, "specversion"), "1.0");
        char id[64];
        snprintf(id, sizeof id, "synth-%u-%llu", SEED, (unsigned long long)n);
        assert_string_equal(str(ev, "id"), id);
        assert_string_equal(str(ev, "source"), "urn:nis:44084:population");
        assert_non_null(str(ev, "type"));
        assert_true(sj_lifeevent_type_known(str(ev, "type")));
        assert_non_null(str(ev, "time"));
        assert_non_null(str(ev, "subject"));
        assert_string_equal(str(ev, "datacontenttype"), "application/json");
        const json_t *data = json_object_get(ev, "data");
        assert_true(json_is_object(data));
        for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
            if (!str(data, attrs[i]))
                fail_msg("data.%s missing: %.*s", attrs[i], (int)len, l);
        assert_string_equal(str(data, "nis"), "44084");
        const char *pc = str(data, "postcode");
        assert_true(!strcmp(pc, "9880") || !strcmp(pc, "9881") || !strcmp(pc, "9910"));
        const char *lang = str(data, "language");
        assert_true(!strcmp(lang, "nl") || !strcmp(lang, "fr") || !strcmp(lang, "en") ||
                    !strcmp(lang, "de"));
        const json_t *c = json_object_get(data, "consents");
        assert_int_equal(json_object_size(c), 3);
        assert_true(json_is_boolean(json_object_get(c, "email")));
        assert_true(json_is_boolean(json_object_get(c, "sms")));
        assert_true(json_is_boolean(json_object_get(c, "app")));
        /* A consent is only given for a channel the resident has. */
        if (json_is_true(json_object_get(c, "email")))
            assert_non_null(str(data, "email"));
        if (json_is_true(json_object_get(c, "sms"))) assert_non_null(str(data, "phone"));
        if (json_is_true(json_object_get(c, "app")))
            assert_non_null(str(data, "app_inbox"));
        json_decref(ev);
    }
    assert_int_equal(n, pop.count);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void subjects_are_valid_unique_register_numbers(void **state)
{
    (void)state;
    uint64_t *entered = malloc(pop.count * sizeof *entered);
    size_t nentered = 0, pos = 0, len;
    const char *l;
    while ((l = next_line(&pop, &pos, &len))) {
        json_t *ev = parse(l, len);
        const char *nrn = str(ev, "subject");
        const char *birth = str(json_object_get(ev, "data"), "birth_date");
        if (!nrn_matches(nrn, birth))
            fail_msg("bad register number %s for %s", nrn, birth);
        const char *t = short_type(ev);
        if (!strcmp(t, "registered") || !strcmp(t, "moved-in"))
            entered[nentered++] = strtoull(nrn, NULL, 10);
        json_decref(ev);
    }
    /* Every resident enters the population once, with their own number. */
    qsort(entered, nentered, sizeof *entered, cmp_u64);
    for (size_t i = 1; i < nentered; i++)
        if (entered[i] == entered[i - 1])
            fail_msg("register number %011llu used twice",
                     (unsigned long long)entered[i]);
    assert_true(nentered > N);
    free(entered);
}

static void times_are_rfc3339_in_order_within_the_year(void **state)
{
    (void)state;
    int64_t lo, hi, prev = 0;
    assert_int_equal(sj_time_parse_rfc3339("2026-01-01T00:00:00Z", 20, &lo), SJ_OK);
    assert_int_equal(sj_time_parse_rfc3339("2027-01-01T00:00:00Z", 20, &hi), SJ_OK);
    size_t pos = 0, len;
    const char *l;
    while ((l = next_line(&pop, &pos, &len))) {
        json_t *ev = parse(l, len);
        const char *t = str(ev, "time");
        assert_int_equal(strlen(t), 20);
        assert_true(t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' &&
                    t[16] == ':' && t[19] == 'Z');
        int64_t ms;
        assert_int_equal(sj_time_parse_rfc3339(t, 20, &ms), SJ_OK);
        assert_true(ms >= lo && ms < hi);
        assert_true(ms >= prev);
        prev = ms;
        json_decref(ev);
    }
}

/* Shares in per mille. */
static void assert_share(const char *what, uint64_t part, uint64_t whole, int lo, int hi)
{
    uint64_t pm = part * 1000 / whole;
    if ((int)pm < lo || (int)pm > hi)
        fail_msg("%s: %llu per mille, expected %d..%d", what, (unsigned long long)pm, lo,
                 hi);
}

static void snapshot_follows_flemish_distributions(void **state)
{
    (void)state;
    uint64_t young = 0, working = 0, old = 0, total = 0, lang[4] = {0}, adults = 0;
    uint64_t email = 0, phone = 0, app = 0, non_ascii = 0;
    json_t *households = json_object(); /* household -> [size, postcode] */
    size_t pos = 0, len;
    const char *l;
    static const char *const langs[] = {"nl", "fr", "en", "de"};
    while ((l = next_line(&pop, &pos, &len))) {
        json_t *ev = parse(l, len);
        if (strncmp(str(ev, "time"), "2026-01-01T00:", 14) ||
            strcmp(short_type(ev), "registered")) {
            json_decref(ev);
            continue;
        }
        const json_t *d = json_object_get(ev, "data");
        const char *b = str(d, "birth_date");
        int by = (int)strtol(b, NULL, 10),
            age = 2026 - by - (strcmp(b + 5, "01-01") > 0 ? 1 : 0);
        total++;
        if (age < 18)
            young++;
        else if (age < 65)
            working++;
        else
            old++;
        for (int i = 0; i < 4; i++) lang[i] += !strcmp(str(d, "language"), langs[i]);
        if (age >= 18) {
            adults++;
            email += str(d, "email") != NULL;
            phone += str(d, "phone") != NULL;
            app += str(d, "app_inbox") != NULL;
        }
        for (const char *g = str(d, "given_name"); *g; g++)
            non_ascii += (unsigned char)*g >= 0x80;
        json_t *h = json_object_get(households, str(d, "household"));
        if (!h) {
            h = json_pack("[is]", 0, str(d, "postcode"));
            json_object_set_new(households, str(d, "household"), h);
        }
        json_array_set_new(h, 0,
                           json_integer(json_integer_value(json_array_get(h, 0)) + 1));
        assert_string_equal(json_string_value(json_array_get(h, 1)), str(d, "postcode"));
        json_decref(ev);
    }
    assert_int_equal(total, N);
    assert_share("age 0-17", young, total, 181, 211);
    assert_share("age 18-64", working, total, 574, 614);
    assert_share("age 65+", old, total, 195, 225);
    assert_share("nl", lang[0], total, 865, 895);
    assert_share("fr", lang[1], total, 50, 72);
    assert_share("en", lang[2], total, 30, 50);
    assert_share("de", lang[3], total, 12, 30);
    assert_share("adults with e-mail", email, adults, 710, 790);
    assert_share("adults with a phone", phone, adults, 840, 920);
    assert_share("adults with the app", app, adults, 260, 340);
    assert_true(non_ascii > 0); /* Zoë, François ...: the UTF-8 path is exercised */
    const char *key;
    json_t *h;
    uint64_t sizes[6] = {0}, nh = 0;
    json_object_foreach(households, key, h)
    {
        json_int_t size = json_integer_value(json_array_get(h, 0));
        assert_true(size >= 1 && size <= 5);
        sizes[size]++;
        nh++;
    }
    assert_share("single households", sizes[1], nh, 250, 400);
    assert_true(sizes[5] > 0);
    json_decref(households);
}

static void every_event_type_appears_at_a_plausible_rate(void **state)
{
    (void)state;
    static const struct {
        const char *type;
        int lo, hi; /* per 1000 residents */
    } rates[] = {{"birth", 6, 14},
                 {"moved-in", 45, 55},
                 {"moved-out", 45, 55},
                 {"moved-within", 35, 45},
                 {"birthday", 25, 50},
                 {"id-card-expiring", 60, 110},
                 {"marriage", 4, 10},
                 {"death-of-partner", 2, 9},
                 {"deceased", 2, 9},
                 {"income-changed", 75, 85},
                 {"id-card-requested", 30, 70}};
    json_t *counts = json_object();
    size_t pos = 0, len;
    const char *l;
    while ((l = next_line(&pop, &pos, &len))) {
        json_t *ev = parse(l, len);
        const char *t = short_type(ev);
        json_object_set_new(
            counts, t, json_integer(json_integer_value(json_object_get(counts, t)) + 1));
        json_decref(ev);
    }
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        json_int_t n = json_integer_value(json_object_get(counts, rates[i].type));
        assert_share(rates[i].type, (uint64_t)n * 1000, N * 1000, rates[i].lo,
                     rates[i].hi);
    }
    /* Births register the child: one registered event per birth beyond the snapshot. */
    assert_int_equal(json_integer_value(json_object_get(counts, "registered")),
                     N + json_integer_value(json_object_get(counts, "birth")));
    json_decref(counts);
}

static void event_fields_are_consistent(void **state)
{
    (void)state;
    size_t pos = 0, len;
    const char *l;
    while ((l = next_line(&pop, &pos, &len))) {
        json_t *ev = parse(l, len);
        const char *t = short_type(ev), *time = str(ev, "time");
        const json_t *d = json_object_get(ev, "data");
        int32_t day = date_of(time), birth = date_of(str(d, "birth_date"));
        if (!strcmp(t, "birthday")) {
            json_int_t age = json_integer_value(json_object_get(d, "age"));
            assert_true(age == 18 || age == 65 || age == 67);
            assert_int_equal(
                strtol(time, NULL, 10) - strtol(str(d, "birth_date"), NULL, 10), age);
            const char *md = str(d, "birth_date") + 5;
            assert_true(!strncmp(time + 5, md, 5) ||
                        (!strcmp(md, "02-29") && !strncmp(time + 5, "02-28", 5)));
        } else if (!strcmp(t, "id-card-expiring")) {
            assert_int_equal(date_of(str(d, "expires")) - day, 90);
            assert_true(day - birth >= 12 * 365);
        } else if (!strcmp(t, "moved-within")) {
            assert_string_not_equal(str(d, "previous_postcode"), str(d, "postcode"));
        } else if (!strcmp(t, "moved-out")) {
            const char *to = str(d, "to_nis");
            assert_int_equal(strlen(to), 5);
            assert_string_not_equal(to, "44084");
        } else if (!strcmp(t, "income-changed")) {
            assert_string_not_equal(str(d, "income_band"),
                                    str(d, "previous_income_band"));
        } else if (!strcmp(t, "birth")) {
            int32_t child = date_of(str(d, "child_birth_date"));
            assert_true(child <= day && day - child < 200);
            assert_non_null(str(d, "child_given_name"));
        } else if (!strcmp(t, "marriage")) {
            const char *ph = str(d, "partner_household");
            if (ph) assert_string_equal(ph, str(d, "household"));
        }
        if (strcmp(t, "registered") && strcmp(t, "birth")) assert_true(birth < day);
        json_decref(ev);
    }
}

/* Per resident, by register number: open addressing over 2^16 slots. */
enum { ABSENT, PRESENT, GONE };
typedef struct {
    uint64_t nrn;
    int state;
    bool card_expiring;
} who_t;

static who_t *who(who_t *tab, uint64_t nrn)
{
    size_t i = (size_t)(nrn * 0x9E3779B97F4A7C15ull >> 48);
    while (tab[i].nrn && tab[i].nrn != nrn) i = (i + 1) & 0xFFFF;
    tab[i].nrn = nrn;
    return &tab[i];
}

static void residents_act_only_while_they_live_here(void **state)
{
    (void)state;
    who_t *tab = calloc(1 << 16, sizeof *tab);
    size_t pos = 0, len;
    const char *l;
    while ((l = next_line(&pop, &pos, &len))) {
        json_t *ev = parse(l, len);
        const char *t = short_type(ev);
        who_t *w = who(tab, strtoull(str(ev, "subject"), NULL, 10));
        if (!strcmp(t, "registered") || !strcmp(t, "moved-in")) {
            if (w->state != ABSENT) fail_msg("%s entered twice", t);
            w->state = PRESENT;
        } else if (w->state != PRESENT) {
            fail_msg("%s for a resident who is %s", t,
                     w->state == GONE ? "gone" : "not here yet");
        }
        if (!strcmp(t, "moved-out") || !strcmp(t, "deceased")) w->state = GONE;
        if (!strcmp(t, "id-card-expiring")) w->card_expiring = true;
        if (!strcmp(t, "id-card-requested") && !w->card_expiring)
            fail_msg("id card requested without an expiring card");
        json_decref(ev);
    }
    free(tab);
}

static bool all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(set, s[i])) return false;
    return true;
}

static void contact_data_is_fictional(void **state)
{
    (void)state;
    size_t pos = 0, len;
    const char *l;
    uint64_t emails = 0;
    while ((l = next_line(&pop, &pos, &len))) {
        json_t *ev = parse(l, len);
        const json_t *d = json_object_get(ev, "data");
        const char *e = str(d, "email"), *p = str(d, "phone"), *a = str(d, "app_inbox");
        if (e) {
            const char *at = strchr(e, '@');
            assert_non_null(at);
            assert_true(!strcmp(at, "@example.org") || !strcmp(at, "@example.net") ||
                        !strcmp(at, "@example.com"));
            assert_true(
                all_of(e, (size_t)(at - e), "abcdefghijklmnopqrstuvwxyz0123456789."));
            emails++;
        }
        if (p) {
            assert_int_equal(strlen(p), 12);
            assert_memory_equal(p, "+3240", 5);
            assert_true(all_of(p + 5, 7, "0123456789"));
        }
        if (a) {
            assert_int_equal(strlen(a), 22);
            assert_memory_equal(a, "bp-", 3);
            for (int g = 0; g < 4; g++) {
                assert_true(all_of(a + 3 + 5 * g, 4, "0123456789abcdef"));
                if (g < 3) assert_int_equal(a[7 + 5 * g], '-');
            }
        }
        json_decref(ev);
    }
    assert_true(emails > N / 2);
}

/* The generator's output is the producer's input: every line must pass. */
static void every_event_passes_the_producer_check(void **state)
{
    (void)state;
    static const char key[] = "synthetic-test-key-0123456789";
    sj_hmac_t *h = sj_hmac_new((const unsigned char *)key, strlen(key), NULL, 0);
    assert_non_null(h);
    sj_buf_t out;
    sj_buf_init(&out, 1 << 16);
    size_t pos = 0, len;
    const char *l;
    while ((l = next_line(&pop, &pos, &len))) {
        char pseudonym[SJ_PSEUDONYM_LEN + 1];
        sj_event_problem_t why;
        sj_buf_reset(&out);
        if (sj_lifeevent_check(h, l, len, &out, pseudonym, &why) != SJ_OK)
            fail_msg("refused: %s: %s: %.*s", why.field, why.problem, (int)len, l);
    }
    sj_buf_free(&out);
    sj_hmac_destroy(h);
}

static void bad_options_are_refused_with_a_message(void **state)
{
    (void)state;
    char err[256];
    assert_null(sj_synth_new(NULL, err, sizeof err));
    static const struct {
        sj_synth_opts_t o;
        const char *says;
    } bad[] = {
        {{.residents = 0}, "residents must be between 1 and 20000000"},
        {{.residents = SJ_SYNTH_MAX_RESIDENTS + 1ull}, "not 20000001"},
        {{.residents = 10, .year = 2004}, "year must be between 2005 and 2099"},
        {{.residents = 10, .year = 2100}, "not 2100"},
        {{.residents = 10, .nis = "4408"}, "5-digit NIS"},
        {{.residents = 10, .nis = "04408"}, "5-digit NIS"},
        {{.residents = 10, .nis = "4408a"}, "5-digit NIS"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(sj_synth_new(&bad[i].o, err, sizeof err));
        if (!strstr(err, bad[i].says))
            fail_msg("message \"%s\" lacks \"%s\"", err, bad[i].says);
    }
    assert_null(sj_synth_new(&bad[0].o, NULL, 0)); /* no errstr is fine */
    sj_synth_destroy(NULL);
}

/* Returns the first line of a population as a new json_t. */
static json_t *first_event(const sj_synth_opts_t *o, uint64_t *count)
{
    population_t p;
    *count = generate(o, &p);
    size_t pos = 0, len;
    const char *l = next_line(&p, &pos, &len);
    json_t *ev = parse(l, len);
    free(p.text);
    return ev;
}

static void small_towns_other_towns_and_big_seeds_work(void **state)
{
    (void)state;
    uint64_t n;
    sj_synth_opts_t one = {.residents = 1};
    json_t *ev = first_event(&one, &n);
    assert_true(n >= 1);
    assert_string_equal(str(ev, "id"), "synth-0-1");
    assert_string_equal(str(ev, "time"), "2026-01-01T00:00:00Z");
    json_decref(ev);

    sj_synth_opts_t gent = {.residents = 50, .seed = 3, .year = 2030, .nis = "44021"};
    ev = first_event(&gent, &n);
    assert_string_equal(str(ev, "source"), "urn:nis:44021:population");
    assert_memory_equal(str(json_object_get(ev, "data"), "postcode"), "90", 2);
    assert_memory_equal(str(ev, "time"), "2030-", 5);
    json_decref(ev);

    /* An unknown municipality gets a made-up postcode in its province's range. */
    sj_synth_opts_t limburg = {.residents = 50, .nis = "71099"};
    ev = first_event(&limburg, &n);
    assert_memory_equal(str(json_object_get(ev, "data"), "postcode"), "3", 1);
    json_decref(ev);

    /* An 11-digit seed is shown in hex, so ids never hold a register number. */
    sj_synth_opts_t big = {.residents = 5, .seed = 85073003328ull};
    ev = first_event(&big, &n);
    assert_string_equal(str(ev, "id"), "synth-x13cebf0340-1");
    json_decref(ev);
}

static void a_full_buffer_does_not_lose_the_event(void **state)
{
    (void)state;
    sj_synth_opts_t o = {.residents = 10, .seed = SEED};
    sj_synth_t *s = sj_synth_new(&o, NULL, 0);
    assert_non_null(s);
    sj_buf_t small, big;
    sj_buf_init(&small, 64);
    sj_buf_init(&big, 1 << 16);
    assert_int_equal(sj_synth_next(s, &small), SJ_ERR_TOO_BIG);
    assert_int_equal(sj_synth_next(s, &big), SJ_OK);
    assert_non_null(strstr(sj_buf_cstr(&big), "\"id\":\"synth-42-1\""));
    sj_buf_free(&small);
    sj_buf_free(&big);
    sj_synth_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_digits_self_test),
        cmocka_unit_test(same_options_give_identical_bytes),
        cmocka_unit_test(output_is_pinned),
        cmocka_unit_test(every_line_is_an_input_cloudevent),
        cmocka_unit_test(subjects_are_valid_unique_register_numbers),
        cmocka_unit_test(times_are_rfc3339_in_order_within_the_year),
        cmocka_unit_test(snapshot_follows_flemish_distributions),
        cmocka_unit_test(every_event_type_appears_at_a_plausible_rate),
        cmocka_unit_test(event_fields_are_consistent),
        cmocka_unit_test(residents_act_only_while_they_live_here),
        cmocka_unit_test(contact_data_is_fictional),
        cmocka_unit_test(every_event_passes_the_producer_check),
        cmocka_unit_test(bad_options_are_refused_with_a_message),
        cmocka_unit_test(small_towns_other_towns_and_big_seeds_work),
        cmocka_unit_test(a_full_buffer_does_not_lose_the_event),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
