/*
 * The milter through the milter protocol, with no MTA: a child process runs
 * rewrite_milter_run() on a unix socket; this process plays the MTA with scripted
 * conversations (OpenDKIM's test mode, by hand): several messages on one connection, an
 * abort in the middle of a message, two interleaved connections, a malformed message.
 * What comes back (replaced body, added header, verdict) is checked byte by byte and the
 * tokens in it are opened.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rw_fixture.h"
#include "test.h"

static char sock_path[108];

static int connect_milter(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_pkt(int fd, char cmd, const void *data, size_t n)
{
    uint32_t len = htonl((uint32_t)(n + 1));
    char hdr[5];
    memcpy(hdr, &len, 4);
    hdr[4] = cmd;
    if (write_all(fd, hdr, 5) != 0 || (n && write_all(fd, data, n) != 0)) CHECK(!"send");
}

static void send_str(int fd, char cmd, const char *a, const char *b)
{
    buf_t d = BUF_INIT;
    if (a) buf_append(&d, a, strlen(a) + 1);
    if (b) buf_append(&d, b, strlen(b) + 1);
    send_pkt(fd, cmd, d.p, d.len);
    buf_clear(&d);
}

static bool read_full(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        c += r;
        n -= (size_t)r;
    }
    return true;
}

/* Reads one reply; returns its command (0 on EOF) and its data in d. */
static char read_pkt(int fd, buf_t *d)
{
    uint32_t len;
    char cmd;
    buf_reset(d);
    if (!read_full(fd, &len, 4)) return 0;
    len = ntohl(len);
    if (len == 0 || len > (1u << 24) || !read_full(fd, &cmd, 1)) return 0;
    buf_reserve(d, len - 1);
    if (!read_full(fd, d->p, len - 1)) return 0;
    d->len = len - 1;
    d->p[d->len] = 0;
    return cmd;
}

static char expect_reply(int fd)
{
    buf_t d = BUF_INIT;
    char c = read_pkt(fd, &d);
    buf_clear(&d);
    return c;
}

static void start(int fd)
{
    uint32_t v[3] = {htonl(6), htonl(0x1ff), htonl(0)};
    send_pkt(fd, 'O', v, sizeof(v));
    buf_t d = BUF_INIT;
    CHECK_INT(read_pkt(fd, &d), 'O');
    buf_clear(&d);
    char conn[64];
    size_t n = 0;
    memcpy(conn, "localhost", 10);
    n = 10;
    conn[n++] = '4';
    conn[n++] = 0;
    conn[n++] = 25;
    memcpy(conn + n, "127.0.0.1", 10);
    n += 10;
    send_pkt(fd, 'C', conn, n);
    CHECK_INT(expect_reply(fd), 'c');
    send_str(fd, 'H', "client.example", NULL);
    CHECK_INT(expect_reply(fd), 'c');
}

/* Envelope and headers of one message. */
static void begin_ct(int fd, const char *const *rcpt, const char *msgid, const char *ct)
{
    send_pkt(fd, 'D', "M{auth_authen}\0alice@example.com\0", 33);
    send_str(fd, 'M', "<news@clinic.example>", NULL);
    CHECK_INT(expect_reply(fd), 'c');
    for (size_t i = 0; rcpt[i]; i++) {
        send_str(fd, 'R', rcpt[i], NULL);
        CHECK_INT(expect_reply(fd), 'c');
    }
    send_str(fd, 'L', "Message-ID", msgid);
    CHECK_INT(expect_reply(fd), 'c');
    send_str(fd, 'L', "Content-Type", ct);
    CHECK_INT(expect_reply(fd), 'c');
    send_pkt(fd, 'N', NULL, 0);
    CHECK_INT(expect_reply(fd), 'c');
}

static void begin(int fd, const char *const *rcpt, const char *msgid)
{
    begin_ct(fd, rcpt, msgid, "text/html; charset=utf-8");
}

static void body(int fd, const char *b)
{
    send_pkt(fd, 'B', b, strlen(b));
    CHECK_INT(expect_reply(fd), 'c');
}

typedef struct {
    buf_t body;
    bool header; /* X-Trueopen added */
    char verdict;
} eom_t;

static void end(int fd, eom_t *r)
{
    buf_reset(&r->body);
    r->header = false;
    send_pkt(fd, 'E', NULL, 0);
    buf_t d = BUF_INIT;
    for (;;) {
        char c = read_pkt(fd, &d);
        if (c == 'b') {
            buf_append_slice(&r->body, buf_slice(&d));
        } else if (c == 'h') {
            r->header = d.len > 11 && !memcmp(d.p, "X-Trueopen\0tracked", 18);
        } else {
            r->verdict = c;
            break;
        }
    }
    buf_clear(&d);
}

/* Opens the first token of kind k ('c', 'o') in body; fills f. */
static bool token_in(const token_ring_t *ring, slice_t body, char k, token_fields_t *f, buf_t *url)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "%s/%c/", RWF_TRACKING, k);
    const char *p = memmem(body.p, body.len, needle, strlen(needle));
    if (!p) return false;
    p += strlen(needle);
    const char *e = p;
    while (e < body.p + body.len && *e != '"') e++;
    return token_open(ring, slice_make(p, (size_t)(e - p)), f, url) == 0;
}

static const char html[] = "<html><body><a href=\"https://clinic.example/book\">Book</a>"
                           "</body></html>\r\n";

