/* The channels deliver sends through, built from the settings. See
 * channels.h. */
#include "channels.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumers/http_gateway.h"
#include "consumers/outbox.h"
#include "consumers/smtp.h"
#include "core/buf.h"
#include "templates/tset.h"

struct sj_channels {
    sj_via_t via[SJ_ROUTE_CHANNELS];
    sj_outbox_t *outbox;
    sj_transport_t *t;
    sj_provider_t *p_smtp, *p_sms, *p_app, *p_token;
    sj_smtp_t *smtp;
    sj_sms_gw_t *sms;
    sj_inbox_t *inbox;
    char domain[256];
    sj_buf_t file; /* an SMS or app record as the outbox stores it */
};

const char *sj_via_name(sj_via_t v)
{
    static const char *const names[] = {"outbox", "smtp", "webhook", "twilio", "inbox"};
    return (size_t)v < SJ_ARRAY_LEN(names) ? names[v] : "?";
}

sj_status_t sj_secret_load(const sj_conf_t *conf, const char *file_key, const char *env,
                           char *out, size_t size, bool *found, char *errstr,
                           size_t errstr_size)
{
    const char *path = sj_conf_get(conf, file_key);
    *found = false;
    out[0] = '\0';
    if (path && *path) {
        FILE *f = fopen(path, "r");
        if (!f) {
            sj_seterr(errstr, errstr_size, "%s %s: cannot read: %s", file_key, path,
                      strerror(errno));
            return SJ_ERR_IO;
        }
        size_t n = fread(out, 1, size - 1, f);
        bool more = fgetc(f) != EOF;
        fclose(f);
        out[n] = '\0';
        while (n && (out[n - 1] == '\n' || out[n - 1] == '\r')) out[--n] = '\0';
        if (more || n == 0 || strlen(out) != n || strpbrk(out, "\r\n")) {
            memset(out, 0, size);
            sj_seterr(errstr, errstr_size,
                      "%s %s: must hold the secret on one line (1 to %zu bytes)",
                      file_key, path, size - 2);
            return SJ_ERR_INPUT;
        }
        *found = true;
        return SJ_OK;
    }
    const char *v = getenv(env);
    if (!v || !*v) return SJ_OK;
    if (strlen(v) >= size || strpbrk(v, "\r\n")) {
        sj_seterr(errstr, errstr_size, "%s must be one line of at most %zu bytes", env,
                  size - 1);
        return SJ_ERR_INPUT;
    }
    memcpy(out, v, strlen(v) + 1);
    *found = true;
    return SJ_OK;
}

static sj_status_t bad(char *errstr, size_t errstr_size, const char *fmt, ...)
    SJ_PRINTF(3, 4);

/* Fills errstr and returns SJ_ERR_INPUT: a setting is wrong or missing. */
static sj_status_t bad(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errstr && errstr_size) vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    return SJ_ERR_INPUT;
}

static sj_status_t parse_via(const sj_conf_t *conf, sj_channels_t *c, char *errstr,
                             size_t errstr_size)
{
    const char *e = sj_conf_get(conf, "email.transport");
    const char *s = sj_conf_get(conf, "sms.transport");
    const char *a = sj_conf_get(conf, "app.transport");
    if (!strcmp(e, "smtp"))
        c->via[SJ_ROUTE_EMAIL] = SJ_VIA_SMTP;
    else if (strcmp(e, "outbox"))
        return bad(errstr, errstr_size,
                   "email.transport: \"%.40s\" is not outbox or smtp", e);
    if (!strcmp(s, "webhook"))
        c->via[SJ_ROUTE_SMS] = SJ_VIA_WEBHOOK;
    else if (!strcmp(s, "twilio"))
        c->via[SJ_ROUTE_SMS] = SJ_VIA_TWILIO;
    else if (strcmp(s, "outbox"))
        return bad(errstr, errstr_size,
                   "sms.transport: \"%.40s\" is not outbox, webhook or twilio", s);
    if (!strcmp(a, "inbox"))
        c->via[SJ_ROUTE_APP] = SJ_VIA_INBOX;
    else if (strcmp(a, "outbox"))
        return bad(errstr, errstr_size, "app.transport: \"%.40s\" is not outbox or inbox",
                   a);
    return SJ_OK;
}

