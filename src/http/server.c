/*
 * The tracking server: settings, one epoll loop per thread (each with its own
 * SO_REUSEPORT listener), connections, timeouts and the deferred response.
 *
 * A connection is in one of these states:
 *   READ    parsing buffered bytes and reading more (edge-triggered epoll: `readable`
 *           remembers that the socket may hold bytes we have not read yet)
 *   PARKED  its event is with the sink; nothing else of this connection is processed
 *           until done() is called from the sink's thread, which pushes the
 *           connection on the loop's done list and wakes the loop through an eventfd
 *   WRITE   a response did not fit in the socket buffer; waiting for EPOLLOUT
 *   LINGER  the response is sent and the write side shut; discarding input until the
 *           peer closes, so a close with unread input does not reset the response
 *   FREE    closed; kept on the loop's lists until the current epoll batch ends
 * Timeouts: three FIFO queues whose timeouts are constant (header, idle/write,
 * linger), so each queue stays ordered by deadline and expiry is O(1) per connection.
 */
#include "http/http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const cfg_def_t http_cfg[] = {
    {"listen", CFG_STR, "127.0.0.1:8080", 0, 0, 0,
     "address and port of the tracking server: ADDR:PORT or [V6ADDR]:PORT (numeric)"},
    {"trusted_proxy", CFG_LIST, NULL, 0, 0, 0,
     "CIDR of a proxy whose X-Forwarded-For is believed (repeatable; IPv4 or IPv6)"},
    {"http_threads", CFG_INT, "2", 1, 64, 0, "event loops (threads), one listener each"},
    {"http_max_head_size", CFG_SIZE, "16k", 1024, 1048576, 0,
     "longest request head (request line and headers); longer gets 431"},
    {"http_max_headers", CFG_INT, "64", 1, 1000, 0, "most header lines a request may have (431)"},
    {"http_max_url", CFG_SIZE, "8k", 64, 1048576, 0,
     "longest request target; longer gets 414 (must not exceed http_max_head_size)"},
    {"http_header_timeout", CFG_MS, "10s", 1, 3600000, 0,
     "time a client has to send a whole request head (then 408 and close)"},
    {"http_idle_timeout", CFG_MS, "60s", 1, 86400000, 0,
     "idle keep-alive connections, and clients not reading their response, are closed after"},
    {"http_linger_timeout", CFG_MS, "2s", 1, 60000, 0,
     "after an error response, how long to drain the client's input before closing"},
    {"http_max_connections", CFG_INT, "10000", 1, 1000000, 0,
     "open connections across all loops; more are closed at once"},
    {"http_backlog", CFG_INT, "1024", 1, 65535, 0, "listen backlog of each listener"},
    {"http_shutdown_timeout", CFG_MS, "10s", 1, 600000, 0,
     "on shutdown, the longest wait for requests in flight to be answered"},
    CFG_END,
};

int http_opts_from_config(const config_t *c, http_opts_t *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->listen = config_str(c, "listen");
    o->ntrusted = config_list_len(c, "trusted_proxy");
    if (o->ntrusted > HTTP_TRUSTED_MAX) {
        snprintf(err, errlen, "trusted_proxy: at most %d entries", HTTP_TRUSTED_MAX);
        return TO_EINVAL;
    }
    for (size_t i = 0; i < o->ntrusted; i++) {
        o->trusted_proxy[i] = config_list_at(c, "trusted_proxy", i);
        http__cidr_t cidr;
        if (!http__cidr_parse(o->trusted_proxy[i], &cidr)) {
            snprintf(err, errlen, "trusted_proxy: '%.64s' is not an address or CIDR",
                     o->trusted_proxy[i]);
            return TO_EINVAL;
        }
    }
    o->threads = (int)config_int(c, "http_threads");
    o->max_head_size = (size_t)config_int(c, "http_max_head_size");
    o->max_headers = (size_t)config_int(c, "http_max_headers");
    o->max_url = (size_t)config_int(c, "http_max_url");
    o->header_timeout_ms = config_int(c, "http_header_timeout");
    o->idle_timeout_ms = config_int(c, "http_idle_timeout");
    o->linger_timeout_ms = config_int(c, "http_linger_timeout");
    o->max_connections = (size_t)config_int(c, "http_max_connections");
    o->backlog = (int)config_int(c, "http_backlog");
    o->shutdown_timeout_ms = config_int(c, "http_shutdown_timeout");
    if (o->max_url > o->max_head_size) {
        snprintf(err, errlen, "http_max_url (%zu) exceeds http_max_head_size (%zu)", o->max_url,
                 o->max_head_size);
        return TO_EINVAL;
    }
    return TO_OK;
}

