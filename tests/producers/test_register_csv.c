/* Unit tests for producers/register_csv.c: header parsing (delimiter
 * detection, BOM, case, unknown/duplicate/missing columns, the column bound),
 * RFC 4180 quoting and its refusals, blank rows, and the exact event each row
 * becomes (compared as json_dumps with sorted keys). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "producers/register_csv.h"

#define MIN_HEADER "nrn,event_type,event_date"
#define ENVELOPE                                                                         \
    "\"datacontenttype\":\"application/json\",\"source\":\"urn:test\",\"specversion\":"  \
    "\"1.0\""

static sj_csv_reader_t *reader(const char *header, const char *default_source)
{
    char err[512] = "";
    sj_csv_reader_t *r =
        sj_csv_reader_new(header, strlen(header), default_source, err, sizeof err);
    if (!r) print_error("header refused: %s\n", err);
    assert_non_null(r);
    return r;
}

/* The header's error text, or "" when the header was accepted. */
static void header_error(const char *header, char *err, size_t errsize)
{
    err[0] = '\0';
    sj_csv_reader_t *r =
        sj_csv_reader_new(header, strlen(header), "urn:test", err, errsize);
    if (r) {
        sj_csv_reader_destroy(r);
        err[0] = '\0';
    }
}

#define EXPECT_HEADER_ERROR(header, want)                                                \
    do {                                                                                 \
        char err_[512];                                                                  \
        header_error(header, err_, sizeof err_);                                         \
        if (!strstr(err_, want)) print_error("got \"%s\"\n", err_);                      \
        assert_non_null(strstr(err_, want));                                             \
    } while (0)

/* A row as sorted compact JSON, "BLANK" for a skipped row, or
 * "ERR <field>: <problem>". Caller frees. */
static char *row(sj_csv_reader_t *r, const char *line, size_t len)
{
    json_t *ev = (json_t *)1;
    char field[64] = "?", problem[256] = "?";
    sj_status_t st = sj_csv_row_to_event(r, line, len, &ev, field, sizeof field, problem,
                                         sizeof problem);
    if (st != SJ_OK) {
        assert_int_equal(st, SJ_ERR_INPUT);
        assert_null(ev);
        char *out = malloc(strlen(field) + strlen(problem) + 8);
        assert_non_null(out);
        snprintf(out, strlen(field) + strlen(problem) + 8, "ERR %s: %s", field, problem);
        return out;
    }
    if (!ev) return strdup("BLANK");
    char *s = json_dumps(ev, JSON_SORT_KEYS | JSON_COMPACT);
    assert_int_equal(ev->refcount, 1);
    json_decref(ev);
    return s;
}

#define EXPECT_ROW(r, line, want)                                                        \
    do {                                                                                 \
        char *got_ = row(r, line, strlen(line));                                         \
        assert_string_equal(got_, want);                                                 \
        free(got_);                                                                      \
    } while (0)

/* Like EXPECT_ROW for an error, checking only that the text contains want. */
#define EXPECT_ROW_ERROR(r, line, want)                                                  \
    do {                                                                                 \
        char *got_ = row(r, line, strlen(line));                                         \
        if (!strstr(got_, want)) print_error("got \"%s\"\n", got_);                      \
        assert_non_null(strstr(got_, want));                                             \
        assert_null(strstr(got_, "85073003328"));                                        \
        free(got_);                                                                      \
    } while (0)

