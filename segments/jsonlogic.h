/* JsonLogic rules over jansson values: who is in a campaign's audience.
 *
 * A rule is compiled once into an immutable, flat node array (operators and
 * arities checked, var paths split, constant sub-expressions folded) and then
 * evaluated any number of times, from any number of threads at once, over the
 * data of one resident: {"resident": {...}, "event": {...}, "now": "..."}.
 * The library is pure: no I/O, no clock, no global state.
 *
 *     sj_rule_error_t err;
 *     json_t *src = json_loads(text, 0, NULL);
 *     sj_rule_t *r = sj_rule_compile(src, &err);  // src may be freed now
 *     if (!r) fprintf(stderr, "%s\n", err.message);
 *                                  // $.and[1]: unknown operator "equals"
 *     json_t *data = sj_rule_data_new(resident, event, sj_now_ms());
 *     bool in;
 *     if (sj_rule_match(r, data, NULL, &in, &err) == SJ_OK && in) ...
 *     json_t *v = sj_rule_eval(r, data, &err);    // or the value itself
 *     json_decref(v);
 *     json_decref(data);
 *     sj_rule_destroy(r);
 *
 * Operators: the classic set of jsonlogic.com, with the semantics of the
 * reference implementation json-logic-js (JavaScript's == coercion, parseFloat
 * for + and *, Number() for - / % and comparisons, String() for cat, in and
 * substr), so that rules behave as they do in the JsonLogic playground:
 *   var missing missing_some  if ?:  == === != !== ! !!  or and
 *   > >= < <=  max min + - * / %  map filter reduce all none some merge
 *   in cat substr log
 * Truthiness is JsonLogic's: false, null, 0, NaN, "" and [] are false;
 * everything else, "0" and {} included, is true. and/or return the deciding
 * value and stop early; if/?: take else-if chains ([c1, v1, c2, v2, ..., else]).
 * var takes a dotted path ("resident.address.nis"), array indexes ("kids.0"),
 * an optional default ({"var": ["a.b", 0]}, used when the path is missing),
 * and "" or null for the whole data; a path part "length" of an array or a
 * string gives its length, as in JavaScript.
 *
 * Date helpers for campaigns (not in json-logic-js). A date is a
 * "YYYY-MM-DD" string or an RFC 3339 timestamp, which stands for its
 * Europe/Brussels calendar date (as campaign anchors do, see intent.h), so
 * "2026-11-28T23:30:00Z" is 29 November. Anything else, or an impossible
 * date, makes the result null (and null compares as 0: null >= 65 is false).
 *   {"age_on": [birth, date]}    whole years completed on date (someone born
 *                                on 29 February turns a year older on 1 March
 *                                in common years); null when date < birth
 *   {"days_until": [date, from]} date - from in days, negative when date is
 *                                past: ["2026-12-25", "2026-12-01"] gives 24
 *   {"date_add": [date, days]}   "YYYY-MM-DD" days later (earlier when days < 0);
 *                                days must be a whole number; null outside
 *                                the years 0000-9999
 * Typical use, "65 or older now":
 *     {">=": [{"age_on": [{"var": "resident.birth_date"}, {"var": "now"}]}, 65]}
 *
 * Deliberate differences from json-logic-js, all in the direction of
 * catching a broken rule before it reaches residents:
 *  - Unknown operators and wrong argument counts are compile errors naming
 *    the JSON path; json-logic-js throws at evaluation or ignores arguments.
 *  - An object in a rule must be one operation, i.e. have exactly one key:
 *    {"==": [...], "and": [...]} and {} are errors (json-logic-js returns such
 *    objects as data, which is truthy: an audience of everyone).
 *  - >, >= take a third argument like < and <= do: {">": [a, b, c]} is a > b > c
 *    (json-logic-js ignores the third argument of > and >=).
 *  - NaN and +-Infinity (e.g. from {"/": [1, 0]}) become null when stored in an
 *    array or returned, as JSON.stringify writes them.
 *  - String positions (substr) and lengths count Unicode characters, and
 *    strings compare by code point; JavaScript counts UTF-16 units. They
 *    differ only for characters outside the Basic Multilingual Plane.
 *  - all/none/some/map/filter over a non-array see an empty array (all gives
 *    false); json-logic-js throws for null.
 *  - substr's negative length counts as a number even when it is given as a
 *    string ("-2"); json-logic-js then concatenates it and returns "".
 *  - log returns its argument and prints nothing (the library does no I/O).
 *  - A NULL data pointer is JSON null (json-logic-js turns falsy data into {}).
 * As in json-logic-js, arrays and objects are equal (== and ===) only to
 * themselves, e.g. the same var looked up twice, and {"*": [x]} returns x
 * unchanged.
 *
 * Bounds, each an error with a message (SJ_ERR_TOO_BIG), never a crash: rule
 * nesting depth and size at compile time; at evaluation, a step budget (nodes
 * evaluated plus array elements and string bytes produced), the size of every
 * array built (map, filter, merge, missing, literals) and of every string
 * built (cat, String() of an array), how deep String() descends into nested
 * arrays, and how deeply the values it builds nest (reduce could otherwise
 * wrap its accumulator once per element). Evaluation recursion is bounded by
 * the rule's depth.
 */
