/* Fuzz target: campaign files (format v2) on arbitrary bytes, and life events
 * against a fixed campaign. Invariants: never crash or leak; a refused
 * campaign always explains itself as "<name>..." and leaves the output zeroed
 * (owning nothing); an accepted one satisfies every documented bound (weights
 * add up to 100, at most one holdout and never in a mandatory campaign,
 * channels and languages distinct and known, default language among them,
 * reminders increasing and only with a goal, a send window that is open
 * somewhere, no event data in a batch campaign's anchors), its audience rule
 * evaluates without crashing, its variant choice is a variant of weight above
 * 0 and its description fits SJ_CAMPAIGN_DESCRIBE_MAX; an event that passes
 * sj_event_view() yields either a skip reason or an intent that is valid JSON
 * with a 32-hex id and not_before < expires_at. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segments/campaign.h"
#include "segments/intent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PSEUDO "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char campaign_json[] =
    "{\"id\":\"c\",\"name\":\"C\",\"topic\":\"t\","
    "\"trigger\":{\"event\":\"be.seintje.life.id-card-expiring\"},"
    "\"audience\":{\"and\":[{\">=\":[{\"var\":[\"resident.age\",18]},18]},"
    "{\"!==\":[{\"var\":\"event.data.expires\"},null]}]},"
    "\"timing\":{\"relative_to\":\"data.expires\",\"offset_days\":-60},"
    "\"expiry\":{\"relative_to\":\"data.expires\",\"offset_days\":0},"
    "\"reminders\":[{\"id\":\"r1\",\"after_days\":21},{\"id\":\"r2\",\"after_days\":42,"
    "\"at\":\"10:00\"}],"
    "\"goal\":{\"events\":[\"be.seintje.service.id-card-requested\"]},"
    "\"send_window\":{\"days\":[\"mon\",\"fri\"],\"from\":\"09:00\",\"to\":\"18:00\"},"
    "\"channels\":[\"app\",\"email\"],\"variants\":[{\"id\":\"a\",\"weight\":40},"
    "{\"id\":\"b\",\"weight\":50},{\"id\":\"h\",\"weight\":10,\"holdout\":true}],"
    "\"experiment\":\"exp\",\"languages\":[\"nl\",\"fr\"],\"default_language\":\"nl\"}";

static void check_variants(const sj_campaign_t *c)
{
    unsigned sum = 0, sending = 0, holdouts = 0;
    if (c->n_variants == 0 || c->n_variants > SJ_CAMPAIGN_MAX_VARIANTS) abort();
    for (size_t i = 0; i < c->n_variants; i++) {
        sum += c->variants[i].weight;
        holdouts += c->variants[i].holdout;
        if (!c->variants[i].holdout) sending += c->variants[i].weight;
    }
    if (sum != 100 || holdouts > 1 || (holdouts && sending == 0) ||
        (holdouts && c->mandatory))
        abort();
    const sj_campaign_variant_t *v = sj_campaign_variant_for(c, PSEUDO);
    if (v < c->variants || v >= c->variants + c->n_variants || v->weight == 0) abort();
    if (!c->experiment[0]) abort();
}

static void check_steps(const sj_campaign_t *c)
{
    if (c->n_reminders > SJ_CAMPAIGN_MAX_REMINDERS) abort();
    if (c->n_reminders && !c->n_goal_events) abort();
    for (size_t i = 0; i < c->n_reminders; i++) {
        const sj_campaign_reminder_t *r = &c->reminders[i];
        if (!r->id[0] || !strcmp(r->id, "initial") || r->after_days < 1 ||
            r->after_days > 365 || (i && r->after_days <= c->reminders[i - 1].after_days))
            abort();
        if (r->at_minutes < 0 || r->at_minutes >= 1440) abort();
    }
    if (c->n_goal_events > SJ_CAMPAIGN_MAX_GOALS) abort();
    if (c->n_goal_events ? c->goal_window_days < 1 || c->goal_window_days > 365
                         : c->goal_window_days != 0)
        abort();
    if (c->n_variants > 1 && !c->n_goal_events) abort();
    const sj_send_window_t *w = &c->window;
    if (w->set && (w->days == 0 || w->days > 0x7f || w->from_minutes < 0 ||
                   w->from_minutes >= w->to_minutes || w->to_minutes > 1440))
        abort();
    bool batch = c->trigger_kind == SJ_TRIGGER_BATCH;
    if (batch != !c->trigger_event[0]) abort();
    if (batch && (!strncmp(c->timing.relative_to, "data.", 5) ||
                  !strncmp(c->expiry.relative_to, "data.", 5)))
        abort();
    if (!c->has_expiry && c->expiry.relative_to[0]) abort();
}

static void check_campaign(const sj_campaign_t *c, bool default_window)
{
    if (c->n_channels == 0 || c->n_channels > SJ_CAMPAIGN_MAX_CHANNELS) abort();
    for (size_t i = 0; i < c->n_channels; i++)
        for (size_t j = 0; j < i; j++)
            if (c->channels[i] == c->channels[j]) abort();
    if (!strcmp(sj_campaign_language_for(c, "xx"), "") || c->priority < 1 ||
        c->priority > 10 || strcmp(c->source, "f.json") != 0)
        abort();
    check_variants(c);
    check_steps(c);
    if (c->audience) { /* must evaluate (or fail with a status), never crash */
        json_t *res = json_pack("{s:i,s:s}", "age", 40, "birth_date", "1986-01-01");
        json_t *d = sj_rule_data_new(res, NULL, 1775000000000LL);
        bool in;
        sj_rule_match(c->audience, d, NULL, &in, NULL);
        json_decref(d);
        json_decref(res);
    }
    sj_send_window_t dw = {
        .set = true, .days = 0x1f, .from_minutes = 540, .to_minutes = 1080};
    char line[SJ_CAMPAIGN_DESCRIBE_MAX + 1];
    line[SJ_CAMPAIGN_DESCRIBE_MAX] = 'x';
    sj_campaign_describe(c, default_window ? &dw : NULL, line, SJ_CAMPAIGN_DESCRIBE_MAX);
    if (line[SJ_CAMPAIGN_DESCRIBE_MAX] != 'x' || strlen(line) == 0 ||
        strlen(line) >= SJ_CAMPAIGN_DESCRIBE_MAX - 1) /* never needs to truncate */
        abort();
}

