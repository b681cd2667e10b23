/* Tests for `seintje render` (templates/render_cmd.c): exact stdout bytes,
 * error messages with file:line:column on stderr, and exit codes (0 ok,
 * 1 output not written, 2 bad usage or input), for the text channel and for
 * template sets rendered as SMS, e-mail and app messages. The command runs
 * in-process with stdin, stdout and stderr redirected to files in a
 * temporary directory. The last test renders every campaign in
 * templates/campaigns/ and checks that the preview is what `seintje deliver`
 * composes (consumers/compose.c) for the same context. */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/commands.h"
#include "consumers/compose.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/timeutil.h"
#include "templates/email.h"

static char dir[256];

static void write_file(const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_back(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 18);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 18) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

typedef struct {
    int rc;
    char *out, *err;
} result_t;

static int redirect(int fd, const char *path, int flags)
{
    int saved = dup(fd);
    int f = open(path, flags, 0600);
    assert_true(saved >= 0 && f >= 0);
    assert_int_equal(dup2(f, fd), fd);
    close(f);
    return saved;
}

/* Runs `seintje render ARGS...` (NULL-terminated, paths relative to dir). */
static result_t run(const char *stdin_text, ...)
{
    char *argv[24];
    char storage[24][1024];
    int argc = 0;
    argv[argc++] = "render";
    va_list ap;
    va_start(ap, stdin_text);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 23) {
        /* "@x" means the file x in the temporary directory. */
        if (a[0] == '@')
            snprintf(storage[argc], sizeof storage[argc], "%s/%s", dir, a + 1);
        else
            snprintf(storage[argc], sizeof storage[argc], "%s", a);
        argv[argc] = storage[argc];
        argc++;
    }
    va_end(ap);
    argv[argc] = NULL;

    char in_path[512], out_path[512], err_path[512];
    snprintf(in_path, sizeof in_path, "%s/.stdin", dir);
    snprintf(out_path, sizeof out_path, "%s/.stdout", dir);
    snprintf(err_path, sizeof err_path, "%s/.stderr", dir);
    write_file(".stdin", stdin_text ? stdin_text : "");
    fflush(stdout);
    fflush(stderr);
    int si = redirect(0, in_path, O_RDONLY);
    int so = redirect(1, out_path, O_WRONLY | O_CREAT | O_TRUNC);
    int se = redirect(2, err_path, O_WRONLY | O_CREAT | O_TRUNC);
    clearerr(stdin);
    result_t r;
    r.rc = sj_cmd_render(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(si, 0);
    dup2(so, 1);
    dup2(se, 2);
    close(si);
    close(so);
    close(se);
    clearerr(stdin);
    r.out = read_back(out_path);
    r.err = read_back(err_path);
    return r;
}

static void expect(result_t r, int rc, const char *out, const char *err)
{
    if (strcmp(r.out, out) != 0 || strcmp(r.err, err) != 0 || r.rc != rc)
        fail_msg(
            "rc %d (want %d)\nstdout: [%s]\nwant:   [%s]\nstderr: [%s]\nwant:   [%s]",
            r.rc, rc, r.out, out, r.err, err);
    free(r.out);
    free(r.err);
}

static const char ctx_json[] =
    "{\"given_name\": \"Zo\u00eb\", \"note\": \"<b>\", \"until\": \"2026-11-28\"}";

static void make_dir(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(mkdir(path, 0700), 0);
}

/* A small templates directory in the layout deliver reads:
 * tpl/_site.json, tpl/_partials/, tpl/camp/plain/nl/ (every part),
 * tpl/camp/bare/nl/ (an SMS only), tpl/camp/broken/nl/ (a broken app title). */