enum { C_READ = 1, C_PARKED, C_WRITE, C_LINGER, C_FREE };
enum { TQ_NONE = -1, TQ_HEADER = 0, TQ_IDLE, TQ_LINGER, TQ__COUNT };

#define CONN_BUF_INITIAL 2048
#define ACCEPT_BATCH     64
#define EPOLL_BATCH      256

typedef struct loop loop_t;
typedef struct conn conn_t;

struct conn {
    int fd;
    uint8_t state;
    bool readable;    /* the socket may hold unread bytes */
    uint32_t nreq;    /* requests answered on this connection */
    bool dead;        /* the peer vanished while parked: close when done arrives */
    bool close_after; /* close (or linger) once the current response is written */
    bool linger;      /* linger rather than close */
    /* the tracking response waiting on the sink */
    uint8_t pend_route;
    bool pend_head;
    bool pend_keep;
    int done_status;
    loop_t *lp;
    char *in;
    uint32_t in_len, in_off, in_cap;
    http__parser_t ps;
    buf_t url; /* the opened token's URL, kept until the 302 is written */
    buf_t out; /* unwritten response bytes after a short write */
    size_t out_off;
    http__addr_t peer;
    int tq;
    int64_t deadline;
    conn_t *tprev, *tnext;
    conn_t *done_next; /* the loop's done list */
    conn_t *free_next; /* the loop's free or closed list */
    conn_t *all_next;  /* every connection the loop ever allocated */
};

struct loop {
    http_server_t *srv;
    pthread_t thr;
    bool started;
    int epfd, lfd, evfd;
    /* connections whose event is done, pushed by the sink's thread: a lock-free stack
     * (push with CAS, the loop takes all at once, so no ABA) */
    _Atomic(conn_t *) done_head;
    struct {
        conn_t *head, *tail;
    } tq[TQ__COUNT];
    int64_t tq_ms[TQ__COUNT];
    conn_t *free_list, *closed_list, *all;
    size_t nconns;
    http__header_t *hdrs;
    char *scratch;
    size_t scratch_cap;
    buf_t body; /* /metrics text */
    buf_t xff;  /* joined X-Forwarded-For values */
    char date[32];
    time_t date_s;
    int64_t now_ms;
    bool draining;
    int64_t drain_deadline;
    http__counters_t ctr;
};

struct http_server {
    http_opts_t o;
    http__limits_t lim;
    http__cidr_t trusted[HTTP_TRUSTED_MAX];
    size_t ntrusted;
    const token_ring_t *ring;
    http_sink_t *sink;
    util_clock_t *clock;
    loop_t *loops;
    int nloops;
    uint16_t port;
    _Atomic size_t nconns;
    _Atomic bool stopping;
    log_limit_t lim_full, lim_fail, lim_accept, lim_url;
};

static const char page_404[] = "<!doctype html><html><head><title>Not found</title></head>"
                               "<body><p>This link is not valid.</p></body></html>\n";

/* ---- timeout queues ----------------------------------------------------------------- */

static void tq_remove(conn_t *c)
{
    if (c->tq == TQ_NONE) return;
    loop_t *lp = c->lp;
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        lp->tq[c->tq].head = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        lp->tq[c->tq].tail = c->tprev;
    c->tprev = c->tnext = NULL;
    c->tq = TQ_NONE;
}

static void tq_set(conn_t *c, int q)
{
    if (c->tq == q) return;
    tq_remove(c);
    loop_t *lp = c->lp;
    c->tq = q;
    c->deadline = lp->now_ms + lp->tq_ms[q];
    c->tprev = lp->tq[q].tail;
    c->tnext = NULL;
    if (lp->tq[q].tail)
        lp->tq[q].tail->tnext = c;
    else
        lp->tq[q].head = c;
    lp->tq[q].tail = c;
}

/* ---- connections -------------------------------------------------------------------- */

static void conn_close(conn_t *c)
{
    if (c->state == C_FREE) return;
    loop_t *lp = c->lp;
    tq_remove(c);
    close(c->fd);
    c->fd = -1;
    c->state = C_FREE;
    lp->nconns--;
    atomic_fetch_sub(&lp->srv->nconns, 1);
    atomic_fetch_sub_explicit(&lp->ctr.conns_open, 1, memory_order_relaxed);
    /* reused only after the current epoll batch: a later event in it may name c */
    c->free_next = lp->closed_list;
    lp->closed_list = c;
}

