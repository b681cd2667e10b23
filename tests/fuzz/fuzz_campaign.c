/* Fuzz target: campaign files on arbitrary bytes, and life events against
 * a fixed campaign. Invariants: never crash; a refused campaign always
 * explains itself as "<name>..." and leaves the output zeroed; an accepted
 * one satisfies every documented bound (weights add up to 100, channels and
 * languages distinct and known, default language among them); an event that
 * passes sj_event_view() yields either a skip reason or an intent that is
 * valid JSON with a 32-hex id and not_before < expires_at. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segments/campaign.h"
#include "segments/intent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char campaign_json[] =
    "{\"id\":\"c\",\"name\":\"C\",\"topic\":\"t\","
    "\"trigger\":{\"event\":\"be.seintje.life.id-card-expiring\"},"
    "\"timing\":{\"relative_to\":\"data.expires\",\"offset_days\":-60},"
    "\"expiry\":{\"relative_to\":\"data.expires\",\"offset_days\":0},"
    "\"channels\":[\"app\",\"email\"],\"variants\":[{\"id\":\"a\",\"weight\":40},"
    "{\"id\":\"b\",\"weight\":60}],\"languages\":[\"nl\",\"fr\"],\"default_language\":"
    "\"nl\"}";

static void check_campaign(const sj_campaign_t *c)
{
    unsigned sum = 0;
    for (size_t i = 0; i < c->n_variants; i++) sum += c->variants[i].weight;
    if (sum != 100 || c->n_channels == 0 || c->n_channels > SJ_CAMPAIGN_MAX_CHANNELS)
        abort();
    for (size_t i = 0; i < c->n_channels; i++)
        for (size_t j = 0; j < i; j++)
            if (c->channels[i] == c->channels[j]) abort();
    if (!strcmp(sj_campaign_language_for(c, "xx"), "") || c->priority < 1 ||
        c->priority > 10)
        abort();
}

static void check_event(const char *s, size_t n)
{
    static sj_campaign_t c;
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
    /* First byte selects the mode: even = campaign file, odd = life event. */
    if (size == 0) return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        check_event(s, n);
        return 0;
    }
    sj_campaign_t c;
    char err[1024] = "";
    if (sj_campaign_parse(s, n, "f.json", &c, err, sizeof err) == SJ_OK) {
        check_campaign(&c);
    } else {
        if (strncmp(err, "f.json", 6) != 0) abort();
        static const sj_campaign_t zero;
        if (memcmp(&c, &zero, sizeof c) != 0) abort();
    }
    return 0;
}