static void make_template_sets(void)
{
    const char *dirs[] = {"tpl",
                          "tpl/_partials",
                          "tpl/camp",
                          "tpl/camp/plain",
                          "tpl/camp/plain/nl",
                          "tpl/camp/bare",
                          "tpl/camp/bare/nl",
                          "tpl/camp/broken",
                          "tpl/camp/broken/nl"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) make_dir(dirs[i]);
    write_file("tpl/_site.json",
               "{\"default\": {\"name\": {\"nl\": \"Testdorp\", \"fr\": "
               "\"Villetest\"},\n \"title\": \"Gemeente Testdorp\", \"url\": "
               "\"https://example.test/dorp\"}}\n");
    write_file("tpl/_partials/sig.mustache", "-- {{municipality_title}}\n");
    write_file("tpl/_partials/sig.nl.mustache", "-- Groeten, {{municipality_title}}\n");
    write_file("tpl/_partials/sig.fr.mustache", "-- Salutations\n");
    write_file("tpl/camp/plain/nl/email.subject.mustache",
               "Hallo {{given_name}}, tot {{until_long}}\n");
    write_file("tpl/camp/plain/nl/email.text.mustache",
               "Beste {{given_name}} <tekst>,\n{{link}}\n{{> sig}}");
    write_file("tpl/camp/plain/nl/email.html.mustache",
               "<p>Beste {{given_name}}: {{note}}</p>\n");
    write_file("tpl/camp/plain/nl/sms.mustache",
               "{{municipality}}: {{note}} {{link}}\n\n");
    write_file("tpl/camp/plain/nl/app.title.mustache",
               "Tot {{until_weekday}} {{until_long}}\n");
    write_file("tpl/camp/plain/nl/app.body.mustache", "{{note}}\n");
    write_file("tpl/camp/plain/nl/link.mustache",
               "{{municipality_url}}/doe?x={{intent_id}}\n");
    write_file("tpl/camp/bare/nl/sms.mustache", "{{note}}\n");
    write_file("tpl/camp/broken/nl/sms.mustache", "{{note}}");
    write_file("tpl/camp/broken/nl/app.title.mustache", "Tot\n{{#until}}");
    write_file("ctx.json", ctx_json);
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/sj-render-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return -1;
    char sub[300];
    snprintf(sub, sizeof sub, "%s/partials", dir);
    mkdir(sub, 0700);
    write_file("letter.mustache",
               "Dear {{name}},\n{{#kids}}\n  {{>kid}}\n{{/kids}}\n{{> footer}}");
    write_file("partials/kid.mustache", "* {{first}} ({{age}})\n");
    write_file("partials/footer.mustache", "-- {{town}} & co");
    write_file("partials/notes.txt", "{{#not a template");
    write_file(
        "data.json",
        "{\"name\":\"An <P>\",\"town\":\"Gent\","
        "\"kids\":[{\"first\":\"Lou\",\"age\":3},{\"first\":\"Mo\",\"age\":5.5}]}");
    write_file("bad.json", "{\"a\":1,\n  \"b\": }");
    write_file("broken.mustache", "{{#a}}{{/b}}");
    make_template_sets();
    return 0;
}

/* Removes path and, for a directory, everything in it (no symlinks followed). */
static int remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return -1;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        if (d) closedir(d);
    }
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    return remove_tree(dir);
}

static const char letter_out[] =
    "Dear An &lt;P&gt;,\n  * Lou (3)\n  * Mo (5.5)\n-- Gent & co";

static void test_render_text(void **state)
{
    (void)state;
    expect(run(NULL, "@letter.mustache", "--data", "@data.json", "--partials",
               "@partials", NULL),
           0, letter_out, "");
    /* Same with = forms, short options and an explicit channel. */
    char data_opt[600];
    snprintf(data_opt, sizeof data_opt, "--data=%s/data.json", dir);
    expect(run(NULL, data_opt, "-p", "@partials", "--channel=text", "@letter.mustache",
               NULL),
           0, letter_out, "");
    /* Data from stdin, no escaping. */
    expect(run("{\"name\":\"<b>\"}", "@letter.mustache", "-d", "-", "--no-escape", NULL),
           0, "Dear <b>,\n", "");
    /* No data: an empty context. */
    expect(run(NULL, "@letter.mustache", NULL), 0, "Dear ,\n", "");
}

static void test_help(void **state)
{
    (void)state;
    result_t r = run(NULL, "--help", NULL);
    assert_int_equal(r.rc, 0);
    assert_memory_equal(r.out, "usage: seintje render TEMPLATE", 30);
    assert_string_equal(r.err, "");
    free(r.out);
    free(r.err);
}

