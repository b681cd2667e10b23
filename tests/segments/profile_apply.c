/* Test driver for test_resident.sh: applies life events to profiles in a real
 * Redis with the functions the segment engine uses, and reads a profile back
 * as the engine sees it. Not a unit test (it needs a server).
 *
 *     profile_apply apply URL < events.jsonl
 *         applies every line (a CloudEvent whose subject is a pseudonym), all
 *         pipelined in one round trip, with sj_profile_append_event(); prints
 *         "applied N"
 *     profile_apply read URL PSEUDONYM NOW [TOPIC]
 *         prints sj_profile_to_json(NOW) on one line, then the contact for
 *         TOPIC: "reachable e s a consent e s a topic e s a" (1/0/-1)
 *
 * Exit 0 ok, 1 Redis failed, 2 bad usage or input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/redis.h"
#include "core/timeutil.h"
#include "segments/profile.h"

static int apply(redisContext *rc)
{
    static char line[1 << 16];
    size_t replies = 0, events = 0;
    json_t *held = json_array(); /* the views borrow from the events */
    while (fgets(line, sizeof line, stdin)) {
        if (line[strspn(line, " \r\n")] == '\0') continue;
        json_error_t jerr;
        json_t *root = json_loads(line, 0, &jerr);
        sj_event_view_t ev;
        char problem[160];
        if (!root || sj_event_view(root, &ev, problem, sizeof problem) != SJ_OK) {
            fprintf(stderr, "profile_apply: line %zu: %s\n", events + 1,
                    root ? problem : jerr.text);
            json_decref(root);
            json_decref(held);
            return 2;
        }
        json_array_append_new(held, root);
        const char *source = json_string_value(json_object_get(root, "source"));
        if (sj_profile_append_event(rc, &ev, source, sj_now_ms(), &replies) != SJ_OK) {
            json_decref(held);
            return 1;
        }
        events++;
    }
    char err[256];
    sj_status_t st = sj_redis_drain(rc, replies, err, sizeof err);
    json_decref(held);
    if (st != SJ_OK) {
        fprintf(stderr, "profile_apply: %s\n", err);
        return 1;
    }
    printf("applied %zu\n", events);
    return 0;
}

static int read_back(redisContext *rc, const char *pseudonym, const char *now,
                     const char *topic)
{
    int64_t now_ms;
    if (sj_time_parse_rfc3339(now, strlen(now), &now_ms) != SJ_OK) return 2;
    size_t n = 0;
    if (sj_profile_append_read_full(rc, pseudonym, &n) != SJ_OK || n != 2) return 1;
    redisReply *r[2] = {NULL, NULL};
    for (size_t i = 0; i < n; i++) {
        void *v = NULL;
        if (redisGetReply(rc, &v) != REDIS_OK) return 1;
        r[i] = v;
    }
    sj_profile_full_t *p = malloc(sizeof *p);
    int ex = 1;
    if (p && sj_profile_from_replies(r, n, p) == SJ_OK) {
        json_t *j = sj_profile_to_json(p, now_ms);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        sj_nudge_contact_t c;
        sj_profile_contact(p, topic, &c);
        if (s) {
            printf("%s\nreachable %d %d %d consent %d %d %d topic %d %d %d\n", s,
                   c.reachable[0], c.reachable[1], c.reachable[2], c.consent[0],
                   c.consent[1], c.consent[2], c.topic_consent[0], c.topic_consent[1],
                   c.topic_consent[2]);
            ex = 0;
        }
        free(s);
        json_decref(j);
    }
    free(p);
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
    return ex;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "apply") && strcmp(argv[1], "read")) ||
        (!strcmp(argv[1], "read") && (argc < 5 || argc > 6))) {
        fprintf(stderr, "usage: profile_apply apply URL < events.jsonl\n"
                        "       profile_apply read URL PSEUDONYM NOW [TOPIC]\n");
        return 2;
    }
    char err[256];
    redisContext *rc = sj_redis_connect(argv[2], 5000, err, sizeof err);
    if (!rc) {
        fprintf(stderr, "profile_apply: %s\n", err);
        return 1;
    }
    int ex = !strcmp(argv[1], "apply")
                 ? apply(rc)
                 : read_back(rc, argv[3], argv[4], argc > 5 ? argv[5] : NULL);
    redisFree(rc);
    return ex;
}
