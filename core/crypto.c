/* HMAC-SHA256 pseudonyms and SHA-256 digests over OpenSSL 3's EVP API.
 * The keyed MAC context is prepared once and duplicated per message, so the
 * key schedule is not redone for every resident. See crypto.h. */
#include "crypto.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)) (RFC 2104). The two
 * digest states after absorbing the padded key are computed once; each
 * message then costs two state copies and two short hashes, without the
 * allocations of a fresh EVP_MAC context. */
struct sj_hmac_s {
    EVP_MD_CTX *inner0, *outer0; /* after K ^ ipad, K ^ opad; never updated again */
    EVP_MD_CTX *work;
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
    unsigned char block[64] = {0}, pad[64];
    const EVP_MD *md = EVP_sha256();
    bool ok = true;
    if (keylen > sizeof block) { /* long keys are hashed first */
        unsigned int n = 0;
        ok = EVP_Digest(key, keylen, block, &n, md, NULL) == 1;
    } else {
        memcpy(block, key, keylen);
    }
    h->inner0 = EVP_MD_CTX_new();
    h->outer0 = EVP_MD_CTX_new();
    h->work = EVP_MD_CTX_new();
    ok = ok && h->inner0 && h->outer0 && h->work;
    for (size_t i = 0; ok && i < sizeof pad; i++) pad[i] = block[i] ^ 0x36;
    ok = ok && EVP_DigestInit_ex(h->inner0, md, NULL) &&
         EVP_DigestUpdate(h->inner0, pad, 64);
    for (size_t i = 0; ok && i < sizeof pad; i++) pad[i] = block[i] ^ 0x5c;
    ok = ok && EVP_DigestInit_ex(h->outer0, md, NULL) &&
         EVP_DigestUpdate(h->outer0, pad, 64);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    if (!ok) {
        sj_seterr(errstr, errstr_size, "OpenSSL could not set up HMAC-SHA256");
        sj_hmac_destroy(h);
        return NULL;
    }
    return h;
}

void sj_hmac_destroy(sj_hmac_t *h)
{
    if (!h) return;
    EVP_MD_CTX_free(h->work);
    EVP_MD_CTX_free(h->inner0);
    EVP_MD_CTX_free(h->outer0);
    free(h);
}

sj_status_t sj_hmac_hex(sj_hmac_t *h, const void *in, size_t n,
                        char out[SJ_PSEUDONYM_LEN + 1])
{
    unsigned char md[32];
    unsigned int len = 0;
    if (!EVP_MD_CTX_copy_ex(h->work, h->inner0) || !EVP_DigestUpdate(h->work, in, n) ||
        !EVP_DigestFinal_ex(h->work, md, &len) ||
        !EVP_MD_CTX_copy_ex(h->work, h->outer0) ||
        !EVP_DigestUpdate(h->work, md, sizeof md) ||
        !EVP_DigestFinal_ex(h->work, md, &len) || len != sizeof md)
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
