#define _GNU_SOURCE
#include "ektp_curl.h"
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ektp_zlib.h"

/* libcurl's entry points, found with dlsym. */
static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    char *(*version)(void);
    CURLSH *(*share_init)(void);
    CURLSHcode (*share_setopt)(CURLSH *, CURLSHoption, ...);
    CURLSHcode (*share_cleanup)(CURLSH *);
} lc;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];
static int loaded;

static void load(void) {
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof load_error, "libcurl cannot be loaded (%s): install Debian's libcurl4", dlerror());
        return;
    }
#define SYM(field, name) do { *(void **)&lc.field = dlsym(h, name); if (!lc.field) { \
        snprintf(load_error, sizeof load_error, "libcurl.so.4 has no %s: it is older than 7.85", name); return; } } while (0)
    SYM(global_init, "curl_global_init");
    SYM(easy_init, "curl_easy_init");
    SYM(easy_cleanup, "curl_easy_cleanup");
    SYM(easy_reset, "curl_easy_reset");
    SYM(easy_setopt, "curl_easy_setopt");
    SYM(easy_perform, "curl_easy_perform");
    SYM(easy_getinfo, "curl_easy_getinfo");
    SYM(easy_strerror, "curl_easy_strerror");
    SYM(slist_append, "curl_slist_append");
    SYM(slist_free_all, "curl_slist_free_all");
    SYM(version, "curl_version");
    SYM(share_init, "curl_share_init");
    SYM(share_setopt, "curl_share_setopt");
    SYM(share_cleanup, "curl_share_cleanup");
#undef SYM
    /* Once, before any thread makes a handle (curl_global_init is not thread-safe before 7.84). */
    if (lc.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(load_error, sizeof load_error, "libcurl failed to initialise");
        return;
    }
    loaded = 1;
}

int ektp_curl_load(char *why, size_t why_len) {
    pthread_once(&load_once, load);
    if (loaded) return 0;
    if (why && why_len) snprintf(why, why_len, "%s", load_error);
    return -1;
}

const char *ektp_curl_version(void) { return loaded ? lc.version() : NULL; }

/* A session: the easy handle (its connection cache, TLS context and CA store) while the client
 * is busy, and a share handle that outlives it with the TLS session IDs and the DNS cache, so a
 * connection opened after an idle release resumes TLS (an abbreviated handshake, no certificate
 * chain on the wire) instead of a full one. */
struct session { CURL *easy; CURLSH *share; };

void *ektp_curl_session_new(void) {
    if (ektp_curl_load(NULL, 0) != 0) return NULL;
    struct session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->share = lc.share_init();
    if (s->share) {
        lc.share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        lc.share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    }
    return s;
}

void ektp_curl_session_idle(void *session) {
    struct session *s = session;
    if (!s || !loaded || !s->easy) return;
    lc.easy_cleanup(s->easy);
    s->easy = NULL;
}

void ektp_curl_session_free(void *session) {
    struct session *s = session;
    if (!s || !loaded) return;
    if (s->easy) lc.easy_cleanup(s->easy);
    if (s->share) lc.share_cleanup(s->share);
    free(s);
}

struct sink { ektp_http_response *r; size_t max; };

static size_t on_data(char *ptr, size_t size, size_t n, void *ud) {
    struct sink *s = ud;
    size_t len = size * n;
    if (s->r->body_len + len > s->max) { s->r->truncated = 1; return 0; }
    unsigned char *nb = realloc(s->r->body, s->r->body_len + len + 1);
    if (!nb) return 0;
    memcpy(nb + s->r->body_len, ptr, len);
    s->r->body = nb;
    s->r->body_len += len;
    return len;
}

