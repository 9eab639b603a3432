#pragma once
/*
 * ektpd's HTTP client: libcurl (Debian's libcurl4, OpenSSL flavour), loaded with dlopen the first
 * time a request is made, so that `ektpd status` and the other client commands never load it.
 * Measured on the 2-core Debian 12 machine of BENCHMARKS.md (hyperfine, a C program that only
 * links it): linking libcurl costs 4.0 ms of start-up and 6.4 MB of RSS (33 shared libraries),
 * more than half of `ektpd status`'s 7.3 ms. Swift cannot call curl_easy_setopt (variadic), so
 * every option is set here, in C, from one request description.
 */
#include <stddef.h>

typedef struct ektp_http_request {
    const char *url;                /* http:// or https:// */
    const char *method;             /* "GET", "POST", ... */
    const char *const *headers;     /* "Name: value" lines */
    int header_count;
    const unsigned char *body;
    size_t body_len;
    int gzip_body;                  /* compress the body and send Content-Encoding: gzip */
    long timeout_ms;                /* the whole exchange */
    long connect_timeout_ms;
    const char *ca_file;            /* NULL: the system's CA store; else only this file's CAs */
    const char *pinned_public_key;  /* NULL, or "sha256//BASE64[;sha256//...]" */
    const char *client_cert;        /* PEM, for mutual TLS; NULL: none */
    const char *client_key;
    const char *proxy;              /* NULL: https_proxy/http_proxy/no_proxy from the environment */
    const char *user_agent;
    size_t max_response;            /* bytes of body kept; more is an error (truncated = 1) */
} ektp_http_request;

typedef struct ektp_http_response {
    long status;                    /* HTTP status, 0 when none arrived */
    unsigned char *body;            /* malloc'd; ektp_http_response_free frees it */
    size_t body_len;
    int curl_code;                  /* CURLcode: 0 when the exchange completed */
    char error[512];                /* curl's error buffer, or strerror of the code */
    long ssl_verify_result;         /* OpenSSL's X509_V_ERR_* of the peer's chain (0: ok) */
    long long uploaded;             /* request body bytes sent on the wire (gzip'd size) */
    long long connects;             /* new connections this request opened (0: one reused) */
    int truncated;
    long long retry_after;          /* Retry-After in seconds (0: none), as curl parses it */
} ektp_http_response;

/* Loads libcurl once (thread-safe). 0 when it is there; else -1 and why in `why`. */
int ektp_curl_load(char *why, size_t why_len);
/* One connection cache: an easy handle, reused request after request. NULL when libcurl is absent. */
void *ektp_curl_session_new(void);
void ektp_curl_session_free(void *session);
/* Closes the session's connections and frees its handle (TLS context, CA store, buffers), keeping
 * its TLS session IDs and DNS cache for the next request: for a client about to sit idle longer
 * than the server keeps a connection open. */
void ektp_curl_session_idle(void *session);
/* One request on a session (one thread at a time per session). Returns the curl code. */
int ektp_curl_perform(void *session, const ektp_http_request *req, ektp_http_response *resp);
void ektp_http_response_free(ektp_http_response *resp);
/* The peer certificate's "Expire date" as OpenSSL prints it, read by a TLS handshake that sends
 * nothing (CONNECT_ONLY, no verification): only to word an error. 0 when found. */
int ektp_curl_peer_expiry(const char *url, long timeout_ms, const char *proxy, char *out, size_t out_len);
/* The libcurl version string ("libcurl/7.88.1 OpenSSL/3.0.19 ..."), or NULL when not loaded. */
const char *ektp_curl_version(void);