static conn_t *conn_get(loop_t *lp)
{
    conn_t *c = lp->free_list;
    if (c) {
        lp->free_list = c->free_next;
    } else {
        c = xcalloc(1, sizeof(*c));
        c->in_cap = CONN_BUF_INITIAL;
        c->in = xmalloc(c->in_cap);
        buf_init(&c->url);
        buf_init(&c->out);
        c->lp = lp;
        c->all_next = lp->all;
        lp->all = c;
    }
    c->state = C_READ;
    c->readable = c->dead = c->close_after = c->linger = false;
    c->nreq = 0;
    c->in_len = c->in_off = 0;
    c->out_off = 0;
    buf_reset(&c->out);
    http__parser_init(&c->ps);
    c->tq = TQ_NONE;
    c->tprev = c->tnext = c->done_next = c->free_next = NULL;
    return c;
}

static void conn_run(conn_t *c);

/* Shuts the write side and drains input until the peer closes (or the linger
 * timeout), so the response is not lost to a reset. */
static void conn_linger(conn_t *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = C_LINGER;
    c->in_len = c->in_off = 0;
    tq_set(c, TQ_LINGER);
    c->readable = true; /* conn_run (our caller's loop, or the event) drains it */
}

/* The response is on the wire: next request, or close. */
static void conn_after_response(conn_t *c)
{
    c->out_off = 0;
    buf_reset(&c->out);
    if (c->close_after || c->lp->draining) {
        if (c->linger || c->in_len > c->in_off || c->readable)
            conn_linger(c);
        else
            conn_close(c);
        return;
    }
    c->state = C_READ;
}

static void conn_flush(conn_t *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        conn_close(c);
        return;
    }
    conn_after_response(c);
}

/* Writes a composed response with one sendmsg; the rest waits for EPOLLOUT. */
static void conn_send(conn_t *c, const http__resp_t *r, http__route_id_t route)
{
    loop_t *lp = c->lp;
    http__inc(&lp->ctr.requests[route][http__status_index(r->status)]);
    struct iovec iov[2];
    int n = http__response(r, lp->date, lp->scratch, lp->scratch_cap, iov);
    if (!r->keep_alive) c->close_after = true;
    size_t total = 0;
    for (int i = 0; i < n; i++) total += iov[i].iov_len;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t w;
    do {
        w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        conn_close(c);
        return;
    }
    size_t done = w > 0 ? (size_t)w : 0;
    if (done == total) {
        conn_after_response(c);
        return;
    }
    /* keep what is left (rare: the socket buffer is full) */
    buf_reset(&c->out);
    for (int i = 0; i < n; i++) {
        size_t len = iov[i].iov_len;
        if (done >= len) {
            done -= len;
            continue;
        }
        buf_append(&c->out, (const char *)iov[i].iov_base + done, len - done);
        done = 0;
    }
    c->out_off = 0;
    c->state = C_WRITE;
    tq_set(c, TQ_IDLE);
}

static void send_simple(conn_t *c, int status, bool keep, bool head, http__route_id_t route,
                        const char *ctype, slice_t body)
{
    http__resp_t r = {
        .status = status, .keep_alive = keep, .head = head, .ctype = ctype, .body = body};
    if (status == 405) r.allow = "GET, HEAD";
    conn_send(c, &r, route);
}

/* A parse error: answer and close (lingering, the client may still be sending). */
static void send_error(conn_t *c, int status)
{
    const char *text = http__status_text(status);
    char body[64];
    int n = snprintf(body, sizeof(body), "%d %s\n", status, text);
    c->linger = true;
    /* the body lives on this stack frame only until conn_send returns; short writes
     * copy it into c->out first */
    send_simple(c, status, false, false, HTTP__R_OTHER, "text/plain; charset=utf-8",
                slice_make(body, (size_t)n));
}

static void send_tracking(conn_t *c)
{
    http__resp_t r = {
        .keep_alive = c->pend_keep && !c->lp->draining, .head = c->pend_head, .nocache = true};
    switch (c->pend_route) {
    case HTTP__R_OPEN:
        r.status = 200;
        r.ctype = "image/gif";
        r.body = slice_make((const char *)http__gif, sizeof(http__gif));
        break;
    case HTTP__R_CLICK:
        r.status = 302;
        r.location = buf_slice(&c->url);
        break;
    default: r.status = 204; break;
    }
    conn_send(c, &r, (http__route_id_t)c->pend_route);
}

