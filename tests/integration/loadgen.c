/*
 * loadgen: a small load client for the crash test and the benchmark.
 *
 *   loadgen seal KEYS COUNT [FIRST] [click]
 *       prints COUNT tokens for messages FIRST.. (default 1), one a line: pixel tokens,
 *       or click tokens with "click"
 *   loadgen run KEYS PORT CONNS SECONDS LOG [FIRST]
 *       keeps CONNS keep-alive connections busy against 127.0.0.1:PORT for SECONDS
 *       (or until the server goes away), each request with its own message id (FIRST..;
 *       odd ids open, even ids click), and writes to LOG the id of every request whose
 *       complete response it received, with the status; prints a summary line.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "token/token.h"
#include "util/util.h"

static token_ring_t *ring;

static void seal(uint64_t msg, bool click, buf_t *out)
{
    token_fields_t f = {.account = 1,
                        .campaign = 1,
                        .message = msg,
                        .recipient = msg,
                        .link = click ? 1 : 0,
                        .sent_at = 1796290000};
    if (click) f.url = slice_cstr("https://example.com/landing");
    buf_reset(out);
    if (token_seal(ring, &f, &rand_system, out) != 0) log_fatal("loadgen: cannot seal");
}

typedef struct {
    int fd;
    uint64_t msg; /* in flight, 0: none */
    char in[8192];
    size_t in_len;
} lconn_t;

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_req(lconn_t *c, uint64_t msg, buf_t *tok, buf_t *req)
{
    bool click = msg % 2 == 0;
    seal(msg, click, tok);
    buf_reset(req);
    buf_printf(req, "GET /%c/%s HTTP/1.1\r\nHost: loadgen\r\nUser-Agent: loadgen\r\n\r\n",
               click ? 'c' : 'o', buf_cstr(tok));
    c->msg = msg;
    /* a fresh request fits the socket buffer of an idle keep-alive connection */
    ssize_t n = send(c->fd, req->p, req->len, MSG_NOSIGNAL);
    return n == (ssize_t)req->len;
}

/* A complete response in c->in: its status, and the bytes it used; 0 if incomplete. */
static size_t parse_resp(lconn_t *c, int *status)
{
    c->in[c->in_len < sizeof(c->in) ? c->in_len : sizeof(c->in) - 1] = 0;
    char *end = strstr(c->in, "\r\n\r\n");
    if (!end) return 0;
    size_t head = (size_t)(end - c->in) + 4;
    long cl = 0;
    char *p = strcasestr(c->in, "\r\nContent-Length:");
    if (p && p < end) cl = strtol(p + 17, NULL, 10);
    if (c->in_len < head + (size_t)cl) return 0;
    *status = atoi(c->in + 9);
    return head + (size_t)cl;
}

static int run(uint16_t port, int nconns, int seconds, const char *logpath, uint64_t first)
{
    FILE *log = fopen(logpath, "w");
    if (!log) log_fatal("loadgen: cannot write %s", logpath);
    int ep = epoll_create1(0);
    lconn_t *cs = calloc((size_t)nconns, sizeof(*cs));
    buf_t tok = BUF_INIT, req = BUF_INIT;
    uint64_t next = first, answered = 0, lost = 0;
    int open = 0;
    for (int i = 0; i < nconns; i++) {
        cs[i].fd = dial(port);
        if (cs[i].fd < 0) continue;
        struct epoll_event e = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e);
        open++;
    }
    int64_t end = mono_ms() + (int64_t)seconds * 1000;
    struct epoll_event evs[256];
    while (open > 0 && mono_ms() < end) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            lconn_t *c = evs[i].data.ptr;
            if (c->fd < 0) continue;
            bool dead = false;
            if (evs[i].events & EPOLLIN) {
                ssize_t r = read(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
                if (r <= 0) {
                    dead = true;
                } else {
                    c->in_len += (size_t)r;
                    int status;
                    size_t used = parse_resp(c, &status);
                    if (used) {
                        fprintf(log, "%llu %d\n", (unsigned long long)c->msg, status);
                        answered++;
                        memmove(c->in, c->in + used, c->in_len - used);
                        c->in_len -= used;
                        c->msg = 0;
                        if (!send_req(c, next++, &tok, &req)) dead = true;
                    }
                }
            } else if ((evs[i].events & EPOLLOUT) && c->msg == 0) {
                /* connected: switch to reading and send the first request */
                struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                if (!send_req(c, next++, &tok, &req)) dead = true;
            }
            if (!dead && (evs[i].events & (EPOLLERR | EPOLLHUP))) dead = true;
            if (dead) {
                if (c->msg) lost++;
                close(c->fd);
                c->fd = -1;
                open--;
            }
        }
    }
    fclose(log);
    printf("loadgen: %llu answered, %llu unanswered at the end, %d connections left\n",
           (unsigned long long)answered, (unsigned long long)lost, open);
    for (int i = 0; i < nconns; i++)
        if (cs[i].fd >= 0) close(cs[i].fd);
    free(cs);
    buf_clear(&tok);
    buf_clear(&req);
    close(ep);
    return 0;
}

int main(int argc, char **argv)
{
    log_set_output(2, "loadgen");
    if (argc < 4) {
        fprintf(stderr, "usage: loadgen seal KEYS COUNT [FIRST] [click] | "
                        "loadgen run KEYS PORT CONNS SECONDS LOG [FIRST]\n");
        return 2;
    }
    char err[256];
    if (token_ring_load(argv[2], &ring, err, sizeof(err)) != 0) log_fatal("loadgen: %s", err);
    int rc = 2;
    if (!strcmp(argv[1], "seal")) {
        long count = atol(argv[3]);
        uint64_t first = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
        bool click = argc > 5 && !strcmp(argv[5], "click");
        buf_t tok = BUF_INIT;
        for (long i = 0; i < count; i++) {
            seal(first + (uint64_t)i, click, &tok);
            puts(buf_cstr(&tok));
        }
        buf_clear(&tok);
        rc = 0;
    } else if (!strcmp(argv[1], "run") && argc >= 7) {
        rc = run((uint16_t)atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argv[6],
                 argc > 7 ? strtoull(argv[7], NULL, 10) : 1);
    }
    token_ring_free(ring);
    return rc;
}
