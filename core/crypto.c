/* HMAC-SHA256 pseudonyms and SHA-256 digests over OpenSSL 3's EVP API.
 * The keyed MAC context is prepared once and duplicated per message, so the
 * key schedule is not redone for every resident. See crypto.h. */
#include "crypto.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

struct sj_hmac_s {
    EVP_MAC *mac;
    EVP_MAC_CTX *keyed; /* initialised with the key; never updated itself */
    EVP_MAC_CTX *work;
};

/* A fixed key for --insecure-dev-key. It is public by design: events made
 * with it are pseudonymised with a known key, i.e. not pseudonymised. */
static const char dev_key[] = "seintje-insecure-development-key-do-not-use";

sj_hmac_t *sj_hmac_new(const unsigned char *key, size_t keylen, char *errstr,
                       size_t errstr_size)
{
    if (keylen < SJ_KEY_MIN_LEN) {
        sj_seterr(errstr, errstr_size,
                  "pseudonym key is %zu bytes; at least %d are required "
                  "(e.g. `openssl rand -hex 32 > key`)",
                  keylen, SJ_KEY_MIN_LEN);
        return NULL;
    }
    sj_hmac_t *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (h->mac) h->keyed = EVP_MAC_CTX_new(h->mac);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    if (!h->keyed || !EVP_MAC_init(h->keyed, key, keylen, params)) {
        sj_seterr(errstr, errstr_size, "OpenSSL could not set up HMAC-SHA256");
        sj_hmac_destroy(h);
        return NULL;
    }
    return h;
}

void sj_hmac_destroy(sj_hmac_t *h)
{
    if (!h) return;
    EVP_MAC_CTX_free(h->work);
    EVP_MAC_CTX_free(h->keyed);
    EVP_MAC_free(h->mac);
    free(h);
}

sj_status_t sj_hmac_hex(sj_hmac_t *h, const void *in, size_t n,
                        char out[SJ_PSEUDONYM_LEN + 1])
{
    unsigned char md[32];
    size_t mdlen = 0;
    EVP_MAC_CTX_free(h->work);
    h->work = EVP_MAC_CTX_dup(h->keyed);
    if (!h->work || !EVP_MAC_update(h->work, in, n) ||
        !EVP_MAC_final(h->work, md, &mdlen, sizeof md) || mdlen != sizeof md)
        return SJ_ERR;
    sj_hex_encode(md, sizeof md, out);
    return SJ_OK;
}

sj_status_t sj_key_load(const char *key_file, bool insecure_dev_key, unsigned char *key,
                        size_t *keylen, bool *is_dev, char *errstr, size_t errstr_size)
{
    *is_dev = false;
    if (key_file && *key_file) {
        FILE *f = fopen(key_file, "rb");
        if (!f) {
            sj_seterr(errstr, errstr_size, "%s: cannot open pseudonym key file: %s",
                      key_file, strerror(errno));
            return SJ_ERR_IO;
        }
        size_t n = fread(key, 1, SJ_KEY_MAX_LEN, f);
        int more = fgetc(f) != EOF;
        fclose(f);
        if (more) {
            sj_seterr(errstr, errstr_size,
                      "%s: pseudonym key file is larger than %d bytes", key_file,
                      SJ_KEY_MAX_LEN);
            return SJ_ERR_INPUT;
        }
        while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r')) n--;
        *keylen = n;
    } else if (getenv("SEINTJE_PSEUDONYM_KEY") && *getenv("SEINTJE_PSEUDONYM_KEY")) {
        const char *k = getenv("SEINTJE_PSEUDONYM_KEY");
        size_t n = strlen(k);
        if (n > SJ_KEY_MAX_LEN) {
            sj_seterr(errstr, errstr_size,
                      "SEINTJE_PSEUDONYM_KEY is longer than %d bytes", SJ_KEY_MAX_LEN);
            return SJ_ERR_INPUT;
        }
        memcpy(key, k, n);
        *keylen = n;
    } else if (insecure_dev_key) {
        memcpy(key, dev_key, sizeof dev_key - 1);
        *keylen = sizeof dev_key - 1;
        *is_dev = true;
    } else {
        sj_seterr(
            errstr, errstr_size,
            "no pseudonym key: set pseudonym.key-file (a file with at least %d secret "
            "bytes, e.g. from `openssl rand -hex 32`) or SEINTJE_PSEUDONYM_KEY; for "
            "development only, --insecure-dev-key uses a public key",
            SJ_KEY_MIN_LEN);
        return SJ_ERR_INPUT;
    }
    if (*keylen < SJ_KEY_MIN_LEN) {
        sj_seterr(errstr, errstr_size,
                  "pseudonym key is %zu bytes; at least %d are required", *keylen,
                  SJ_KEY_MIN_LEN);
        return SJ_ERR_INPUT;
    }
    return SJ_OK;
}

void sj_sha256_hex(const void *in, size_t n, char *out, size_t hexlen)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    char full[65];
    EVP_Digest(in, n, md, &mdlen, EVP_sha256(), NULL);
    sj_hex_encode(md, 32, full);
    if (hexlen > 64) hexlen = 64;
    memcpy(out, full, hexlen);
    out[hexlen] = '\0';
}