/* The loop running on this thread (NULL elsewhere): a done from inside the sink's
 * flush() on the loop's own thread needs no wake-up. */
static _Thread_local loop_t *tl_loop;

/* Called by the sink once the event is committed (or failed): from the sink's own
 * thread, or from this loop's thread inside flush(). */
static void on_done(void *arg, int status)
{
    conn_t *c = arg;
    loop_t *lp = c->lp;
    c->done_status = status;
    conn_t *old = atomic_load_explicit(&lp->done_head, memory_order_relaxed);
    do {
        c->done_next = old;
    } while (!atomic_compare_exchange_weak_explicit(&lp->done_head, &old, c, memory_order_release,
                                                    memory_order_relaxed));
    /* the first on an empty list wakes the loop; the loop empties the list only after
     * reading the eventfd, so no push is left unseen (the loop's own flush needs no
     * wake-up: it takes the list itself right after) */
    if (!old && tl_loop != lp) {
        uint64_t one = 1;
        ssize_t w = write(lp->evfd, &one, sizeof(one));
        (void)w; /* a full counter already wakes the loop */
    }
}

static void take_dones(loop_t *lp);

static void handle_dones(loop_t *lp)
{
    uint64_t v;
    ssize_t r = read(lp->evfd, &v, sizeof(v));
    (void)r;
    take_dones(lp);
}

static void take_dones(loop_t *lp)
{
    conn_t *list = atomic_exchange_explicit(&lp->done_head, NULL, memory_order_acquire);
    /* the list is newest first: reverse for arrival order */
    conn_t *rev = NULL;
    while (list) {
        conn_t *next = list->done_next;
        list->done_next = rev;
        rev = list;
        list = next;
    }
    while (rev) {
        conn_t *c = rev;
        rev = c->done_next;
        c->done_next = NULL;
        if (c->done_status == 0) {
            http__inc(&lp->ctr.events_committed);
        } else {
            http__inc(&lp->ctr.events_failed);
            log_limited(&lp->srv->lim_fail, 1, LOG_ERROR,
                        "http: store failed to commit an event (%s); answered anyway",
                        err_str(c->done_status));
        }
        if (NEVER(c->state != C_PARKED)) continue;
        if (c->dead) {
            conn_close(c);
            continue;
        }
        c->state = C_READ;
        send_tracking(c);
        conn_run(c);
    }
}

/* The X-Forwarded-For values of a request, joined by commas (RFC 9110 5.3). */
static slice_t xff_of(loop_t *lp, const http__request_t *req)
{
    slice_t one = SLICE_NULL;
    size_t count = 0;
    for (size_t i = 0; i < req->nheaders; i++)
        if (slice_caseeq_cstr(req->headers[i].name, "x-forwarded-for")) {
            if (count++ == 0) one = req->headers[i].value;
        }
    if (count <= 1) return one;
    buf_reset(&lp->xff);
    for (size_t i = 0; i < req->nheaders; i++)
        if (slice_caseeq_cstr(req->headers[i].name, "x-forwarded-for")) {
            if (lp->xff.len) buf_putc(&lp->xff, ',');
            buf_append_slice(&lp->xff, req->headers[i].value);
        }
    return buf_slice(&lp->xff);
}