static void test_errors(void **state)
{
    (void)state;
    char want[1024];
    snprintf(want, sizeof want,
             "seintje render: %s/letter.mustache: --channel email needs a template set, "
             "a directory <campaign>/<variant>/<lang>/ (see --help)\n",
             dir);
    expect(run(NULL, "@letter.mustache", "--channel", "email", NULL), 2, "", want);
    expect(run(NULL, "@letter.mustache", "--channel", "fax", NULL), 2, "",
           "seintje render: unknown channel 'fax' (text, email, sms or app)\n");
    expect(run(NULL, NULL), 2, "",
           "seintje render: no template given (see seintje render --help)\n");
    expect(run(NULL, "a", "b", NULL), 2, "",
           "seintje render: one template at a time: 'a' and 'b' (see --help)\n");
    expect(run(NULL, "a", "--bogus", NULL), 2, "",
           "seintje render: unknown option '--bogus' (see seintje render --help)\n");
    expect(run(NULL, "a", "--data", NULL), 2, "",
           "seintje render: --data needs a value\n");

    snprintf(want, sizeof want,
             "seintje render: %s/broken.mustache:1:7: closing tag \"{{/b}}\" does not "
             "match the "
             "open section \"a\" (opened at 1:1)\n",
             dir);
    expect(run(NULL, "@broken.mustache", NULL), 2, "", want);

    /* JSON errors carry file:line:column (the text after it is jansson's). */
    result_t r = run(NULL, "@letter.mustache", "--data", "@bad.json", NULL);
    snprintf(want, sizeof want, "seintje render: %s/bad.json:2:8: ", dir);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.out, "");
    assert_memory_equal(r.err, want, strlen(want));
    free(r.out);
    free(r.err);
    r = run("{\"a\":1,\"a\":2}", "@letter.mustache", "--data", "-", NULL);
    assert_int_equal(r.rc, 2);
    assert_memory_equal(r.err, "seintje render: <stdin>:1:", 26);
    free(r.out);
    free(r.err);

    /* A broken partial is reported with its file even if unused. */
    write_file("partials/bad.mustache", "x\n{{#items}}\n0123456789abc");
    snprintf(want, sizeof want,
             "seintje render: %s/partials/bad.mustache:3:14: unclosed section \"items\" "
             "(opened "
             "at 2:1)\n",
             dir);
    expect(run(NULL, "@letter.mustache", "-p", "@partials", NULL), 2, "", want);

    r = run(NULL, "@nope.mustache", NULL);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "cannot open template"));
    free(r.out);
    free(r.err);
}

/* Asserts that haystack contains needle, showing both when it does not. */
static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle)) fail_msg("expected [%s] in:\n%s", needle, haystack);
}

static const char sms_out[] = "{\n"
                              "  \"text\": \"Testdorp: <b> "
                              "https://example.test/dorp/doe?x=preview\",\n"
                              "  \"encoding\": \"GSM-7\",\n"
                              "  \"characters\": 53,\n"
                              "  \"segments\": 1\n"
                              "}\n";

static void test_sms(void **state)
{
    (void)state;
    /* A set: the context gains branding from _site.json and the rendered
     * link; nothing is escaped, trailing whitespace goes. */
    expect(run(NULL, "@tpl/camp/plain/nl", "--channel", "sms", "-d", "@ctx.json", NULL),
           0, sms_out, "");
    expect(run(ctx_json, "@tpl/camp/plain/nl/", "--channel=sms", "--data=-", NULL), 0,
           sms_out, "");
    /* A single file; UCS-2 because of the e with diaeresis: "Zoë " and 66 more
     * make 70 UTF-16 units, one part; one more makes two parts of 67. */
    char as[80], json[700], want[1024];
    memset(as, 'a', 67);
    as[67] = '\0';
    for (int extra = 0; extra < 2; extra++) {
        snprintf(json, sizeof json, "{\"note\": \"Zo\\u00eb %.*s\"}", 66 + extra, as);
        write_file("note.json", json);
        snprintf(want, sizeof want,
                 "{\n  \"text\": \"Zo\u00eb %.*s\",\n  \"encoding\": \"UCS-2\",\n"
                 "  \"characters\": %d,\n  \"segments\": %d,\n"
                 "  \"first_non_gsm\": \"\u00eb\",\n  \"first_non_gsm_offset\": 2\n}\n",
                 66 + extra, as, 70 + extra, 1 + extra);
        expect(run(NULL, "@tpl/camp/bare/nl/sms.mustache", "--channel", "sms", "-d",
                   "@note.json", NULL),
               0, want, "");
    }
    /* 460 GSM-7 characters need 4 parts of 153: over deliver's limit of 3. */
    char note[600];
    memset(note, 'a', 460);
    note[460] = '\0';
    snprintf(json, sizeof json, "{\"note\": \"%s\"}", note);
    write_file("long.json", json);
    snprintf(want, sizeof want,
             "seintje render: %s/tpl/camp/bare/nl/sms.mustache: SMS needs 4 segments "
             "(460 GSM-7 characters) but the limit is 3\n",
             dir);
    expect(run(NULL, "@tpl/camp/bare/nl", "--channel", "sms", "-d", "@long.json", NULL),
           2, "", want);
    snprintf(want, sizeof want,
             "{\n  \"text\": \"%s\",\n  \"encoding\": \"GSM-7\",\n"
             "  \"characters\": 460,\n  \"segments\": 4\n}\n",
             note);
    expect(run(NULL, "@tpl/camp/bare/nl", "--channel", "sms", "-d", "@long.json",
               "--max-segments", "4", NULL),
           0, want, "");
    expect(
        run(NULL, "@tpl/camp/bare/nl", "--channel", "sms", "--max-segments", "256", NULL),
        2, "", "seintje render: --max-segments '256' is not a number from 1 to 255\n");
    /* An empty SMS is refused, naming the template. */
    snprintf(want, sizeof want,
             "seintje render: %s/tpl/camp/bare/nl/sms.mustache: SMS text is empty\n",
             dir);
    expect(run(NULL, "@tpl/camp/bare/nl", "--channel", "sms", NULL), 2, "", want);
}