int ektp_curl_perform(void *session, const ektp_http_request *req, ektp_http_response *resp) {
    memset(resp, 0, sizeof *resp);
    if (!session) {
        resp->curl_code = CURLE_FAILED_INIT;
        snprintf(resp->error, sizeof resp->error, "%s", load_error[0] ? load_error : "libcurl is not loaded");
        return resp->curl_code;
    }
    struct session *ses = session;
    if (!ses->easy) ses->easy = lc.easy_init();
    CURL *c = ses->easy;
    if (!c) {
        resp->curl_code = CURLE_FAILED_INIT;
        snprintf(resp->error, sizeof resp->error, "libcurl could not make a handle (out of memory?)");
        return resp->curl_code;
    }
    /* Reset keeps the handle's live connections: connections are reused from one batch to the
     * next (carrier data is paid by the megabyte). It clears the options: the share again. */
    lc.easy_reset(c);
    if (ses->share) lc.easy_setopt(c, CURLOPT_SHARE, ses->share);
    struct curl_slist *hs = NULL;
    for (int i = 0; i < req->header_count; i++) hs = lc.slist_append(hs, req->headers[i]);
    /* No "Expect: 100-continue" round trip before a body. */
    hs = lc.slist_append(hs, "Expect:");
    unsigned char *zbody = NULL;
    size_t zlen = 0;
    const unsigned char *body = req->body;
    size_t blen = req->body_len;
    if (req->gzip_body && req->body_len > 0) {
        zbody = ektp_gzip(req->body, req->body_len, &zlen);
        if (zbody) {
            body = zbody;
            blen = zlen;
            hs = lc.slist_append(hs, "Content-Encoding: gzip");
        }
    }
    struct sink s = { resp, req->max_response ? req->max_response : (1u << 20) };
    lc.easy_setopt(c, CURLOPT_URL, req->url);
    lc.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    lc.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    lc.easy_setopt(c, CURLOPT_ERRORBUFFER, resp->error);
    lc.easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    lc.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms ? req->connect_timeout_ms : req->timeout_ms);
    lc.easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    lc.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    lc.easy_setopt(c, CURLOPT_WRITEDATA, &s);
    if (req->user_agent) lc.easy_setopt(c, CURLOPT_USERAGENT, req->user_agent);
    /* TLS: 1.2 at least; the chain and the name are always checked. */
    lc.easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    lc.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    lc.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (req->ca_file) {
        lc.easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
        /* Only that file: not the system's directory of CAs as well. */
        lc.easy_setopt(c, CURLOPT_CAPATH, (char *)NULL);
    }
    if (req->pinned_public_key) lc.easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, req->pinned_public_key);
    if (req->client_cert) lc.easy_setopt(c, CURLOPT_SSLCERT, req->client_cert);
    if (req->client_key) lc.easy_setopt(c, CURLOPT_SSLKEY, req->client_key);
    if (req->proxy) lc.easy_setopt(c, CURLOPT_PROXY, req->proxy);
    if (strcmp(req->method, "GET") == 0) {
        lc.easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(req->method, "POST") != 0) lc.easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
        lc.easy_setopt(c, CURLOPT_POST, 1L);
        lc.easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        lc.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    }
    CURLcode rc = lc.easy_perform(c);
    resp->curl_code = (int)rc;
    lc.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    lc.easy_getinfo(c, CURLINFO_SSL_VERIFYRESULT, &resp->ssl_verify_result);
    curl_off_t up = 0;
    lc.easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
    resp->uploaded = up;
    curl_off_t retry = 0;
    lc.easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry);
    resp->retry_after = retry;
    long conns = 0;
    lc.easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
    resp->connects = conns;
    if (rc != CURLE_OK && resp->error[0] == 0) snprintf(resp->error, sizeof resp->error, "%s", lc.easy_strerror(rc));
    /* The error buffer belongs to this call: the handle must not keep a pointer into resp. */
    lc.easy_setopt(c, CURLOPT_ERRORBUFFER, (char *)NULL);
    lc.easy_setopt(c, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    lc.slist_free_all(hs);
    free(zbody);
    return resp->curl_code;
}

void ektp_http_response_free(ektp_http_response *resp) {
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

int ektp_curl_peer_expiry(const char *url, long timeout_ms, const char *proxy, char *out, size_t out_len) {
    if (ektp_curl_load(NULL, 0) != 0) return -1;
    CURL *c = lc.easy_init();
    if (!c) return -1;
    lc.easy_setopt(c, CURLOPT_URL, url);
    lc.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    lc.easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    lc.easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);  /* the handshake only: no request is sent */
    lc.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    lc.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    lc.easy_setopt(c, CURLOPT_CERTINFO, 1L);
    if (proxy) lc.easy_setopt(c, CURLOPT_PROXY, proxy);
    int found = -1;
    if (lc.easy_perform(c) == CURLE_OK) {
        struct curl_certinfo *ci = NULL;
        if (lc.easy_getinfo(c, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci && ci->num_of_certs > 0) {
            for (struct curl_slist *l = ci->certinfo[0]; l; l = l->next) {
                if (strncmp(l->data, "Expire date:", 12) == 0) {
                    snprintf(out, out_len, "%s", l->data + 12);
                    found = 0;
                    break;
                }
            }
        }
    }
    lc.easy_cleanup(c);
    return found;
}
