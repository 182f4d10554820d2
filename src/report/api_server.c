/*
 * The API listener: a bounded HTTP/1.1 request parser, one acceptor thread, and a
 * few workers, each with its own store connection (SQLite in WAL mode lets them read
 * while the tracking server writes). One request per connection (Connection: close);
 * the API serves dashboards and scripts, not the internet, and is bound only where
 * --api-listen says.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "report/report.h"

const cfg_def_t report_cfg[] = {
    {"api_listen", CFG_STR, NULL, 0, 0, 0,
     "ADDR:PORT of the JSON API listener (none by default; never the tracking address)"},
    {"api_threads", CFG_INT, "2", 1, 64, 0, "API worker threads"},
    {"api_max_head", CFG_SIZE, "16k", 1024, 1 << 20, 0, "largest API request head"},
    {"api_max_body", CFG_SIZE, "64k", 0, 1 << 24, 0, "largest API request body"},
    {"api_timeout", CFG_MS, "5s", 100, 600000, 0, "time allowed to send an API request"},
    {"retention_interval", CFG_MS, "1d", 1000, 31622400000LL, 0,
     "how often serve deletes data past each account's retention_days"},
    CFG_END,
};

void report_api_opts_from_config(const config_t *c, report_api_opts_t *o)
{
    o->threads = (int)config_int(c, "api_threads");
    o->max_head = (size_t)config_int(c, "api_max_head");
    o->max_body = (size_t)config_int(c, "api_max_body");
    o->timeout_ms = config_int(c, "api_timeout");
}

/* ---- parsing ---------------------------------------------------------------------- */

#define HEADERS_MAX 64

static bool tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int report_api_parse(const char *buf, size_t len, size_t max_head, size_t max_body,
                     report_api_request_t *out, size_t *out_head_len, size_t *out_body_len,
                     const char **out_err)
{
    memset(out, 0, sizeof(*out));
    *out_err = "";
    size_t lim = TO_MIN(len, max_head), end = 0;
    bool found = false;
    for (size_t i = 0; i + 3 < lim; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = i + 4;
            found = true;
            break;
        }
    if (!found) {
        if (len >= max_head) return *out_err = "request head too large", TO_ETOOBIG;
        return TO_EAGAIN;
    }
    /* request line */
    size_t i = 0;
    while (i < end && buf[i] >= 'A' && buf[i] <= 'Z' && i < 16) i++;
    if (i == 0 || buf[i] != ' ') return *out_err = "bad method", TO_EPARSE;
    out->method = slice_make(buf, i);
    size_t t0 = ++i;
    while (i < end && buf[i] != ' ' && (unsigned char)buf[i] > 0x20 && buf[i] != 0x7f) i++;
    if (i == t0 || buf[t0] != '/' || buf[i] != ' ') return *out_err = "bad target", TO_EPARSE;
    slice_t target = slice_make(buf + t0, i - t0);
    i++;
    if (end - i < 10 || memcmp(buf + i, "HTTP/1.", 7) || (buf[i + 7] != '0' && buf[i + 7] != '1') ||
        buf[i + 8] != '\r' || buf[i + 9] != '\n')
        return *out_err = "bad version", TO_EPARSE;
    i += 10;
    const char *q = memchr(target.p, '?', target.len);
    if (q) {
        out->path = slice_make(target.p, (size_t)(q - target.p));
        out->query = slice_make(q + 1, target.len - out->path.len - 1);
    } else {
        out->path = target;
    }
    /* headers */
    int nh = 0;
    bool have_len = false;
    uint64_t clen = 0;
    while (i + 2 <= end) {
        if (buf[i] == '\r' && buf[i + 1] == '\n') {
            i += 2;
            break;
        }
        if (++nh > HEADERS_MAX) return *out_err = "too many headers", TO_EPARSE;
        size_t n0 = i;
        while (i < end && tchar(buf[i])) i++;
        if (i == n0 || buf[i] != ':') return *out_err = "bad header", TO_EPARSE;
        slice_t name = slice_make(buf + n0, i - n0);
        i++;
        size_t v0 = i;
        while (i < end && buf[i] != '\r') {
            unsigned char c = (unsigned char)buf[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) return *out_err = "bad header", TO_EPARSE;
            i++;
        }
        if (i + 1 >= end || buf[i + 1] != '\n') return *out_err = "bad header", TO_EPARSE;
        slice_t val = slice_trim(slice_make(buf + v0, i - v0));
        i += 2;
        if (slice_caseeq_cstr(name, "authorization")) {
            if (out->authorization.p) return *out_err = "repeated Authorization", TO_EPARSE;
            out->authorization = val;
        } else if (slice_caseeq_cstr(name, "content-type")) {
            out->content_type = val;
        } else if (slice_caseeq_cstr(name, "content-length")) {
            uint64_t v;
            if (have_len || !slice_to_u64(val, &v))
                return *out_err = "bad Content-Length", TO_EPARSE;
            have_len = true;
            clen = v;
        } else if (slice_caseeq_cstr(name, "transfer-encoding")) {
            return *out_err = "chunked bodies are not supported", TO_EPARSE;
        }
    }
    if (i != end) return *out_err = "bad header block", TO_EPARSE;
    if (clen > max_body) return *out_err = "request body too large", TO_ETOOBIG;
    *out_head_len = end;
    *out_body_len = (size_t)clen;
    return 0;
}

