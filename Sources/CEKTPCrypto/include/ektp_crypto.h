#pragma once
/*
 * The station's signing key (issue 16): Ed25519 (RFC 8032) and SHA-256 from OpenSSL's libcrypto,
 * loaded with dlopen on first use, as libcurl is (ektp_curl.h): every station has libcrypto.so.3
 * (libcurl4 depends on it), and `ektpd status` never maps it. The registry verifies with
 * swift-crypto; both are standard Ed25519, so either side can check the other.
 */
#include <stddef.h>

/* Loads libcrypto once. 0 when it is there; else -1 and why in `why`. */
int ektp_crypto_load(char *why, size_t why_len);
/* 32 random bytes from the kernel (getrandom): a new private key (its seed). 0 on success. */
int ektp_random(unsigned char *out, size_t len);
/* The public key (32 bytes) of a 32-byte Ed25519 seed. 0 on success. */
int ektp_ed25519_public(const unsigned char seed[32], unsigned char pub[32]);
/* Signs `len` bytes with the seed's key: a 64-byte signature. 0 on success. */
int ektp_ed25519_sign(const unsigned char seed[32], const unsigned char *msg, size_t len, unsigned char sig[64]);
/* 1 when `sig` is the key's signature of the message, 0 when not, -1 on error. */
int ektp_ed25519_verify(const unsigned char pub[32], const unsigned char *msg, size_t len, const unsigned char sig[64]);
/* SHA-256 of `len` bytes. 0 on success. */
int ektp_sha256(const unsigned char *data, size_t len, unsigned char out[32]);
