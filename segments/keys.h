/* Every Redis key the segment stage writes, in one place, so that erasing a
 * resident (`seintje resident forget`) can find them all and the layout stays
 * valid on Redis Cluster.
 *
 * Per resident, all in one hash slot (the pseudonym is the hash tag):
 *
 *   sj:res:{P}           hash   the profile (profile.h)
 *   sj:res:{P}:consent   hash   "<channel>" or "<channel>/<topic>" ->
 *                               "<1|0> <RFC 3339 time> <source>" (latest wins)
 *   sj:res:{P}:intents   hash   intent id -> its state, one word and details:
 *                               "scheduled <due ms>", "emitted <ms>",
 *                               "suppressed <reason>", "cancelled <reason>";
 *                               the de-duplication record of every step
 *   sj:res:{P}:pending   set    ids of intents waiting in the schedule
 *   sj:res:{P}:body      hash   intent id -> intent JSON of scheduled steps
 *   sj:res:{P}:sent      zset   id -> send time (ms) of nudges that count
 *                               against the frequency cap
 *   sj:res:{P}:goals     hash   goal event type -> time (ms) last seen
 *   sj:res:{P}:exposure  hash   experiment id -> "<variant> <ms>" first exposure
 *                               (written by deliver when the first message
 *                               is sent, by the engine for the holdout)
 *   sj:res:{P}:converted hash   experiment id -> time (ms) of the goal event
 *                               that counted as the resident's conversion
 *                               (once per experiment; the counters' guard)
 *   sj:res:{P}:undo, sj:res:{P}:consent:undo, sj:res:{P}:goals:undo
 *                        copies taken before the batch in flight changed them
 *                        (crash recovery, see engine.c)
 *
 * Shared (each in a slot of its own):
 *
 *   sj:{sched}:due       zset   "<P>:<intent id>" -> due time (ms)
 *   sj:{segment}:inflight:<txn id> hash  the batch in flight: residents touched,
 *                               "@<topic>:<partition>" -> offset its commit stores
 *   sj:{segment}:committed hash "<topic>:<partition>" -> the highest next offset
 *                               any segment group committed (replay detection)
 *   sj:{stats}:<campaign> hash  "<variant>|<outcome>" -> count
 *   sj:{exp}:<experiment> hash  "<variant>|exposed", "<variant>|converted" ->
 *                               residents (each counted once, see engine.c)
 *   sj:{schedule}:due, sj:{schedule}:intents   the delivery stage's queue
 *                               (consumers/ledger.h, which also keeps
 *                               sj:dlv:{<intent id>}: delivery states, no
 *                               personal data but the pseudonym)
 *
 * P is the 64-hex pseudonym; ids are 32 hex. */
#ifndef SJ_KEYS_H
#define SJ_KEYS_H

#include <stdio.h>
#include <string.h>

#define SJ_KEY_MAX 160

#define SJ_KEY_SCHED_DUE "sj:{sched}:due"

/* The delivery stage's queue (consumers/ledger.h): intents not yet due,
 * retries and fallbacks, with the intent JSON (which holds the resident's
 * given name). `resident forget` removes a resident's entries. */
#define SJ_KEY_DLV_DUE     "sj:{schedule}:due"
#define SJ_KEY_DLV_INTENTS "sj:{schedule}:intents"
#define SJ_KEY_COMMITTED   "sj:{segment}:committed"

/* The suffixes of per-resident keys after "sj:res:{P}" ("" is the profile). */
#define SJ_RES_SUFFIXES                                                                  \
    {                                                                                    \
        "", ":consent", ":intents", ":pending", ":body", ":sent", ":goals", ":exposure", \
            ":converted", ":undo", ":consent:undo", ":goals:undo"                        \
    }

/* Writes "sj:res:{<pseudonym>}<suffix>" into out (SJ_KEY_MAX bytes). */
static inline void sj_key_res(char out[SJ_KEY_MAX], const char *pseudonym,
                              const char *suffix)
{
    /* memcpy, not snprintf: the engine builds several per event */
    size_t p = strnlen(pseudonym, 64), x = strlen(suffix);
    if (x > SJ_KEY_MAX - 10 - p) x = SJ_KEY_MAX - 10 - p; /* truncate like snprintf */
    memcpy(out, "sj:res:{", 8);
    memcpy(out + 8, pseudonym, p);
    out[8 + p] = '}';
    memcpy(out + 9 + p, suffix, x);
    out[9 + p + x] = '\0';
}

/* Writes "sj:{stats}:<campaign>" into out. */
static inline void sj_key_stats(char out[SJ_KEY_MAX], const char *campaign)
{
    snprintf(out, SJ_KEY_MAX, "sj:{stats}:%.63s", campaign);
}

/* Writes "sj:{exp}:<experiment>" into out. */
static inline void sj_key_exp(char out[SJ_KEY_MAX], const char *experiment)
{
    snprintf(out, SJ_KEY_MAX, "sj:{exp}:%.63s", experiment);
}

#endif
