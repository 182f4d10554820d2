/*
 * http: the tracking server. Listens, parses HTTP/1.1 requests (keep-alive, with
 * limits on head size, header count, URL length, idle and header timeouts), answers
 * the routes, and hands each event to a sink. It never blocks on disk or the store.
 *
 * Routes:
 *   GET|HEAD /o/<token>[.gif]  43-byte transparent GIF, no-cache; recorded as an open
 *   GET|HEAD /c/<token>        302 to the sealed URL; 404 with a short page when the
 *                              token does not open (never an open redirect)
 *   GET|HEAD /h/<token>        the honeypot: recorded, answered 204
 *   GET /healthz, GET /metrics (Prometheus text, series trueopen_*)
 * A token that does not open records nothing; /o/ still gets the GIF.
 *
 * Durability: a tracking response is written only after the sink reports that the
 * event is committed (done(arg, 0)); when the sink refuses (TO_EFULL) the response is
 * sent at once, the refusal is counted in /metrics and logged at a limited rate.
 */
#ifndef TO_HTTP_H
#define TO_HTTP_H

#include "token/token.h"
#include "util/util.h"

/* Bounds on the header values copied into an event (longer values are cut). */
#define HTTP_UA_MAX     512
#define HTTP_HEADER_MAX 256

typedef enum {
    HTTP_ROUTE_OPEN = 'o',
    HTTP_ROUTE_CLICK = 'c',
    HTTP_ROUTE_HONEYPOT = 'h'
} http_route_t;

/*
 * One observed request, as the tracking server saw it. All slices point into memory
 * that is valid only during http_sink_t.submit: the sink copies what it keeps.
 */
typedef struct {
    int64_t ts_us;      /* when the request arrived */
    char route;         /* http_route_t */
    bool head;          /* HEAD (answered like GET) */
    token_fields_t tok; /* the opened token; tok.url is the destination for clicks */
    slice_t ip;         /* client address, text (peer, or X-Forwarded-For via a trusted proxy) */
    slice_t ua;         /* User-Agent, at most HTTP_UA_MAX */
    /* Headers that matter for classification, each at most HTTP_HEADER_MAX. */
    slice_t sec_purpose, purpose, x_purpose, x_moz, accept, accept_language, referer, via, from,
        dnt, sec_gpc;
} http_event_t;

/* Called once per accepted event, when its batch is committed (status 0) or failed (a
 * negative TO_E* code; the response is sent anyway): from the sink's thread, or from
 * the loop's own thread inside flush(). */
typedef void (*http_done_fn)(void *arg, int status);

typedef struct http_sink {
    /* Copies ev and queues it. Returns 0 (done will be called later) or TO_EFULL
     * (refused, done will not be called). Safe to call from several threads. */
    int (*submit)(struct http_sink *s, const http_event_t *ev, http_done_fn done, void *arg);
    /* Appends the sink's own Prometheus series (queue depth, commits, ...) to out. */
    void (*metrics)(struct http_sink *s, buf_t *out);
    /* Optional, for a sink that commits on the submitting thread. attach() is called
     * once by each event loop thread before its first submit; from then on that
     * thread's events wait in a batch of its own until the thread calls flush(),
     * which commits them and calls their done callbacks on the calling thread before
     * it returns the number of events it committed. A loop flushes after each round
     * of ready connections: one commit per round, no hand-off to another thread. */
    void (*attach)(struct http_sink *s);
    size_t (*flush)(struct http_sink *s);
} http_sink_t;

/* ---- server ----------------------------------------------------------------------- */

#define HTTP_TRUSTED_MAX 64

/* Settings (http_cfg) read once at start. Strings are borrowed from the config. */
typedef struct {
    const char *listen; /* "ADDR:PORT", "[V6ADDR]:PORT", "*:PORT"; port 0 picks one */
    const char *trusted_proxy[HTTP_TRUSTED_MAX];
    size_t ntrusted;
    int threads; /* event loops, one SO_REUSEPORT listener each */
    size_t max_head_size, max_headers, max_url;
    int64_t header_timeout_ms, idle_timeout_ms, linger_timeout_ms, shutdown_timeout_ms;
    size_t max_connections;
    int backlog;
} http_opts_t;

extern const cfg_def_t http_cfg[];
/* Reads and checks the http_cfg settings; TO_EINVAL with err filled on a bad value. */
int http_opts_from_config(const config_t *c, http_opts_t *o, char *err, size_t errlen);

typedef struct http_server http_server_t;

/*
 * Binds the listeners and prepares the loops, starting no thread, so privileges can
 * be dropped before anything else starts. ring and clock are borrowed and must
 * outlive the server. TO_EINVAL (bad settings) or TO_EIO (cannot listen), err filled.
 * ring NULL makes a monitoring listener: /healthz and /metrics only (every other path,
 * the tracking routes too, gets 404; the sink's submit is never called), e.g. for a
 * process that is not the tracking server but exports its counters (the milter).
 */
int http_server_new(const http_opts_t *o, const token_ring_t *ring, util_clock_t *clock,
                    http_server_t **out, char *err, size_t errlen);
/* The bound port (useful with port 0). */
uint16_t http_server_port(const http_server_t *s);
/* Starts one thread per loop, handing events to sink (borrowed; once per server). */
int http_server_start(http_server_t *s, http_sink_t *sink);
/*
 * Stops accepting, closes idle connections, answers every request already handed to
 * the sink (waiting for its done, up to the shutdown timeout), then joins the threads.
 * The sink must keep running until this returns; stop it before http_server_free.
 */
void http_server_stop(http_server_t *s);
/* Frees the server (stopping it first). No done callback may come after this. */
void http_server_free(http_server_t *s);
/* Appends the Prometheus text of /metrics (ours, then the sink's). Thread-safe. */
void http_server_metrics(http_server_t *s, buf_t *out);
/* After http_server_stop: connections still waiting on the sink (left unanswered at
 * the shutdown timeout). */
size_t http_server_parked(const http_server_t *s);

#endif
