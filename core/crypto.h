/* Keyed pseudonyms and digests (OpenSSL libcrypto).
 *
 * A resident is known inside Seintje only by HMAC-SHA256(key, national register
 * number) in lowercase hex (64 characters). The key comes from a file
 * (setting `pseudonym.key-file`) or the environment variable SEINTJE_PSEUDONYM_KEY,
 * never from the command line or the repository. */
#ifndef SJ_CRYPTO_H
#define SJ_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

#define SJ_PSEUDONYM_LEN 64 /* hex characters, without the NUL */
#define SJ_KEY_MIN_LEN   16 /* bytes */
#define SJ_KEY_MAX_LEN   1024

typedef struct sj_hmac_s sj_hmac_t;

/* Creates an HMAC-SHA256 keyed with key[0..keylen). Returns NULL and fills
 * errstr when the key is shorter than SJ_KEY_MIN_LEN or OpenSSL fails.
 * Thread-safety: one object per thread (it keeps a reusable context). */
sj_hmac_t *sj_hmac_new(const unsigned char *key, size_t keylen, char *errstr,
                       size_t errstr_size);
void sj_hmac_destroy(sj_hmac_t *h);
/* Writes the 64 hex characters of HMAC(key, in) plus a NUL into out. */
sj_status_t sj_hmac_hex(sj_hmac_t *h, const void *in, size_t n,
                        char out[SJ_PSEUDONYM_LEN + 1]);

/* Loads the pseudonym key: from `key_file` when non-NULL/non-empty (a trailing
 * newline is stripped), else from SEINTJE_PSEUDONYM_KEY. With neither, and
 * `insecure_dev_key` true, uses a fixed, publicly known development key and
 * sets *is_dev = true. Fills key[SJ_KEY_MAX_LEN] and *keylen. */
sj_status_t sj_key_load(const char *key_file, bool insecure_dev_key, unsigned char *key,
                        size_t *keylen, bool *is_dev, char *errstr, size_t errstr_size);

/* SHA-256 of in, hex-encoded, truncated to hexlen characters (<= 64) + NUL. */
void sj_sha256_hex(const void *in, size_t n, char *out, size_t hexlen);

#endif