static sj_provider_t *provider(sj_channels_t *c, const sj_conf_t *conf, const char *name,
                               const char *prefix, char *errstr, size_t errstr_size)
{
    char k[64];
    snprintf(k, sizeof k, "%s.connections", prefix);
    unsigned conns = (unsigned)sj_conf_get_int(conf, k);
    snprintf(k, sizeof k, "%s.rate", prefix);
    double rate = (double)sj_conf_get_int(conf, k);
    sj_provider_opts_t o = {
        .name = name,
        .conns = conns,
        .rate = rate,
        .breaker_faults = (unsigned)sj_conf_get_int(conf, "breaker.failures"),
        .breaker_open_ms = sj_conf_get_int(conf, "breaker.open-ms"),
        .breaker_max_open_ms = sj_conf_get_int(conf, "breaker.max-open-ms")};
    return sj_transport_provider(c->t, &o, errstr, errstr_size);
}

static sj_status_t setup_smtp(sj_channels_t *c, const sj_conf_t *conf, char *errstr,
                              size_t errstr_size)
{
    sj_smtp_opts_t o = {.host = sj_conf_get(conf, "smtp.host"),
                        .port = (long)sj_conf_get_int(conf, "smtp.port"),
                        .ca_file = sj_conf_get(conf, "smtp.ca-file"),
                        .user = sj_conf_get(conf, "smtp.user"),
                        .helo = sj_conf_get(conf, "email.domain"),
                        .timeout_ms = (long)sj_conf_get_int(conf, "smtp.timeout-ms")};
    if (sj_smtp_tls_parse(sj_conf_get(conf, "smtp.tls"), &o.tls) != SJ_OK)
        return bad(errstr, errstr_size,
                   "smtp.tls: \"%.40s\" is not starttls, implicit or "
                   "none",
                   sj_conf_get(conf, "smtp.tls"));
    char from[512], password[SJ_SECRET_MAX], err[300];
    sj_email_addr_t addr;
    snprintf(from, sizeof from, "%s", sj_conf_get(conf, "email.from"));
    if (sj_tset_parse_mailbox(from, &addr) != SJ_OK || addr.address.len >= 300)
        return bad(errstr, errstr_size, "email.from: not \"Name <address>\"");
    char sender[300];
    memcpy(sender, addr.address.ptr, addr.address.len);
    sender[addr.address.len] = '\0';
    o.mail_from = sender;
    bool found = false;
    sj_status_t st =
        sj_secret_load(conf, "smtp.password-file", "SEINTJE_SMTP_PASSWORD", password,
                       sizeof password, &found, errstr, errstr_size);
    if (st != SJ_OK) return st;
    if (o.user && !found)
        return bad(errstr, errstr_size,
                   "smtp.user is set but there is no password: set smtp.password-file or "
                   "SEINTJE_SMTP_PASSWORD");
    o.password = password;
    if (!(c->p_smtp = provider(c, conf, "smtp", "smtp", errstr, errstr_size)))
        return SJ_ERR_INPUT;
    c->smtp = sj_smtp_new(c->p_smtp, &o, err, sizeof err);
    memset(password, 0, sizeof password);
    if (!c->smtp) return bad(errstr, errstr_size, "smtp settings: %s", err);
    return SJ_OK;
}