static void handle_request(conn_t *c, http__request_t *req)
{
    loop_t *lp = c->lp;
    http_server_t *srv = lp->srv;
    c->in_off += (uint32_t)req->head_len;
    c->nreq++;
    http__parser_init(&c->ps);
    tq_remove(c);
    bool keep = req->keep_alive && !lp->draining && !req->has_body;
    if (req->has_body) c->linger = true; /* we never read request bodies */
    bool head = req->meth == HTTP__HEAD;
    slice_t tok;
    http__route_id_t route = http__route(req->target, &tok);
    if (req->meth == HTTP__OTHER) {
        send_simple(c, 405, keep, false, route, "text/plain; charset=utf-8",
                    SLICE_LIT("405 Method Not Allowed\n"));
        return;
    }
    switch (route) {
    case HTTP__R_HEALTHZ:
        send_simple(c, 200, keep, head, route, "text/plain; charset=utf-8", SLICE_LIT("ok\n"));
        return;
    case HTTP__R_METRICS:
        buf_reset(&lp->body);
        http_server_metrics(srv, &lp->body);
        send_simple(c, 200, keep, head, route, "text/plain; version=0.0.4; charset=utf-8",
                    buf_slice(&lp->body));
        return;
    case HTTP__R_OTHER:
        send_simple(c, 404, keep, head, route, "text/html; charset=utf-8", SLICE_LIT(page_404));
        return;
    default: break;
    }
    if (!srv->ring) { /* a monitoring listener: no tracking routes */
        send_simple(c, 404, keep, head, route, "text/html; charset=utf-8", SLICE_LIT(page_404));
        return;
    }
    c->pend_route = (uint8_t)route;
    c->pend_head = head;
    c->pend_keep = keep;
    http_event_t ev;
    int rc = token_open(srv->ring, tok, &ev.tok, &c->url);
    if (rc == 0 && route == HTTP__R_CLICK && !http__url_ok(ev.tok.url)) {
        log_limited(&srv->lim_url, 1, LOG_WARN,
                    "http: click token without a usable destination; answered 404");
        rc = TO_EINVAL;
    }
    if (rc != 0) {
        http__inc(&lp->ctr.tokens_rejected[route]);
        if (route == HTTP__R_OPEN) {
            send_tracking(c); /* the GIF anyway: no broken image in anyone's mail */
            return;
        }
        send_simple(c, 404, keep, head, route, "text/html; charset=utf-8", SLICE_LIT(page_404));
        return;
    }
    ev.ts_us = clock_now_us(srv->clock);
    ev.route = route == HTTP__R_OPEN    ? HTTP_ROUTE_OPEN
               : route == HTTP__R_CLICK ? HTTP_ROUTE_CLICK
                                        : HTTP_ROUTE_HONEYPOT;
    ev.head = head;
    http__addr_t client = c->peer;
    if (srv->ntrusted)
        client = http__client_addr(srv->trusted, srv->ntrusted, &c->peer, xff_of(lp, req));
    char ip[64];
    ev.ip = slice_make(ip, http__addr_format(&client, ip, sizeof(ip)));
    http__event_headers(&ev, req);
    c->state = C_PARKED;
    rc = srv->sink->submit(srv->sink, &ev, on_done, c);
    if (rc == 0) {
        http__inc(&lp->ctr.events_queued);
        return; /* answered from handle_dones */
    }
    c->state = C_READ;
    http__inc(&lp->ctr.events_refused);
    log_limited(&srv->lim_full, 1, LOG_WARN, "http: store refused an event (%s); answered anyway",
                err_str(rc));
    send_tracking(c);
}

/* Makes room in the input buffer: compacts, then grows up to max head + 1. */
static bool conn_room(conn_t *c)
{
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
    } else if (c->in_off > 0 && c->in_cap - c->in_len < CONN_BUF_INITIAL / 2) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_len < c->in_cap) return true;
    size_t max = c->lp->srv->lim.max_head + 1;
    if (c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
        return true;
    }
    if (c->in_cap >= max) return false;
    size_t cap = TO_MIN((size_t)c->in_cap * 2, max);
    c->in = xrealloc(c->in, cap);
    c->in_cap = (uint32_t)cap;
    return true;
}

