/* Synthetic population generator (see synthetic.h).
 *
 * Three phases. sj_synth_new() builds the residents and households at
 * 1 January, then decides the whole year as 16-byte event records (when, who,
 * what, one parameter) and radix-sorts them by time, which is stable, so ties
 * keep the order in which they were decided. sj_synth_next() first yields the
 * register snapshot (one `registered` event per resident at 1 January, spread
 * over the first hour; these are not stored), then the sorted records,
 * formatting each as a JSON line. While streaming it applies the state
 * changes (postcode after a move, income band) as time advances, so every
 * event carries the attributes that hold at its moment.
 *
 * Times are seconds since 1 January 00:00 UTC of the year; dates are days
 * since 1970-01-01. Life events happen between 07:00 and 17:00 UTC (office
 * hours in Brussels), milestone birthdays at 06:00 UTC. Every probability is
 * an integer per 10 000 and every random draw comes from xoshiro256** seeded
 * by splitmix64, so the output does not depend on the machine or the libc. */
#include "synthetic.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/lines.h"
#include "core/timeutil.h"

#define NONE             UINT32_MAX
#define DAY              86400u
#define SNAPSHOT_SECONDS 3600u /* the register snapshot fills the first hour */
#define WORK_START       (7u * 3600u)
#define WORK_MINUTES     600u
#define SERIAL_SLOTS     498u /* serials per birth date and sex: odd 1..995, even 2..996 */
#define SPILL_DAYS       183 /* how far a birth date may move when its serials are used up */
#define LINE_MAX_BYTES   1536 /* one event, far above the ~700 bytes of the longest */

/* ---- random numbers ----------------------------------------------------- */