static sj_status_t setup_sms(sj_channels_t *c, const sj_conf_t *conf, char *errstr,
                             size_t errstr_size)
{
    bool twilio = c->via[SJ_ROUTE_SMS] == SJ_VIA_TWILIO, found = false;
    const char *url = sj_conf_get(conf, "sms.url");
    char secret[SJ_SECRET_MAX], err[300];
    sj_sms_gw_opts_t o = {.api = twilio ? SJ_SMS_TWILIO : SJ_SMS_WEBHOOK,
                          .url = url      ? url
                                 : twilio ? "https://api.twilio.com"
                                          : NULL,
                          .account_sid = sj_conf_get(conf, "sms.twilio-sid"),
                          .ca_file = sj_conf_get(conf, "sms.ca-file"),
                          .timeout_ms = (long)sj_conf_get_int(conf, "sms.timeout-ms")};
    if (!o.url)
        return bad(errstr, errstr_size,
                   "sms.transport=webhook needs sms.url (the gateway's URL)");
    if (!sj_sms_sender_check(sj_conf_get(conf, "sms.sender")))
        return bad(errstr, errstr_size,
                   "sms.sender: \"%.20s\" is not E.164 or 1-11 letters, digits and "
                   "spaces",
                   sj_conf_get(conf, "sms.sender"));
    if (twilio && !o.account_sid)
        return bad(errstr, errstr_size, "sms.transport=twilio needs sms.twilio-sid");
    sj_status_t st =
        twilio ? sj_secret_load(conf, "sms.twilio-token-file", "SEINTJE_SMS_TWILIO_TOKEN",
                                secret, sizeof secret, &found, errstr, errstr_size)
               : sj_secret_load(conf, "sms.api-key-file", "SEINTJE_SMS_API_KEY", secret,
                                sizeof secret, &found, errstr, errstr_size);
    if (st != SJ_OK) return st;
    if (twilio && !found)
        return bad(
            errstr, errstr_size,
            "sms.transport=twilio needs the auth token: set sms.twilio-token-file or "
            "SEINTJE_SMS_TWILIO_TOKEN");
    if (twilio)
        o.auth_token = secret;
    else if (found)
        o.api_key = secret;
    if ((c->p_sms = provider(c, conf, "sms", "sms", errstr, errstr_size)))
        c->sms = sj_sms_gw_new(c->p_sms, &o, err, sizeof err);
    memset(secret, 0, sizeof secret);
    if (!c->p_sms) return SJ_ERR_INPUT;
    if (!c->sms)
        return bad(errstr, errstr_size, "sms settings (sms.url, sms.twilio-sid): %s",
                   err);
    return SJ_OK;
}

static sj_status_t setup_inbox(sj_channels_t *c, const sj_conf_t *conf, char *errstr,
                               size_t errstr_size)
{
    char secret[SJ_SECRET_MAX], err[300];
    bool found = false;
    sj_inbox_opts_t o = {.url = sj_conf_get(conf, "app.url"),
                         .token_url = sj_conf_get(conf, "app.token-url"),
                         .client_id = sj_conf_get(conf, "app.client-id"),
                         .scope = sj_conf_get(conf, "app.scope"),
                         .ca_file = sj_conf_get(conf, "app.ca-file"),
                         .timeout_ms = (long)sj_conf_get_int(conf, "app.timeout-ms")};
    const char *missing = !o.url         ? "app.url"
                          : !o.token_url ? "app.token-url"
                          : !o.client_id ? "app.client-id"
                                         : NULL;
    if (missing) return bad(errstr, errstr_size, "app.transport=inbox needs %s", missing);
    sj_status_t st =
        sj_secret_load(conf, "app.client-secret-file", "SEINTJE_APP_CLIENT_SECRET",
                       secret, sizeof secret, &found, errstr, errstr_size);
    if (st != SJ_OK) return st;
    if (!found)
        return bad(
            errstr, errstr_size,
            "app.transport=inbox needs the client secret: set app.client-secret-file "
            "or SEINTJE_APP_CLIENT_SECRET");
    o.client_secret = secret;
    c->p_app = provider(c, conf, "app", "app", errstr, errstr_size);
    if (c->p_app) c->p_token = provider(c, conf, "app-token", "app", errstr, errstr_size);
    if (c->p_token) c->inbox = sj_inbox_new(c->p_app, c->p_token, &o, err, sizeof err);
    memset(secret, 0, sizeof secret);
    if (!c->p_token) return SJ_ERR_INPUT;
    if (!c->inbox)
        return bad(errstr, errstr_size,
                   "app inbox settings (app.url, app.token-url, app.client-id): %s", err);
    return SJ_OK;
}