static void conn_run(conn_t *c)
{
    loop_t *lp = c->lp;
    http__request_t req;
    while (c->state == C_READ || c->state == C_LINGER) {
        if (c->state == C_READ && c->in_len > c->in_off) {
            int rc = http__parse(&c->ps, &lp->srv->lim, c->in + c->in_off, c->in_len - c->in_off,
                                 &req, lp->hdrs);
            if (rc > 0) {
                handle_request(c, &req);
                continue;
            }
            if (rc < 0) {
                c->in_off = c->in_len; /* nothing more of this stream is parsed */
                send_error(c, -rc);
                continue;
            }
        }
        if (!c->readable) break;
        if (c->state == C_LINGER) c->in_len = c->in_off = 0;
        if (!conn_room(c)) {
            /* cannot happen: a full buffer holds more than max head, which fails parsing */
            send_error(c, 431);
            return;
        }
        size_t space = c->in_cap - c->in_len;
        ssize_t n = read(c->fd, c->in + c->in_len, space);
        if (n > 0) {
            /* a short read empties the socket: the next bytes raise a new edge */
            if ((size_t)n < space) c->readable = false;
            c->in_len += (uint32_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->readable = false;
            break;
        }
        conn_close(c); /* EOF or error: nothing is in flight in READ or LINGER */
        return;
    }
    /* a partial head, or a new connection's first request: the header timeout runs */
    if (c->state == C_READ) tq_set(c, c->in_len > c->in_off || c->nreq == 0 ? TQ_HEADER : TQ_IDLE);
}

static void conn_event(conn_t *c, uint32_t ev)
{
    if (c->state == C_FREE) return;
    if (ev & (EPOLLERR | EPOLLHUP)) {
        if (c->state == C_PARKED) {
            c->dead = true; /* the sink still holds c: close when done arrives */
            return;
        }
        conn_close(c);
        return;
    }
    if (ev & (EPOLLIN | EPOLLRDHUP)) c->readable = true;
    if ((ev & EPOLLOUT) && c->state == C_WRITE) conn_flush(c);
    if (c->state == C_READ || c->state == C_LINGER) conn_run(c);
}

static void accept_all(loop_t *lp)
{
    http_server_t *srv = lp->srv;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lp->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
            log_limited(&srv->lim_accept, 1, LOG_ERROR, "http: accept: %s", strerror(errno));
            return;
        }
        if (atomic_fetch_add(&srv->nconns, 1) >= srv->o.max_connections) {
            atomic_fetch_sub(&srv->nconns, 1);
            http__inc(&lp->ctr.conns_rejected);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_t *c = conn_get(lp);
        c->fd = fd;
        if (!http__addr_from_sockaddr((struct sockaddr *)&ss, &c->peer))
            memset(&c->peer, 0, sizeof(c->peer));
        lp->nconns++;
        http__inc(&lp->ctr.conns_accepted);
        http__inc(&lp->ctr.conns_open);
        struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
            conn_close(c);
            continue;
        }
        /* a new connection has the header timeout to send its first request */
        tq_set(c, TQ_HEADER);
    }
}

static void expire(loop_t *lp)
{
    for (int q = 0; q < TQ__COUNT; q++) {
        conn_t *c;
        while ((c = lp->tq[q].head) && c->deadline <= lp->now_ms) {
            if (q == TQ_HEADER) http__inc(&lp->ctr.timeouts_header);
            if (q == TQ_HEADER && c->in_len > c->in_off) {
                /* a head begun but not finished in time: 408, best effort, then close */
                http__inc(&lp->ctr.requests[HTTP__R_OTHER][HTTP__S_408]);
                struct iovec iov[2];
                http__resp_t r = {.status = 408,
                                  .ctype = "text/plain; charset=utf-8",
                                  .body = SLICE_LIT("408 Request Timeout\n")};
                int n = http__response(&r, lp->date, lp->scratch, lp->scratch_cap, iov);
                struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
                ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
                (void)w;
            } else if (q == TQ_IDLE) {
                http__inc(&lp->ctr.timeouts_idle);
            }
            conn_close(c);
        }
    }
}

static int next_timeout(loop_t *lp)
{
    int64_t t = 1000;
    for (int q = 0; q < TQ__COUNT; q++)
        if (lp->tq[q].head) t = TO_MIN(t, lp->tq[q].head->deadline - lp->now_ms);
    if (lp->draining) t = TO_MIN(t, 50);
    return t < 0 ? 0 : (int)t;
}