static void test_minimal(void **state)
{
    (void)state;
    sj_csv_reader_t *r = reader(MIN_HEADER, "urn:test");
    assert_int_equal(sj_csv_reader_delimiter(r), ',');
    EXPECT_ROW(
        r, "85073003328,moved-in,2026-11-28",
        "{\"data\":{}," ENVELOPE ",\"subject\":\"85073003328\","
        "\"time\":\"2026-11-28T00:00:00Z\",\"type\":\"be.seintje.life.moved-in\"}");
    /* The subject stays as given: validation and pseudonyms are the caller's. */
    EXPECT_ROW(r, "85.07.30-033.28,birth,2026-11-28",
               "{\"data\":{}," ENVELOPE ",\"subject\":\"85.07.30-033.28\","
               "\"time\":\"2026-11-28T00:00:00Z\",\"type\":\"be.seintje.life.birth\"}");
    /* Unquoted cells are trimmed; a trailing CR is ignored. */
    EXPECT_ROW(
        r, " 85073003328 ,\tmoved-in , 2026-11-28\r",
        "{\"data\":{}," ENVELOPE ",\"subject\":\"85073003328\","
        "\"time\":\"2026-11-28T00:00:00Z\",\"type\":\"be.seintje.life.moved-in\"}");
    sj_csv_reader_destroy(r);
    sj_csv_reader_destroy(NULL);
}

/* Every column, ';'-separated with a BOM and mixed-case names, as Excel in a
 * Belgian locale writes it. */
static void test_all_columns_semicolon_bom(void **state)
{
    (void)state;
    sj_csv_reader_t *r = reader(
        "\xEF\xBB\xBFNRN;Event_Type;EVENT_DATE;event_id;nis;postcode;language;given_name;"
        "email;phone;app_inbox;consents;household;expires;age;birth_date;source",
        NULL);
    assert_int_equal(sj_csv_reader_delimiter(r), ';');
    EXPECT_ROW(
        r,
        "85073003328;id-card-expiring;2026-11-28T09:30:00+01:00;pr-1;44021;9000;nl;"
        "Jan, de Tweede;jan@example.be;+32470123456;inbox-7f;email|app;hh-42;"
        "2027-01-31;41;1985-07-30;",
        "{\"data\":{\"age\":41,\"app_inbox\":\"inbox-7f\",\"birth_date\":\"1985-07-30\","
        "\"consents\":{\"app\":true,"
        "\"email\":true,\"sms\":false},\"email\":\"jan@example.be\",\"expires\":"
        "\"2027-01-31\",\"given_name\":\"Jan, de Tweede\",\"household\":\"hh-42\","
        "\"language\":\"nl\",\"nis\":\"44021\","
        "\"phone\":\"+32470123456\",\"postcode\":\"9000\"},\"datacontenttype\":"
        "\"application/json\",\"id\":\"pr-1\",\"source\":\"urn:nis:44021:population\","
        "\"specversion\":\"1.0\",\"subject\":\"85073003328\",\"time\":"
        "\"2026-11-28T09:30:00+01:00\",\"type\":\"be.seintje.life.id-card-expiring\"}");
    /* Empty cells leave their keys out, except consents (empty: no consent on
     * any channel); the source column wins over nis. */
    EXPECT_ROW(r,
               "85073003328;birthday;2026-11-28;;44021;;;;;;;;;;18;;urn:x-gemeente:gent",
               "{\"data\":{\"age\":18,\"consents\":{\"app\":false,\"email\":false,"
               "\"sms\":false},\"nis\":\"44021\"},\"datacontenttype\":"
               "\"application/json\",\"source\":\"urn:x-gemeente:gent\",\"specversion\":"
               "\"1.0\",\"subject\":\"85073003328\",\"time\":\"2026-11-28T00:00:00Z\","
               "\"type\":\"be.seintje.life.birthday\"}");
    /* No source, no nis and no default: no source key (the caller refuses it). */
    EXPECT_ROW(r, "85073003328;birthday;2026-11-28;;;;;;;;;-;;;;;",
               "{\"data\":{},\"datacontenttype\":\"application/json\",\"specversion\":"
               "\"1.0\",\"subject\":\"85073003328\",\"time\":\"2026-11-28T00:00:00Z\","
               "\"type\":\"be.seintje.life.birthday\"}");
    sj_csv_reader_destroy(r);
}

/* jansson keeps insertion order; JSON_SORT_KEYS above hides it, so check the
 * order the producer will publish once, unsorted. */