static sj_status_t setup(sj_channels_t *c, const sj_conf_t *conf, const char *outbox_dir,
                         char *errstr, size_t errstr_size)
{
    sj_status_t st = parse_via(conf, c, errstr, errstr_size);
    if (st != SJ_OK) return st;
    bool outbox = false, net = false;
    for (int k = 0; k < SJ_ROUTE_CHANNELS; k++) {
        outbox |= c->via[k] == SJ_VIA_OUTBOX;
        net |= c->via[k] != SJ_VIA_OUTBOX;
    }
    if (outbox && !(c->outbox = sj_outbox_new(
                        outbox_dir ? outbox_dir : sj_conf_get(conf, "outbox.dir"), errstr,
                        errstr_size)))
        return SJ_ERR_IO;
    if (!net) return SJ_OK;
    unsigned conns = (unsigned)(sj_conf_get_int(conf, "smtp.connections") +
                                sj_conf_get_int(conf, "sms.connections") +
                                2 * sj_conf_get_int(conf, "app.connections"));
    if (!(c->t = sj_transport_new(conns, errstr, errstr_size))) return SJ_ERR_NOMEM;
    if (c->via[SJ_ROUTE_EMAIL] == SJ_VIA_SMTP &&
        (st = setup_smtp(c, conf, errstr, errstr_size)) != SJ_OK)
        return st;
    if (c->via[SJ_ROUTE_SMS] != SJ_VIA_OUTBOX &&
        (st = setup_sms(c, conf, errstr, errstr_size)) != SJ_OK)
        return st;
    if (c->via[SJ_ROUTE_APP] == SJ_VIA_INBOX &&
        (st = setup_inbox(c, conf, errstr, errstr_size)) != SJ_OK)
        return st;
    return SJ_OK;
}

sj_channels_t *sj_channels_new(const sj_conf_t *conf, const char *outbox_dir,
                               sj_status_t *why_status, char *errstr, size_t errstr_size)
{
    sj_channels_t *c = calloc(1, sizeof *c);
    if (!c) {
        *why_status = SJ_ERR_NOMEM;
        sj_seterr(errstr, errstr_size, "out of memory");
        return NULL;
    }
    snprintf(c->domain, sizeof c->domain, "%s", sj_conf_get(conf, "email.domain"));
    sj_buf_init(&c->file, 4u << 20);
    *why_status = setup(c, conf, outbox_dir, errstr, errstr_size);
    if (*why_status != SJ_OK) {
        sj_channels_destroy(c);
        return NULL;
    }
    return c;
}

void sj_channels_destroy(sj_channels_t *c)
{
    if (!c) return;
    /* The transport first: it drops transfers without calling back into the
     * channel objects, which may then go. */
    sj_transport_destroy(c->t);
    sj_smtp_destroy(c->smtp);
    sj_sms_gw_destroy(c->sms);
    sj_inbox_destroy(c->inbox);
    sj_outbox_destroy(c->outbox);
    sj_buf_free(&c->file);
    free(c);
}

sj_via_t sj_channels_via(const sj_channels_t *c, sj_route_channel_t ch)
{
    return (size_t)ch < SJ_ROUTE_CHANNELS ? c->via[ch] : SJ_VIA_OUTBOX;
}

static const char *ext(sj_route_channel_t ch)
{
    return ch == SJ_ROUTE_EMAIL ? "eml" : "json";
}

static sj_status_t send_outbox(sj_channels_t *c, const sj_channel_msg_t *m,
                               sj_send_result_t *res, char *errstr, size_t errstr_size)
{
    const char *data = m->email;
    size_t len = m->email_len;
    if (m->channel != SJ_ROUTE_EMAIL) {
        sj_buf_reset(&c->file);
        sj_status_t st = sj_tset_add_json(json_incref((json_t *)m->record), &c->file);
        if (st != SJ_OK) {
            sj_seterr(errstr, errstr_size, "outbox: record too large or out of memory");
            return st;
        }
        data = c->file.data;
        len = c->file.len;
    }
    char name[128];
    snprintf(name, sizeof name, "%s.%s", m->id, ext(m->channel));
    sj_status_t st = sj_outbox_write(c->outbox, sj_route_channel_name(m->channel), name,
                                     data, len, errstr, errstr_size);
    if (st == SJ_OK)
        snprintf(res->reference, sizeof res->reference, "outbox:%s/%s",
                 sj_route_channel_name(m->channel), name);
    return st;
}

