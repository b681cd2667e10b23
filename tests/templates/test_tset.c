/* Unit tests for templates/tset: the part files and their bounds, loading a
 * set directory (missing and broken files), partials with the per-language
 * override, _site.json, the context additions in deliver's mode (additions
 * replace the data) and in render's (the data wins, explicit values win over
 * it), the rendering rules (escaping only in HTML, trimming all but the
 * e-mail bodies), the channel builders and their error messages, the JSON
 * record form and "Display Name <address>" parsing. Files live in a
 * temporary directory; sets for the rendering tests are built in memory. */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "templates/sms.h"
#include "templates/tset.h"

static char dir[256];
static char err[1024];

/* dir/name in a static buffer (one at a time). */
static const char *at(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(at(name), "wb");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static void make_dir(const char *name)
{
    assert_int_equal(mkdir(at(name), 0700), 0);
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/sj-tset-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* An in-memory set: parts[p] is the source of part p or NULL. */
static sj_tset_t *set_of(const char *const parts[SJ_TSET_PARTS])
{
    sj_tset_t *s = sj_tset_new("camp/v/nl");
    assert_non_null(s);
    for (int p = 0; p < SJ_TSET_PARTS; p++) {
        if (!parts[p]) continue;
        char name[64];
        snprintf(name, sizeof name, "camp/v/nl/%s", sj_tset_part_file((sj_tset_part_t)p));
        sj_tmpl_error_t e;
        sj_tmpl_t *t = sj_tmpl_compile(name, parts[p], strlen(parts[p]), &e);
        if (!t) fail_msg("%s", e.message);
        sj_tset_put(s, (sj_tset_part_t)p, t);
    }
    return s;
}

static json_t *load_json(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j) fail_msg("%s: %s", text, jerr.text);
    return j;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void test_parts_and_languages(void **state)
{
    (void)state;
    static const char *const files[SJ_TSET_PARTS] = {
        "email.subject.mustache", "email.text.mustache", "email.html.mustache",
        "sms.mustache",           "app.title.mustache",  "app.body.mustache",
        "link.mustache"};
    for (int p = 0; p < SJ_TSET_PARTS; p++)
        assert_string_equal(sj_tset_part_file((sj_tset_part_t)p), files[p]);
    assert_null(sj_tset_part_file(SJ_TSET_PARTS));
    assert_int_equal(sj_tset_part_max(SJ_TSET_SUBJECT), SJ_EMAIL_MAX_SUBJECT);
    assert_int_equal(sj_tset_part_max(SJ_TSET_TEXT), 1u << 20);
    assert_int_equal(sj_tset_part_max(SJ_TSET_HTML), 1u << 20);
    assert_int_equal(sj_tset_part_max(SJ_TSET_SMS), 1u << 20);
    assert_int_equal(sj_tset_part_max(SJ_TSET_APP_TITLE), 4096);
    assert_int_equal(sj_tset_part_max(SJ_TSET_APP_BODY), 1u << 20);
    assert_int_equal(sj_tset_part_max(SJ_TSET_LINK), SJ_APP_LINK_MAX);
    assert_int_equal(SJ_SMS_SEND_MAX_SEGMENTS, 3);

    sj_lang_t lang = SJ_LANG_NL;
    assert_true(sj_tset_lang("fr", &lang));
    assert_int_equal(lang, SJ_LANG_FR);
    assert_true(sj_tset_lang("de", &lang));
    assert_int_equal(lang, SJ_LANG_DE);
    assert_true(sj_tset_lang("en", NULL));
    assert_true(sj_tset_lang("nl", NULL));
    assert_false(sj_tset_lang("nl-BE", NULL));
    assert_false(sj_tset_lang("NL", NULL));
    assert_false(sj_tset_lang("", NULL));
    assert_false(sj_tset_lang(NULL, NULL));
    sj_tset_destroy(NULL);
}

static void expect_mailbox(const char *s, const char *name, const char *addr)
{
    sj_email_addr_t a;
    assert_int_equal(sj_tset_parse_mailbox(s, &a), SJ_OK);
    assert_int_equal(a.name.len, strlen(name));
    assert_memory_equal(a.name.ptr, name, a.name.len);
    assert_int_equal(a.address.len, strlen(addr));
    assert_memory_equal(a.address.ptr, addr, a.address.len);
}

static void test_parse_mailbox(void **state)
{
    (void)state;
    expect_mailbox("Gemeente Aalter <noreply@example.org>", "Gemeente Aalter",
                   "noreply@example.org");
    expect_mailbox("Stad  <a@b.example>", "Stad", "a@b.example");
    expect_mailbox("<a@b.example>", "", "a@b.example");
    expect_mailbox("Zo\xC3\xAB <zoe@example.be>", "Zo\xC3\xAB", "zoe@example.be");
    expect_mailbox("a <b> <c@d.example>", "a <b>", "c@d.example");
    expect_mailbox("resident@example.org", "", "resident@example.org");
    const char *bad[] = {"a <b", "a <>", "A <a@b> x", "plain", "a@b>", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sj_email_addr_t a;
        if (sj_tset_parse_mailbox(bad[i], &a) != SJ_ERR_INPUT)
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

static void test_load_set(void **state)
{
    (void)state;
    make_dir("c");
    make_dir("c/v");
    make_dir("c/v/nl");
    write_file("c/v/nl/sms.mustache", "{{note}}\n");
    write_file("c/v/nl/link.mustache", "https://x.example/{{id}}\n");
    write_file("c/v/nl/other.mustache", "{{#broken");
    sj_tset_t *s = NULL;
    assert_int_equal(sj_tset_load(at("c/v/nl"), &s, err, sizeof err), SJ_OK);
    assert_string_equal(sj_tset_dir(s), at("c/v/nl"));
    for (int p = 0; p < SJ_TSET_PARTS; p++)
        assert_true((sj_tset_part(s, (sj_tset_part_t)p) != NULL) ==
                    (p == SJ_TSET_SMS || p == SJ_TSET_LINK));
    assert_string_equal(sj_tmpl_name(sj_tset_part(s, SJ_TSET_SMS)),
                        at("c/v/nl/sms.mustache"));
    /* A missing part is reported when it is rendered. */
    sj_buf_t b;
    sj_buf_init(&b, 4096);
    assert_int_equal(
        sj_tset_render(s, SJ_TSET_APP_TITLE, NULL, NULL, &b, err, sizeof err),
        SJ_ERR_INPUT);
    char want[1200];
    snprintf(want, sizeof want, "%s/app.title.mustache: missing", at("c/v/nl"));
    assert_string_equal(err, want);
    sj_buf_free(&b);
    sj_tset_destroy(s);

    /* Not a directory. */
    assert_int_equal(sj_tset_load(at("c/v/de"), &s, err, sizeof err), SJ_ERR_INPUT);
    assert_null(s);
    snprintf(want, sizeof want,
             "%s: no templates for this campaign, variant and language", at("c/v/de"));
    assert_string_equal(err, want);

    /* A broken part fails the whole set, even one no channel at hand uses. */
    write_file("c/v/nl/app.title.mustache", "Tot\n{{#until}}");
    assert_int_equal(sj_tset_load(at("c/v/nl"), &s, err, sizeof err), SJ_ERR_INPUT);
    assert_null(s);
    snprintf(want, sizeof want,
             "%s/app.title.mustache:2:11: unclosed section \"until\" (opened at 2:1)",
             at("c/v/nl"));
    assert_string_equal(err, want);
    unlink(at("c/v/nl/app.title.mustache"));

    /* A part that is not a regular file; a part over the source bound. */
    make_dir("c/v/nl/app.body.mustache");
    assert_int_equal(sj_tset_load(at("c/v/nl"), &s, err, sizeof err), SJ_ERR_INPUT);
    assert_non_null(strstr(err, "app.body.mustache: not a regular file"));
    rmdir(at("c/v/nl/app.body.mustache"));
    char *big = malloc(SJ_TMPL_MAX_SOURCE + 2);
    assert_non_null(big);
    memset(big, 'a', SJ_TMPL_MAX_SOURCE + 1);
    big[SJ_TMPL_MAX_SOURCE + 1] = '\0';
    write_file("c/v/nl/app.body.mustache", big);
    free(big);
    assert_int_equal(sj_tset_load(at("c/v/nl"), &s, err, sizeof err), SJ_ERR_TOO_BIG);
    assert_non_null(strstr(err, "app.body.mustache: larger than the limit of 1048576"));
    unlink(at("c/v/nl/app.body.mustache"));
}

/* Renders {{> sig}}{{> head}} with the partials loaded for lang. */
static char *render_sigs(const char *pdir, const char *lang)
{
    sj_tmpl_set_t *set = sj_tmpl_set_new();
    assert_non_null(set);
    if (sj_tset_load_partials(pdir, lang, set, err, sizeof err) != SJ_OK)
        fail_msg("%s", err);
    static const char src[] = "{{> sig}}|{{> head}}|{{> sig.nl}}";
    sj_tmpl_t *t = sj_tmpl_compile("t", src, sizeof src - 1, NULL);
    assert_non_null(t);
    sj_buf_t b;
    sj_buf_init(&b, 4096);
    assert_int_equal(sj_tmpl_render(t, set, NULL, 0, &b, NULL), SJ_OK);
    sj_tmpl_destroy(t);
    sj_tmpl_set_destroy(set);
    return sj_buf_detach(&b, NULL);
}

static void test_partials(void **state)
{
    (void)state;
    make_dir("p");
    write_file("p/sig.mustache", "shared");
    write_file("p/sig.nl.mustache", "nl");
    write_file("p/sig.fr.mustache", "fr");
    write_file("p/head.mustache", "head");
    write_file("p/head.x.mustache", "not a language");
    write_file("p/.hidden.mustache", "{{#ignored");
    write_file("p/notes.txt", "{{#ignored");
    make_dir("p/dir.mustache");
    struct {
        const char *lang, *want;
    } cases[] = {{"nl", "nl|head|"},
                 {"fr", "fr|head|"},
                 {"de", "shared|head|"},
                 {"en", "shared|head|"},
                 {NULL, "shared|head|"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = render_sigs(at("p"), cases[i].lang);
        if (strcmp(got, cases[i].want))
            fail_msg("lang %s: [%s], want [%s]", cases[i].lang ? cases[i].lang : "NULL",
                     got, cases[i].want);
        free(got);
    }
    /* head.x is a partial of its own: x is not a language. */
    sj_tmpl_set_t *set = sj_tmpl_set_new();
    assert_int_equal(sj_tset_load_partials(at("p"), "nl", set, err, sizeof err), SJ_OK);
    assert_int_equal(sj_tmpl_set_count(set), 3);
    assert_non_null(sj_tmpl_set_get(set, "head.x"));
    sj_tmpl_set_destroy(set);

    /* Another language's broken file is reported too. */
    write_file("p/sig.de.mustache", "{{/x}}");
    set = sj_tmpl_set_new();
    assert_int_equal(sj_tset_load_partials(at("p"), "nl", set, err, sizeof err),
                     SJ_ERR_INPUT);
    char want[1200];
    snprintf(want, sizeof want, "%s/sig.de.mustache:1:", at("p"));
    if (strncmp(err, want, strlen(want))) fail_msg("%s", err);
    sj_tmpl_set_destroy(set);
    unlink(at("p/sig.de.mustache"));

    /* A missing directory: an error, but optional under a root. */
    set = sj_tmpl_set_new();
    assert_int_equal(sj_tset_load_partials(at("none"), "nl", set, err, sizeof err),
                     SJ_ERR_INPUT);
    snprintf(want, sizeof want,
             "cannot open partials directory %s: No such file or directory", at("none"));
    assert_string_equal(err, want);
    assert_int_equal(sj_tset_load_root_partials(dir, "nl", set, err, sizeof err), SJ_OK);
    assert_int_equal(sj_tmpl_set_count(set), 0);
    make_dir("_partials");
    write_file("_partials/foot.fr.mustache", "pied");
    assert_int_equal(sj_tset_load_root_partials(dir, "fr", set, err, sizeof err), SJ_OK);
    assert_non_null(sj_tmpl_set_get(set, "foot"));
    sj_tmpl_set_destroy(set);

    /* More files than the bound. */
    make_dir("many");
    for (int i = 0; i <= SJ_TSET_MAX_PARTIALS; i++) {
        char name[64];
        snprintf(name, sizeof name, "many/p%03d.mustache", i);
        write_file(name, "x");
    }
    set = sj_tmpl_set_new();
    assert_int_equal(sj_tset_load_partials(at("many"), NULL, set, err, sizeof err),
                     SJ_ERR_TOO_BIG);
    snprintf(want, sizeof want, "more than 256 partials in %s", at("many"));
    assert_string_equal(err, want);
    sj_tmpl_set_destroy(set);
}

static void test_site(void **state)
{
    (void)state;
    make_dir("s");
    json_t *site;
    assert_int_equal(sj_tset_load_site(at("s"), &site, err, sizeof err), SJ_OK);
    assert_true(json_is_object(site) && json_object_size(site) == 0);
    json_decref(site);
    const struct {
        const char *text, *want;
    } bad[] = {
        {"{\"default\": }", "/s/_site.json:1:"},
        {"{\"a\": 1, \"a\": 2}", "/s/_site.json:1:"},
        {"[]", "/s/_site.json: expected {\"default\": {...}, \"municipalities\": "
               "{\"<nis>\": {...}}}"},
        {"{\"municipalities\": []}", "/s/_site.json: expected {\"default\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file("s/_site.json", bad[i].text);
        site = (json_t *)1;
        assert_int_equal(sj_tset_load_site(at("s"), &site, err, sizeof err),
                         SJ_ERR_INPUT);
        assert_null(site);
        const char *rest = err + strlen(dir);
        if (strncmp(err, dir, strlen(dir)) ||
            strncmp(rest, bad[i].want, strlen(bad[i].want)))
            fail_msg("%s: got [%s]", bad[i].text, err);
    }
    write_file("s/_site.json", "{\"default\": {\"url\": \"https://d.example\"}}");
    assert_int_equal(sj_tset_load_site(at("s"), &site, err, sizeof err), SJ_OK);
    assert_string_equal(str(json_object_get(site, "default"), "url"),
                        "https://d.example");
    json_decref(site);
}

static const char site_json[] =
    "{\"default\": {\"name\": {\"nl\": \"uw gemeente\", \"fr\": \"votre commune\"},"
    " \"title\": \"Uw gemeente\", \"url\": \"https://www.example.org\"},"
    " \"municipalities\": {\"44021\": {\"name\": {\"nl\": \"Gent\", \"fr\": \"Gand\"},"
    " \"title\": {\"nl\": \"Stad Gent\"}, \"url\": \"https://www.example.org/gent\"},"
    " \"1\": {\"name\": \"Zonder URL\"}}}";

/* A set whose link.mustache uses the context, as the campaigns' do. */
static sj_tset_t *link_set(const char *link)
{
    const char *parts[SJ_TSET_PARTS] = {NULL};
    parts[SJ_TSET_LINK] = link;
    return set_of(parts);
}

static void test_context_as_deliver(void **state)
{
    (void)state;
    json_t *site = load_json(site_json);
    sj_tset_t *s =
        link_set("{{municipality_url}}/eid?x={{intent_id}}&d={{until_long}}\n\n");
    json_t *ctx =
        load_json("{\"nis\": \"44021\", \"until\": \"2026-12-01\","
                  " \"municipality\": \"data\", \"intent_id\": \"data\","
                  " \"link\": \"data\", \"lang_fr\": false, \"given_name\": \"Old\"}");
    sj_tset_ctx_t in = {.id = "abc",
                        .language = "fr",
                        .channel = "sms",
                        .campaign = "c1",
                        .reason = "because",
                        .given_name = "An"};
    if (sj_tset_context(s, NULL, site, ctx, &in, err, sizeof err) != SJ_OK)
        fail_msg("%s", err);
    /* The additions replace the data's keys. */
    assert_string_equal(str(ctx, "municipality"), "Gand");
    assert_string_equal(str(ctx, "municipality_title"), "Stad Gent"); /* nl fallback */
    assert_string_equal(str(ctx, "municipality_url"), "https://www.example.org/gent");
    assert_string_equal(str(ctx, "unsubscribe_url"),
                        "https://www.example.org/gent/seintje/unsubscribe?id=abc");
    assert_string_equal(str(ctx, "why_url"),
                        "https://www.example.org/gent/seintje/why?id=abc");
    assert_string_equal(str(ctx, "reason"), "because");
    assert_string_equal(str(ctx, "intent_id"), "abc");
    assert_string_equal(str(ctx, "campaign"), "c1");
    assert_string_equal(str(ctx, "language"), "fr");
    assert_string_equal(str(ctx, "channel"), "sms");
    assert_true(json_is_true(json_object_get(ctx, "lang_fr")));
    assert_null(json_object_get(ctx, "lang_nl"));
    assert_string_equal(str(ctx, "given_name"), "An");
    assert_string_equal(str(ctx, "until_long"), "1er d\xC3\xA9"
                                                "cembre 2026");
    /* The link is rendered last (it sees the dates), trimmed and not escaped. */
    assert_string_equal(str(ctx, "link"),
                        "https://www.example.org/gent/eid?x=abc&d=1er d\xC3\xA9"
                        "cembre 2026");
    json_decref(ctx);

    /* Unknown nis: the default entry; an entry without URL: the default URL;
     * no link.mustache: municipality_url; an empty given_name adds none. */
    sj_tset_destroy(s);
    s = link_set(NULL);
    in.given_name = "";
    ctx = load_json("{\"nis\": \"99999\", \"given_name\": \"Kept\"}");
    assert_int_equal(sj_tset_context(s, NULL, site, ctx, &in, err, sizeof err), SJ_OK);
    assert_string_equal(str(ctx, "municipality"), "votre commune");
    assert_string_equal(str(ctx, "link"), "https://www.example.org");
    assert_string_equal(str(ctx, "given_name"), "Kept");
    json_decref(ctx);
    ctx = load_json("{\"nis\": \"1\"}");
    in.language = "de";
    assert_int_equal(sj_tset_context(s, NULL, site, ctx, &in, err, sizeof err), SJ_OK);
    assert_string_equal(str(ctx, "municipality"), "Zonder URL");
    assert_null(json_object_get(ctx, "municipality_title"));
    assert_string_equal(str(ctx, "municipality_url"), SJ_TSET_DEFAULT_URL);
    assert_string_equal(str(ctx, "link"), SJ_TSET_DEFAULT_URL);
    assert_true(json_is_true(json_object_get(ctx, "lang_de")));
    json_decref(ctx);
    sj_tset_destroy(s);
    json_decref(site);
}

static void test_context_as_preview(void **state)
{
    (void)state;
    json_t *site = load_json(site_json);
    sj_tset_t *s = link_set("{{municipality_url}}/doe\n");
    sj_tset_ctx_t in = {.id = "preview",
                        .language = "nl",
                        .channel = "email",
                        .flags = SJ_TSET_KEEP_DATA};
    /* The data wins over everything derived... */
    json_t *ctx =
        load_json("{\"municipality\": \"Mijn\", \"municipality_url\":"
                  " \"https://mine.example\", \"lang_nl\": false,"
                  " \"channel\": \"fax\", \"why_url\": \"https://why.example\"}");
    assert_int_equal(sj_tset_context(s, NULL, site, ctx, &in, err, sizeof err), SJ_OK);
    assert_string_equal(str(ctx, "municipality"), "Mijn");
    assert_string_equal(str(ctx, "municipality_title"), "Uw gemeente");
    assert_string_equal(str(ctx, "unsubscribe_url"),
                        "https://mine.example/seintje/unsubscribe?id=preview");
    assert_string_equal(str(ctx, "why_url"), "https://why.example");
    assert_true(json_is_false(json_object_get(ctx, "lang_nl")));
    assert_string_equal(str(ctx, "channel"), "fax");
    assert_string_equal(str(ctx, "intent_id"), "preview");
    assert_string_equal(str(ctx, "link"), "https://mine.example/doe");
    json_decref(ctx);
    /* ...and the explicit values win over the data. */
    ctx = load_json("{\"link\": \"https://data.example\", \"unsubscribe_url\": \"x\"}");
    in.link = "https://option.example/l";
    in.unsubscribe_url = "https://option.example/u";
    assert_int_equal(sj_tset_context(s, NULL, site, ctx, &in, err, sizeof err), SJ_OK);
    assert_string_equal(str(ctx, "link"), "https://option.example/l");
    assert_string_equal(str(ctx, "unsubscribe_url"), "https://option.example/u");
    json_decref(ctx);
    /* The data's link stays when no option replaces it; a municipality_url
     * that is not a string gives the default base and no link. */
    in.link = NULL;
    sj_tset_destroy(s);
    s = link_set(NULL);
    ctx = load_json("{\"municipality_url\": 5}");
    assert_int_equal(sj_tset_context(s, NULL, site, ctx, &in, err, sizeof err), SJ_OK);
    assert_string_equal(str(ctx, "why_url"),
                        SJ_TSET_DEFAULT_URL "/seintje/why?id=preview");
    assert_null(json_object_get(ctx, "link"));
    json_decref(ctx);
    sj_tset_destroy(s);
    json_decref(site);
}

static void test_context_errors(void **state)
{
    (void)state;
    json_t *site = json_object();
    sj_tset_t *s = link_set(NULL);
    sj_tset_ctx_t in = {.id = "\xFF", .language = "nl"};
    json_t *ctx = json_object();
    assert_int_equal(sj_tset_context(s, NULL, site, ctx, &in, err, sizeof err),
                     SJ_ERR_INPUT);
    assert_string_equal(err,
                        "cannot set unsubscribe_url in the context: not valid UTF-8");
    in.id = "x";
    in.language = "nl-BE";
    assert_int_equal(sj_tset_context(s, NULL, site, ctx, &in, err, sizeof err),
                     SJ_ERR_INPUT);
    assert_string_equal(err, "language 'nl-BE' is not nl, fr, de or en");
    in.language = "nl";
    json_t *arr = json_array();
    assert_int_equal(sj_tset_context(s, NULL, site, arr, &in, err, sizeof err),
                     SJ_ERR_INPUT);
    json_decref(arr);
    /* A date that is not one, named by the source when given. */
    json_object_set_new(ctx, "until", json_string("2026-02-30"));
    in.source = "data.json";
    assert_int_equal(sj_tset_context(s, NULL, site, ctx, &in, err, sizeof err),
                     SJ_ERR_INPUT);
    assert_string_equal(err,
                        "data.json: context field 'until': '2026-02-30' looks like a "
                        "date but is not a valid one");
    in.source = NULL;
    assert_int_equal(sj_tset_context(s, NULL, site, ctx, &in, err, sizeof err),
                     SJ_ERR_INPUT);
    assert_string_equal(err, "context field 'until': '2026-02-30' looks like a date but "
                             "is not a valid one");
    json_decref(ctx);
    sj_tset_destroy(s);
    /* A link over its bound. */
    s = link_set("https://x.example/{{long}}");
    ctx = json_object();
    char *long_text = malloc(SJ_TSET_MAX_LINK + 1);
    memset(long_text, 'a', SJ_TSET_MAX_LINK);
    long_text[SJ_TSET_MAX_LINK] = '\0';
    json_object_set_new(ctx, "long", json_string(long_text));
    free(long_text);
    assert_int_equal(sj_tset_context(s, NULL, site, ctx, &in, err, sizeof err),
                     SJ_ERR_TOO_BIG);
    assert_non_null(strstr(err, "camp/v/nl/link.mustache"));
    json_decref(ctx);
    sj_tset_destroy(s);
    json_decref(site);
}

static void test_render_rules(void **state)
{
    (void)state;
    const char *parts[SJ_TSET_PARTS];
    for (int p = 0; p < SJ_TSET_PARTS; p++) parts[p] = "{{v}} \r\n\t\n";
    sj_tset_t *s = set_of(parts);
    json_t *ctx = load_json("{\"v\": \"<a & b>\"}");
    sj_buf_t b;
    sj_buf_init(&b, 4096);
    for (int p = 0; p < SJ_TSET_PARTS; p++) {
        assert_int_equal(
            sj_tset_render(s, (sj_tset_part_t)p, NULL, ctx, &b, err, sizeof err), SJ_OK);
        const char *want = p == SJ_TSET_HTML   ? "&lt;a &amp; b&gt; \r\n\t\n"
                           : p == SJ_TSET_TEXT ? "<a & b> \r\n\t\n"
                                               : "<a & b>";
        if (strcmp(sj_buf_cstr(&b), want))
            fail_msg("%s: [%s]", sj_tset_part_file((sj_tset_part_t)p), sj_buf_cstr(&b));
    }
    /* Partials render with the same rules; the part's bound applies. */
    sj_tmpl_set_t *partials = sj_tmpl_set_new();
    assert_int_equal(sj_tmpl_set_add(partials, "p", "[{{v}}]\n", 8, NULL), SJ_OK);
    sj_tset_put(s, SJ_TSET_SMS, sj_tmpl_compile("sms", "{{> p}}", 7, NULL));
    assert_int_equal(sj_tset_render(s, SJ_TSET_SMS, partials, ctx, &b, err, sizeof err),
                     SJ_OK);
    assert_string_equal(sj_buf_cstr(&b), "[<a & b>]");
    sj_buf_free(&b);
    sj_buf_init(&b, 4);
    assert_int_equal(sj_tset_render(s, SJ_TSET_SMS, partials, ctx, &b, err, sizeof err),
                     SJ_ERR_TOO_BIG);
    sj_buf_free(&b);
    sj_tset_put(s, SJ_TSET_SMS, NULL);
    assert_null(sj_tset_part(s, SJ_TSET_SMS));
    sj_tmpl_set_destroy(partials);
    json_decref(ctx);
    sj_tset_destroy(s);
}

static sj_email_t envelope(void)
{
    sj_email_t m = {.to = {sj_email_cstr("An"), sj_email_cstr("an@example.org")},
                    .notification_id = sj_email_cstr("abc"),
                    .domain = sj_email_cstr("seintje.example.org"),
                    .date_ms = 1764666000000LL};
    assert_int_equal(sj_tset_parse_mailbox("Gemeente <noreply@example.org>", &m.from),
                     SJ_OK);
    return m;
}

static void test_email(void **state)
{
    (void)state;
    const char *parts[SJ_TSET_PARTS] = {"Over {{v}}\n", "Tekst {{v}}\n",
                                        "<p>{{v}}</p>\n"};
    sj_tset_t *s = set_of(parts);
    json_t *ctx =
        load_json("{\"v\": \"<x>\", \"unsubscribe_url\": \"https://u.example/1\"}");
    sj_email_t m = envelope();
    sj_buf_t out;
    sj_buf_init(&out, SJ_EMAIL_MAX_MESSAGE);
    if (sj_tset_email(s, NULL, ctx, &m, &out, err, sizeof err) != SJ_OK)
        fail_msg("%s", err);
    const char *msg = sj_buf_cstr(&out);
    assert_non_null(strstr(msg, "\r\nFrom: Gemeente <noreply@example.org>\r\n"));
    assert_non_null(strstr(msg, "\r\nTo: An <an@example.org>\r\n"));
    assert_non_null(strstr(msg, "\r\nSubject: Over <x>\r\n"));
    assert_non_null(strstr(msg, "\r\nList-Unsubscribe: <https://u.example/1>\r\n"));
    assert_non_null(strstr(msg, "\r\nMessage-ID: <abc@seintje.example.org>\r\n"));
    assert_non_null(strstr(msg, "\r\nTekst <x>\r\n"));
    assert_non_null(strstr(msg, "\r\n<p>&lt;x&gt;</p>\r\n"));
    /* Without email.html.mustache: text only. */
    sj_tset_put(s, SJ_TSET_HTML, NULL);
    sj_buf_reset(&out);
    assert_int_equal(sj_tset_email(s, NULL, ctx, &m, &out, err, sizeof err), SJ_OK);
    assert_null(strstr(sj_buf_cstr(&out), "text/html"));
    /* A refusal names the set; a missing part its file. */
    json_object_set_new(ctx, "v", json_string("a\r\nBcc: b@example.net"));
    sj_buf_reset(&out);
    assert_int_equal(sj_tset_email(s, NULL, ctx, &m, &out, err, sizeof err),
                     SJ_ERR_INPUT);
    assert_string_equal(err, "camp/v/nl: Subject contains a carriage return (CR) at byte "
                             "6: CR, LF and NUL are rejected in e-mail headers (header "
                             "injection)");
    sj_tset_put(s, SJ_TSET_SUBJECT, NULL);
    assert_int_equal(sj_tset_email(s, NULL, ctx, &m, &out, err, sizeof err),
                     SJ_ERR_INPUT);
    assert_string_equal(err, "camp/v/nl/email.subject.mustache: missing");
    sj_buf_free(&out);
    json_decref(ctx);
    sj_tset_destroy(s);
}

static void test_sms(void **state)
{
    (void)state;
    const char *parts[SJ_TSET_PARTS] = {NULL};
    parts[SJ_TSET_SMS] = "{{v}}\n\n";
    sj_tset_t *s = set_of(parts);
    json_t *ctx = load_json("{\"v\": \"Hallo\"}");
    json_t *j = NULL;
    assert_int_equal(
        sj_tset_sms(s, NULL, ctx, SJ_SMS_SEND_MAX_SEGMENTS, &j, err, sizeof err), SJ_OK);
    assert_string_equal(str(j, "text"), "Hallo");
    assert_string_equal(str(j, "encoding"), "GSM-7");
    assert_int_equal(json_integer_value(json_object_get(j, "segments")), 1);
    json_decref(j);
    /* 460 characters need 4 parts: over the limit, named by the template. */
    char text[461];
    memset(text, 'a', 460);
    text[460] = '\0';
    json_object_set_new(ctx, "v", json_string(text));
    assert_int_equal(
        sj_tset_sms(s, NULL, ctx, SJ_SMS_SEND_MAX_SEGMENTS, &j, err, sizeof err),
        SJ_ERR_TOO_BIG);
    assert_null(j);
    assert_string_equal(err, "camp/v/nl/sms.mustache: SMS needs 4 segments (460 GSM-7 "
                             "characters) but the limit is 3");
    assert_int_equal(sj_tset_sms(s, NULL, ctx, 4, &j, err, sizeof err), SJ_OK);
    json_decref(j);
    /* Only whitespace: empty after trimming. */
    json_object_set_new(ctx, "v", json_string(" \n"));
    assert_int_equal(sj_tset_sms(s, NULL, ctx, 3, &j, err, sizeof err), SJ_ERR_INPUT);
    assert_string_equal(err, "camp/v/nl/sms.mustache: SMS text is empty");
    json_decref(ctx);
    sj_tset_destroy(s);
}

static void test_app(void **state)
{
    (void)state;
    const char *parts[SJ_TSET_PARTS] = {NULL};
    parts[SJ_TSET_APP_TITLE] = "Tot {{v}}\n";
    parts[SJ_TSET_APP_BODY] = "<{{v}}>\n\n";
    sj_tset_t *s = set_of(parts);
    json_t *ctx = load_json("{\"v\": \"morgen\", \"link\": \"https://x.example/a\"}");
    sj_app_msg_t base = {.id = "abc",
                         .language = "nl",
                         .category = "action-required",
                         .title = "ignored",
                         .expires_at = "2027-01-31T00:00:00+01:00"};
    json_t *j = NULL;
    if (sj_tset_app(s, NULL, ctx, &base, &j, err, sizeof err) != SJ_OK)
        fail_msg("%s", err);
    assert_string_equal(str(j, "id"), "abc");
    assert_string_equal(str(j, "category"), "action-required");
    assert_string_equal(str(j, "title"), "Tot morgen");
    assert_string_equal(str(j, "body"), "<morgen>");
    assert_string_equal(str(j, "deep_link"), "https://x.example/a");
    assert_string_equal(str(j, "expires_at"), "2027-01-30T23:00:00Z");
    json_decref(j);
    json_object_set_new(ctx, "link", json_string("http://x.example/"));
    assert_int_equal(sj_tset_app(s, NULL, ctx, &base, &j, err, sizeof err), SJ_ERR_INPUT);
    assert_null(j);
    assert_string_equal(err, "camp/v/nl: app deep_link must be an absolute https:// URL");
    sj_tset_put(s, SJ_TSET_APP_BODY, NULL);
    assert_int_equal(sj_tset_app(s, NULL, ctx, &base, &j, err, sizeof err), SJ_ERR_INPUT);
    assert_string_equal(err, "camp/v/nl/app.body.mustache: missing");
    json_decref(ctx);
    sj_tset_destroy(s);
}

static void test_add_json(void **state)
{
    (void)state;
    sj_buf_t out;
    sj_buf_init(&out, 64);
    assert_int_equal(sj_tset_add_json(load_json("{\"a\": 1, \"b\": [true]}"), &out),
                     SJ_OK);
    assert_string_equal(sj_buf_cstr(&out),
                        "{\n  \"a\": 1,\n  \"b\": [\n    true\n  ]\n}\n");
    assert_int_equal(sj_tset_add_json(NULL, &out), SJ_ERR_NOMEM);
    assert_int_equal(sj_tset_add_json(load_json("{\"long\": \"0123456789012345678901234"
                                                "5678901234567890\"}"),
                                      &out),
                     SJ_ERR_TOO_BIG);
    sj_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_and_languages),
        cmocka_unit_test(test_parse_mailbox),
        cmocka_unit_test(test_load_set),
        cmocka_unit_test(test_partials),
        cmocka_unit_test(test_site),
        cmocka_unit_test(test_context_as_deliver),
        cmocka_unit_test(test_context_as_preview),
        cmocka_unit_test(test_context_errors),
        cmocka_unit_test(test_render_rules),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_sms),
        cmocka_unit_test(test_app),
        cmocka_unit_test(test_add_json),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