#ifndef SJ_JSONLOGIC_H
#define SJ_JSONLOGIC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/common.h"

/* Operations and arrays nested inside each other in one rule. */
#define SJ_RULE_MAX_DEPTH 64
/* Operations, arrays, literals and var path parts in one rule. */
#define SJ_RULE_MAX_NODES 65536
/* Defaults of sj_rule_opts_t. */
#define SJ_RULE_MAX_STEPS  1000000u
#define SJ_RULE_MAX_ARRAY  100000u
#define SJ_RULE_MAX_STRING (1u << 20)
/* How deep String() and Number() descend into nested arrays, and how many
 * levels of arrays and objects the evaluator may build on top of the data. */
#define SJ_RULE_MAX_VALUE_DEPTH 256
/* Bytes sj_rule_number_text() writes at most, NUL included. */
#define SJ_RULE_NUMBER_TEXT 32

typedef struct sj_rule sj_rule_t;

/* What went wrong and where. Filled by every function below that takes one;
 * pass NULL when the details do not matter. */
typedef struct sj_rule_error {
    sj_status_t status; /* SJ_OK after success */
    char path[160];     /* JSON path of the offending node in the rule: "$.and[1]";
                           long paths keep their start and end around "..." */
    char text[200];     /* the problem alone: `unknown operator "equals"` */
    char message[368];  /* "path: text" */
} sj_rule_error_t;

/* Optional evaluation bounds; zero fields mean the defaults above. */
typedef struct sj_rule_opts {
    uint64_t max_steps;
    size_t max_array;  /* elements of any array the rule builds */
    size_t max_string; /* bytes of any string the rule builds */
} sj_rule_opts_t;

/* Compiles a rule. `rule` is borrowed and not referenced after the call (the
 * compiled rule keeps copies of its literals), so the caller may free or
 * change it. Returns a new rule that the caller owns (sj_rule_destroy()), or
 * NULL with err filled: SJ_ERR_INPUT for an unknown operator, a wrong number
 * of arguments or an object that is not one operation; SJ_ERR_TOO_BIG for the
 * depth and size bounds; SJ_ERR_NOMEM. Messages name the JSON path:
 *     $.and[1]: unknown operator "equals"
 *     $.if[0]: "==" takes 2 arguments, got 3
 * Thread-safe: compiles share no state. */
sj_rule_t *sj_rule_compile(json_t *rule, sj_rule_error_t *err);

/* Frees a rule. NULL is a no-op. Not while an evaluation of it is running. */
void sj_rule_destroy(sj_rule_t *r);

