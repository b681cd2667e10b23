/* The settings table and its loaders. Adding a setting is one line in
 * `defs` below: the parser, the validation, `--help` texts and the README's
 * configuration reference (`seintje config --reference`) all read from it. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define I64_MAX INT64_MAX

static const sj_conf_def_t defs[] = {
    {"brokers", SJ_CONF_STRING, "127.0.0.1:9092", 0, 0,
     "Kafka bootstrap servers (host:port,...)."},
    {"topic.life-events", SJ_CONF_STRING, "seintje.life-events", 0, 0,
     "Topic of life events (CloudEvents JSON, key = resident pseudonym)."},
    {"topic.notifications", SJ_CONF_STRING, "seintje.notifications", 0, 0,
     "Topic of notification intents (key = resident pseudonym)."},
    {"topic.delivery-status", SJ_CONF_STRING, "seintje.delivery-status", 0, 0,
     "Topic of delivery status records."},
    {"topic.dead-letter", SJ_CONF_STRING, "seintje.dead-letter", 0, 0,
     "Topic of messages that failed for good."},
    {"topic.partitions", SJ_CONF_INT, "6", 1, 10000,
     "Partitions when Seintje creates a missing topic (existing topics are left alone)."},
    {"kafka.timeout-ms", SJ_CONF_INT, "30000", 100, 3600000,
     "How long to wait for Kafka metadata, topic creation and the final flush."},
    {"redis.url", SJ_CONF_STRING, "redis://127.0.0.1:6379", 0, 0,
     "Redis: redis://host:port[/db] or unix:/path/redis.sock[?db=N]."},
    {"redis.timeout-ms", SJ_CONF_INT, "5000", 10, 600000,
     "Redis connect and command timeout."},
    {"pseudonym.key-file", SJ_CONF_STRING, NULL, 0, 0,
     "File holding the secret HMAC key for pseudonyms (else SEINTJE_PSEUDONYM_KEY)."},
    {"produce.max-line", SJ_CONF_INT, "65536", 256, 16777216,
     "Longest accepted input line in bytes; longer lines are rejected, not truncated."},
    {"produce.reject-file", SJ_CONF_STRING, "seintje-rejects.jsonl", 0, 0,
     "Where rejected input lines go, as JSON lines with file, line, field and problem."},
    {"produce.source", SJ_CONF_STRING, "urn:seintje:register", 0, 0,
     "CloudEvents source for CSV rows that have neither a source nor a nis column."},
    {"segment.group", SJ_CONF_STRING, "seintje-segment", 0, 0,
     "Consumer group of `seintje segment`."},
    {"segment.instance", SJ_CONF_STRING, "0", 0, 0,
     "Stable id of this segment instance, unique among those running (its Kafka "
     "transactional.id is seintje-segment-<id>)."},
    {"topic.segment-due", SJ_CONF_STRING, "seintje.segment-due", 0, 0,
     "Internal topic: ticks for scheduled steps that became due (segment to itself)."},
    {"nudge.send-window", SJ_CONF_STRING, "mon-fri 09:00-18:00", 0, 0,
     "Send window (Europe/Brussels) for campaigns without send_window."},
    {"nudge.cap-count", SJ_CONF_INT, "2", 0, 100,
     "Frequency cap: at most this many nudges per resident per nudge.cap-days (0: no "
     "cap); mandatory notices are exempt."},
    {"nudge.cap-days", SJ_CONF_INT, "7", 1, 365, "Frequency cap period in days."},
    {"nudge.require-consent", SJ_CONF_BOOL, "true", 0, 0,
     "A channel needs recorded consent (true), or only the absence of a refusal "
     "(false)."},
    {"deliver.group", SJ_CONF_STRING, "seintje-deliver", 0, 0,
     "Consumer group of `seintje deliver`."},
    {"campaigns.dir", SJ_CONF_STRING, "segments/campaigns", 0, 0,
     "Directory of campaign files (*.json)."},
    {"templates.dir", SJ_CONF_STRING, "templates/campaigns", 0, 0,
     "Directory of message templates (<campaign>/<variant>/<language>/<channel>...)."},
    {"outbox.dir", SJ_CONF_STRING, "outbox", 0, 0,
     "Directory the outbox channel writes messages to (one file per message)."},
    {"email.from", SJ_CONF_STRING, "Gemeente <noreply@example.org>", 0, 0,
     "Sender of e-mail messages: \"Display Name <address>\"."},
    {"email.domain", SJ_CONF_STRING, "seintje.example.org", 0, 0,
     "Domain part of e-mail Message-IDs."},
    {"deliver.instance", SJ_CONF_STRING, "0", 0, 0,
     "Stable id of this deliver instance, unique among those running: the owner of its "
     "claims in Redis (after a crash it re-sends what it had in flight)."},
    {"deliver.max-in-flight", SJ_CONF_INT, "1000", 1, 100000,
     "Intents a deliver instance works on at once (read, rendering, sending, being "
     "recorded); Kafka is read only while there is room."},
    {"deliver.lease-ms", SJ_CONF_INT, "120000", 1000, 86400000,
     "How long a claim or a taken retry belongs to its instance before another may take "
     "it over; keep it above the longest send (timeouts)."},
    {"deliver.retry-max-attempts", SJ_CONF_INT, "8", 1, 1000,
     "Attempts per channel before a temporary failure is final (dead letter, then the "
     "next channel)."},
    {"deliver.retry-base-ms", SJ_CONF_INT, "2000", 1, 86400000,
     "First retry delay; it doubles per attempt, with jitter (between half and all of "
     "it)."},
    {"deliver.retry-max-delay-ms", SJ_CONF_INT, "900000", 1, 604800000,
     "Longest delay between two attempts (a longer Retry-After is still honoured)."},
    {"deliver.retry-max-age-ms", SJ_CONF_INT, "86400000", 1000, 2592000000,
     "How long after its first attempt on a channel a message may still be retried."},
    {"deliver.fallback", SJ_CONF_BOOL, "true", 0, 0,
     "After a permanent failure or exhausted retries, try the intent's next channel "
     "that has contact data and consent."},
    {"deliver.state-ttl-days", SJ_CONF_INT, "30", 1, 3650,
     "Days the delivery state of an intent stays in Redis after its expires_at: the "
     "horizon of de-duplication."},
    {"breaker.failures", SJ_CONF_INT, "5", 0, 100000,
     "Consecutive provider faults (no answer, 5xx, 401/403) that open a provider's "
     "circuit breaker; 0 = never."},
    {"breaker.open-ms", SJ_CONF_INT, "5000", 10, 3600000,
     "How long an open breaker fails sends at once before one probe may go; doubles "
     "after a failed probe."},
    {"breaker.max-open-ms", SJ_CONF_INT, "120000", 10, 86400000,
     "Longest open period of a circuit breaker."},
    {"email.transport", SJ_CONF_STRING, "outbox", 0, 0,
     "How e-mail leaves: outbox (files in outbox.dir) or smtp."},
    {"smtp.host", SJ_CONF_STRING, "localhost", 0, 0, "SMTP relay host."},
    {"smtp.port", SJ_CONF_INT, "587", 1, 65535,
     "SMTP relay port (587 submission with STARTTLS, 465 implicit TLS)."},
    {"smtp.tls", SJ_CONF_STRING, "starttls", 0, 0,
     "starttls (required), implicit (SMTPS) or none (clear text: local relays only)."},
    {"smtp.ca-file", SJ_CONF_STRING, NULL, 0, 0,
     "CA certificates (PEM) to verify the relay with, instead of the system's."},
    {"smtp.user", SJ_CONF_STRING, NULL, 0, 0,
     "SMTP AUTH user (PLAIN or LOGIN, after TLS); unset: no AUTH."},
    {"smtp.password-file", SJ_CONF_STRING, NULL, 0, 0,
     "File holding the SMTP password (else SEINTJE_SMTP_PASSWORD)."},
    {"smtp.connections", SJ_CONF_INT, "8", 1, 1000,
     "SMTP sessions at once; each is kept open and reused."},
    {"smtp.rate", SJ_CONF_INT, "0", 0, 1000000,
     "E-mails per second at most; 0 = no limit."},
    {"smtp.timeout-ms", SJ_CONF_INT, "30000", 100, 600000,
     "Time for one e-mail, connecting included."},
    {"sms.transport", SJ_CONF_STRING, "outbox", 0, 0,
     "How SMS leave: outbox, webhook (generic JSON) or twilio (Twilio's Messages API)."},
    {"sms.url", SJ_CONF_STRING, NULL, 0, 0,
     "webhook: the URL to POST to; twilio: the API base URL (unset: "
     "https://api.twilio.com)."},
    {"sms.api-key-file", SJ_CONF_STRING, NULL, 0, 0,
     "webhook: file holding a Bearer key (else SEINTJE_SMS_API_KEY; neither: no "
     "Authorization)."},
    {"sms.twilio-sid", SJ_CONF_STRING, NULL, 0, 0, "twilio: the account SID (AC...)."},
    {"sms.twilio-token-file", SJ_CONF_STRING, NULL, 0, 0,
     "twilio: file holding the auth token (else SEINTJE_SMS_TWILIO_TOKEN)."},
    {"sms.sender", SJ_CONF_STRING, "Gemeente", 0, 0,
     "SMS sender id for municipalities without sms_sender in _site.json (E.164, or 1-11 "
     "letters, digits, spaces)."},
    {"sms.ca-file", SJ_CONF_STRING, NULL, 0, 0,
     "CA certificates (PEM) for an https sms.url, instead of the system's."},
    {"sms.connections", SJ_CONF_INT, "16", 1, 1000,
     "HTTP requests at once to the SMS gateway (keep-alive connections)."},
    {"sms.rate", SJ_CONF_INT, "0", 0, 1000000, "SMS per second at most; 0 = no limit."},
    {"sms.timeout-ms", SJ_CONF_INT, "10000", 100, 600000, "Time for one SMS request."},
    {"app.transport", SJ_CONF_STRING, "outbox", 0, 0,
     "How app messages leave: outbox or inbox (the citizen-app inbox API)."},
    {"app.url", SJ_CONF_STRING, NULL, 0, 0, "inbox: the messages endpoint to POST to."},
    {"app.token-url", SJ_CONF_STRING, NULL, 0, 0,
     "inbox: the OAuth2 token endpoint (client credentials)."},
    {"app.client-id", SJ_CONF_STRING, NULL, 0, 0, "inbox: the OAuth2 client id."},
    {"app.client-secret-file", SJ_CONF_STRING, NULL, 0, 0,
     "inbox: file holding the OAuth2 client secret (else SEINTJE_APP_CLIENT_SECRET)."},
    {"app.scope", SJ_CONF_STRING, NULL, 0, 0,
     "inbox: the OAuth2 scope to ask for, if any."},
    {"app.ca-file", SJ_CONF_STRING, NULL, 0, 0,
     "CA certificates (PEM) for https app URLs, instead of the system's."},
    {"app.connections", SJ_CONF_INT, "16", 1, 1000,
     "HTTP requests at once to the inbox API (keep-alive connections)."},
    {"app.rate", SJ_CONF_INT, "0", 0, 1000000,
     "App messages per second at most; 0 = no limit."},
    {"app.timeout-ms", SJ_CONF_INT, "10000", 100, 600000,
     "Time for one inbox or token request."},
    {"log.level", SJ_CONF_STRING, "info", 0, 0, "debug, info, warn or error."},
    {"log.format", SJ_CONF_STRING, "auto", 0, 0,
     "auto (text on a terminal, JSON lines otherwise), text or json."},
};

typedef struct kv {
    char *name;
    char *value;
    struct kv *next;
} kv_t;

struct sj_conf_s {
    char *values[SJ_ARRAY_LEN(defs)];
    kv_t *kafka; /* kafka.* passthrough, in the order given */
};