static void test_key_order(void **state)
{
    (void)state;
    sj_csv_reader_t *r = reader("event_date,nrn,event_type,event_id", "urn:test");
    json_t *ev;
    assert_int_equal(sj_csv_row_to_event(r, "2026-11-28,85073003328,birth,e1", 31, &ev,
                                         NULL, 0, NULL, 0),
                     SJ_OK);
    char *s = json_dumps(ev, JSON_COMPACT);
    assert_string_equal(s,
                        "{\"specversion\":\"1.0\",\"subject\":\"85073003328\",\"type\":"
                        "\"be.seintje.life.birth\",\"time\":\"2026-11-28T00:00:00Z\","
                        "\"id\":\"e1\",\"source\":\"urn:test\",\"datacontenttype\":"
                        "\"application/json\",\"data\":{}}");
    free(s);
    json_decref(ev);
    sj_csv_reader_destroy(r);
}

static void test_quoting(void **state)
{
    (void)state;
    sj_csv_reader_t *r =
        reader("\"nrn\",\"event_type\",event_date,given_name", "urn:test");
    EXPECT_ROW(
        r, "\"85073003328\",\"moved-in\",\"2026-11-28\",\"Jan \"\"Jantje\"\" Peeters\"",
        "{\"data\":{\"given_name\":\"Jan \\\"Jantje\\\" Peeters\"}," ENVELOPE
        ",\"subject\":\"85073003328\",\"time\":\"2026-11-28T00:00:00Z\",\"type\":"
        "\"be.seintje.life.moved-in\"}");
    /* Commas inside quotes; quoted cells keep their spaces; blanks around quotes. */
    EXPECT_ROW(r, "85073003328,moved-in,2026-11-28, \" Peeters, Jan \" ",
               "{\"data\":{\"given_name\":\" Peeters, Jan \"}," ENVELOPE
               ",\"subject\":\"85073003328\",\"time\":\"2026-11-28T00:00:00Z\",\"type\":"
               "\"be.seintje.life.moved-in\"}");
    /* UTF-8 passes through. */
    EXPECT_ROW(r, "85073003328,moved-in,2026-11-28,Zo\xc3\xab",
               "{\"data\":{\"given_name\":\"Zo\xc3\xab\"}," ENVELOPE
               ",\"subject\":\"85073003328\",\"time\":\"2026-11-28T00:00:00Z\",\"type\":"
               "\"be.seintje.life.moved-in\"}");
    EXPECT_ROW_ERROR(
        r, "85073003328,moved-in,2026-11-28,\"Jan\nPeeters",
        "ERR line: quoted field is not closed on this line (multi-line fields "
        "are not supported)");
    EXPECT_ROW_ERROR(r, "85073003328,moved-in,2026-11-28,\"Jan", "multi-line fields");
    EXPECT_ROW_ERROR(r, "85073003328,moved-in,2026-11-28,\"Jan\"x",
                     "ERR line: unexpected text after a closing quote");
    EXPECT_ROW_ERROR(r, "85073003328,moved-in,2026-11-28,Jan \"J\" P",
                     "ERR line: a '\"' inside an unquoted field");
    /* Bytes that are not UTF-8 (a Windows-1252 export) and control characters. */
    EXPECT_ROW_ERROR(r, "85073003328,moved-in,2026-11-28,Zo\xeb",
                     "ERR given_name: is not valid utf-8");
    EXPECT_ROW_ERROR(r, "85073003328,moved-in,2026-11-28,\"Jan\tPeeters\"",
                     "ERR given_name: contains a control character");
    char nul[] = "85073003328,moved-in,2026-11-28,Jan\0P";
    char *got = row(r, nul, sizeof nul - 1);
    assert_string_equal(got, "ERR given_name: contains a control character");
    free(got);
    sj_csv_reader_destroy(r);
}

