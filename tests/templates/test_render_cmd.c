/* Tests for `seintje render` (templates/render_cmd.c): exact stdout bytes,
 * error messages with file:line:column on stderr, and exit codes (0 ok,
 * 1 output not written, 2 bad usage or input). The command runs in-process
 * with stdin, stdout and stderr redirected to files in a temporary directory. */
#include <fcntl.h>
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
#include "core/common.h"

static char dir[256];

static void write_file(const char *name, const char *text)
{
    char path[512];
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
    char *buf = calloc(1, 1 << 16);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
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
    char *argv[16];
    char storage[16][512];
    int argc = 0;
    argv[argc++] = "render";
    va_list ap;
    va_start(ap, stdin_text);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 15) {
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
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = {"letter.mustache",
                           "partials/kid.mustache",
                           "partials/footer.mustache",
                           "partials/notes.txt",
                           "partials/bad.mustache",
                           "data.json",
                           "bad.json",
                           "broken.mustache",
                           ".stdin",
                           ".stdout",
                           ".stderr"};
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/partials", dir);
    rmdir(path);
    rmdir(dir);
    return 0;
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
    expect(run(NULL, "@letter.mustache", "--channel", "email", NULL), 2, "",
           "seintje render: channel 'email' is not available yet\n");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_text),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