/* ---- the server ------------------------------------------------------------------- */

#define QUEUE_MAX 64

struct report_api_server {
    report_api_opts_t o;
    char *db_uri;
    classify_msg_opts_t msg_opts;
    bool have_msg_opts;
    int lfd;
    int port;
    pthread_t acceptor;
    pthread_t *workers;
    int n_workers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int queue[QUEUE_MAX];
    size_t qhead, qlen;
    bool stop;
};

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
    }
}

/* Like write_all, but a peer that went away is an error, never a SIGPIPE. */
static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int status, const buf_t *body)
{
    buf_t h = BUF_INIT;
    buf_printf(&h,
               "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
               "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
               status, reason(status), body->len,
               status == 401 ? "WWW-Authenticate: Bearer realm=\"trueopen\"\r\n" : "");
    send_all(fd, h.p, h.len);
    if (body->len) send_all(fd, body->p, body->len);
    buf_clear(&h);
}

static void respond_error(int fd, int status, const char *msg)
{
    buf_t b = BUF_INIT;
    buf_puts(&b, "{\"error\":");
    json_cstr(&b, msg);
    buf_printf(&b, ",\"status\":%d}", status);
    respond(fd, status, &b);
    buf_clear(&b);
}

static void peer_text(int fd, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    snprintf(out, n, "-");
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)n);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)n);
}

/* Reads until want bytes are in b or the deadline passes. */
static int read_more(int fd, buf_t *b, size_t cap, int64_t deadline)
{
    int64_t left = deadline - mono_ms();
    if (left <= 0) return TO_ETIMEOUT;
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, (int)TO_MIN(left, 1000));
    if (r < 0 && errno == EINTR) return 0;
    if (r == 0) return 0;
    buf_reserve(b, 4096);
    size_t room = TO_MIN(cap - b->len, 4096);
    if (room == 0) return TO_ETOOBIG;
    ssize_t n = recv(fd, b->p + b->len, room, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    if (n <= 0) return TO_ECLOSED;
    b->len += (size_t)n;
    b->p[b->len] = 0;
    return 0;
}

static void audit_refused(store_t *s, const char *remote, int status, const char *what)
{
    if (!s) return;
    store_audit_t a = {.ts_us = clock_now_us(&clock_system),
                       .via = "api",
                       .action = "-",
                       .target = what,
                       .status = status,
                       .remote = remote};
    store_audit_add(s, &a);
}

static void serve_conn(report_api_server_t *srv, store_t *s, int fd)
{
    char remote[64];
    peer_text(fd, remote, sizeof(remote));
    buf_t in = BUF_INIT;
    int64_t deadline = mono_ms() + srv->o.timeout_ms;
    report_api_request_t rq;
    size_t head = 0, blen = 0;
    const char *perr = "";
    int rc;
    for (;;) {
        rc = report_api_parse(in.p ? in.p : "", in.len, srv->o.max_head, srv->o.max_body, &rq,
                              &head, &blen, &perr);
        if (rc == 0 && in.len >= head + blen) break; /* complete */
        if (rc != 0 && rc != TO_EAGAIN) break;       /* refused */
        int r = read_more(fd, &in, rc == 0 ? head + blen : srv->o.max_head, deadline);
        if (r) {
            rc = r;
            break;
        }
    }
    if (rc == 0) {
        rq.body = slice_make(in.p + head, blen);
        rq.remote = remote;
        if (!s) {
            respond_error(fd, 503, "store unavailable");
        } else {
            report_api_response_t resp = {0};
            buf_init(&resp.body);
            report_api_handle(s, &rq, clock_now_us(&clock_system), &resp);
            respond(fd, resp.status, &resp.body);
            buf_clear(&resp.body);
        }
    } else if (rc == TO_EPARSE) {
        audit_refused(s, remote, 400, "(malformed request)");
        respond_error(fd, 400, perr);
    } else if (rc == TO_ETOOBIG) {
        audit_refused(s, remote, 413, "(request too large)");
        respond_error(fd, 413, "request too large");
    } else if (rc == TO_ETIMEOUT && in.len) {
        audit_refused(s, remote, 408, "(request timed out)");
        respond_error(fd, 408, "request timed out");
    }
    buf_clear(&in);
}