static void test_app(void **state)
{
    (void)state;
    expect(run(NULL, "@tpl/camp/plain/nl", "--channel", "app", "-d", "@ctx.json", NULL),
           0,
           "{\n  \"id\": \"preview\",\n  \"language\": \"nl\",\n"
           "  \"category\": \"informational\",\n"
           "  \"title\": \"Tot zaterdag 28 november 2026\",\n  \"body\": \"<b>\",\n"
           "  \"deep_link\": \"https://example.test/dorp/doe?x=preview\"\n}\n",
           "");
    /* --lang overrides the directory name and picks sig.fr; the options. */
    expect(run(NULL, "@tpl/camp/plain/nl", "--channel", "app", "-d", "@ctx.json",
               "--lang", "fr-BE", "--id", "abc-1", "--category", "action-required",
               "--expires", "2026-12-01T00:00:00+01:00", NULL),
           0,
           "{\n  \"id\": \"abc-1\",\n  \"language\": \"fr\",\n"
           "  \"category\": \"action-required\",\n"
           "  \"title\": \"Tot samedi 28 novembre 2026\",\n  \"body\": \"<b>\",\n"
           "  \"deep_link\": \"https://example.test/dorp/doe?x=abc-1\",\n"
           "  \"expires_at\": \"2026-11-30T23:00:00Z\"\n}\n",
           "");
    /* --link wins over link.mustache and is checked by the app renderer. */
    char want[1024];
    snprintf(want, sizeof want,
             "seintje render: %s/tpl/camp/plain/nl: app deep_link must be an absolute "
             "https:// URL\n",
             dir);
    expect(run(NULL, "@tpl/camp/plain/nl", "--channel", "app", "-d", "@ctx.json",
               "--link", "http://example.test/", NULL),
           2, "", want);
    snprintf(want, sizeof want,
             "seintje render: %s/tpl/camp/bare/nl/app.title.mustache: missing "
             "(--channel app needs it)\n",
             dir);
    expect(run(NULL, "@tpl/camp/bare/nl", "--channel", "app", NULL), 2, "", want);
}

