#define _GNU_SOURCE
#include "ektp_crypto.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* OpenSSL 3 entry points, by dlsym (types opaque here: no OpenSSL headers needed). */
#define EKTP_EVP_PKEY_ED25519 1087  /* NID_ED25519 (obj_mac.h) */
static struct {
    void *(*pkey_new_raw_private)(int, void *, const unsigned char *, size_t);
    void *(*pkey_new_raw_public)(int, void *, const unsigned char *, size_t);
    int (*pkey_get_raw_public)(const void *, unsigned char *, size_t *);
    void (*pkey_free)(void *);
    void *(*md_ctx_new)(void);
    void (*md_ctx_free)(void *);
    int (*digest_sign_init)(void *, void **, const void *, void *, void *);
    int (*digest_sign)(void *, unsigned char *, size_t *, const unsigned char *, size_t);
    int (*digest_verify_init)(void *, void **, const void *, void *, void *);
    int (*digest_verify)(void *, const unsigned char *, size_t, const unsigned char *, size_t);
    unsigned char *(*sha256)(const unsigned char *, size_t, unsigned char *);
} c;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];
static int loaded;

static void load(void) {
    void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof load_error, "libcrypto cannot be loaded (%s): install Debian's libssl3", dlerror());
        return;
    }
#define SYM(field, name) do { *(void **)&c.field = dlsym(h, name); if (!c.field) { \
        snprintf(load_error, sizeof load_error, "libcrypto.so.3 has no %s", name); return; } } while (0)
    SYM(pkey_new_raw_private, "EVP_PKEY_new_raw_private_key");
    SYM(pkey_new_raw_public, "EVP_PKEY_new_raw_public_key");
    SYM(pkey_get_raw_public, "EVP_PKEY_get_raw_public_key");
    SYM(pkey_free, "EVP_PKEY_free");
    SYM(md_ctx_new, "EVP_MD_CTX_new");
    SYM(md_ctx_free, "EVP_MD_CTX_free");
    SYM(digest_sign_init, "EVP_DigestSignInit");
    SYM(digest_sign, "EVP_DigestSign");
    SYM(digest_verify_init, "EVP_DigestVerifyInit");
    SYM(digest_verify, "EVP_DigestVerify");
    SYM(sha256, "SHA256");
#undef SYM
    loaded = 1;
}

int ektp_crypto_load(char *why, size_t why_len) {
    pthread_once(&once, load);
    if (loaded) return 0;
    if (why && why_len) snprintf(why, why_len, "%s", load_error);
    return -1;
}

int ektp_random(unsigned char *out, size_t len) {
    size_t off = 0;
    while (off < len) {
        ssize_t n = getrandom(out + off, len - off, 0);
        if (n < 0) return -1;
        off += (size_t)n;
    }
    return 0;
}

int ektp_ed25519_public(const unsigned char seed[32], unsigned char pub[32]) {
    if (ektp_crypto_load(NULL, 0) != 0) return -1;
    void *k = c.pkey_new_raw_private(EKTP_EVP_PKEY_ED25519, NULL, seed, 32);
    if (!k) return -1;
    size_t n = 32;
    int ok = c.pkey_get_raw_public(k, pub, &n) == 1 && n == 32;
    c.pkey_free(k);
    return ok ? 0 : -1;
}

int ektp_ed25519_sign(const unsigned char seed[32], const unsigned char *msg, size_t len, unsigned char sig[64]) {
    if (ektp_crypto_load(NULL, 0) != 0) return -1;
    void *k = c.pkey_new_raw_private(EKTP_EVP_PKEY_ED25519, NULL, seed, 32);
    if (!k) return -1;
    void *ctx = c.md_ctx_new();
    size_t n = 64;
    /* Ed25519 is "pure": no digest is named, the whole message is signed (RFC 8032 5.1.6). */
    int ok = ctx && c.digest_sign_init(ctx, NULL, NULL, NULL, k) == 1 && c.digest_sign(ctx, sig, &n, msg, len) == 1 && n == 64;
    if (ctx) c.md_ctx_free(ctx);
    c.pkey_free(k);
    return ok ? 0 : -1;
}

int ektp_ed25519_verify(const unsigned char pub[32], const unsigned char *msg, size_t len, const unsigned char sig[64]) {
    if (ektp_crypto_load(NULL, 0) != 0) return -1;
    void *k = c.pkey_new_raw_public(EKTP_EVP_PKEY_ED25519, NULL, pub, 32);
    if (!k) return -1;
    void *ctx = c.md_ctx_new();
    int r = -1;
    if (ctx && c.digest_verify_init(ctx, NULL, NULL, NULL, k) == 1) r = c.digest_verify(ctx, sig, 64, msg, len) == 1 ? 1 : 0;
    if (ctx) c.md_ctx_free(ctx);
    c.pkey_free(k);
    return r;
}

int ektp_sha256(const unsigned char *data, size_t len, unsigned char out[32]) {
    if (ektp_crypto_load(NULL, 0) != 0) return -1;
    return c.sha256(data, len, out) ? 0 : -1;
}
