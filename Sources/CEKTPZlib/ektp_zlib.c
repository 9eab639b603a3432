#include "ektp_zlib.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* zlib by dlopen at the first gzip either way, as libcurl and libcrypto are (ektp_curl.h): the
 * client commands (`ektpd status` ...) never gzip, and each shared library linked in is loaded and
 * relocated at every start (one of the nine `ektpd status` loaded; Benchmarks/footprint.py). */
static struct {
    int (*deflateInit2_)(z_streamp, int, int, int, int, int, const char *, int);
    int (*deflate)(z_streamp, int);
    int (*deflateEnd)(z_streamp);
    uLong (*deflateBound)(z_streamp, uLong);
    int (*inflateInit2_)(z_streamp, int, const char *, int);
    int (*inflate)(z_streamp, int);
    int (*inflateEnd)(z_streamp);
} zf;
static pthread_once_t zlib_once = PTHREAD_ONCE_INIT;
static int zlib_loaded;
static char zlib_error[200];

static void zlib_load(void) {
    void *h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) { snprintf(zlib_error, sizeof zlib_error, "zlib cannot be loaded (%s): install Debian's zlib1g", dlerror()); return; }
#define ZSYM(name) do { *(void **)&zf.name = dlsym(h, #name); \
        if (!zf.name) { snprintf(zlib_error, sizeof zlib_error, "libz.so.1 has no %s", #name); return; } } while (0)
    ZSYM(deflateInit2_); ZSYM(deflate); ZSYM(deflateEnd); ZSYM(deflateBound);
    ZSYM(inflateInit2_); ZSYM(inflate); ZSYM(inflateEnd);
#undef ZSYM
    zlib_loaded = 1;
}

static int zlib_ready(void) {
    pthread_once(&zlib_once, zlib_load);
    return zlib_loaded;
}

unsigned char *ektp_gzip(const unsigned char *in, size_t len, size_t *out_len) {
    if (!zlib_ready()) return NULL;
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip header and trailer, as Content-Encoding: gzip means (RFC 9110 8.4.1.3). */
    if (zf.deflateInit2_(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, (int)sizeof z) != Z_OK) return NULL;
    uLong cap = zf.deflateBound(&z, (uLong)len) + 32;
    unsigned char *out = malloc(cap);
    if (!out) { zf.deflateEnd(&z); return NULL; }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = zf.deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    zf.deflateEnd(&z);
    if (rc != Z_STREAM_END) { free(out); return NULL; }
    return out;
}

int ektp_gunzip(const unsigned char *in, size_t len, size_t max_out, unsigned char **out, size_t *out_len,
                char *why, size_t why_len) {
    *out = NULL;
    *out_len = 0;
    if (!zlib_ready()) { snprintf(why, why_len, "%s", zlib_error); return -1; }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (zf.inflateInit2_(&z, 15 + 16, ZLIB_VERSION, (int)sizeof z) != Z_OK) { snprintf(why, why_len, "zlib failed to start"); return -1; }
    size_t cap = len * 4 + 1024;
    if (cap > max_out + 1) cap = max_out + 1;
    unsigned char *buf = malloc(cap);
    if (!buf) { zf.inflateEnd(&z); snprintf(why, why_len, "out of memory"); return -1; }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    int rc = Z_OK;
    for (;;) {
        if (z.total_out == cap) {
            if (cap > max_out) { free(buf); zf.inflateEnd(&z); return 1; }
            size_t ncap = cap * 2 > max_out + 1 ? max_out + 1 : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) { free(buf); zf.inflateEnd(&z); snprintf(why, why_len, "out of memory"); return -1; }
            buf = nb;
            cap = ncap;
        }
        z.next_out = buf + z.total_out;
        z.avail_out = (uInt)(cap - z.total_out);
        rc = zf.inflate(&z, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) break;
        if (rc == Z_BUF_ERROR && z.avail_in == 0) { rc = Z_DATA_ERROR; z.msg = "the gzip stream ends early"; break; }
        if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    }
    if (rc != Z_STREAM_END) {
        snprintf(why, why_len, "%s", z.msg ? z.msg : "not gzip");
        free(buf);
        zf.inflateEnd(&z);
        return -1;
    }
    if (z.total_out > max_out) { free(buf); zf.inflateEnd(&z); return 1; }
    if (z.avail_in != 0) {
        snprintf(why, why_len, "%u bytes follow the end of the gzip stream", z.avail_in);
        free(buf);
        zf.inflateEnd(&z);
        return -1;
    }
    *out = buf;
    *out_len = z.total_out;
    zf.inflateEnd(&z);
    return 0;
}