static void *worker_main(void *arg)
{
    report_api_server_t *srv = arg;
    store_t *s = NULL;
    char err[256];
    if (store_open(srv->db_uri, &s, err, sizeof(err)) != 0) {
        log_error("api: cannot open the store: %s", err);
        s = NULL;
    } else if (srv->have_msg_opts) {
        store_set_msg_opts(s, &srv->msg_opts);
    }
    for (;;) {
        pthread_mutex_lock(&srv->mu);
        while (!srv->qlen && !srv->stop) pthread_cond_wait(&srv->cv, &srv->mu);
        if (!srv->qlen && srv->stop) {
            pthread_mutex_unlock(&srv->mu);
            break;
        }
        int fd = srv->queue[srv->qhead];
        srv->qhead = (srv->qhead + 1) % QUEUE_MAX;
        srv->qlen--;
        pthread_mutex_unlock(&srv->mu);
        serve_conn(srv, s, fd);
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    store_close(s);
    return NULL;
}

static void *acceptor_main(void *arg)
{
    report_api_server_t *srv = arg;
    for (;;) {
        pthread_mutex_lock(&srv->mu);
        bool stop = srv->stop;
        pthread_mutex_unlock(&srv->mu);
        if (stop) break;
        struct pollfd p = {srv->lfd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        int fd = accept(srv->lfd, NULL, NULL);
        if (fd < 0) continue;
        pthread_mutex_lock(&srv->mu);
        if (srv->qlen == QUEUE_MAX) {
            pthread_mutex_unlock(&srv->mu);
            respond_error(fd, 503, "busy");
            close(fd);
            continue;
        }
        srv->queue[(srv->qhead + srv->qlen) % QUEUE_MAX] = fd;
        srv->qlen++;
        pthread_cond_signal(&srv->cv);
        pthread_mutex_unlock(&srv->mu);
    }
    return NULL;
}

static int listen_on(const char *spec, int *out_fd, int *out_port, char *err, size_t errlen)
{
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) {
        snprintf(err, errlen, "api listen address '%s' is not ADDR:PORT", spec);
        return TO_EINVAL;
    }
    char host[256];
    size_t hl = (size_t)(colon - spec);
    if (hl >= sizeof(host)) {
        snprintf(err, errlen, "api listen address too long");
        return TO_EINVAL;
    }
    memcpy(host, spec, hl);
    host[hl] = 0;
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    uint64_t port;
    if (!slice_to_u64(slice_cstr(colon + 1), &port) || port > 65535) {
        snprintf(err, errlen, "api listen port '%s' is not a port number", colon + 1);
        return TO_EINVAL;
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai) {
        snprintf(err, errlen, "api listen address '%s' is not a numeric address", host);
        return TO_EINVAL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        snprintf(err, errlen, "api listen %s: %s", spec, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return TO_EIO;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *out_fd = fd;
    return 0;
}

int report_api_start(const report_api_opts_t *o, report_api_server_t **out, char *err,
                     size_t errlen)
{
    if (!o->listen || !o->db_uri) {
        snprintf(err, errlen, "the API needs a listen address and a database");
        return TO_EINVAL;
    }
    report_api_server_t *srv = xcalloc(1, sizeof(*srv));
    srv->o = *o;
    if (srv->o.threads < 1) srv->o.threads = 1;
    if (srv->o.max_head < 1024) srv->o.max_head = 16384;
    if (srv->o.timeout_ms <= 0) srv->o.timeout_ms = 5000;
    srv->db_uri = xstrdup(o->db_uri);
    if (o->msg_opts) {
        srv->msg_opts = *o->msg_opts;
        srv->have_msg_opts = true;
    }
    srv->o.msg_opts = NULL;
    int rc = listen_on(o->listen, &srv->lfd, &srv->port, err, errlen);
    if (rc) {
        free(srv->db_uri);
        free(srv);
        return rc;
    }
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cv, NULL);
    srv->workers = xcalloc((size_t)srv->o.threads, sizeof(*srv->workers));
    for (int i = 0; i < srv->o.threads; i++) {
        if (pthread_create(&srv->workers[i], NULL, worker_main, srv) != 0)
            log_fatal("api: cannot start a worker thread");
        srv->n_workers++;
    }
    if (pthread_create(&srv->acceptor, NULL, acceptor_main, srv) != 0)
        log_fatal("api: cannot start the acceptor thread");
    *out = srv;
    return 0;
}

int report_api_port(const report_api_server_t *srv)
{
    return srv->port;
}

void report_api_stop(report_api_server_t *srv)
{
    if (!srv) return;
    pthread_mutex_lock(&srv->mu);
    srv->stop = true;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
    pthread_join(srv->acceptor, NULL);
    close(srv->lfd);
    pthread_mutex_lock(&srv->mu);
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
    for (int i = 0; i < srv->n_workers; i++) pthread_join(srv->workers[i], NULL);
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cv);
    free(srv->workers);
    free(srv->db_uri);
    free(srv);
}