static void test_field_counts_and_blank_rows(void **state)
{
    (void)state;
    sj_csv_reader_t *r = reader("nrn;event_type;event_date;given_name", "urn:test");
    EXPECT_ROW(r, "", "BLANK");
    EXPECT_ROW(r, "\r", "BLANK");
    EXPECT_ROW(r, ";;;", "BLANK");
    EXPECT_ROW(r, " ; ;\"\"; ", "BLANK");
    EXPECT_ROW_ERROR(r, "85073003328;moved-in;2026-11-28",
                     "ERR line: row has 3 fields, the header has 4");
    EXPECT_ROW_ERROR(r, "85073003328;moved-in;2026-11-28;Jan;extra",
                     "ERR line: row has more fields than the header (4)");
    EXPECT_ROW_ERROR(r, ";;;;", "more fields than the header");
    /* Commas are data when the header chose ';'. */
    EXPECT_ROW(r, "85073003328;moved-in;2026-11-28;a,b",
               "{\"data\":{\"given_name\":\"a,b\"}," ENVELOPE
               ",\"subject\":\"85073003328\",\"time\":\"2026-11-28T00:00:00Z\",\"type\":"
               "\"be.seintje.life.moved-in\"}");
    sj_csv_reader_destroy(r);
}

static void test_header_errors(void **state)
{
    (void)state;
    EXPECT_HEADER_ERROR(
        "nrn,event_type,event_date,adres",
        "unknown column 'adres' (known columns: nrn, event_type, event_date, "
        "event_id, source, birth_date, nis, postcode, language, given_name, "
        "email, phone, app_inbox, consents, household, expires, age)");
    EXPECT_HEADER_ERROR("nrn,event_type", "missing required column 'event_date'");
    EXPECT_HEADER_ERROR("event_type,event_date", "missing required column 'nrn'");
    EXPECT_HEADER_ERROR("nrn,event_type,event_date,NRN", "column 'nrn' appears twice");
    EXPECT_HEADER_ERROR("nrn,event_type,event_date,", "column 4 has no name");
    EXPECT_HEADER_ERROR("", "column 1 has no name");
    EXPECT_HEADER_ERROR("nrn\tevent_type\tevent_date",
                        "; columns are separated by ',' or ';'");
    EXPECT_HEADER_ERROR("nrn,\"event_type,event_date", "multi-line fields");
    /* A file without its header: the first row must not be echoed. */
    char err[512];
    header_error("85073003328,moved-in,2026-11-28", err, sizeof err);
    assert_non_null(strstr(
        err, "the first line does not look like a header (3 of 3 columns unknown)"));
    assert_null(strstr(err, "85073003328"));
    header_error("An,Peeters,moved-in,2026-11-28", err, sizeof err);
    assert_non_null(strstr(err, "does not look like a header (4 of 4"));
    assert_null(strstr(err, "Peeters"));
    header_error("nrn,event_type,event_date,an@example.be", err, sizeof err);
    assert_non_null(strstr(err, "column 4 is not a column name"));
    assert_null(strstr(err, "an@example"));
    /* errstr may be NULL or tiny. */
    assert_null(sj_csv_reader_new("x", 1, NULL, NULL, 0));
    char tiny[4];
    assert_null(sj_csv_reader_new("x", 1, NULL, tiny, sizeof tiny));
    assert_int_equal(strlen(tiny), 3);
}

static void test_too_many_columns(void **state)
{
    (void)state;
    char header[2048] = MIN_HEADER;
    /* 3 + 61 = 64 columns: within the bound, refused for their names. */
    for (int i = 0; i < 61; i++) strcat(header, ",x");
    EXPECT_HEADER_ERROR(header, "(61 of 64 columns unknown)");
    strcat(header, ",x");
    EXPECT_HEADER_ERROR(header, "more than 64 columns");
}

