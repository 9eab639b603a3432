#pragma once
/* gzip (RFC 1952) both ways with zlib: request bodies the station compresses, the registry inflates.
 * zlib's inflateInit2/deflateInit2 are macros, which Swift cannot call. */
#include <stddef.h>

/* gzip of `len` bytes into a malloc'd buffer (free it with free); NULL on failure. */
unsigned char *ektp_gzip(const unsigned char *in, size_t len, size_t *out_len);

/* Inflates a gzip body into a malloc'd buffer of at most `max_out` bytes.
 * Returns 0 and sets *out / *out_len; 1 when the output would pass max_out (a zip bomb: nothing is
 * kept); -1 when the input is not whole, valid gzip (*why says what zlib found). */
int ektp_gunzip(const unsigned char *in, size_t len, size_t max_out, unsigned char **out, size_t *out_len,
                char *why, size_t why_len);