static const char *rstr(const json_t *record, const char *key)
{
    const json_t *v = json_object_get(record, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

sj_status_t sj_channels_send(sj_channels_t *c, const sj_channel_msg_t *m,
                             sj_send_done_fn done, void *opaque, bool *now,
                             sj_send_result_t *res, char *errstr, size_t errstr_size)
{
    memset(res, 0, sizeof *res);
    *now = false;
    char why[300];
    sj_status_t st = SJ_OK;
    switch (c->via[m->channel]) {
    case SJ_VIA_OUTBOX:
        *now = true;
        return send_outbox(c, m, res, errstr, errstr_size);
    case SJ_VIA_SMTP: {
        char ref[200];
        snprintf(ref, sizeof ref, "<%.64s@%.128s>", m->id, c->domain);
        st = sj_smtp_send(c->smtp, m->to->email, m->email, m->email_len, ref, done,
                          opaque, why, sizeof why);
        break;
    }
    case SJ_VIA_WEBHOOK:
    case SJ_VIA_TWILIO: {
        const char *text = rstr(m->record, "text");
        st = sj_sms_gw_send(c->sms, m->id, m->to->phone, m->sms_sender, text ? text : "",
                            done, opaque, why, sizeof why);
        break;
    }
    case SJ_VIA_INBOX: {
        sj_inbox_msg_t im = {.reference = m->id,
                             .recipient = m->to->app_inbox,
                             .title = rstr(m->record, "title"),
                             .body = rstr(m->record, "body"),
                             .deep_link = rstr(m->record, "deep_link"),
                             .category = rstr(m->record, "category"),
                             .expires_at = rstr(m->record, "expires_at")};
        st = sj_inbox_send(c->inbox, &im, done, opaque, why, sizeof why);
        break;
    }
    }
    if (st == SJ_ERR_INPUT) { /* refused before sending: this channel cannot take it */
        *now = true;
        res->cls = SJ_CLASS_PERMANENT;
        snprintf(res->reason, sizeof res->reason, "%s: %.240s",
                 sj_via_name(c->via[m->channel]), why);
        return SJ_OK;
    }
    if (st != SJ_OK) sj_seterr(errstr, errstr_size, "%s", why);
    return st;
}

int sj_channels_run(sj_channels_t *c, int timeout_ms, char *errstr, size_t errstr_size)
{
    return c->t ? sj_transport_run(c->t, timeout_ms, errstr, errstr_size) : 0;
}

size_t sj_channels_pending(const sj_channels_t *c)
{
    return c->t ? sj_transport_pending(c->t) : 0;
}

sj_status_t sj_channels_sync(sj_channels_t *c, char *errstr, size_t errstr_size)
{
    return c->outbox ? sj_outbox_sync(c->outbox, errstr, errstr_size) : SJ_OK;
}

bool sj_channels_outbox_elsewhere(const sj_channels_t *c, sj_route_channel_t ch,
                                  const char *id)
{
    if (!c->outbox) return false;
    for (int k = 0; k < SJ_ROUTE_CHANNELS; k++) {
        char name[128];
        snprintf(name, sizeof name, "%s.%s", id, ext((sj_route_channel_t)k));
        if (k != (int)ch && c->via[k] == SJ_VIA_OUTBOX &&
            sj_outbox_exists(c->outbox, sj_route_channel_name((sj_route_channel_t)k),
                             name))
            return true;
    }
    return false;
}

void sj_channels_report(const sj_channels_t *c, char *out, size_t size,
                        const char *prefix)
{
    sj_buf_t b;
    sj_buf_init(&b, size);
    for (size_t i = 0; c->t && i < sj_transport_providers(c->t); i++) {
        const sj_provider_t *p = sj_transport_provider_at(c->t, i);
        const sj_provider_stats_t *s = sj_provider_stats(p);
        sj_buf_addf(
            &b,
            "%sprovider %s: %llu started: ok %llu, temporary %llu, permanent "
            "%llu; breaker opened %llu (now %s), failed fast %llu; rate waits "
            "%llu, Retry-After pauses %llu, longest queue %llu\n",
            prefix, sj_provider_name(p), (unsigned long long)s->started,
            (unsigned long long)s->ok, (unsigned long long)s->temporary,
            (unsigned long long)s->permanent, (unsigned long long)s->breaker_opened,
            sj_breaker_state_name(sj_provider_breaker(p)),
            (unsigned long long)s->rejected_open, (unsigned long long)s->rate_waits,
            (unsigned long long)s->paused, (unsigned long long)s->max_queue);
    }
    if (c->inbox) {
        const sj_inbox_stats_t *s = sj_inbox_stats(c->inbox);
        sj_buf_addf(&b,
                    "%sapp inbox tokens: %llu fetched (%llu before expiry), %llu failed; "
                    "%llu messages sent again after a 401\n",
                    prefix, (unsigned long long)s->tokens, (unsigned long long)s->early,
                    (unsigned long long)s->token_errors, (unsigned long long)s->reauth);
    }
    snprintf(out, size, "%s", sj_buf_cstr(&b));
    sj_buf_free(&b);
}