static void update_date(loop_t *lp)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec == lp->date_s) return;
    lp->date_s = ts.tv_sec;
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(lp->date, sizeof(lp->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void begin_drain(loop_t *lp)
{
    lp->draining = true;
    lp->drain_deadline = lp->now_ms + lp->srv->o.shutdown_timeout_ms;
    if (lp->lfd >= 0) {
        epoll_ctl(lp->epfd, EPOLL_CTL_DEL, lp->lfd, NULL);
        close(lp->lfd);
        lp->lfd = -1;
    }
    /* connections with no request in flight go now; parked and writing ones finish */
    for (int q = 0; q < TQ__COUNT; q++) {
        conn_t *c = lp->tq[q].head;
        while (c) {
            conn_t *next = c->tnext;
            if (c->state == C_READ || c->state == C_LINGER) conn_close(c);
            c = next;
        }
    }
}

static void *loop_main(void *arg)
{
    loop_t *lp = arg;
    http_server_t *srv = lp->srv;
    struct epoll_event evs[EPOLL_BATCH];
    lp->now_ms = mono_ms();
    update_date(lp);
    tl_loop = lp;
    http_sink_t *sink = srv->sink;
    if (sink->attach && sink->flush) sink->attach(sink);
    for (;;) {
        if (atomic_load(&srv->stopping) && !lp->draining) begin_drain(lp);
        if (lp->draining && (lp->nconns == 0 || lp->now_ms >= lp->drain_deadline)) break;
        int n = epoll_wait(lp->epfd, evs, EPOLL_BATCH, next_timeout(lp));
        if (n < 0 && errno != EINTR) log_fatal("http: epoll_wait: %s", strerror(errno));
        lp->now_ms = mono_ms();
        update_date(lp);
        /* before answering anything: a response sent after the stop says close */
        if (atomic_load(&srv->stopping) && !lp->draining) begin_drain(lp);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &lp->lfd)
                accept_all(lp);
            else if (p == &lp->evfd)
                handle_dones(lp);
            else
                conn_event(p, evs[i].events);
        }
        /* One commit for the round's events; answering them may read pipelined
         * requests that make the next round's batch. */
        if (sink->flush)
            while (sink->flush(sink) > 0) take_dones(lp);
        expire(lp);
        /* closed connections become reusable once no event of this batch names them */
        while (lp->closed_list) {
            conn_t *c = lp->closed_list;
            lp->closed_list = c->free_next;
            c->free_next = lp->free_list;
            lp->free_list = c;
        }
    }
    /* Left over after the shutdown timeout: close all but the parked, which the sink
     * still holds (their memory lives until http_server_free). */
    for (conn_t *c = lp->all; c; c = c->all_next)
        if (c->state != C_FREE && c->state != C_PARKED) conn_close(c);
    return NULL;
}

/* ---- setup -------------------------------------------------------------------------- */

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return TO_EINVAL;
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof(host)) return TO_EINVAL;
    memcpy(host, s, hl);
    host[hl] = 0;
    uint64_t port;
    if (!slice_to_u64(slice_cstr(colon + 1), &port) || port > 65535) return TO_EINVAL;
    memset(ss, 0, sizeof(*ss));
    if (host[0] == '[') {
        if (hl < 3 || host[hl - 1] != ']') return TO_EINVAL;
        host[hl - 1] = 0;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1) return TO_EINVAL;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *sl = sizeof(*in6);
        return TO_OK;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    if (!strcmp(host, "*"))
        in->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
        return TO_EINVAL;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    *sl = sizeof(*in);
    return TO_OK;
}

static int make_listener(const struct sockaddr_storage *ss, socklen_t sl, int backlog, char *err,
                         size_t errlen)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, sl) != 0 || listen(fd, backlog) != 0) {
        snprintf(err, errlen, "cannot listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int http_server_new(const http_opts_t *o, const token_ring_t *ring, util_clock_t *clock,
                    http_server_t **out, char *err, size_t errlen)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t sl;
    if (!o->listen || parse_listen(o->listen, &ss, &sl) != 0) {
        snprintf(err, errlen, "listen: '%.64s' is not ADDR:PORT or [V6ADDR]:PORT (numeric)",
                 o->listen ? o->listen : "");
        return TO_EINVAL;
    }
    if (o->threads < 1 || o->max_url > o->max_head_size || o->max_headers < 1 ||
        o->ntrusted > HTTP_TRUSTED_MAX) {
        snprintf(err, errlen, "http: inconsistent settings");
        return TO_EINVAL;
    }
    http_server_t *s = xcalloc(1, sizeof(*s));
    s->o = *o;
    s->lim = (http__limits_t){o->max_head_size, o->max_headers, o->max_url};
    for (size_t i = 0; i < o->ntrusted; i++) {
        if (!http__cidr_parse(o->trusted_proxy[i], &s->trusted[i])) {
            snprintf(err, errlen, "trusted_proxy: '%.64s' is not an address or CIDR",
                     o->trusted_proxy[i]);
            free(s);
            return TO_EINVAL;
        }
    }
    s->ntrusted = o->ntrusted;
    s->ring = ring;
    s->clock = clock;
    s->nloops = o->threads;
    s->loops = xcalloc((size_t)s->nloops, sizeof(loop_t));
    for (int i = 0; i < s->nloops; i++) {
        loop_t *lp = &s->loops[i];
        lp->srv = s;
        lp->epfd = lp->lfd = lp->evfd = -1;
        atomic_init(&lp->done_head, NULL);
    }
    int rc = TO_OK;
    for (int i = 0; i < s->nloops && rc == TO_OK; i++) {
        loop_t *lp = &s->loops[i];
        /* the first listener may pick the port (port 0); the others share it */
        lp->lfd = make_listener(&ss, sl, o->backlog, err, errlen);
        if (lp->lfd < 0) {
            rc = TO_EIO;
            break;
        }
        if (i == 0) {
            struct sockaddr_storage b;
            socklen_t bl = sizeof(b);
            getsockname(lp->lfd, (struct sockaddr *)&b, &bl);
            s->port = ntohs(b.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&b)->sin6_port
                                                    : ((struct sockaddr_in *)&b)->sin_port);
            if (ss.ss_family == AF_INET6)
                ((struct sockaddr_in6 *)&ss)->sin6_port = htons(s->port);
            else
                ((struct sockaddr_in *)&ss)->sin_port = htons(s->port);
        }
        lp->epfd = epoll_create1(EPOLL_CLOEXEC);
        lp->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (lp->epfd < 0 || lp->evfd < 0) {
            snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
            rc = TO_EIO;
            break;
        }
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &lp->lfd};
        struct epoll_event e2 = {.events = EPOLLIN, .data.ptr = &lp->evfd};
        if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->lfd, &e) != 0 ||
            epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->evfd, &e2) != 0) {
            snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
            rc = TO_EIO;
            break;
        }
        lp->tq_ms[TQ_HEADER] = o->header_timeout_ms;
        lp->tq_ms[TQ_IDLE] = o->idle_timeout_ms;
        lp->tq_ms[TQ_LINGER] = o->linger_timeout_ms;
        lp->hdrs = xcalloc(o->max_headers, sizeof(http__header_t));
        lp->scratch_cap = HTTP__HEAD_SCRATCH + TOKEN_URL_MAX + 64;
        lp->scratch = xmalloc(lp->scratch_cap);
        buf_init(&lp->body);
        buf_init(&lp->xff);
        lp->date_s = -1;
    }
    if (rc != TO_OK) {
        http_server_free(s);
        return rc;
    }
    *out = s;
    return TO_OK;
}