static void check_event(const char *s, size_t n)
{
    static sj_campaign_t c; /* loaded once, kept for the process */
    static int loaded;
    char err[512];
    if (!loaded && sj_campaign_parse(campaign_json, sizeof campaign_json - 1, "c", &c,
                                     err, sizeof err) != SJ_OK)
        abort();
    loaded = 1;
    json_t *root = json_loadb(s, n, 0, NULL);
    if (!root) return;
    sj_event_view_t ev;
    char problem[160] = "";
    if (sj_event_view(root, &ev, problem, sizeof problem) != SJ_OK) {
        if (!problem[0]) abort();
        json_decref(root);
        return;
    }
    /* The audience rule over this event. */
    json_t *res = json_pack("{s:i}", "age", 30);
    json_t *d = sj_rule_data_new(res, root, 1775000000000LL);
    bool in;
    sj_rule_match(c.audience, d, NULL, &in, NULL);
    json_decref(d);
    json_decref(res);
    sj_resident_view_t r = {"An", "fr", NULL, NULL, NULL};
    sj_buf_t out;
    sj_buf_init(&out, SJ_INTENT_MAX + 1);
    sj_intent_outcome_t o;
    char id[SJ_INTENT_ID_LEN + 1];
    if (sj_intent_build(&c, &ev, &r, 1775000000000LL, &out, &o, id) == SJ_OK &&
        o == SJ_INTENT_MADE) {
        json_t *intent = json_loadb(out.data, out.len, 0, NULL);
        if (!intent || strlen(id) != SJ_INTENT_ID_LEN) abort();
        const char *nb = json_string_value(json_object_get(intent, "not_before"));
        const char *ex = json_string_value(json_object_get(intent, "expires_at"));
        if (!nb || !ex) abort();
        json_decref(intent);
    }
    sj_buf_free(&out);
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* First byte selects the mode: bit 0 set = life event, else campaign file
     * (bit 1: describe it with a default send window). */
    if (size == 0) return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        check_event(s, n);
        return 0;
    }
    sj_campaign_t c;
    char err[1024] = "";
    sj_status_t st = sj_campaign_parse(s, n, "f.json", &c, err, sizeof err);
    if (st == SJ_OK) {
        check_campaign(&c, data[0] & 2);
        sj_campaign_release(&c);
        if (c.audience) abort();
    } else {
        if (strncmp(err, "f.json", 6) != 0) abort();
        static const sj_campaign_t zero;
        if (memcmp(&c, &zero, sizeof c) != 0) abort();
    }
    return 0;
}