const sj_conf_def_t *sj_conf_defs(size_t *count)
{
    *count = SJ_ARRAY_LEN(defs);
    return defs;
}

static ssize_t def_index(const char *name)
{
    for (size_t i = 0; i < SJ_ARRAY_LEN(defs); i++)
        if (!strcmp(defs[i].name, name)) return (ssize_t)i;
    return -1;
}

sj_conf_t *sj_conf_new(void)
{
    sj_conf_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    for (size_t i = 0; i < SJ_ARRAY_LEN(defs); i++) {
        if (!defs[i].def) continue;
        if (!(c->values[i] = strdup(defs[i].def))) {
            sj_conf_destroy(c);
            return NULL;
        }
    }
    return c;
}

void sj_conf_destroy(sj_conf_t *c)
{
    if (!c) return;
    for (size_t i = 0; i < SJ_ARRAY_LEN(defs); i++) free(c->values[i]);
    for (kv_t *k = c->kafka, *next; k; k = next) {
        next = k->next;
        free(k->name);
        free(k->value);
        free(k);
    }
    free(c);
}

static sj_status_t set_kafka(sj_conf_t *c, const char *name, const char *value)
{
    kv_t **tail = &c->kafka;
    for (kv_t *k = c->kafka; k; k = k->next) {
        if (!strcmp(k->name, name)) {
            char *v = strdup(value);
            if (!v) return SJ_ERR_NOMEM;
            free(k->value);
            k->value = v;
            return SJ_OK;
        }
        tail = &k->next;
    }
    kv_t *k = calloc(1, sizeof *k);
    if (!k || !(k->name = strdup(name)) || !(k->value = strdup(value))) {
        if (k) free(k->name);
        free(k);
        return SJ_ERR_NOMEM;
    }
    *tail = k;
    return SJ_OK;
}