uint16_t http_server_port(const http_server_t *s)
{
    return s->port;
}

int http_server_start(http_server_t *s, http_sink_t *sink)
{
    if (NEVER(!sink || s->sink)) return TO_EINVAL;
    s->sink = sink;
    for (int i = 0; i < s->nloops; i++) {
        loop_t *lp = &s->loops[i];
        if (pthread_create(&lp->thr, NULL, loop_main, lp) != 0) {
            http_server_stop(s);
            return TO_EIO;
        }
        lp->started = true;
    }
    return TO_OK;
}

void http_server_stop(http_server_t *s)
{
    atomic_store(&s->stopping, true);
    for (int i = 0; i < s->nloops; i++) {
        uint64_t one = 1;
        if (s->loops[i].evfd >= 0) {
            ssize_t w = write(s->loops[i].evfd, &one, sizeof(one));
            (void)w;
        }
    }
    for (int i = 0; i < s->nloops; i++)
        if (s->loops[i].started) {
            pthread_join(s->loops[i].thr, NULL);
            s->loops[i].started = false;
        }
}

size_t http_server_parked(const http_server_t *s)
{
    size_t n = 0;
    for (int i = 0; i < s->nloops; i++)
        for (conn_t *c = s->loops[i].all; c; c = c->all_next) n += c->state == C_PARKED;
    return n;
}

void http_server_free(http_server_t *s)
{
    if (!s) return;
    http_server_stop(s);
    for (int i = 0; i < s->nloops; i++) {
        loop_t *lp = &s->loops[i];
        conn_t *c = lp->all;
        while (c) {
            conn_t *next = c->all_next;
            if (c->state != C_FREE && c->fd >= 0) close(c->fd);
            free(c->in);
            buf_clear(&c->url);
            buf_clear(&c->out);
            free(c);
            c = next;
        }
        if (lp->lfd >= 0) close(lp->lfd);
        if (lp->epfd >= 0) close(lp->epfd);
        if (lp->evfd >= 0) close(lp->evfd);
        free(lp->hdrs);
        free(lp->scratch);
        buf_clear(&lp->body);
        buf_clear(&lp->xff);
    }
    free(s->loops);
    free(s);
}

void http_server_metrics(http_server_t *s, buf_t *out)
{
    http__counters_t *sets[64];
    size_t n = 0;
    for (int i = 0; i < s->nloops && n < TO_ARRAY_LEN(sets); i++) sets[n++] = &s->loops[i].ctr;
    http__metrics_render(sets, n, out);
    if (s->sink && s->sink->metrics) s->sink->metrics(s->sink, out);
}