static void test_event_type_mapping(void **state)
{
    (void)state;
    sj_csv_reader_t *r = reader("event_type,nrn,event_date", "urn:test");
    static const char *const cases[][2] = {
        {"moved-in", "be.seintje.life.moved-in"},
        {"Moved-In", "be.seintje.life.moved-in"},
        {"id-card-expiring", "be.seintje.life.id-card-expiring"},
        {"service:parking-permit-requested",
         "be.seintje.service.parking-permit-requested"},
        {"SERVICE:id-card-requested", "be.seintje.service.id-card-requested"},
        {"be.seintje.life.birth", "be.seintje.life.birth"},
        {"be.seintje.service.id-card-requested", "be.seintje.service.id-card-requested"},
        {"not-in-catalogue", "be.seintje.life.not-in-catalogue"}, /* the caller checks */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[256], want[512];
        snprintf(line, sizeof line, "%s,85073003328,2026-11-28", cases[i][0]);
        snprintf(want, sizeof want,
                 "{\"data\":{}," ENVELOPE ",\"subject\":\"85073003328\",\"time\":"
                 "\"2026-11-28T00:00:00Z\",\"type\":\"%s\"}",
                 cases[i][1]);
        EXPECT_ROW(r, line, want);
    }
    static const char *const bad[] = {
        "moved in,85073003328,2026-11-28",   "be.seintje.life.,85073003328,2026-11-28",
        "be.other.x,85073003328,2026-11-28", "service:,85073003328,2026-11-28",
        "life.birth,85073003328,2026-11-28", "be.seintje.life.a.b,85073003328,2026-11-28",
        "moved_in,85073003328,2026-11-28",   "service:a:b,85073003328,2026-11-28",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_ROW_ERROR(r, bad[i],
                         "ERR event_type: expected a short name such as moved-in");
    char line[400] = "";
    for (int i = 0; i < 120; i++) strcat(line, "a");
    strcat(line, ",85073003328,2026-11-28"); /* 120 + "be.seintje.life." > 128 */
    EXPECT_ROW_ERROR(r, line, "ERR event_type: longer than 128 characters");
    EXPECT_ROW_ERROR(r, ",85073003328,2026-11-28", "ERR event_type: is required");
    sj_csv_reader_destroy(r);
}

static void test_event_date_and_required(void **state)
{
    (void)state;
    sj_csv_reader_t *r = reader(MIN_HEADER, "urn:test");
    EXPECT_ROW(r, "85073003328,birth,2026-11-28T09:30:00.5Z",
               "{\"data\":{}," ENVELOPE ",\"subject\":\"85073003328\",\"time\":"
               "\"2026-11-28T09:30:00.5Z\",\"type\":\"be.seintje.life.birth\"}");
    EXPECT_ROW(r, "85073003328,birth,2024-02-29",
               "{\"data\":{}," ENVELOPE ",\"subject\":\"85073003328\",\"time\":"
               "\"2024-02-29T00:00:00Z\",\"type\":\"be.seintje.life.birth\"}");
    static const char *const bad[] = {"2026-02-30",       "28/11/2026",
                                      "2026-11-28 09:30", "2026-11-28T09:30:00",
                                      "2026-11-2",        "tomorrow"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "85073003328,birth,%s", bad[i]);
        EXPECT_ROW_ERROR(r, line,
                         "ERR event_date: expected a date YYYY-MM-DD or an RFC 3339");
    }
    EXPECT_ROW_ERROR(r, "85073003328,birth,", "ERR event_date: is required");
    EXPECT_ROW_ERROR(r, ",birth,2026-11-28", "ERR nrn: is required");
    EXPECT_ROW_ERROR(r, "\"\",birth,2026-11-28", "ERR nrn: is required");
    sj_csv_reader_destroy(r);
}

