/* Channel choice at send time from the resident's profile. See route.h. */
#include "route.h"

#include <stdio.h>
#include <string.h>

static const char *const channel_names[] = {"email", "sms", "app"};

const char *const sj_contact_fields[] = {"email",         "phone",       "app_inbox",
                                         "consent.email", "consent.sms", "consent.app",
                                         "status",        "given_name"};
const size_t sj_contact_nfields = SJ_ARRAY_LEN(sj_contact_fields);

const char *sj_route_channel_name(sj_route_channel_t ch)
{
    return (size_t)ch < SJ_ARRAY_LEN(channel_names) ? channel_names[ch] : NULL;
}

sj_status_t sj_route_channel_parse(const char *s, sj_route_channel_t *ch)
{
    for (size_t i = 0; i < SJ_ARRAY_LEN(channel_names); i++)
        if (!strcmp(s, channel_names[i])) {
            *ch = (sj_route_channel_t)i;
            return SJ_OK;
        }
    return SJ_ERR_INPUT;
}

const char *sj_suppress_name(sj_suppress_t why)
{
    static const char *const names[] = {"no-channel", "expired", "inactive",
                                        "no-profile"};
    return (size_t)why < SJ_ARRAY_LEN(names) ? names[why] : "?";
}

/* Copies a string reply; returns whether the field had a value. */
static bool copy(char *dst, size_t size, const redisReply *e)
{
    dst[0] = '\0';
    if (!e || e->type != REDIS_REPLY_STRING || (size_t)e->len >= size) return false;
    memcpy(dst, e->str, (size_t)e->len);
    dst[e->len] = '\0';
    return true;
}

sj_status_t sj_contact_from_reply(const redisReply *r, sj_contact_t *c)
{
    memset(c, 0, sizeof *c);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != sj_contact_nfields)
        return SJ_ERR;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i] && r->element[i]->type == REDIS_REPLY_STRING) c->found = true;
    copy(c->email, sizeof c->email, r->element[0]);
    copy(c->phone, sizeof c->phone, r->element[1]);
    copy(c->app_inbox, sizeof c->app_inbox, r->element[2]);
    for (int k = 0; k < SJ_ROUTE_CHANNELS; k++) {
        char v[4];
        c->consent[k] = copy(v, sizeof v, r->element[3 + k]) && !strcmp(v, "1");
    }
    copy(c->status, sizeof c->status, r->element[6]);
    copy(c->given_name, sizeof c->given_name, r->element[7]);
    return SJ_OK;
}

static bool has_contact(const sj_contact_t *c, sj_route_channel_t ch)
{
    switch (ch) {
    case SJ_ROUTE_EMAIL:
        return c->email[0] != '\0';
    case SJ_ROUTE_SMS:
        return c->phone[0] != '\0';
    case SJ_ROUTE_APP:
        return c->app_inbox[0] != '\0';
    default:
        return false;
    }
}

bool sj_route_choose(const sj_route_channel_t *channels, size_t n, const sj_contact_t *c,
                     bool mandatory, sj_route_channel_t *out, sj_suppress_t *why)
{
    if (!c->found) {
        *why = SJ_SUPPRESS_NO_PROFILE;
        return false;
    }
    /* A profile without status predates any registration event: treat it as
     * active, the register only sends moved-out/deceased when it knows. */
    if (c->status[0] && strcmp(c->status, "active") != 0) {
        *why = SJ_SUPPRESS_INACTIVE;
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        sj_route_channel_t ch = channels[i];
        if ((size_t)ch >= SJ_ROUTE_CHANNELS || !has_contact(c, ch)) continue;
        if (!mandatory && !c->consent[ch]) continue;
        *out = ch;
        return true;
    }
    *why = SJ_SUPPRESS_NO_CHANNEL;
    return false;
}

void sj_contact_from_profile(const sj_profile_full_t *p, const char *topic,
                             sj_contact_t *c)
{
    memset(c, 0, sizeof *c);
    c->found = p->found;
    snprintf(c->email, sizeof c->email, "%s", p->email);
    snprintf(c->phone, sizeof c->phone, "%s", p->phone);
    snprintf(c->app_inbox, sizeof c->app_inbox, "%s", p->app_inbox);
    snprintf(c->given_name, sizeof c->given_name, "%s", p->given_name);
    snprintf(c->status, sizeof c->status, "%s", p->status);
    for (int k = 0; k < SJ_ROUTE_CHANNELS; k++)
        c->consent[k] = sj_profile_consented(p, k, topic);
}