/* Evaluates r over data (borrowed, never modified except for reference
 * counts; NULL means JSON null). Returns a new reference to the result, or
 * NULL with err filled: SJ_ERR_TOO_BIG when a bound tripped, SJ_ERR_NOMEM; the
 * path names the operation that was running. The result may share members
 * with data, with the rule's literals and with itself (reduce can build a
 * value that holds its accumulator several times over, whose unfolded size
 * then grows exponentially): treat it as read-only, json_deep_copy() it only
 * when it is known to be small, and print it with sj_rule_dump(), whose
 * output is bounded.
 * Thread-safe: any number of evaluations of the same rule may run at once,
 * over the same or different data, provided nobody modifies data meanwhile
 * (jansson's reference counts are atomic). Evaluation allocates only for
 * values it computes (strings, arrays, reduce's data); var lookups and
 * literals are borrowed, numbers and booleans are unboxed until returned. */
json_t *sj_rule_eval(const sj_rule_t *r, json_t *data, sj_rule_error_t *err);

/* sj_rule_eval() with explicit bounds; opts may be NULL. */
json_t *sj_rule_eval_opts(const sj_rule_t *r, json_t *data, const sj_rule_opts_t *opts,
                          sj_rule_error_t *err);

/* Evaluates r over data and stores whether the result is truthy in *match:
 * the audience test. Same errors and thread-safety as sj_rule_eval(), but
 * nothing is allocated for the result, so a rule of comparisons over var
 * lookups runs without touching the heap. opts may be NULL. */
sj_status_t sj_rule_match(const sj_rule_t *r, json_t *data, const sj_rule_opts_t *opts,
                          bool *match, sj_rule_error_t *err);

/* JsonLogic truthiness of a value (NULL is false): false for null, false, 0,
 * "" and []; true otherwise. */
bool sj_rule_truthy(const json_t *v);

/* The data a rule sees for one resident: a new object
 * {"resident": resident, "event": event, "now": "<now_ms as RFC 3339 UTC>"}
 * (resident and event are borrowed and referenced, not copied; NULL gives
 * JSON null). Returns NULL when out of memory. */
json_t *sj_rule_data_new(json_t *resident, json_t *event, int64_t now_ms);

/* Writes a number as JavaScript's String(d) does ("1.5", "100", "1e+21",
 * "1.5e-7", "NaN", "Infinity") into out and returns its length. The shortest
 * digits that read back as d, '.' whatever the locale. */
size_t sj_rule_number_text(double d, char out[SJ_RULE_NUMBER_TEXT]);

/* Appends v as compact JSON to out, numbers written as sj_rule_number_text()
 * does (JSON.stringify's form: 0.1 stays 0.1, which jansson would print as
 * 0.10000000000000001), except that a real beyond the int64 range always has
 * an exponent (9.545387873541335e+18) so that jansson can read it back.
 * Returns SJ_OK, SJ_ERR_TOO_BIG when out's bound or a nesting of 2048 levels
 * is reached, SJ_ERR_NOMEM. */
sj_status_t sj_rule_dump(const json_t *v, sj_buf_t *out);

/* The members of data.<top> that rule r can read (e.g. top "resident" and
 * {"var": "resident.age"} give "age"), found from its var paths: fills
 * names[0..*n) and returns true; false when that cannot be known (a var
 * path computed at run time, the whole object, missing or missing_some,
 * more than max names): then the rule may read every member. Variables in
 * the element argument of map, filter, reduce, all, some and none see the
 * elements, not the data, and are not counted. */
#define SJ_RULE_MEMBER_MAX 64
bool sj_rule_members(const sj_rule_t *r, const char *top,
                     char (*names)[SJ_RULE_MEMBER_MAX], size_t max, size_t *n);

/* Number of nodes in the compiled form (for tests of constant folding). */
size_t sj_rule_node_count(const sj_rule_t *r);

#endif