static void test_email(void **state)
{
    (void)state;
    result_t r = run(NULL, "@tpl/camp/plain/nl", "--channel", "email", "-d", "@ctx.json",
                     "--date", "2026-11-28T09:30:00Z", NULL);
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    assert_memory_equal(r.out, "Date: Sat, 28 Nov 2026 09:30:00 +0000\r\n", 39);
    assert_contains(r.out, "\r\nFrom: Gemeente <noreply@example.org>\r\n");
    /* Without --to's name, the data's given_name names the recipient. */
    assert_contains(r.out, "\r\nTo: =?UTF-8?Q?Zo=C3=AB?= <resident@example.org>\r\n");
    assert_contains(r.out,
                    "\r\nSubject: Hallo =?UTF-8?B?Wm/Dqyw=?= tot 28 november 2026\r\n");
    assert_contains(r.out, "\r\nMessage-ID: <preview@seintje.example.org>\r\n");
    assert_contains(r.out,
                    "\r\nList-Unsubscribe: "
                    "<https://example.test/dorp/seintje/unsubscribe?id=preview>\r\n");
    assert_contains(r.out, "Content-Type: multipart/alternative;");
    /* The text part is not escaped and uses the nl partial; the HTML part is. */
    assert_contains(r.out, "\r\nBeste Zo=C3=AB <tekst>,\r\n"
                           "https://example.test/dorp/doe?x=3Dpreview\r\n"
                           "-- Groeten, Gemeente Testdorp\r\n");
    assert_contains(r.out, "\r\n<p>Beste Zo=C3=AB: &lt;b&gt;</p>\r\n");
    free(r.out);
    free(r.err);

    /* The options for what deliver takes from its configuration and the intent. */
    r = run(NULL, "@tpl/camp/plain/nl", "--channel", "email", "-d", "@ctx.json", "--date",
            "2026-11-28T10:30:00+01:00", "--from", "Stad Gent <noreply@gent.example>",
            "--to", "Zo\u00eb Janssens <zoe@example.be>", "--id", "0123abcd", "--domain",
            "mail.gent.example", "--unsubscribe", "https://u.example/x?id=1", NULL);
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    assert_memory_equal(r.out, "Date: Sat, 28 Nov 2026 09:30:00 +0000\r\n", 39);
    assert_contains(r.out, "\r\nFrom: Stad Gent <noreply@gent.example>\r\n");
    assert_contains(r.out, "\r\nTo: =?UTF-8?Q?Zo=C3=AB?= Janssens <zoe@example.be>\r\n");
    assert_contains(r.out, "\r\nMessage-ID: <0123abcd@mail.gent.example>\r\n");
    assert_contains(r.out, "\r\nList-Unsubscribe: <https://u.example/x?id=1>\r\n");
    assert_contains(r.out, "\r\nhttps://example.test/dorp/doe?x=3D0123abcd\r\n");
    free(r.out);
    free(r.err);

    /* Without email.html.mustache: one text/plain part. */
    make_dir("tpl/camp/text");
    make_dir("tpl/camp/text/nl");
    write_file("tpl/camp/text/nl/email.subject.mustache", "Onderwerp\n");
    write_file("tpl/camp/text/nl/email.text.mustache", "Tekst\n");
    r = run(NULL, "@tpl/camp/text/nl", "--channel", "email", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "\r\nContent-Type: text/plain; charset=utf-8\r\n");
    assert_null(strstr(r.out, "multipart"));
    assert_null(strstr(r.out, "text/html"));
    free(r.out);
    free(r.err);
}