sj_status_t sj_conf_set(sj_conf_t *c, const char *name, const char *value, char *errstr,
                        size_t errstr_size)
{
    ssize_t i = def_index(name);
    if (i < 0 && !strncmp(name, "kafka.", 6) && name[6])
        return set_kafka(c, name + 6, value);
    if (i < 0) {
        sj_seterr(errstr, errstr_size,
                  "unknown setting \"%s\" (see `seintje config --reference`; librdkafka "
                  "settings take a kafka. prefix)",
                  name);
        return SJ_ERR_INPUT;
    }
    const sj_conf_def_t *d = &defs[i];
    if (d->type == SJ_CONF_INT) {
        int64_t v;
        if (sj_parse_i64(value, &v) != SJ_OK || v < d->min || v > d->max) {
            sj_seterr(errstr, errstr_size,
                      "%s: \"%s\" is not an integer from %lld to %lld", name, value,
                      (long long)d->min, (long long)d->max);
            return SJ_ERR_INPUT;
        }
    } else if (d->type == SJ_CONF_BOOL) {
        if (strcmp(value, "true") && strcmp(value, "false")) {
            sj_seterr(errstr, errstr_size, "%s: \"%s\" is not true or false", name,
                      value);
            return SJ_ERR_INPUT;
        }
    }
    char *v = strdup(value);
    if (!v) return SJ_ERR_NOMEM;
    free(c->values[i]);
    c->values[i] = v;
    return SJ_OK;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 &&
           (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

sj_status_t sj_conf_load_file(sj_conf_t *c, const char *path, char *errstr,
                              size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        sj_seterr(errstr, errstr_size, "%s: cannot open configuration file: %s", path,
                  strerror(errno));
        return SJ_ERR_IO;
    }
    char line[4096], err[512];
    unsigned lineno = 0;
    sj_status_t st = SJ_OK;
    while (st == SJ_OK && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            sj_seterr(errstr, errstr_size, "%s:%u: line longer than %zu bytes", path,
                      lineno, sizeof line - 2);
            st = SJ_ERR_INPUT;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            sj_seterr(errstr, errstr_size, "%s:%u: expected \"name = value\"", path,
                      lineno);
            st = SJ_ERR_INPUT;
            break;
        }
        *eq = '\0';
        if ((st = sj_conf_set(c, trim(s), trim(eq + 1), err, sizeof err)) != SJ_OK)
            sj_seterr(errstr, errstr_size, "%s:%u: %s", path, lineno, err);
    }
    fclose(f);
    return st;
}

