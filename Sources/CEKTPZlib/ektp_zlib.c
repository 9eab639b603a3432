#include "ektp_zlib.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

unsigned char *ektp_gzip(const unsigned char *in, size_t len, size_t *out_len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip header and trailer, as Content-Encoding: gzip means (RFC 9110 8.4.1.3). */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return NULL;
    uLong cap = deflateBound(&z, (uLong)len) + 32;
    unsigned char *out = malloc(cap);
    if (!out) { deflateEnd(&z); return NULL; }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) { free(out); return NULL; }
    return out;
}

int ektp_gunzip(const unsigned char *in, size_t len, size_t max_out, unsigned char **out, size_t *out_len,
                char *why, size_t why_len) {
    *out = NULL;
    *out_len = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) { snprintf(why, why_len, "zlib failed to start"); return -1; }
    size_t cap = len * 4 + 1024;
    if (cap > max_out + 1) cap = max_out + 1;
    unsigned char *buf = malloc(cap);
    if (!buf) { inflateEnd(&z); snprintf(why, why_len, "out of memory"); return -1; }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    int rc = Z_OK;
    for (;;) {
        if (z.total_out == cap) {
            if (cap > max_out) { free(buf); inflateEnd(&z); return 1; }
            size_t ncap = cap * 2 > max_out + 1 ? max_out + 1 : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) { free(buf); inflateEnd(&z); snprintf(why, why_len, "out of memory"); return -1; }
            buf = nb;
            cap = ncap;
        }
        z.next_out = buf + z.total_out;
        z.avail_out = (uInt)(cap - z.total_out);
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) break;
        if (rc == Z_BUF_ERROR && z.avail_in == 0) { rc = Z_DATA_ERROR; z.msg = "the gzip stream ends early"; break; }
        if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    }
    if (rc != Z_STREAM_END) {
        snprintf(why, why_len, "%s", z.msg ? z.msg : "not gzip");
        free(buf);
        inflateEnd(&z);
        return -1;
    }
    if (z.total_out > max_out) { free(buf); inflateEnd(&z); return 1; }
    if (z.avail_in != 0) {
        snprintf(why, why_len, "%u bytes follow the end of the gzip stream", z.avail_in);
        free(buf);
        inflateEnd(&z);
        return -1;
    }
    *out = buf;
    *out_len = z.total_out;
    inflateEnd(&z);
    return 0;
}