static void test_set_errors(void **state)
{
    (void)state;
    char want[1024];
    /* Hostile data: CR LF in what becomes a header. */
    write_file("hostile.json",
               "{\"given_name\": \"Zo\\u00eb\\r\\nBcc: victim@example.net\", "
               "\"until\": \"2026-11-28\", \"note\": \"x\"}");
    snprintf(want, sizeof want,
             "seintje render: %s/tpl/camp/plain/nl: To display name contains a carriage "
             "return (CR) at byte 4: CR, LF and NUL are rejected in e-mail headers "
             "(header injection)\n",
             dir);
    expect(run(NULL, "@tpl/camp/plain/nl", "--channel", "email", "-d", "@hostile.json",
               NULL),
           2, "", want);
    snprintf(want, sizeof want,
             "seintje render: %s/tpl/camp/plain/nl: Subject contains a carriage return "
             "(CR) at byte 10: CR, LF and NUL are rejected in e-mail headers (header "
             "injection)\n",
             dir);
    expect(run(NULL, "@tpl/camp/plain/nl", "--channel", "email", "-d", "@hostile.json",
               "--to", "Zoe <zoe@example.be>", NULL),
           2, "", want);
    /* Missing parts, broken parts (even one this channel does not use). */
    snprintf(want, sizeof want,
             "seintje render: %s/tpl/camp/bare/nl/email.subject.mustache: missing "
             "(--channel email needs it)\n",
             dir);
    expect(run(NULL, "@tpl/camp/bare/nl", "--channel", "email", NULL), 2, "", want);
    snprintf(want, sizeof want,
             "seintje render: %s/tpl/camp/broken/nl/app.title.mustache:2:11: unclosed "
             "section \"until\" (opened at 2:1)\n",
             dir);
    expect(run(NULL, "@tpl/camp/broken/nl", "--channel", "sms", NULL), 2, "", want);
    /* A set needs a language and an object as context. */
    snprintf(want, sizeof want,
             "seintje render: %s/tpl/camp/plain: cannot tell the language of this "
             "template set: name the directory nl, fr, de or en, or give --lang\n",
             dir);
    expect(run(NULL, "@tpl/camp/plain", "--channel", "sms", NULL), 2, "", want);
    expect(run("[1]", "@tpl/camp/plain/nl", "--channel", "sms", "-d", "-", NULL), 2, "",
           "seintje render: <stdin>: the context of a template set must be a JSON "
           "object\n");
    expect(run("{\"until\": \"2026-02-30\"}", "@tpl/camp/plain/nl", "--channel", "app",
               "-d", "-", NULL),
           2, "",
           "seintje render: <stdin>: context field 'until': '2026-02-30' looks like a "
           "date but is not a valid one\n");
    snprintf(
        want, sizeof want,
        "seintje render: %s/tpl/camp/plain/nl is a directory: --channel text renders "
        "one template file (a template set needs --channel email, sms or app)\n",
        dir);
    expect(run(NULL, "@tpl/camp/plain/nl", NULL), 2, "", want);
    expect(run(NULL, "@tpl/camp/plain/nl", "--channel", "sms", "--no-escape", NULL), 2,
           "",
           "seintje render: --no-escape applies to --channel text only (the other "
           "channels escape the HTML part only, as deliver does)\n");
    expect(
        run(NULL, "@tpl/camp/plain/nl", "--channel", "app", "--max-segments", "2", NULL),
        2, "", "seintje render: --max-segments applies to --channel sms only\n");
    expect(run(NULL, "@tpl/camp/plain/nl", "--channel", "email", "--date", "28/11/2026",
               NULL),
           2, "",
           "seintje render: --date '28/11/2026' is not an RFC 3339 time such as "
           "2026-12-02T09:00:00Z\n");
    expect(run(NULL, "@tpl/camp/plain/nl", "--channel", "email", "--from", "a <b", NULL),
           2, "", "seintje render: --from is not \"Name <address>\" or an address\n");
    /* A broken _site.json is reported with its position. */
    write_file("tpl/_site.json", "{\"default\": }");
    snprintf(want, sizeof want, "seintje render: %s/tpl/_site.json:1:", dir);
    result_t r =
        run(NULL, "@tpl/camp/plain/nl", "--channel", "sms", "-d", "@ctx.json", NULL);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.out, "");
    assert_memory_equal(r.err, want, strlen(want));
    free(r.out);
    free(r.err);
    write_file("tpl/_site.json", "{}");
}

/* Every template set in templates/campaigns/, every channel, with the
 * example contexts of tests/templates/data/ (<campaign>.json, else
 * resident.json): the preview must be what deliver composes for the same
 * intent context and contact (the e-mail byte for byte; the SMS and app
 * objects field for field, deliver adding its outbox metadata). */
