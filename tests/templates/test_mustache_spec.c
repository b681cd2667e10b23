/* Conformance: renders every case of the official Mustache specification
 * (v1.4.2, every .json file in ../shared/conformance/mustache) with the engine and
 * compares the output byte for byte. One cmocka test per spec file, each printing
 * "PASS|FAIL|N/A <file> <case>" per case, then a summary test that fails when
 * any case failed or when no case ran at all (a conformance run that finds
 * nothing proves nothing).
 *
 * The directory is $SEINTJE_CONFORMANCE_DIR/mustache, or
 * $SEINTJE_SOURCE_DIR/../shared/conformance/mustache (set by ctest). The
 * ~lambdas cases need code in the data, which JSON cannot carry: they are
 * counted as not applicable, never as passed. */
#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "templates/mustache.h"

#define MAX_FILES 64

static char spec_dir[4096];
static char *files[MAX_FILES];
static size_t nfiles;
static unsigned total_pass, total_fail, total_na;

/* The core modules and the optional ones the engine implements must all be
 * there: a missing file would silently shrink the suite. */
static const char *const required[] = {
    "comments.json", "delimiters.json", "interpolation.json",  "inverted.json",
    "partials.json", "sections.json",   "~dynamic-names.json", "~inheritance.json",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int find_files(void)
{
    const char *conf = getenv("SEINTJE_CONFORMANCE_DIR");
    const char *src = getenv("SEINTJE_SOURCE_DIR");
    if (conf && *conf)
        snprintf(spec_dir, sizeof spec_dir, "%s/mustache", conf);
    else if (src && *src)
        snprintf(spec_dir, sizeof spec_dir, "%s/../shared/conformance/mustache", src);
    else {
        fprintf(stderr, "set SEINTJE_CONFORMANCE_DIR or SEINTJE_SOURCE_DIR\n");
        return -1;
    }
    DIR *d = opendir(spec_dir);
    if (!d) {
        perror(spec_dir);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && nfiles < MAX_FILES) {
        size_t n = strlen(e->d_name);
        if (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0)
            files[nfiles++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(files, nfiles, sizeof files[0], cmp_str);
    return 0;
}

/* Prints bytes as a JSON string, to show failures unambiguously. */
static void show(const char *label, const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    char *txt = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    printf("      %s %s\n", label, txt ? txt : "(unprintable)");
    free(txt);
    json_decref(j);
}

/* Runs one case; returns 1 on pass, 0 on fail. */
static int run_case(const char *file, json_t *tc)
{
    const char *name = json_string_value(json_object_get(tc, "name"));
    json_t *tmpl = json_object_get(tc, "template");
    json_t *expected = json_object_get(tc, "expected");
    json_t *partials = json_object_get(tc, "partials");
    json_t *data = json_object_get(tc, "data");
    sj_tmpl_error_t err;
    int ok = 0;
    sj_buf_t out;
    sj_buf_init(&out, 1 << 20);

    sj_tmpl_set_t *set = sj_tmpl_set_new();
    assert_non_null(set);
    const char *pname;
    json_t *pv;
    json_object_foreach(partials, pname, pv)
    {
        if (sj_tmpl_set_add(set, pname, json_string_value(pv), json_string_length(pv),
                            &err) != SJ_OK) {
            printf("FAIL %s %s\n      partial: %s\n", file, name, err.message);
            goto done;
        }
    }
    sj_tmpl_t *t = sj_tmpl_compile("template", json_string_value(tmpl),
                                   json_string_length(tmpl), &err);
    if (!t) {
        printf("FAIL %s %s\n      compile: %s\n", file, name, err.message);
        goto done;
    }
    if (sj_tmpl_render(t, set, data, 0, &out, &err) != SJ_OK) {
        printf("FAIL %s %s\n      render: %s\n", file, name, err.message);
    } else if (out.len == json_string_length(expected) &&
               memcmp(sj_buf_cstr(&out), json_string_value(expected), out.len) == 0) {
        printf("PASS %s %s\n", file, name);
        ok = 1;
    } else {
        printf("FAIL %s %s\n", file, name);
        show("template:", json_string_value(tmpl), json_string_length(tmpl));
        show("expected:", json_string_value(expected), json_string_length(expected));
        show("got:     ", sj_buf_cstr(&out), out.len);
    }
    sj_tmpl_destroy(t);
done:
    sj_tmpl_set_destroy(set);
    sj_buf_free(&out);
    return ok;
}

static void test_spec_file(void **state)
{
    const char *file = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", spec_dir, file);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) fail_msg("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    json_t *tests = json_object_get(root, "tests");
    assert_true(json_is_array(tests));
    bool lambdas = strstr(file, "lambdas") != NULL;
    unsigned pass = 0, failed = 0, na = 0;
    size_t i;
    json_t *tc;
    json_array_foreach(tests, i, tc)
    {
        if (lambdas) {
            printf("N/A  %s %s\n", file, json_string_value(json_object_get(tc, "name")));
            na++;
        } else if (run_case(file, tc)) {
            pass++;
        } else {
            failed++;
        }
    }
    json_decref(root);
    printf("%s: %u passed, %u failed, %u not applicable\n", file, pass, failed, na);
    total_pass += pass;
    total_fail += failed;
    total_na += na;
    assert_int_equal(failed, 0);
}

static void test_summary(void **state)
{
    (void)state;
    printf("mustache spec: %u passed, %u failed, %u not applicable (lambdas)\n",
           total_pass, total_fail, total_na);
    for (size_t r = 0; r < sizeof required / sizeof required[0]; r++) {
        bool found = false;
        for (size_t i = 0; i < nfiles; i++) found |= strcmp(files[i], required[r]) == 0;
        if (!found) fail_msg("spec file %s/%s is missing", spec_dir, required[r]);
    }
    assert_int_equal(total_fail, 0);
    if (total_pass == 0)
        fail_msg("no spec case ran: is %s the spec directory?", spec_dir);
}

int main(void)
{
    if (find_files() != 0) {
        printf("mustache spec: 0 passed, 0 failed, 0 not applicable (lambdas)\n");
        return 1;
    }
    struct CMUnitTest tests[MAX_FILES + 1];
    memset(tests, 0, sizeof tests);
    for (size_t i = 0; i < nfiles; i++) {
        tests[i].name = files[i];
        tests[i].test_func = test_spec_file;
        tests[i].initial_state = files[i];
    }
    tests[nfiles].name = "summary";
    tests[nfiles].test_func = test_summary;
    int rc = _cmocka_run_group_tests("mustache_spec", tests, nfiles + 1, NULL, NULL);
    for (size_t i = 0; i < nfiles; i++) free(files[i]);
    return rc;
}