static void test_consents(void **state)
{
    (void)state;
    sj_csv_reader_t *r = reader("nrn,event_type,event_date,consents", "urn:test");
    static const char *const cases[][2] = {
        {"email|app", "{\"app\":true,\"email\":true,\"sms\":false}"},
        {"\"sms; APP\"", "{\"app\":true,\"email\":false,\"sms\":true}"},
        {"email|email", "{\"app\":false,\"email\":true,\"sms\":false}"},
        {"\" email | sms | app \"", "{\"app\":true,\"email\":true,\"sms\":true}"},
        {"email||app|", "{\"app\":true,\"email\":true,\"sms\":false}"},
        {"", "{\"app\":false,\"email\":false,\"sms\":false}"},
        {"\"\"", "{\"app\":false,\"email\":false,\"sms\":false}"},
        {"|", "{\"app\":false,\"email\":false,\"sms\":false}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[256], want[512];
        snprintf(line, sizeof line, "85073003328,consent-changed,2026-11-28,%s",
                 cases[i][0]);
        snprintf(want, sizeof want,
                 "{\"data\":{\"consents\":%s}," ENVELOPE ",\"subject\":\"85073003328\","
                 "\"time\":\"2026-11-28T00:00:00Z\",\"type\":"
                 "\"be.seintje.life.consent-changed\"}",
                 cases[i][1]);
        EXPECT_ROW(r, line, want);
    }
    /* "-": consents unknown, so no key at all. */
    EXPECT_ROW(r, "85073003328,consent-changed,2026-11-28,-",
               "{\"data\":{}," ENVELOPE ",\"subject\":\"85073003328\",\"time\":"
               "\"2026-11-28T00:00:00Z\",\"type\":\"be.seintje.life.consent-changed\"}");
    static const char *const bad[] = {"fax",       "email|fax", "e-mail",
                                      "email app", "--",        "emailemailemailemail"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[256];
        snprintf(line, sizeof line, "85073003328,consent-changed,2026-11-28,%s", bad[i]);
        EXPECT_ROW_ERROR(r, line, "ERR consents: expected channels email, sms, app");
    }
    sj_csv_reader_destroy(r);
}

static void test_age_nis_source(void **state)
{
    (void)state;
    sj_csv_reader_t *r = reader("nrn,event_type,event_date,age,nis", "urn:test");
    EXPECT_ROW(r, "85073003328,birthday,2026-11-28,0,",
               "{\"data\":{\"age\":0}," ENVELOPE ",\"subject\":\"85073003328\",\"time\":"
               "\"2026-11-28T00:00:00Z\",\"type\":\"be.seintje.life.birthday\"}");
    EXPECT_ROW(r, "85073003328,birthday,2026-11-28,150,21004",
               "{\"data\":{\"age\":150,\"nis\":\"21004\"},\"datacontenttype\":"
               "\"application/json\",\"source\":\"urn:nis:21004:population\","
               "\"specversion\":\"1.0\",\"subject\":\"85073003328\",\"time\":"
               "\"2026-11-28T00:00:00Z\",\"type\":\"be.seintje.life.birthday\"}");
    static const char *const bad_age[] = {"151", "-1",  "18.5",
                                          "18y", "+18", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_age / sizeof bad_age[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "85073003328,birthday,2026-11-28,%s,", bad_age[i]);
        EXPECT_ROW_ERROR(r, line, "ERR age: expected a whole number of years, 0-150");
    }
    EXPECT_ROW_ERROR(r, "85073003328,birthday,2026-11-28,18,4402",
                     "ERR nis: expected a 5-digit nis code");
    EXPECT_ROW_ERROR(r, "85073003328,birthday,2026-11-28,18,04402", "ERR nis: nis code");
    sj_csv_reader_destroy(r);

    /* An empty default source counts as none. */
    r = reader(MIN_HEADER, "");
    EXPECT_ROW(r, "85073003328,birth,2026-11-28",
               "{\"data\":{},\"datacontenttype\":\"application/json\",\"specversion\":"
               "\"1.0\",\"subject\":\"85073003328\",\"time\":\"2026-11-28T00:00:00Z\","
               "\"type\":\"be.seintje.life.birth\"}");
    sj_csv_reader_destroy(r);
}

/* The reader's scratch buffer grows for a long line and is reused after it;
 * lines over the bound are refused. */
static void test_long_lines(void **state)
{
    (void)state;
    sj_csv_reader_t *r = reader("nrn,event_type,event_date,household", "urn:test");
    size_t n = 100000;
    char *line = malloc(n + 64);
    assert_non_null(line);
    int k = snprintf(line, 64, "85073003328,moved-in,2026-11-28,");
    memset(line + k, 'h', n);
    line[k + (int)n] = '\0';
    json_t *ev;
    assert_int_equal(sj_csv_row_to_event(r, line, strlen(line), &ev, NULL, 0, NULL, 0),
                     SJ_OK);
    assert_int_equal(strlen(json_string_value(
                         json_object_get(json_object_get(ev, "data"), "household"))),
                     n);
    json_decref(ev);
    EXPECT_ROW(r, "85073003328,moved-in,2026-11-28,hh-1",
               "{\"data\":{\"household\":\"hh-1\"}," ENVELOPE
               ",\"subject\":\"85073003328\",\"time\":\"2026-11-28T00:00:00Z\",\"type\":"
               "\"be.seintje.life.moved-in\"}");
    free(line);

    char field[64], problem[256];
    char *huge = malloc(SJ_CSV_MAX_LINE + 2);
    assert_non_null(huge);
    memset(huge, 'a', SJ_CSV_MAX_LINE + 1);
    huge[SJ_CSV_MAX_LINE + 1] = '\0';
    assert_int_equal(sj_csv_row_to_event(r, huge, SJ_CSV_MAX_LINE + 1, &ev, field,
                                         sizeof field, problem, sizeof problem),
                     SJ_ERR_INPUT);
    assert_string_equal(field, "line");
    assert_string_equal(problem, "longer than 1048576 bytes");
    assert_null(
        sj_csv_reader_new(huge, SJ_CSV_MAX_LINE + 1, NULL, problem, sizeof problem));
    assert_non_null(strstr(problem, "longer than"));
    free(huge);
    sj_csv_reader_destroy(r);
}

static void test_split(void **state)
{
    (void)state;
    char buf[64], problem[128];
    sj_csv_field_t f[8];
    size_t nf = 99;
    const char *line = "a,\"b,\"\"c\"\"\",,  d  ,\"\"";
    assert_int_equal(sj_csv_split(line, strlen(line), ',', buf, strlen(line) + 1, f, 8,
                                  &nf, problem, sizeof problem),
                     SJ_OK);
    assert_int_equal(nf, 5);
    assert_string_equal(f[0].p, "a");
    assert_string_equal(f[1].p, "b,\"c\"");
    assert_int_equal(f[1].len, 5);
    assert_string_equal(f[2].p, "");
    assert_string_equal(f[3].p, "d");
    assert_int_equal(f[4].len, 0);
    /* The buffer bound and the field bound are both errors, not truncation. */
    assert_int_equal(sj_csv_split(line, strlen(line), ',', buf, strlen(line), f, 8, &nf,
                                  problem, sizeof problem),
                     SJ_ERR_TOO_BIG);
    assert_int_equal(sj_csv_split(line, strlen(line), ',', buf, sizeof buf, f, 4, &nf,
                                  problem, sizeof problem),
                     SJ_ERR_TOO_BIG);
    assert_string_equal(problem, "more than 4 fields");
    assert_int_equal(nf, 0);
    /* The worst case for the buffer: all delimiters, len + 1 bytes. */
    assert_int_equal(sj_csv_split(",,,", 3, ',', buf, 4, f, 8, &nf, NULL, 0), SJ_OK);
    assert_int_equal(nf, 4);
    assert_int_equal(sj_csv_split("", 0, ';', buf, 1, f, 8, &nf, NULL, 0), SJ_OK);
    assert_int_equal(nf, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_all_columns_semicolon_bom),
        cmocka_unit_test(test_key_order),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_field_counts_and_blank_rows),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_too_many_columns),
        cmocka_unit_test(test_event_type_mapping),
        cmocka_unit_test(test_event_date_and_required),
        cmocka_unit_test(test_consents),
        cmocka_unit_test(test_age_nis_source),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