static void check_parity(sj_compose_t *c, const char *src, const char *campaign,
                         const char *variant, const char *lang, sj_route_channel_t ch)
{
    static const char *const names[] = {"email", "sms", "app"};
    static const char date[] = "2026-12-02T09:00:00Z";
    char set[1024], data[1024], ref[160];
    struct stat sb;
    snprintf(set, sizeof set, "%s/templates/campaigns/%s/%s/%s", src, campaign, variant,
             lang);
    snprintf(data, sizeof data, "%s/tests/templates/data/%s.json", src, campaign);
    if (stat(data, &sb) != 0)
        snprintf(data, sizeof data, "%s/tests/templates/data/resident.json", src);
    snprintf(ref, sizeof ref, "%s/%s", campaign, variant);
    result_t r =
        run(NULL, set, "--channel", names[ch], "--data", data, "--date", date, "--id",
            "0a1b2c3d4e5f", "--expires", "2027-01-31T00:00:00+01:00", NULL);
    if (r.rc != 0) fail_msg("%s --channel %s: rc %d: %s", set, names[ch], r.rc, r.err);
    assert_string_equal(r.err, "");

    json_error_t jerr;
    json_t *ctx = json_load_file(data, 0, &jerr);
    assert_non_null(ctx);
    sj_contact_t contact = {.found = true};
    snprintf(contact.email, sizeof contact.email, "resident@example.org");
    snprintf(contact.phone, sizeof contact.phone, "+32470000000");
    snprintf(contact.app_inbox, sizeof contact.app_inbox, "inbox-1");
    snprintf(contact.given_name, sizeof contact.given_name, "%s",
             json_string_value(json_object_get(ctx, "given_name")));
    int64_t ms;
    assert_int_equal(sj_time_parse_rfc3339(date, strlen(date), &ms), SJ_OK);
    sj_compose_in_t in = {.id = "0a1b2c3d4e5f",
                          .campaign = campaign,
                          .template_ref = ref,
                          .language = lang,
                          .reason = "test",
                          .expires_at = "2027-01-31T00:00:00+01:00",
                          .context = ctx,
                          .send_ms = ms,
                          .channel = ch,
                          .contact = &contact};
    sj_buf_t out;
    sj_buf_init(&out, SJ_EMAIL_MAX_MESSAGE);
    char err[512];
    if (sj_compose_message(c, &in, &out, err, sizeof err) != SJ_OK)
        fail_msg("compose %s %s: %s", ref, names[ch], err);
    if (ch == SJ_ROUTE_EMAIL) {
        if (strcmp(r.out, sj_buf_cstr(&out)) != 0)
            fail_msg("%s: render and deliver differ:\n%s\n----\n%s", set, r.out,
                     sj_buf_cstr(&out));
    } else {
        json_t *mine = json_loads(r.out, 0, &jerr);
        json_t *theirs = json_loads(sj_buf_cstr(&out), 0, &jerr);
        assert_non_null(mine);
        assert_non_null(theirs);
        const char *key;
        json_t *v;
        assert_true(json_object_size(mine) >= 4);
        json_object_foreach(mine, key, v)
        {
            if (!json_equal(v, json_object_get(theirs, key)))
                fail_msg("%s %s: \"%s\" differs:\n%s\n----\n%s", set, names[ch], key,
                         r.out, sj_buf_cstr(&out));
        }
        json_decref(mine);
        json_decref(theirs);
    }
    sj_buf_free(&out);
    json_decref(ctx);
    free(r.out);
    free(r.err);
}

/* The sorted names of the subdirectories of path that do not start with '.'
 * or '_' (at most 64). Returns the count; free each name. */
static size_t subdirs(const char *path, char *names[64])
{
    DIR *d = opendir(path);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 64) {
        char sub[1024];
        struct stat sb;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (e->d_name[0] != '.' && e->d_name[0] != '_' && stat(sub, &sb) == 0 &&
            S_ISDIR(sb.st_mode))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    return n;
}

static void test_campaigns_as_deliver(void **state)
{
    (void)state;
    const char *src = getenv("SEINTJE_SOURCE_DIR");
    assert_non_null(src);
    char tdir[1024], err[256];
    snprintf(tdir, sizeof tdir, "%s/templates/campaigns", src);
    sj_compose_t *c = sj_compose_new(tdir, "Gemeente <noreply@example.org>",
                                     "seintje.example.org", err, sizeof err);
    if (!c) fail_msg("sj_compose_new: %s", err);
    char *campaigns[64], *variants[64], *langs[64];
    size_t nc = subdirs(tdir, campaigns), checked = 0;
    for (size_t i = 0; i < nc; i++) {
        char path[3200];
        snprintf(path, sizeof path, "%s/%s", tdir, campaigns[i]);
        size_t nv = subdirs(path, variants);
        for (size_t v = 0; v < nv; v++) {
            snprintf(path, sizeof path, "%s/%s/%s", tdir, campaigns[i], variants[v]);
            size_t nl = subdirs(path, langs);
            for (size_t l = 0; l < nl; l++) {
                for (int ch = 0; ch < SJ_ROUTE_CHANNELS; ch++, checked++)
                    check_parity(c, src, campaigns[i], variants[v], langs[l],
                                 (sj_route_channel_t)ch);
                free(langs[l]);
            }
            free(variants[v]);
        }
        free(campaigns[i]);
    }
    /* At least id-card-renewal and welcome-new-resident in nl, fr and en. */
    assert_true(checked >= 18);
    print_message("render = deliver for %zu messages\n", checked);
    sj_compose_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_text), cmocka_unit_test(test_help),
        cmocka_unit_test(test_errors),      cmocka_unit_test(test_sms),
        cmocka_unit_test(test_app),         cmocka_unit_test(test_email),
        cmocka_unit_test(test_set_errors),  cmocka_unit_test(test_campaigns_as_deliver),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
