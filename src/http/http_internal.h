/*
 * http internals shared by the module's files and their unit tests (not public).
 *
 * - parse.c: the streaming HTTP/1.1 request-head parser (http__parse).
 * - ip.c: addresses, trusted-proxy CIDRs and the X-Forwarded-For walk.
 * - route.c: target -> route + token, building an event, composing responses.
 * - metrics.c: per-loop counters and their Prometheus text.
 * - server.c: settings, the epoll loops, connections, timeouts, the sink hand-off.
 */
#ifndef TO_HTTP_INTERNAL_H
#define TO_HTTP_INTERNAL_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/uio.h>

#include "http/http.h"

/* ---- request parser ---------------------------------------------------------------- */

typedef enum { HTTP__GET = 1, HTTP__HEAD, HTTP__OTHER } http__method_t;

typedef struct {
    size_t max_head;    /* bytes of request line, headers and the blank line */
    size_t max_headers; /* header lines */
    size_t max_url;     /* bytes of the request target */
} http__limits_t;

typedef struct {
    slice_t name, value; /* value without surrounding whitespace */
} http__header_t;

typedef struct {
    slice_t method, target;
    http__method_t meth;
    uint8_t minor;   /* HTTP/1.<minor>: 0 or 1 */
    bool keep_alive; /* from the version and the Connection header */
    bool has_body;   /* Content-Length > 0 or any Transfer-Encoding */
    bool chunked;    /* Transfer-Encoding present */
    uint64_t content_length;
    size_t nheaders;
    http__header_t *headers; /* the array given to http__parse */
    size_t head_len;         /* bytes of the head, including the blank line */
} http__request_t;

/*
 * Parser state for one request head. The parser is a byte-level state machine that
 * keeps its place across calls: each call gets every byte received since the request
 * started (buf[0] is its first byte; the buffer may move between calls, positions are
 * offsets) and continues where it stopped, so a head split across reads parses exactly
 * like one received whole, and errors are found in stream order.
 */
typedef struct {
    uint32_t state;
    uint32_t pos;  /* next byte to examine */
    uint32_t mark; /* start of the current token */
    uint32_t method_off, method_len, target_off, target_len;
    uint32_t hdr_off; /* first header line */
    uint32_t nheaders;
    uint8_t minor;
    const char *error; /* reason of the last failure (static text) */
} http__parser_t;

void http__parser_init(http__parser_t *p);
/*
 * Feeds the parser. Returns the head length (> 0) when the head is complete (req is
 * filled, its slices point into buf and hdrs, which must hold lim->max_headers
 * entries), 0 when more bytes are needed, or minus the HTTP status to answer: -400
 * (malformed; p->error says why), -414 (target longer than max_url), -431 (head longer
 * than max_head or more than max_headers headers), -501 (Transfer-Encoding), -505
 * (not HTTP/1.x). After a failure the connection must be closed.
 */
int http__parse(http__parser_t *p, const http__limits_t *lim, const char *buf, size_t len,
                http__request_t *req, http__header_t *hdrs);
/* The first header named name (case-insensitive), or NULL. */
const http__header_t *http__find_header(const http__request_t *r, const char *name);

/* ---- addresses ---------------------------------------------------------------------- */

/* An address, IPv4 kept as IPv4 (v4-mapped IPv6 is folded to IPv4). */
typedef struct {
    uint8_t family; /* 4 or 6 */
    uint8_t a[16];  /* 4 or 16 bytes used */
} http__addr_t;

typedef struct {
    http__addr_t net;
    uint8_t bits;
} http__cidr_t;