static void conversations(const token_ring_t *ring)
{
    int a = -1;
    for (int i = 0; i < 200 && (a = connect_milter()) < 0; i++) usleep(20000);
    CHECK(a >= 0);
    if (a < 0) return;
    start(a);
    eom_t r = {BUF_INIT, false, 0};
    token_fields_t f;
    buf_t url = BUF_INIT;

    /* 1: two recipients -> tokens name the message only */
    const char *const two[] = {"<p1@example.org>", "<p2@example.org>", NULL};
    begin(a, two, "<m1@clinic.example>");
    body(a, html);
    end(a, &r);
    CHECK_INT(r.verdict, 'c');
    CHECK(r.header);
    CHECK(token_in(ring, buf_slice(&r.body), 'c', &f, &url));
    CHECK(slice_eq_cstr(f.url, "https://clinic.example/book"));
    CHECK_INT(f.recipient, 0);
    CHECK_INT(f.account, 7);
    uint64_t m1 = f.message;
    CHECK(token_in(ring, buf_slice(&r.body), 'o', &f, &url));
    CHECK(strstr(buf_cstr(&r.body), "</a><img src=") != NULL);

    /* 2: same connection, one recipient -> the recipient list was reset */
    const char *const one[] = {"<p3@example.org>", NULL};
    begin(a, one, "<m2@clinic.example>");
    body(a, html);
    end(a, &r);
    CHECK_INT(r.verdict, 'c');
    CHECK(token_in(ring, buf_slice(&r.body), 'c', &f, &url));
    CHECK(f.message != m1);
    CHECK_INT(f.recipient, f.message);

    /* 3: aborted in the middle; 4 must not carry any of it */
    begin(a, one, "<m3@clinic.example>");
    body(a, "<html><body>ABORTED-PART");
    send_pkt(a, 'A', NULL, 0);
    begin(a, one, "<m4@clinic.example>");
    body(a, html);
    end(a, &r);
    CHECK_INT(r.verdict, 'c');
    CHECK(r.body.len > 0);
    CHECK(strstr(buf_cstr(&r.body), "ABORTED-PART") == NULL);
    static const char head[] = "<html><body><a href=\"" RWF_TRACKING "/c/";
    CHECK(r.body.len > sizeof(head) && !memcmp(r.body.p, head, sizeof(head) - 1));

    /* 5: interleaved with a second connection */
    int b = connect_milter();
    CHECK(b >= 0);
    if (b >= 0) {
        start(b);
        begin(a, one, "<m5@clinic.example>");
        body(a, "<html><body><a href=\"https://clinic.example/A\">A</a>");
        begin(b, one, "<m6@clinic.example>");
        body(b, "<html><body><a href=\"https://clinic.example/B\">B</a></body></html>\r\n");
        end(b, &r);
        CHECK_INT(r.verdict, 'c');
        CHECK(token_in(ring, buf_slice(&r.body), 'c', &f, &url));
        CHECK(slice_eq_cstr(f.url, "https://clinic.example/B"));
        CHECK(strstr(buf_cstr(&r.body), "/A\"") == NULL);
        body(a, "</body></html>\r\n");
        end(a, &r);
        CHECK(token_in(ring, buf_slice(&r.body), 'c', &f, &url));
        CHECK(slice_eq_cstr(f.url, "https://clinic.example/A"));
        send_pkt(b, 'Q', NULL, 0);
        close(b);
    }

    /* 6: malformed MIME: no modification, accepted */
    begin_ct(a, one, "<m7@clinic.example>", "multipart/mixed");
    body(a, "--x\r\nContent-Type: text/html\r\n\r\n<a href=\"https://clinic.example/\">x</a>\r\n");
    end(a, &r);
    CHECK_INT(r.verdict, 'c');
    CHECK_INT(r.body.len, 0);
    CHECK(!r.header);

    /* 7: more recipients than the milter keeps (1000): rewritten, tokens name the message */
    enum { NMANY = 1200 };
    static char many_buf[NMANY][32];
    static const char *many[NMANY + 1];
    for (int i = 0; i < NMANY; i++) {
        snprintf(many_buf[i], sizeof(many_buf[i]), "<p%d@example.org>", i);
        many[i] = many_buf[i];
    }
    many[NMANY] = NULL;
    begin(a, many, "<m8@clinic.example>");
    body(a, html);
    end(a, &r);
    CHECK_INT(r.verdict, 'c');
    CHECK(r.header);
    CHECK(token_in(ring, buf_slice(&r.body), 'c', &f, &url));
    CHECK_INT(f.recipient, 0);
    CHECK(f.message != 0);

    send_pkt(a, 'Q', NULL, 0);
    close(a);
    buf_clear(&r.body);
    buf_clear(&url);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/trueopen-milter-test.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    snprintf(sock_path, sizeof(sock_path), "%s/m.sock", dir);
    char conn[160];
    snprintf(conn, sizeof(conn), "unix:%s", sock_path);
    pid_t pid = fork();
    if (pid == 0) {
        rwf_t f;
        const char *const sets[] = {"account", "1", "account_map", "alice@example.com 7", NULL};
        if (rwf_init(&f, NULL, sets) != 0) _exit(3);
        f.rand = rand_system; /* libmilter threads share the source */
        int rc = rewrite_milter_run(f.rw, conn, 0600, 10);
        rwf_clear(&f);
        _exit(rc ? 4 : 0);
    }
    rwf_t f;
    CHECK_INT(rwf_init(&f, NULL, NULL), 0);
    conversations(f.ring);
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "milter child: status %d (signal %d)\n", WEXITSTATUS(st),
                WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    struct stat sb;
    CHECK(stat(sock_path, &sb) != 0 || S_ISSOCK(sb.st_mode));
    unlink(sock_path);
    rmdir(dir);
    rwf_clear(&f);
    return test_done();
}