/* "redis.url" -> "SEINTJE_REDIS_URL" */
static void env_name(const char *name, char *env, size_t size)
{
    size_t k = 0;
    for (const char *p = "SEINTJE_"; *p && k + 1 < size; p++) env[k++] = *p;
    for (const char *p = name; *p && k + 1 < size; p++)
        env[k++] = (*p == '.' || *p == '-')
                       ? '_'
                       : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    env[k] = '\0';
}

sj_status_t sj_conf_load_env(sj_conf_t *c, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < SJ_ARRAY_LEN(defs); i++) {
        char env[128];
        env_name(defs[i].name, env, sizeof env);
        const char *v = getenv(env);
        if (!v) continue;
        char err[512];
        sj_status_t st = sj_conf_set(c, defs[i].name, v, err, sizeof err);
        if (st != SJ_OK) {
            sj_seterr(errstr, errstr_size, "environment %s: %s", env, err);
            return st;
        }
    }
    return SJ_OK;
}

const char *sj_conf_get(const sj_conf_t *c, const char *name)
{
    ssize_t i = def_index(name);
    if (i < 0) {
        fprintf(stderr, "seintje: internal error: unknown setting %s\n", name);
        abort();
    }
    return c->values[i];
}

int64_t sj_conf_get_int(const sj_conf_t *c, const char *name)
{
    const char *v = sj_conf_get(c, name);
    int64_t n = 0;
    if (v) sj_parse_i64(v, &n);
    return n;
}

bool sj_conf_get_bool(const sj_conf_t *c, const char *name)
{
    const char *v = sj_conf_get(c, name);
    return v && !strcmp(v, "true");
}

sj_status_t sj_conf_each_kafka(const sj_conf_t *c, sj_conf_kafka_fn fn, void *opaque)
{
    for (kv_t *k = c->kafka; k; k = k->next) {
        sj_status_t st = fn(opaque, k->name, k->value);
        if (st != SJ_OK) return st;
    }
    return SJ_OK;
}

void sj_conf_print_reference(FILE *out)
{
    fprintf(out, "| setting | environment | type | default | meaning |\n"
                 "|---|---|---|---|---|\n");
    for (size_t i = 0; i < SJ_ARRAY_LEN(defs); i++) {
        char env[128];
        env_name(defs[i].name, env, sizeof env);
        static const char *types[] = {"string", "integer", "boolean"};
        fprintf(out, "| `%s` | `%s` | %s | %s%s%s | %s |\n", defs[i].name, env,
                types[defs[i].type], defs[i].def ? "`" : "",
                defs[i].def ? defs[i].def : "(unset)", defs[i].def ? "`" : "",
                defs[i].doc);
    }
    fprintf(out, "| `kafka.*` | (file or -X only) | string | | passed to librdkafka "
                 "unchanged, e.g. `kafka.linger.ms` |\n");
}