/* Parses "1.2.3.4", "::1", "[::1]", "1.2.3.4:80", "[::1]:80" (the port is ignored). */
bool http__addr_parse(slice_t s, http__addr_t *out);
bool http__addr_from_sockaddr(const struct sockaddr *sa, http__addr_t *out);
/* Text form into out (at least 46 bytes); returns its length. */
size_t http__addr_format(const http__addr_t *a, char *out, size_t outlen);
/* "10.0.0.0/8", "::1/128", or an address alone (a host route). */
bool http__cidr_parse(const char *s, http__cidr_t *out);
bool http__cidr_match(const http__cidr_t *c, const http__addr_t *a);
bool http__trusted(const http__cidr_t *list, size_t n, const http__addr_t *a);
/*
 * The client address of a request from peer: the peer itself, or, when the peer is a
 * trusted proxy, the X-Forwarded-For chain walked from the right, skipping trusted
 * addresses; the first untrusted one is the client. When every entry is trusted the
 * left-most is the client; an entry that is not an address ends the walk at the last
 * address seen. xff holds every X-Forwarded-For value joined by commas.
 */
http__addr_t http__client_addr(const http__cidr_t *list, size_t n, const http__addr_t *peer,
                               slice_t xff);

/* ---- routes and responses ----------------------------------------------------------- */

typedef enum {
    HTTP__R_OPEN = 0,
    HTTP__R_CLICK,
    HTTP__R_HONEYPOT,
    HTTP__R_HEALTHZ,
    HTTP__R_METRICS,
    HTTP__R_OTHER,
    HTTP__R__COUNT
} http__route_id_t;

/* Splits a target into a route and, for the tracking routes, the token text
 * (path only: the query is dropped; /o/ accepts a ".gif" suffix). */
http__route_id_t http__route(slice_t target, slice_t *out_token);
const char *http__route_name(http__route_id_t r);

/* True when url may go in a Location header: http:// or https://, no control bytes,
 * spaces or non-ASCII bytes. */
bool http__url_ok(slice_t url);

/* Cuts s to at most max bytes, backing off to a UTF-8 character boundary. */
slice_t http__cut(slice_t s, size_t max);

/* Fills the header fields of ev from req (UA and the classification headers). */
void http__event_headers(http_event_t *ev, const http__request_t *req);

/* The 43-byte transparent GIF. */
extern const uint8_t http__gif[43];

/* A response to compose. */
typedef struct {
    int status;
    bool keep_alive; /* Connection: keep-alive, else close */
    bool head;       /* HEAD: announce the body's length, send no body */
    bool nocache;    /* the no-cache headers of the tracking routes */
    const char *ctype;
    const char *allow; /* Allow header (405) */
    slice_t location;  /* 302 */
    slice_t body;      /* not copied: must live until written */
} http__resp_t;

/* Longest head http__response writes beyond the Location value. */
#define HTTP__HEAD_SCRATCH 512

/*
 * Composes r as at most 2 iovecs for one writev: the head in scratch (cap bytes, at
 * least HTTP__HEAD_SCRATCH + location.len) and the body. date is the 29-byte
 * IMF-fixdate. Returns the iovec count.
 */
int http__response(const http__resp_t *r, const char *date, char *scratch, size_t cap,
                   struct iovec *iov);
const char *http__status_text(int status);

/* ---- metrics ------------------------------------------------------------------------ */

/* Statuses we count separately; anything else lands in the last slot. */
#define HTTP__STATUS_LIST(X)                                                                       \
    X(200) X(204) X(302) X(400) X(404) X(405) X(408) X(414) X(431) X(501) X(503) X(505)
enum {
#define HTTP__SX(n) HTTP__S_##n,
    HTTP__STATUS_LIST(HTTP__SX)
#undef HTTP__SX
        HTTP__S_OTHER,
    HTTP__S__COUNT
};
int http__status_index(int status);

/* Counters of one loop; written by its thread, read by /metrics from any thread. */
typedef struct {
    _Atomic uint64_t requests[HTTP__R__COUNT][HTTP__S__COUNT];
    _Atomic uint64_t tokens_rejected[HTTP__R__COUNT];
    _Atomic uint64_t events_queued, events_committed, events_failed, events_refused;
    _Atomic uint64_t conns_accepted, conns_rejected, conns_open;
    _Atomic uint64_t timeouts_header, timeouts_idle;
} http__counters_t;

static inline void http__inc(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* Appends the Prometheus text of the sum of n counter sets. */
void http__metrics_render(http__counters_t *const *sets, size_t n, buf_t *out);

#endif
