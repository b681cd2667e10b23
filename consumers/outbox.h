/* The outbox channel: one file per message, for demos, tests, audits and
 * for hand-over to systems that pick messages up from a directory.
 *
 * Layout under `outbox.dir`:
 *
 *     <outbox>/email/<intent-id>.eml    the RFC 5322 message, CRLF line ends
 *     <outbox>/sms/<intent-id>.json
 * {"id","to","text","encoding","characters","segments",...} <outbox>/app/<intent-id>.json
 * {"id","inbox","title","body","deep_link",...}
 *
 * Every file is written atomically: a temporary file in the same directory
 * (".<name>.<pid>.tmp"), fsync, rename over the final name. A reader never
 * sees half a message, and a replay of the same intent overwrites the same
 * file instead of adding one. The directory entries are made durable by
 * sj_outbox_sync(), once per batch, before the stage acknowledges its input.
 *
 * Thread-safety: one sj_outbox_t per thread (it keeps which directories are
 * dirty); different objects on the same directory are safe. */
#ifndef SJ_OUTBOX_H
#define SJ_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "core/common.h"

#define SJ_OUTBOX_MAX_SUBDIRS 8
#define SJ_OUTBOX_MAX_FILE    (16u << 20) /* largest message file */

typedef struct sj_outbox_s sj_outbox_t;

/* Opens (creating it and its parents if needed) the outbox directory dir.
 * Returns a new object (sj_outbox_destroy) or NULL with errstr. */
sj_outbox_t *sj_outbox_new(const char *dir, char *errstr, size_t errstr_size);
void sj_outbox_destroy(sj_outbox_t *o);

/* Writes data[0..len) atomically to <dir>/<sub>/<name>. sub is a plain
 * directory name ("email"), created on first use; name must be 1..128 bytes
 * of letters, digits, '-', '_' and '.', not starting with '.'. Durable once
 * sj_outbox_sync() returned SJ_OK. SJ_ERR_INPUT for a bad name, SJ_ERR_IO
 * (errstr names the path and errno) otherwise. */
sj_status_t sj_outbox_write(sj_outbox_t *o, const char *sub, const char *name,
                            const void *data, size_t len, char *errstr,
                            size_t errstr_size);

/* Whether <dir>/<sub>/<name> exists. */
bool sj_outbox_exists(const sj_outbox_t *o, const char *sub, const char *name);

/* fsyncs every subdirectory written to since the last call. */
sj_status_t sj_outbox_sync(sj_outbox_t *o, char *errstr, size_t errstr_size);

/* The directory (borrowed). */
const char *sj_outbox_dir(const sj_outbox_t *o);

#endif