typedef struct {
    uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in [0, n) for n < 2^32 (multiply-shift; the bias is below 2^-32). */
static uint32_t rnd(rng_t *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static bool chance(rng_t *r, uint32_t per10k)
{
    return rnd(r, 10000) < per10k;
}

/* n * num / den, rounded up or down at random so small towns still see rare events. */
static uint32_t scaled(rng_t *r, uint64_t n, uint32_t num, uint32_t den)
{
    uint64_t q = n * num / den, rem = n * num % den;
    return (uint32_t)(q + (rnd(r, den) < rem));
}

/* ---- tables ------------------------------------------------------------- */

/* Flemish Region, residents per 10 000 by 5-year age band (0-4 ... 100-104),
 * rounded from Statbel figures of the 2020s: 0-17 19.6%, 18-64 59.4%, 65+ 21.0%. */
static const uint16_t pyramid[21] = {510, 550, 570, 560, 560, 590, 630,
                                     640, 640, 630, 670, 700, 670, 580,
                                     520, 440, 280, 180, 80,  20,  3};
#define MAX_AGE 104

enum { L_NL, L_FR, L_EN, L_DE, L_COUNT };
static const char *const lang_code[L_COUNT] = {"nl", "fr", "en", "de"};
/* Language of correspondence per 10 000 households in a Flemish town. */
static const uint16_t lang_mix[L_COUNT] = {8800, 600, 400, 200};

static const char *const nl_m_young[] = {
    "Noah",   "Arthur", "Louis", "Liam", "Lucas",  "Adam",  "Jules",
    "Finn",   "Mathis", "Vic",   "Lars", "Wout",   "Stan",  "Seppe",
    "Ruben",  "Thibo",  "Noé",   "Kobe", "Jasper", "Senne", "Rémi",
    "Maxime", "Niels",  "Jonas", "Bram", "Tuur",   "Daan",  "Matthias"};
static const char *const nl_m_old[] = {
    "Jozef",   "Jan",   "Marc",  "Luc",     "Dirk",  "Patrick", "Eddy", "Willy",  "Rudi",
    "Frans",   "Guido", "Geert", "Koen",    "Peter", "Johan",   "Bart", "Wim",    "Tom",
    "Hendrik", "André", "René",  "Gustaaf", "Roger", "Noël",    "Raf",  "Kristof"};
static const char *const nl_f_young[] = {
    "Emma",  "Olivia",   "Louise", "Mila",  "Ella",  "Nora",  "Zoë",    "Noor",  "Lena",
    "Julie", "Marie",    "Fien",   "Lotte", "Hanne", "Elise", "Amélie", "Anaïs", "Chloë",
    "Inès",  "Juliette", "Liv",    "Febe",  "Jana",  "Noa",   "Lore",   "Eline", "Laura"};
static const char *const nl_f_old[] = {
    "Maria",    "Anna",     "Godelieve", "Christiane", "Monique", "Rita",  "Linda",
    "Hilde",    "Ann",      "Katrien",   "Veerle",     "Els",     "Griet", "Liesbeth",
    "Brigitte", "Lieve",    "Mieke",     "Marleen",    "Ingrid",  "Renée", "Joëlle",
    "Myriam",   "Daniëlle", "Ilse",      "Nathalie",   "Sofie"};
static const char *const fr_m[] = {"François", "Noé",     "Jérôme",  "Frédéric", "Gaëtan",
                                   "Léon",     "Hugo",    "Théo",    "Étienne",  "Benoît",
                                   "Jean",     "Luc",     "Raphaël", "Loïc",     "Mathéo",
                                   "Cédric",   "Grégory", "Michel"};
static const char *const fr_f[] = {
    "Léa",    "Camille", "Chloé",    "Manon",     "Anaïs",  "Hélène",
    "Céline", "Sophie",  "Isabelle", "Françoise", "Noémie", "Maëlle",
    "Élodie", "Amélie",  "Clémence", "Mélanie",   "Agnès",  "Josée"};
static const char *const en_m[] = {"Oliver", "James",  "Jack",   "Harry",
                                   "Thomas", "Daniel", "Samuel", "William",
                                   "George", "Ethan",  "Ryan",   "David"};
static const char *const en_f[] = {"Emily",  "Olivia", "Charlotte", "Sarah",
                                   "Grace",  "Zoë",    "Amelia",    "Jessica",
                                   "Sophie", "Hannah", "Chloe",     "Emma"};
static const char *const de_m[] = {"Jürgen", "Jörg",     "Lukas", "Günther",
                                   "Stefan", "Matthias", "Björn", "Jonas",
                                   "Sören",  "Klaus",    "Felix", "Tobias"};
static const char *const de_f[] = {"Anna",   "Lena", "Käthe",   "Jördis",
                                   "Hannah", "Lea",  "Marlene", "Anneliese",
                                   "Sophie", "Mia",  "Ursula",  "Brigitte"};

typedef struct {
    const char *const *names;
    uint16_t n;
} name_list_t;

#define LIST(a)                                                                          \
    {                                                                                    \
        a, (uint16_t)SJ_ARRAY_LEN(a)                                                     \
    }
/* [language][female][born before 1985]; a name is stored as list << 6 | index. */
static const name_list_t name_lists[L_COUNT][2][2] = {
    {{LIST(nl_m_young), LIST(nl_m_old)}, {LIST(nl_f_young), LIST(nl_f_old)}},
    {{LIST(fr_m), LIST(fr_m)}, {LIST(fr_f), LIST(fr_f)}},
    {{LIST(en_m), LIST(en_m)}, {LIST(en_f), LIST(en_f)}},
    {{LIST(de_m), LIST(de_m)}, {LIST(de_f), LIST(de_f)}},
};

/* Family names, only used in e-mail local parts, so already folded to ASCII. */
static const char *const surnames[] = {
    "peeters",      "janssens", "maes",       "jacobs",   "mertens",  "willems",
    "claes",        "goossens", "wouters",    "desmet",   "dubois",   "vermeulen",
    "vandenbroeck", "declercq", "lambert",    "dupont",   "martens",  "verstraete",
    "dewilde",      "vandamme", "dhondt",     "devos",    "hermans",  "smets",
    "aerts",        "pauwels",  "vandevelde", "leclercq", "michiels", "coppens"};

static const char *const mail_domains[] = {"example.org", "example.net", "example.com"};

typedef struct {
    const char *nis;
    uint16_t postcodes[16]; /* the first one is the main town */
    uint8_t n;
} town_t;

static const town_t towns[] = {
    {"44084", {9880, 9881, 9910}, 3}, /* Aalter */
    {"44021",
     {9000, 9030, 9031, 9032, 9040, 9041, 9042, 9050, 9051, 9052},
     10}, /* Gent */
    {"11002",
     {2000, 2018, 2020, 2030, 2040, 2050, 2060, 2100, 2140, 2170, 2180, 2600, 2610, 2660},
     14},                                         /* Antwerpen */
    {"24062", {3000, 3001, 3010, 3012, 3018}, 5}, /* Leuven */
    {"31005", {8000, 8200, 8310, 8380}, 4},       /* Brugge */
    {"44083", {9800, 9850}, 2},                   /* Deinze */
};

/* Where people who leave go. */
static const char *const destinations[] = {"44021", "11002", "31005", "24062", "44083",
                                           "44085", "34022", "12025", "46021", "41002",
                                           "71022", "35013", "21004", "44084"};

static const char *const bands[] = {"low", "middle", "high"};

typedef enum {
    EV_REGISTERED,
    EV_BIRTH,
    EV_MOVED_IN,
    EV_MOVED_WITHIN,
    EV_MOVED_OUT,
    EV_BIRTHDAY,
    EV_ID_EXPIRING,
    EV_MARRIAGE,
    EV_DEATH_OF_PARTNER,
    EV_DECEASED,
    EV_INCOME,
    EV_ID_REQUESTED
} ev_type_t;

static const char *const type_names[] = {
    [EV_REGISTERED] = "be.seintje.life.registered",
    [EV_BIRTH] = "be.seintje.life.birth",
    [EV_MOVED_IN] = "be.seintje.life.moved-in",
    [EV_MOVED_WITHIN] = "be.seintje.life.moved-within",
    [EV_MOVED_OUT] = "be.seintje.life.moved-out",
    [EV_BIRTHDAY] = "be.seintje.life.birthday",
    [EV_ID_EXPIRING] = "be.seintje.life.id-card-expiring",
    [EV_MARRIAGE] = "be.seintje.life.marriage",
    [EV_DEATH_OF_PARTNER] = "be.seintje.life.death-of-partner",
    [EV_DECEASED] = "be.seintje.life.deceased",
    [EV_INCOME] = "be.seintje.life.income-changed",
    [EV_ID_REQUESTED] = "be.seintje.service.id-card-requested",
};

/* ---- state -------------------------------------------------------------- */

enum {
    F_FEMALE = 1,
    F_MARRIED = 2,
    F_EMAIL = 4,
    F_PHONE = 8,
    F_APP = 16,
    F_OK_EMAIL = 32, /* consents */
    F_OK_SMS = 64,
    F_OK_APP = 128
};

typedef struct {
    int32_t birth;        /* days since 1970-01-01 */
    uint32_t t_in, t_out; /* present during [t_in, t_out) */
    uint32_t hh;          /* NONE while not yet placed in a household */
    uint32_t partner;     /* NONE when single */
    uint16_t serial;      /* register serial, 1..996 */
    uint16_t name;        /* list << 6 | index into name_lists */
    uint8_t pc;           /* postcode index; updated while streaming */
    uint8_t flags;        /* F_* */
    uint8_t band;         /* income band index; updated while streaming */
    uint8_t mail;         /* e-mail domain index */
} resident_t;

typedef struct {
    uint32_t out_t;    /* moves out at this time, 0 = stays */
    uint32_t within_t; /* moves within the town at this time, 0 = stays */
    uint16_t surname;
    uint8_t lang;
    uint8_t size;
    uint8_t pc;     /* postcode at 1 January (or on arrival) */
    uint8_t target; /* new postcode (moving within) or destination (moving out) */
    uint8_t pad[2];
} household_t;

typedef struct {
    uint32_t t, r, param;
    uint8_t type;
} event_t;

struct sj_synth_s {
    resident_t *res;
    uint32_t nres, capres, n0; /* n0 residents at 1 January, then arrivals and births */
    household_t *hh;
    uint32_t nhh, caphh, nhh0;
    event_t *ev;
    size_t nev, capev;
    uint64_t pos; /* events yielded so far */

    rng_t rng;
    uint64_t mix; /* seed material for per-resident values (phone, app inbox) */
    char tag[24]; /* the seed as shown in ids */
    int year;
    int32_t start; /* days of 1 January */
    uint32_t span; /* seconds in the year */
    char nis[6];
    uint16_t postcodes[16];
    uint8_t npc;

    char (*dates)[10]; /* "YYYY-MM-DD" for every day from 1900-01-01 to 90 days after the
                          year */
    uint32_t ndates;
    uint16_t *serials; /* serials used per (day since 1900-01-01, sex) while building */
    int32_t day1900;
    uint32_t nserial_days;
    bool serials_full;
};

/* ---- helpers ------------------------------------------------------------ */

/* "YYYY-MM-DD" of a day from 1900-01-01 to 90 days after the year, from the
 * table built once in sj_synth_new() (converting dates is the hot spot). */
static const char *date_str(const sj_synth_t *s, int32_t days)
{
    return s->dates[days - s->day1900];
}

static int year_of(const sj_synth_t *s, int32_t days)
{
    const char *d = date_str(s, days);
    return (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
}

/* Age at 1 January of the year (birthdays on 1 January count). */
static int age_at_start(const sj_synth_t *s, uint32_t r)
{
    const char *d = date_str(s, s->res[r].birth);
    bool jan1 = !memcmp(d + 5, "01-01", 5);
    return s->year - 1 - year_of(s, s->res[r].birth) + (jan1 ? 1 : 0);
}

/* A random office-hours time in [lo, hi), or NONE when the window is empty. */
static uint32_t rand_time(sj_synth_t *s, uint32_t lo, uint32_t hi)
{
    if (hi <= lo) return NONE;
    uint32_t d0 = lo / DAY, d1 = (hi - 1) / DAY;
    uint32_t t = (d0 + rnd(&s->rng, d1 - d0 + 1)) * DAY + WORK_START +
                 rnd(&s->rng, WORK_MINUTES) * 60;
    if (t < lo || t >= hi) t = lo + rnd(&s->rng, hi - lo);
    return t;
}

static bool present(const resident_t *p, uint32_t t)
{
    return t != NONE && t >= p->t_in && t < p->t_out;
}

static sj_status_t push_event(sj_synth_t *s, uint32_t t, uint32_t r, ev_type_t type,
                              uint32_t param)
{
    if (s->nev == s->capev) {
        size_t cap = s->capev ? s->capev * 2 : 4096;
        event_t *e = realloc(s->ev, cap * sizeof *e);
        if (!e) return SJ_ERR_NOMEM;
        s->ev = e;
        s->capev = cap;
    }
    s->ev[s->nev++] = (event_t){.t = t, .r = r, .param = param, .type = (uint8_t)type};
    return SJ_OK;
}

/* Gives the resident a register serial that is free for their birth date and
 * sex. Register numbers must be unique, and a date has only 498 serials per
 * sex, so a crowded date moves the birth date to the nearest free one (for a
 * newborn only backwards: births are registered up to days later). */
static sj_status_t assign_serial(sj_synth_t *s, resident_t *p, bool newborn)
{
    int sex = p->flags & F_FEMALE ? 1 : 0;
    for (int k = 0; k <= 2 * SPILL_DAYS; k++) {
        int off = newborn ? -k : (k % 2 ? (k + 1) / 2 : -(k / 2));
        int64_t d = (int64_t)p->birth + off - s->day1900;
        if (d < 0 || d >= (int64_t)s->nserial_days) continue;
        if (!newborn && p->birth + off >= s->start) continue;
        uint16_t *used = &s->serials[(size_t)d * 2 + (size_t)sex];
        if (*used >= SERIAL_SLOTS) continue;
        /* Spread serials over the range instead of counting 1, 3, 5 ... */
        uint32_t slot = ((uint32_t)(d * 131u) + *used * 7u) % SERIAL_SLOTS;
        (*used)++;
        p->birth += off;
        p->serial = (uint16_t)(2 * slot + 1 + (uint32_t)sex);
        return SJ_OK;
    }
    s->serials_full = true;
    return SJ_ERR_TOO_BIG;
}

static uint16_t pick_name(sj_synth_t *s, int lang, bool female, int32_t birth)
{
    int y = year_of(s, birth);
    unsigned list = (unsigned)lang * 4 + (female ? 2u : 0u) + (y < 1985 ? 1u : 0u);
    const name_list_t *l = &name_lists[lang][female][y < 1985];
    return (uint16_t)(list << 6 | rnd(&s->rng, l->n));
}

static const char *name_of(uint16_t code)
{
    unsigned list = code >> 6;
    return name_lists[list / 4][(list / 2) % 2][list % 2].names[code & 63];
}

/* Contact channels, consents and income band, by age. Per 10 000. */
static void init_contact(sj_synth_t *s, resident_t *p, int age)
{
    uint32_t email, phone, app;
    if (age < 12)
        email = phone = app = 0;
    else if (age < 18)
        email = 2500, phone = 6000, app = 0;
    else if (age < 65)
        email = 8200, phone = 9300, app = 3600;
    else if (age < 75)
        email = 7000, phone = 8500, app = 2000;
    else
        email = 4000, phone = 6500, app = 800;
    if (chance(&s->rng, email))
        p->flags |= F_EMAIL | (chance(&s->rng, 9000) ? F_OK_EMAIL : 0);
    if (chance(&s->rng, phone))
        p->flags |= F_PHONE | (chance(&s->rng, 8000) ? F_OK_SMS : 0);
    if (chance(&s->rng, app)) p->flags |= F_APP | (chance(&s->rng, 9500) ? F_OK_APP : 0);
    p->mail = (uint8_t)(chance(&s->rng, 5000) ? 0 : chance(&s->rng, 6000) ? 1 : 2);
    uint32_t low = 2500, high = 2500; /* household income band */
    if (age < 25 || age >= 75) low = 4500, high = 1000;
    uint32_t x = rnd(&s->rng, 10000);
    p->band = (uint8_t)(x < low ? 0 : x < 10000 - high ? 1 : 2);
}

static sj_status_t grow_residents(sj_synth_t *s)
{
    if (s->nres < s->capres) return SJ_OK;
    uint32_t cap = s->capres + s->capres / 4 + 1024;
    resident_t *r = realloc(s->res, (size_t)cap * sizeof *r);
    if (!r) return SJ_ERR_NOMEM;
    s->res = r;
    s->capres = cap;
    return SJ_OK;
}

/* Appends a resident of the given age (at 1 January) and sex, not yet in a
 * household. Returns its index, or NONE when memory runs out. */
static uint32_t new_resident(sj_synth_t *s, int age, bool female)
{
    if (grow_residents(s) != SJ_OK) return NONE;
    resident_t *p = &s->res[s->nres];
    memset(p, 0, sizeof *p);
    int by = s->year - 1 - age;
    int32_t jan1 = sj_days_from_civil(by, 1, 1);
    p->birth =
        jan1 + (int32_t)rnd(&s->rng, (uint32_t)(sj_days_from_civil(by + 1, 1, 1) - jan1));
    p->hh = p->partner = NONE;
    p->t_in = SNAPSHOT_SECONDS;
    p->t_out = s->span;
    p->flags = female ? F_FEMALE : 0;
    init_contact(s, p, age);
    return s->nres++;
}

static uint32_t new_household(sj_synth_t *s)
{
    if (s->nhh == s->caphh) {
        uint32_t cap = s->caphh + s->caphh / 4 + 1024;
        household_t *h = realloc(s->hh, (size_t)cap * sizeof *h);
        if (!h) return NONE;
        s->hh = h;
        s->caphh = cap;
    }
    household_t *h = &s->hh[s->nhh];
    memset(h, 0, sizeof *h);
    uint32_t x = rnd(&s->rng, 10000), lang = 0;
    while (lang + 1 < L_COUNT && x >= lang_mix[lang]) x -= lang_mix[lang++];
    h->lang = (uint8_t)lang;
    h->surname = (uint16_t)rnd(&s->rng, SJ_ARRAY_LEN(surnames));
    /* The main postcode holds three shares, each other one a single share. */
    uint32_t pick = rnd(&s->rng, s->npc + 2u);
    h->pc = (uint8_t)(pick < 3 ? 0 : pick - 2);
    return s->nhh++;
}

/* Puts resident r in household h: name in the household's language, postcode. */
static void join(sj_synth_t *s, uint32_t r, uint32_t h)
{
    resident_t *p = &s->res[r];
    p->hh = h;
    p->pc = s->hh[h].pc;
    p->name = pick_name(s, s->hh[h].lang, p->flags & F_FEMALE, p->birth);
    s->hh[h].size++;
}

static void couple(sj_synth_t *s, uint32_t a, uint32_t b)
{
    s->res[a].partner = b;
    s->res[b].partner = a;
    int age = age_at_start(s, a);
    uint32_t married = age < 30 ? 3000 : age < 45 ? 5500 : age < 65 ? 7000 : 8500;
    if (chance(&s->rng, married)) {
        s->res[a].flags |= F_MARRIED;
        s->res[b].flags |= F_MARRIED;
    }
}

/* ---- the population at 1 January --------------------------------------- */

/* Residents bucketed by (age, sex), in index order, for finding a partner or
 * a parent of a plausible age. Taken residents are skipped lazily. */
typedef struct {
    uint32_t *idx;
    uint32_t start[(MAX_AGE + 1) * 2 + 1];
    uint32_t cursor[(MAX_AGE + 1) * 2];
    uint8_t *age; /* per resident, at 1 January */
} buckets_t;

static uint32_t take(sj_synth_t *s, buckets_t *b, int age, int sex)
{
    if (age < 0 || age > MAX_AGE) return NONE;
    int first =
        sex >= 0 ? sex : (int)rnd(&s->rng, 2); /* either sex: vary which comes first */
    for (int k = 0; k < (sex >= 0 ? 1 : 2); k++) {
        size_t key = (size_t)age * 2 + (size_t)((first + k) % 2);
        while (b->cursor[key] < b->start[key + 1]) {
            uint32_t r = b->idx[b->cursor[key]++];
            if (s->res[r].hh == NONE) return r;
        }
    }
    return NONE;
}

/* The free resident whose age is nearest to target within [lo, hi]. */
static uint32_t take_near(sj_synth_t *s, buckets_t *b, int target, int sex, int lo,
                          int hi)
{
    if (lo < 0) lo = 0;
    if (hi > MAX_AGE) hi = MAX_AGE;
    for (int d = 0; d <= MAX_AGE; d++) {
        int up = target + d, down = target - d;
        if (up > hi && down < lo) break;
        uint32_t r = NONE;
        if (up >= lo && up <= hi) r = take(s, b, up, sex);
        if (r == NONE && d && down >= lo && down <= hi) r = take(s, b, down, sex);
        if (r != NONE) return r;
    }
    return NONE;
}

/* A family around child c (under 25): brothers and sisters of nearby ages, a
 * mother and mostly a partner. Without a parent in range the children live alone (only
 * in tiny populations). */
static sj_status_t family(sj_synth_t *s, buckets_t *b, uint32_t c, uint32_t h)
{
    join(s, c, h);
    int oldest = b->age[c];
    uint32_t x = rnd(&s->rng, 100), siblings = x < 40 ? 0 : x < 85 ? 1 : 2;
    for (uint32_t i = 0; i < siblings; i++) {
        int target = b->age[c] + (int)rnd(&s->rng, 11) - 5;
        uint32_t sib = take_near(s, b, target, -1, target - 3 < 0 ? 0 : target - 3,
                                 target + 3 > 24 ? 24 : target + 3);
        if (sib == NONE) continue;
        join(s, sib, h);
        if (b->age[sib] > oldest) oldest = b->age[sib];
    }
    int lo = oldest + 18, hi = oldest + 45;
    bool single = chance(&s->rng, 1500), father_only = single && chance(&s->rng, 1500);
    uint32_t p1 = NONE;
    if (!father_only)
        p1 = take_near(s, b, oldest + 24 + (int)rnd(&s->rng, 14), 1, lo, hi);
    if (p1 == NONE) p1 = take_near(s, b, oldest + 27 + (int)rnd(&s->rng, 14), 0, lo, hi);
    if (p1 == NONE) return SJ_OK;
    join(s, p1, h);
    if (single) return SJ_OK;
    int pa = b->age[p1];
    bool mother = s->res[p1].flags & F_FEMALE;
    int target = mother ? pa - 1 + (int)rnd(&s->rng, 7) : pa + 1 - (int)rnd(&s->rng, 7);
    uint32_t p2 = take_near(s, b, target, mother ? 0 : 1, target - 6, target + 6);
    if (p2 == NONE) return SJ_OK;
    join(s, p2, h);
    couple(s, p1, p2);
    return SJ_OK;
}

/* An adult who is not a parent: alone, or with a partner of about the same age. */
static void adult(sj_synth_t *s, buckets_t *b, uint32_t a, uint32_t h)
{
    join(s, a, h);
    int age = b->age[a];
    uint32_t p = age < 25 ? 2000 : age < 35 ? 5500 : age < 80 ? 6000 : 3500;
    if (!chance(&s->rng, p)) return;
    bool female = s->res[a].flags & F_FEMALE;
    int sex = chance(&s->rng, 9600) ? !female : female;
    int target = female ? age - 1 + (int)rnd(&s->rng, 7) : age + 1 - (int)rnd(&s->rng, 7);
    uint32_t q =
        take_near(s, b, target, sex, target - 8 < 18 ? 18 : target - 8, target + 8);
    if (q == NONE) return;
    join(s, q, h);
    couple(s, a, q);
}

static sj_status_t build_snapshot(sj_synth_t *s, uint32_t n)
{
    buckets_t *b = calloc(1, sizeof *b);
    if (!b) return SJ_ERR_NOMEM;
    b->idx = malloc((size_t)n * sizeof *b->idx);
    b->age = malloc(n);
    sj_status_t st = b->idx && b->age ? SJ_OK : SJ_ERR_NOMEM;
    uint32_t total = 0;
    for (size_t i = 0; i < SJ_ARRAY_LEN(pyramid); i++) total += pyramid[i];
    for (uint32_t i = 0; i < n && st == SJ_OK; i++) {
        uint32_t x = rnd(&s->rng, total), band = 0;
        while (x >= pyramid[band]) x -= pyramid[band++];
        int age = (int)(band * 5 + rnd(&s->rng, 5));
        uint32_t f = age < 65 ? 4950 : age < 80 ? 5300 : 6200; /* women live longer */
        uint32_t r = new_resident(s, age, chance(&s->rng, f));
        if (r == NONE)
            st = SJ_ERR_NOMEM;
        else {
            b->age[r] = (uint8_t)age;
            b->start[age * 2 + (s->res[r].flags & F_FEMALE ? 1 : 0) + 1]++;
        }
    }
    if (st == SJ_OK) {
        for (size_t k = 1; k < SJ_ARRAY_LEN(b->start); k++)
            b->start[k] += b->start[k - 1];
        memcpy(b->cursor, b->start, sizeof b->cursor);
        for (uint32_t r = 0; r < n; r++) {
            size_t key = (size_t)b->age[r] * 2 + (s->res[r].flags & F_FEMALE ? 1 : 0);
            b->idx[b->cursor[key]++] = r;
        }
        memcpy(b->cursor, b->start, sizeof b->cursor);
    }
    for (uint32_t r = 0; r < n && st == SJ_OK; r++) {
        if (s->res[r].hh != NONE) continue;
        uint32_t h = new_household(s);
        if (h == NONE)
            st = SJ_ERR_NOMEM;
        else if (b->age[r] < 18 || (b->age[r] < 25 && chance(&s->rng, 6000)))
            st = family(s, b, r, h); /* most young adults still live with their parents */
        else
            adult(s, b, r, h);
    }
    for (uint32_t r = 0; r < n && st == SJ_OK; r++)
        st = assign_serial(s, &s->res[r], false);
    s->n0 = s->nres;
    s->nhh0 = s->nhh;
    free(b->idx);
    free(b->age);
    free(b);
    return st;
}

/* ---- the year ----------------------------------------------------------- */

/* Newcomers arrive as whole households, younger than the town on average. */
static sj_status_t arrivals(sj_synth_t *s, uint32_t target)
{
    uint32_t arrived = 0;
    while (arrived < target) {
        uint32_t h = new_household(s);
        if (h == NONE) return SJ_ERR_NOMEM;
        uint32_t kind = rnd(&s->rng, 100), adults = kind < 45 ? 1 : 2;
        uint32_t kids = kind < 75 ? 0 : 1 + rnd(&s->rng, 3);
        uint32_t t = rand_time(s, SNAPSHOT_SECONDS, s->span), first = s->nres;
        int age0 = chance(&s->rng, 8000) ? 20 + (int)rnd(&s->rng, 20)
                                         : 40 + (int)rnd(&s->rng, 45);
        for (uint32_t i = 0; i < adults + kids; i++) {
            int age = i == 0 ? age0
                      : i == 1 && adults == 2
                          ? age0 - 2 + (int)rnd(&s->rng, 5)
                          : (int)rnd(&s->rng, (uint32_t)(age0 > 34 ? 15 : age0 - 19));
            bool female = i == 0                  ? chance(&s->rng, 5000)
                          : i == 1 && adults == 2 ? !(s->res[first].flags & F_FEMALE)
                                                  : chance(&s->rng, 4900);
            uint32_t r = new_resident(s, age, female);
            if (r == NONE) return SJ_ERR_NOMEM;
            join(s, r, h);
            s->res[r].t_in = t;
            sj_status_t st = assign_serial(s, &s->res[r], false);
            if (st == SJ_OK) st = push_event(s, t, r, EV_MOVED_IN, 0);
            if (st != SJ_OK) return st;
        }
        if (adults == 2) couple(s, first, first + 1);
        arrived += adults + kids;
    }
    return SJ_OK;
}

/* Whole households move out or to another address in town: pick households
 * of the 1 January population at random until enough residents moved. */
static sj_status_t moves(sj_synth_t *s, uint32_t out_target, uint32_t within_target)
{
    uint32_t *order = malloc((size_t)s->nhh0 * sizeof *order + 1);
    if (!order) return SJ_ERR_NOMEM;
    for (uint32_t i = 0; i < s->nhh0; i++) order[i] = i;
    uint32_t out = 0, within = 0;
    for (uint32_t i = 0; i < s->nhh0 && (out < out_target || within < within_target);
         i++) {
        uint32_t j = i + rnd(&s->rng, s->nhh0 - i), h = order[j];
        order[j] = order[i];
        household_t *hh = &s->hh[h];
        if (out < out_target) {
            hh->out_t = rand_time(s, SNAPSHOT_SECONDS, s->span);
            hh->target = (uint8_t)rnd(&s->rng, SJ_ARRAY_LEN(destinations));
            if (!strcmp(destinations[hh->target], s->nis))
                hh->target = (uint8_t)((hh->target + 1) % SJ_ARRAY_LEN(destinations));
            out += hh->size;
        } else {
            hh->within_t = rand_time(s, SNAPSHOT_SECONDS, s->span);
            hh->target = hh->pc;
            if (s->npc > 1)
                hh->target = (uint8_t)((hh->pc + 1 + rnd(&s->rng, s->npc - 1u)) % s->npc);
            within += hh->size;
        }
    }
    free(order);
    for (uint32_t r = 0; r < s->nres; r++)
        if (s->hh[s->res[r].hh].out_t) s->res[r].t_out = s->hh[s->res[r].hh].out_t;
    return SJ_OK;
}

/* One partner of a couple dies (the older one more often): `deceased` for
 * them, `death-of-partner` for the other. Per 10 000 couples a year, by the
 * older partner's age. */
static sj_status_t deaths(sj_synth_t *s)
{
    for (uint32_t a = 0; a < s->nres; a++) {
        uint32_t b = s->res[a].partner;
        if (b == NONE || b < a) continue;
        int aa = age_at_start(s, a), ab = age_at_start(s, b), old = aa > ab ? aa : ab;
        uint32_t p = old < 55   ? 20
                     : old < 65 ? 80
                     : old < 75 ? 250
                     : old < 85 ? 700
                                : 1800;
        if (!chance(&s->rng, p)) continue;
        resident_t *pa = &s->res[a], *pb = &s->res[b];
        uint32_t lo = pa->t_in > pb->t_in ? pa->t_in : pb->t_in;
        uint32_t hi = pa->t_out < pb->t_out ? pa->t_out : pb->t_out;
        uint32_t t = rand_time(s, lo, hi);
        if (t == NONE) continue;
        bool a_dies = chance(&s->rng, 3500) ^ (aa >= ab);
        uint32_t dead = a_dies ? a : b, alive = a_dies ? b : a;
        sj_status_t st = push_event(s, t, dead, EV_DECEASED, 0);
        if (st == SJ_OK) st = push_event(s, t, alive, EV_DEATH_OF_PARTNER, dead);
        if (st != SJ_OK) return st;
        s->res[dead].t_out = t;
        pa->partner = pb->partner = NONE;
    }
    return SJ_OK;
}

/* Births, per 10 000 women a year by age (total fertility ~1.5); the mother
 * gets `birth`, the child is registered at the same moment in her household. */
static sj_status_t births(sj_synth_t *s)
{
    uint32_t n = s->nres;
    for (uint32_t m = 0; m < n; m++) {
        if (!(s->res[m].flags & F_FEMALE) || s->hh[s->res[m].hh].size >= 5) continue;
        int age = age_at_start(s, m);
        uint32_t p = age < 18 || age > 44 ? 0
                     : age < 20           ? 100
                     : age < 25           ? 300
                     : age < 30           ? 900
                     : age < 35           ? 1200
                     : age < 40           ? 600
                                          : 130;
        if (!p || !chance(&s->rng, p)) continue;
        uint32_t t = rand_time(s, s->res[m].t_in, s->res[m].t_out);
        if (t == NONE) continue;
        if (grow_residents(s) != SJ_OK) return SJ_ERR_NOMEM;
        uint32_t c = s->nres++, h = s->res[m].hh;
        resident_t *k = &s->res[c];
        memset(k, 0, sizeof *k);
        k->birth = s->start + (int32_t)(t / DAY);
        k->flags = chance(&s->rng, 4880) ? F_FEMALE : 0;
        k->partner = NONE;
        k->t_in = t;
        k->t_out = s->hh[h].out_t ? s->hh[h].out_t : s->span;
        join(s, c, h);
        sj_status_t st = assign_serial(s, k, true);
        if (st == SJ_OK) st = push_event(s, t, m, EV_BIRTH, c);
        if (st == SJ_OK) st = push_event(s, t, c, EV_REGISTERED, m);
        if (st != SJ_OK) return st;
    }
    return SJ_OK;
}

/* Events that follow from one resident's own dates and household: milestone
 * birthdays, the eID card's renewal, and the household's moves. */
static sj_status_t personal(sj_synth_t *s, uint32_t r)
{
    resident_t *p = &s->res[r];
    const household_t *h = &s->hh[p->hh];
    sj_status_t st = SJ_OK;
    int by;
    unsigned bm, bd;
    sj_civil_from_days(p->birth, &by, &bm, &bd);
    int turns = s->year - by;
    if (turns == 18 || turns == 65 || turns == 67) {
        if (bm == 2 && bd == 29 && !sj_date_valid(s->year, 2, 29)) bd = 28;
        uint32_t t =
            (uint32_t)(sj_days_from_civil(s->year, bm, bd) - s->start) * DAY + 6 * 3600;
        if (present(p, t)) st = push_event(s, t, r, EV_BIRTHDAY, (uint32_t)turns);
    }
    /* eID cards: 6 years from 12, 10 years from 18, 30 years from 75; the
     * expiry lies uniformly in the card's validity, so 1 in V cards reaches
     * "90 days before expiry" this year. */
    int age = age_at_start(s, r);
    uint32_t years = age < 12 ? 0 : age < 18 ? 6 : age < 75 ? 10 : 30;
    if (years && st == SJ_OK) {
        uint32_t e = rnd(&s->rng, years * 365), ndays = s->span / DAY;
        uint32_t t = e * DAY + WORK_START + rnd(&s->rng, WORK_MINUTES) * 60;
        int32_t expires = s->start + (int32_t)e + 90;
        if (e < ndays && present(p, t)) {
            st = push_event(s, t, r, EV_ID_EXPIRING, (uint32_t)expires);
            /* Most residents request the new card around the expiry date. */
            if (st == SJ_OK && chance(&s->rng, age < 75 ? 7000 : 5000)) {
                int64_t d = (int64_t)expires - 60 + rnd(&s->rng, 121) - s->start;
                uint32_t t2 =
                    (uint32_t)d * DAY + WORK_START + rnd(&s->rng, WORK_MINUTES) * 60;
                if (d < ndays && present(p, t2))
                    st = push_event(s, t2, r, EV_ID_REQUESTED, 0);
            }
        }
    }
    if (st == SJ_OK && h->out_t && h->out_t >= p->t_in && h->out_t == p->t_out)
        st = push_event(s, h->out_t, r, EV_MOVED_OUT, h->target);
    if (st == SJ_OK && h->within_t && present(p, h->within_t))
        st = push_event(s, h->within_t, r, EV_MOVED_WITHIN, h->target);
    return st;
}

/* Picks k of the n candidates at random (partial Fisher-Yates, in place). */
static void sample(sj_synth_t *s, uint32_t *cand, uint32_t n, uint32_t k)
{
    for (uint32_t i = 0; i < k && i < n; i++) {
        uint32_t j = i + rnd(&s->rng, n - i), x = cand[i];
        cand[i] = cand[j];
        cand[j] = x;
    }
}

/* Marriages (about 4 per 1000 residents a year): mostly partners who already
 * live together, some residents marrying someone from elsewhere. */
static sj_status_t marriages(sj_synth_t *s, uint32_t *cand, uint32_t target)
{
    uint32_t n = 0, couples_k = target * 65 / 100;
    for (uint32_t r = 0; r < s->nres; r++) {
        const resident_t *p = &s->res[r];
        int age = age_at_start(s, r);
        if (p->partner != NONE && p->partner > r && !(p->flags & F_MARRIED) &&
            age >= 20 && age < 60)
            cand[n++] = r;
    }
    sample(s, cand, n, couples_k);
    for (uint32_t i = 0; i < couples_k && i < n; i++) {
        resident_t *a = &s->res[cand[i]], *b = &s->res[a->partner];
        uint32_t lo = a->t_in > b->t_in ? a->t_in : b->t_in;
        uint32_t t = rand_time(s, lo, a->t_out < b->t_out ? a->t_out : b->t_out);
        if (t == NONE) continue;
        a->flags |= F_MARRIED;
        b->flags |= F_MARRIED;
        sj_status_t st = push_event(s, t, cand[i], EV_MARRIAGE, a->hh);
        if (st == SJ_OK) st = push_event(s, t, a->partner, EV_MARRIAGE, b->hh);
        if (st != SJ_OK) return st;
    }
    n = 0;
    for (uint32_t r = 0; r < s->nres; r++) {
        int age = age_at_start(s, r);
        if (s->res[r].partner == NONE && !(s->res[r].flags & F_MARRIED) && age >= 22 &&
            age < 55)
            cand[n++] = r;
    }
    uint32_t k = target - couples_k;
    sample(s, cand, n, k);
    for (uint32_t i = 0; i < k && i < n; i++) {
        resident_t *p = &s->res[cand[i]];
        uint32_t t = rand_time(s, p->t_in, p->t_out);
        if (t == NONE) continue;
        p->flags |= F_MARRIED;
        sj_status_t st = push_event(s, t, cand[i], EV_MARRIAGE, NONE);
        if (st != SJ_OK) return st;
    }
    return SJ_OK;
}

/* Income band changes (about 8% of residents a year), one step up or down. */
static sj_status_t income(sj_synth_t *s, uint32_t *cand, uint32_t target)
{
    uint32_t n = 0;
    for (uint32_t r = 0; r < s->nres; r++)
        if (s->res[r].t_in < s->res[r].t_out && age_at_start(s, r) >= 18) cand[n++] = r;
    sample(s, cand, n, target);
    for (uint32_t i = 0; i < target && i < n; i++) {
        const resident_t *p = &s->res[cand[i]];
        uint32_t t = rand_time(s, p->t_in, p->t_out);
        if (t == NONE) continue;
        uint32_t band = p->band == 1 ? (chance(&s->rng, 5000) ? 0u : 2u) : 1u;
        sj_status_t st = push_event(s, t, cand[i], EV_INCOME, band);
        if (st != SJ_OK) return st;
    }
    return SJ_OK;
}

/* Stable LSD radix sort on the time, two passes of 16 bits. */
static sj_status_t sort_events(sj_synth_t *s)
{
    if (s->nev < 2) return SJ_OK;
    event_t *tmp = malloc(s->nev * sizeof *tmp);
    size_t *count = malloc(65536 * sizeof *count);
    if (!tmp || !count) {
        free(tmp);
        free(count);
        return SJ_ERR_NOMEM;
    }
    event_t *src = s->ev, *dst = tmp;
    for (int shift = 0; shift < 32; shift += 16) {
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < s->nev; i++) count[(src[i].t >> shift) & 0xFFFF]++;
        size_t sum = 0;
        for (size_t k = 0; k < 65536; k++) {
            size_t c = count[k];
            count[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < s->nev; i++)
            dst[count[(src[i].t >> shift) & 0xFFFF]++] = src[i];
        event_t *x = src;
        src = dst;
        dst = x;
    }
    free(tmp); /* after an even number of passes the result is back in s->ev */
    free(count);
    return SJ_OK;
}

static sj_status_t build_year(sj_synth_t *s, uint64_t n)
{
    sj_status_t st = arrivals(s, scaled(&s->rng, n, 5, 100));
    if (st == SJ_OK)
        st = moves(s, scaled(&s->rng, n, 5, 100), scaled(&s->rng, n, 4, 100));
    if (st == SJ_OK) st = deaths(s);
    if (st == SJ_OK) st = births(s);
    for (uint32_t r = 0; r < s->nres && st == SJ_OK; r++) st = personal(s, r);
    uint32_t *cand = st == SJ_OK ? malloc((size_t)s->nres * sizeof *cand + 1) : NULL;
    if (st == SJ_OK && !cand) st = SJ_ERR_NOMEM;
    if (st == SJ_OK) st = marriages(s, cand, scaled(&s->rng, n, 4, 1000));
    if (st == SJ_OK) st = income(s, cand, scaled(&s->rng, n, 8, 100));
    free(cand);
    if (st == SJ_OK) st = sort_events(s);
    return st;
}

/* ---- formatting --------------------------------------------------------- */

typedef struct {
    char *p, *end;
} writer_t;

static void w_raw(writer_t *w, const char *s, size_t n)
{
    if ((size_t)(w->end - w->p) < n) {
        w->p = w->end; /* overflow; the caller checks */
        return;
    }
    memcpy(w->p, s, n);
    w->p += n;
}

#define W_LIT(w, lit) w_raw((w), (lit), sizeof(lit) - 1)

static void w_str(writer_t *w, const char *s)
{
    w_raw(w, s, strlen(s));
}

/* A JSON string body with escaping (our strings need none, but stay safe). */
static void w_json(writer_t *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            w_raw(w, e, 2);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            w_raw(w, e, 6);
        } else {
            w_raw(w, s, 1);
        }
    }
}

static const char digits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* v in decimal, zero-padded to at least width digits (at most 20). */
static void w_uint(writer_t *w, uint64_t v, int width)
{
    char d[24], *q = d + sizeof d;
    while (v >= 100) {
        q -= 2;
        memcpy(q, digits2 + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, digits2 + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    while (d + sizeof d - q < width) *--q = '0';
    w_raw(w, q, (size_t)(d + sizeof d - q));
}

static void w_2digits(writer_t *w, uint32_t v)
{
    w_raw(w, digits2 + 2 * v, 2);
}

static void w_date(writer_t *w, const sj_synth_t *s, int32_t days)
{
    w_raw(w, date_str(s, days), 10);
}

/* A given name folded to lowercase ASCII for an e-mail local part:
 * Latin-1 letters lose their accents ("Zoë" -> "zoe"), anything else goes. */
static void w_mailname(writer_t *w, const char *s)
{
    static const char fold[] =
        "aaaaaaaceeeeiiiidnooooo-ouuuuytsaaaaaaaceeeeiiiidnooooo-ouuuuyty";
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        char c = 0;
        if (*u >= 'a' && *u <= 'z')
            c = (char)*u;
        else if (*u >= 'A' && *u <= 'Z')
            c = (char)(*u - 'A' + 'a');
        else if (*u == 0xC3 && u[1] >= 0x80 && u[1] <= 0xBF)
            c = fold[*++u - 0x80];
        if (c && c != '-') w_raw(w, &c, 1);
    }
}

/* The register number: YYMMDD, serial, check digits (97 - n mod 97, with
 * 2 000 000 000 added to n for births from 2000 on). */
static void w_nrn(writer_t *w, const sj_synth_t *s, const resident_t *p)
{
    const char *ymd = date_str(s, p->birth);
    uint64_t first9 = (uint64_t)((ymd[2] - '0') * 10 + ymd[3] - '0') * 10000000u +
                      (uint64_t)((ymd[5] - '0') * 10 + ymd[6] - '0') * 100000u +
                      (uint64_t)((ymd[8] - '0') * 10 + ymd[9] - '0') * 1000u + p->serial;
    uint64_t check = 97 - ((ymd[0] == '2' ? 2000000000u : 0u) + first9) % 97;
    w_uint(w, first9, 9);
    w_uint(w, check, 2);
}

static void w_household(writer_t *w, const sj_synth_t *s, uint32_t h)
{
    W_LIT(w, "hh-");
    w_str(w, s->tag);
    W_LIT(w, "-");
    w_uint(w, h, 1);
}

static void w_attrs(writer_t *w, const sj_synth_t *s, uint32_t r, uint8_t pc)
{
    const resident_t *p = &s->res[r];
    const household_t *h = &s->hh[p->hh];
    const char *given = name_of(p->name);
    W_LIT(w, "\"given_name\":\"");
    w_json(w, given);
    W_LIT(w, "\",\"birth_date\":\"");
    w_date(w, s, p->birth);
    W_LIT(w, "\",\"nis\":\"");
    w_str(w, s->nis);
    W_LIT(w, "\",\"postcode\":\"");
    w_uint(w, s->postcodes[pc], 4);
    W_LIT(w, "\",\"language\":\"");
    w_str(w, lang_code[h->lang]);
    W_LIT(w, "\",\"household\":\"");
    w_household(w, s, p->hh);
    if (p->flags & F_EMAIL) {
        W_LIT(w, "\",\"email\":\"");
        w_mailname(w, given);
        W_LIT(w, ".");
        w_str(w, surnames[h->surname]);
        w_uint(w, r, 1);
        W_LIT(w, "@");
        w_str(w, mail_domains[p->mail]);
    }
    if (p->flags &
        F_PHONE) { /* +32 40x xx xx xx, one number per resident up to 10 million */
        W_LIT(w, "\",\"phone\":\"+3240");
        w_uint(w, ((uint64_t)r * 7919u + s->mix % 10000000u) % 10000000u, 7);
    }
    if (p->flags & F_APP) { /* "bp-" and 4 groups of 4 hex digits: no long digit runs */
        static const char hex[] = "0123456789abcdef";
        uint64_t x = s->mix ^ ((uint64_t)r * 0xD1B54A32D192ED03ull), v = splitmix64(&x);
        char id[19];
        for (int i = 0, k = 0; i < 19; i++)
            id[i] = i % 5 == 4 ? '-' : hex[(v >> (4 * k++)) & 15];
        W_LIT(w, "\",\"app_inbox\":\"bp-");
        w_raw(w, id, sizeof id);
    }
    W_LIT(w, "\",\"consents\":{\"email\":");
    w_str(w, p->flags & F_OK_EMAIL ? "true" : "false");
    W_LIT(w, ",\"sms\":");
    w_str(w, p->flags & F_OK_SMS ? "true" : "false");
    W_LIT(w, ",\"app\":");
    w_str(w, p->flags & F_OK_APP ? "true" : "false");
    W_LIT(w, "}");
}

/* ---- options ------------------------------------------------------------ */

static bool nis_ok(const char *nis)
{
    if (strlen(nis) != 5 || nis[0] < '1' || nis[0] > '9') return false;
    for (int i = 1; i < 5; i++)
        if (nis[i] < '0' || nis[i] > '9') return false;
    return true;
}

/* Postcodes of a known town; for another NIS code one postcode in its
 * province's range (made up, but a valid Belgian postcode). */
static void set_town(sj_synth_t *s, const char *nis)
{
    memcpy(s->nis, nis, 6);
    for (size_t i = 0; i < SJ_ARRAY_LEN(towns); i++)
        if (!strcmp(towns[i].nis, nis)) {
            memcpy(s->postcodes, towns[i].postcodes, sizeof s->postcodes);
            s->npc = towns[i].n;
            return;
        }
    static const uint16_t base[10] = {0,    2000, 1000, 8000, 9000,
                                      7000, 4000, 3500, 6600, 5000};
    uint32_t code = 0;
    for (int i = 0; i < 5; i++) code = code * 10 + (uint32_t)(nis[i] - '0');
    uint32_t b = base[nis[0] - '0'];
    if (nis[0] == '2')
        b = nis[1] == '1' ? 1000 : nis[1] == '4' ? 3000 : nis[1] == '5' ? 1300 : 1500;
    s->postcodes[0] = (uint16_t)(b + code % 40 * 10);
    s->npc = 1;
}

/* The seed as shown in event and household ids: decimal, except when that
 * would be exactly 11 digits, which the producer could mistake for a register
 * number hiding in a field; those seeds are shown as "x" and hex. */
static void set_tag(sj_synth_t *s, uint64_t seed)
{
    char dec[24];
    int n = 0;
    uint64_t v = seed;
    do dec[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    if (n != 11) {
        for (int i = 0; i < n; i++) s->tag[i] = dec[n - 1 - i];
        s->tag[n] = '\0';
        return;
    }
    static const char hex[] = "0123456789abcdef";
    char h[20];
    int k = 0;
    for (v = seed; v; v >>= 4) h[k++] = hex[v & 15];
    s->tag[0] = 'x';
    for (int i = 0; i < k; i++) s->tag[1 + i] = h[k - 1 - i];
    s->tag[k + 1] = '\0';
}

sj_synth_t *sj_synth_new(const sj_synth_opts_t *o, char *errstr, size_t errstr_size)
{
    if (!o) {
        sj_seterr(errstr, errstr_size, "synthetic population: no options given");
        return NULL;
    }
    if (o->residents < 1 || o->residents > SJ_SYNTH_MAX_RESIDENTS) {
        sj_seterr(errstr, errstr_size,
                  "synthetic population: residents must be between 1 and %u, not %llu",
                  SJ_SYNTH_MAX_RESIDENTS, (unsigned long long)o->residents);
        return NULL;
    }
    int year = o->year ? o->year : SJ_SYNTH_DEFAULT_YEAR;
    if (year < SJ_SYNTH_MIN_YEAR || year > SJ_SYNTH_MAX_YEAR) {
        sj_seterr(errstr, errstr_size,
                  "synthetic population: year must be between %d and %d, not %d",
                  SJ_SYNTH_MIN_YEAR, SJ_SYNTH_MAX_YEAR, year);
        return NULL;
    }
    const char *nis = o->nis ? o->nis : SJ_SYNTH_DEFAULT_NIS;
    if (!nis_ok(nis)) {
        sj_seterr(
            errstr, errstr_size,
            "synthetic population: nis must be a 5-digit NIS municipality code like %s",
            SJ_SYNTH_DEFAULT_NIS);
        return NULL;
    }
    sj_synth_t *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->year = year;
    s->start = sj_days_from_civil(year, 1, 1);
    s->span = (uint32_t)(sj_days_from_civil(year + 1, 1, 1) - s->start) * DAY;
    set_town(s, nis);
    set_tag(s, o->seed);
    uint64_t x =
        o->seed ^ ((uint64_t)year << 40) ^ ((uint64_t)strtoul(nis, NULL, 10) << 8);
    for (int i = 0; i < 4; i++) s->rng.s[i] = splitmix64(&x);
    s->mix = splitmix64(&x);
    s->day1900 = sj_days_from_civil(1900, 1, 1);
    s->nserial_days = (uint32_t)(s->start + 366 - s->day1900);
    s->serials = calloc((size_t)s->nserial_days * 2, sizeof *s->serials);
    uint32_t n = (uint32_t)o->residents;
    s->capres = n + n / 16 + n / 64 + 64;
    s->res = malloc((size_t)s->capres * sizeof *s->res);
    s->caphh = n / 2 + 64;
    s->hh = malloc((size_t)s->caphh * sizeof *s->hh);
    s->ndates = (uint32_t)(s->start + 366 + 91 - s->day1900);
    s->dates = malloc((size_t)s->ndates * sizeof *s->dates);
    if (!s->serials || !s->res || !s->hh || !s->dates) goto nomem;
    for (uint32_t i = 0; i < s->ndates; i++) {
        int y;
        unsigned m, d;
        sj_civil_from_days(s->day1900 + (int32_t)i, &y, &m, &d);
        writer_t w = {s->dates[i], s->dates[i] + 10};
        w_uint(&w, (uint64_t)y, 4);
        W_LIT(&w, "-");
        w_2digits(&w, m);
        W_LIT(&w, "-");
        w_2digits(&w, d);
    }
    sj_status_t st = build_snapshot(s, n);
    if (st == SJ_OK) st = build_year(s, n);
    free(s->serials);
    s->serials = NULL;
    if (st == SJ_ERR_NOMEM) goto nomem;
    if (st != SJ_OK) {
        sj_seterr(errstr, errstr_size, "synthetic population: %s",
                  s->serials_full
                      ? "too many residents born on one date for unique register numbers"
                      : "generation failed");
        sj_synth_destroy(s);
        return NULL;
    }
    return s;
nomem:
    sj_seterr(errstr, errstr_size,
              "synthetic population: out of memory for %llu residents",
              (unsigned long long)o->residents);
    sj_synth_destroy(s);
    return NULL;
}

uint64_t sj_synth_count(const sj_synth_t *s)
{
    return s ? s->n0 + (uint64_t)s->nev : 0;
}

void sj_synth_destroy(sj_synth_t *s)
{
    if (!s) return;
    free(s->res);
    free(s->hh);
    free(s->ev);
    free(s->serials);
    free(s->dates);
    free(s);
}

int sj_synth_next(sj_synth_t *s, sj_buf_t *out)
{
    if (s->pos >= sj_synth_count(s)) return SJ_EOF;
    event_t e;
    if (s->pos < s->n0) /* the register snapshot, spread over the first hour */
        e = (event_t){.t = (uint32_t)(s->pos * SNAPSHOT_SECONDS / s->n0),
                      .r = (uint32_t)s->pos,
                      .param = NONE,
                      .type = EV_REGISTERED};
    else
        e = s->ev[s->pos - s->n0];
    resident_t *p = &s->res[e.r];
    uint8_t pc = p->pc; /* the state this event shows, applied only once it is out */
    if (e.type == EV_MOVED_WITHIN) pc = (uint8_t)e.param;
    if (e.type == EV_REGISTERED && e.param != NONE) pc = s->res[e.param].pc; /* newborn */

    char line[LINE_MAX_BYTES];
    writer_t w = {line, line + sizeof line};
    W_LIT(&w, "{\"specversion\":\"1.0\",\"id\":\"synth-");
    w_str(&w, s->tag);
    W_LIT(&w, "-");
    w_uint(&w, s->pos + 1, 1);
    W_LIT(&w, "\",\"source\":\"urn:nis:");
    w_str(&w, s->nis);
    W_LIT(&w, ":population\",\"type\":\"");
    w_str(&w, type_names[e.type]);
    W_LIT(&w, "\",\"time\":\"");
    w_date(&w, s, s->start + (int32_t)(e.t / DAY));
    W_LIT(&w, "T");
    w_2digits(&w, e.t % DAY / 3600);
    W_LIT(&w, ":");
    w_2digits(&w, e.t % 3600 / 60);
    W_LIT(&w, ":");
    w_2digits(&w, e.t % 60);
    W_LIT(&w, "Z\",\"subject\":\"");
    w_nrn(&w, s, p);
    W_LIT(&w, "\",\"datacontenttype\":\"application/json\",\"data\":{");
    w_attrs(&w, s, e.r, pc);
    switch ((ev_type_t)e.type) {
    case EV_BIRTH:
        W_LIT(&w, ",\"child_birth_date\":\"");
        w_date(&w, s, s->res[e.param].birth);
        W_LIT(&w, "\",\"child_given_name\":\"");
        w_json(&w, name_of(s->res[e.param].name));
        W_LIT(&w, "\"");
        break;
    case EV_MOVED_WITHIN:
        W_LIT(&w, ",\"previous_postcode\":\"");
        w_uint(&w, s->postcodes[p->pc], 4);
        W_LIT(&w, "\"");
        break;
    case EV_MOVED_OUT:
        W_LIT(&w, ",\"to_nis\":\"");
        w_str(&w, destinations[e.param]);
        W_LIT(&w, "\"");
        break;
    case EV_BIRTHDAY:
        W_LIT(&w, ",\"age\":");
        w_uint(&w, e.param, 1);
        break;
    case EV_ID_EXPIRING:
        W_LIT(&w, ",\"expires\":\"");
        w_date(&w, s, (int32_t)e.param);
        W_LIT(&w, "\"");
        break;
    case EV_MARRIAGE:
        if (e.param != NONE) {
            W_LIT(&w, ",\"partner_household\":\"");
            w_household(&w, s, e.param);
            W_LIT(&w, "\"");
        }
        break;
    case EV_INCOME:
        W_LIT(&w, ",\"income_band\":\"");
        w_str(&w, bands[e.param]);
        W_LIT(&w, "\",\"previous_income_band\":\"");
        w_str(&w, bands[p->band]);
        W_LIT(&w, "\"");
        break;
    default:
        break;
    }
    W_LIT(&w, "}}");
    if (w.p == w.end) return SJ_ERR_TOO_BIG; /* cannot happen with our own strings */
    sj_status_t st = sj_buf_add(out, line, (size_t)(w.p - line));
    if (st != SJ_OK) return st;
    p->pc = pc;
    if (e.type == EV_INCOME) p->band = (uint8_t)e.param;
    s->pos++;
    return SJ_OK;
}
