/* The e-mail channel over SMTP (libcurl): submission to a relay with
 * STARTTLS (required, the default) or implicit TLS (SMTPS), AUTH when a
 * user is configured (curl picks PLAIN or LOGIN as offered, only after TLS
 * is up), and connection reuse: curl's connection cache, shared by the
 * transport, keeps each session open and the next message goes straight
 * to MAIL FROM on it, so TLS and AUTH are paid once per connection, not
 * per message.
 *
 * The message is the RFC 5322 text the templates library built
 * (templates/email.h), sent unchanged (curl does the dot-stuffing); its
 * Message-ID "<intent-id@email.domain>" is the reference, the same on
 * every retry, so a receiving system can drop a duplicate.
 *
 * Envelope addresses are checked before anything is sent
 * (sj_smtp_check_address()): no CR, LF or NUL (command injection), no
 * spaces, controls, angle brackets or non-ASCII bytes (SMTPUTF8 is not
 * used), one '@' with a plausible local part and domain, RFC 5321 lengths.
 *
 * Classification (sj_smtp_classify()): a 5xx reply is permanent (bad
 * mailbox, message refused), except 530/534/535/538 (authentication: our
 * configuration, temporary and a provider fault); a 4xx reply is temporary
 * (421 also a provider fault); no reply at all (refused connection,
 * timeout, TLS failure, dropped connection) is temporary and a provider
 * fault. A dropped connection after the message was sent may mean it was
 * delivered: the retry then sends the same Message-ID again.
 *
 * Thread-safety: that of the transport (one thread). */
#ifndef SJ_SMTP_H
#define SJ_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "consumers/transport.h"
#include "core/common.h"

#define SJ_SMTP_MAX_ADDRESS 254
#define SJ_SMTP_MAX_LOCAL   64

typedef enum { SJ_SMTP_STARTTLS = 0, SJ_SMTP_IMPLICIT, SJ_SMTP_PLAIN } sj_smtp_tls_t;

/* Parses "starttls", "implicit" or "none"; SJ_ERR_INPUT otherwise. */
sj_status_t sj_smtp_tls_parse(const char *s, sj_smtp_tls_t *out);

typedef struct sj_smtp_opts {
    const char *host;      /* relay host name or address */
    long port;             /* 1..65535 */
    sj_smtp_tls_t tls;     /* SJ_SMTP_PLAIN sends in clear text (local relays) */
    const char *ca_file;   /* CA bundle to verify the relay; NULL: the system's */
    const char *user;      /* AUTH user; NULL: no AUTH */
    const char *password;  /* with user (copied; never logged) */
    const char *helo;      /* the EHLO name (a domain) */
    const char *mail_from; /* envelope sender, a bare address */
    long timeout_ms;       /* per message, connection included */
} sj_smtp_opts_t;

typedef struct sj_smtp sj_smtp_t;

/* A sender on provider p (borrowed; p outlives it). Checks the options;
 * NULL with errstr naming the problem (the caller adds the setting). */
sj_smtp_t *sj_smtp_new(sj_provider_t *p, const sj_smtp_opts_t *o, char *errstr,
                       size_t errstr_size);
/* NULL is a no-op. Sends in flight must have finished (or the transport
 * been destroyed) first. */
void sj_smtp_destroy(sj_smtp_t *s);

/* Queues the message msg[0..len) (borrowed until done is called) to rcpt.
 * reference is reported back as the result's reference (the Message-ID).
 * SJ_ERR_INPUT without sending when rcpt fails sj_smtp_check_address()
 * (errstr says why, without the address); SJ_ERR_NOMEM. */
sj_status_t sj_smtp_send(sj_smtp_t *s, const char *rcpt, const char *msg, size_t len,
                         const char *reference, sj_send_done_fn done, void *opaque,
                         char *errstr, size_t errstr_size);

/* Checks an envelope address a[0..n) as described above. On SJ_ERR_INPUT
 * why says what is wrong, never quoting the address. */
sj_status_t sj_smtp_check_address(const char *a, size_t n, char *why, size_t why_size);

/* The class of an SMTP transfer that ended with code and last reply code
 * reply (0: none); *fault tells whether the relay itself failed. */
sj_class_t sj_smtp_classify(CURLcode code, long reply, bool *fault);

#endif
