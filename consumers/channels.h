/* The ways a message leaves `seintje deliver`, made from the settings: per
 * channel either the outbox (files, the embedded default) or a network
 * transport (email.transport smtp; sms.transport webhook or twilio;
 * app.transport inbox), all sharing one curl multi transport with a
 * provider (queue, connections, rate, breaker) per endpoint.
 *
 * Secrets come from files named in the settings or from environment
 * variables (SEINTJE_SMTP_PASSWORD, SEINTJE_SMS_API_KEY,
 * SEINTJE_SMS_TWILIO_TOKEN, SEINTJE_APP_CLIENT_SECRET), never from the
 * command line, and never reach a log. A missing or contradictory setting
 * is an error naming the setting and what to do.
 *
 * Thread-safety: one thread. */
#ifndef SJ_CHANNELS_H
#define SJ_CHANNELS_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "consumers/route.h"
#include "consumers/transport.h"
#include "core/common.h"
#include "core/config.h"

#define SJ_SECRET_MAX 4096

typedef enum {
    SJ_VIA_OUTBOX = 0,
    SJ_VIA_SMTP,
    SJ_VIA_WEBHOOK,
    SJ_VIA_TWILIO,
    SJ_VIA_INBOX
} sj_via_t;

/* "outbox", "smtp", "webhook", "twilio", "inbox". */
const char *sj_via_name(sj_via_t v);

typedef struct sj_channels sj_channels_t;

/* Builds the channels from conf; outbox_dir overrides outbox.dir (NULL:
 * the setting). Returns NULL with errstr naming the setting on a bad or
 * missing one (SJ_ERR_INPUT in *why_status), or an I/O problem. */
sj_channels_t *sj_channels_new(const sj_conf_t *conf, const char *outbox_dir,
                               sj_status_t *why_status, char *errstr, size_t errstr_size);
/* Aborts what is in flight (no done calls). NULL is a no-op. */
void sj_channels_destroy(sj_channels_t *c);

sj_via_t sj_channels_via(const sj_channels_t *c, sj_route_channel_t ch);

/* One message to send; all borrowed. */
typedef struct sj_channel_msg {
    const char *id; /* intent id: the reference sent along */
    sj_route_channel_t channel;
    const sj_contact_t *to;
    const char *email; /* email: the RFC 5322 message, alive until done */
    size_t email_len;
    const json_t *record;   /* sms, app: the record (sj_compose_render()) */
    const char *sms_sender; /* sms: the sender id */
} sj_channel_msg_t;

/* Sends m. When it completes at once (the outbox; a recipient the channel
 * refuses before sending) *now is set and *res holds the result; otherwise
 * done(opaque, result) follows from sj_channels_run(). Returns SJ_OK, or
 * an error that must stop the stage (the outbox cannot be written: errstr;
 * out of memory). */
sj_status_t sj_channels_send(sj_channels_t *c, const sj_channel_msg_t *m,
                             sj_send_done_fn done, void *opaque, bool *now,
                             sj_send_result_t *res, char *errstr, size_t errstr_size);

/* Drives the network sends for at most timeout_ms; the number finished or
 * -1 with errstr. */
int sj_channels_run(sj_channels_t *c, int timeout_ms, char *errstr, size_t errstr_size);
/* Sends queued or in flight. */
size_t sj_channels_pending(const sj_channels_t *c);
/* Makes the outbox writes so far durable (fsync of the directories). */
sj_status_t sj_channels_sync(sj_channels_t *c, char *errstr, size_t errstr_size);
/* Whether the outbox already holds id for a channel other than ch (a replay
 * after the profile changed). */
bool sj_channels_outbox_elsewhere(const sj_channels_t *c, sj_route_channel_t ch,
                                  const char *id);

/* Writes per-provider counters into out (lines prefixed by prefix, cut at
 * size - 1); "" without network channels. */
void sj_channels_report(const sj_channels_t *c, char *out, size_t size,
                        const char *prefix);

/* Loads a secret: the file named by setting file_key when set (a trailing
 * newline is dropped), else the environment variable env. SJ_OK with
 * *found; SJ_ERR_INPUT/SJ_ERR_IO with errstr naming the setting or the
 * variable, never the secret. */
sj_status_t sj_secret_load(const sj_conf_t *conf, const char *file_key, const char *env,
                           char *out, size_t size, bool *found, char *errstr,
                           size_t errstr_size);

#endif
