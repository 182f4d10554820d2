/* The request parser: table of valid and invalid heads, fed whole, byte by byte and
 * in every two-piece split; pipelining; limits. */
#include "http/http_internal.h"
#include "test.h"

static const http__limits_t lim = {.max_head = 1024, .max_headers = 8, .max_url = 256};

typedef struct {
    const char *in;
    int want; /* > 0: complete (head length = strlen(in) unless head_len set), or -status */
    const char *method; /* expected on success */
    const char *target;
    int minor;
    bool keep_alive;
    int head_len; /* 0: strlen(in) */
} pcase_t;

static const pcase_t cases[] = {
    {"GET /o/abc HTTP/1.1\r\nHost: x\r\n\r\n", 1, "GET", "/o/abc", 1, true, 0},
    {"HEAD /c/abc HTTP/1.1\r\nHost: x\r\nUser-Agent: a b\r\n\r\n", 1, "HEAD", "/c/abc", 1, true, 0},
    {"GET / HTTP/1.0\r\n\r\n", 1, "GET", "/", 0, false, 0},
    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1, "GET", "/", 0, true, 0},
    {"GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n", 1, "GET", "/", 1, false, 0},
    {"GET / HTTP/1.1\r\nHost: x\r\nConnection: te, close\r\n\r\n", 1, "GET", "/", 1, false, 0},
    /* bare LF line ends are accepted (RFC 9112 2.2) */
    {"GET /x HTTP/1.1\nHost: x\n\n", 1, "GET", "/x", 1, true, 0},
    /* leading empty lines are skipped */
    {"\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n", 1, "GET", "/x", 1, true, 0},
    /* a pipelined second request is not consumed */
    {"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n", 1, "GET", "/a", 1, true, 28},
    {"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 1, "OPTIONS", "*", 1, true, 0},
    {"GET /x HTTP/1.1\r\nHost: x\r\nEmpty:\r\nTabs:\t v \t\r\n\r\n", 1, "GET", "/x", 1, true, 0},
    /* incomplete */
    {"GET /o/abc HTTP/1.1\r\nHost: x\r\n", 0, NULL, NULL, 0, false, 0},
    {"GET /o/abc HTT", 0, NULL, NULL, 0, false, 0},
    {"", 0, NULL, NULL, 0, false, 0},
    /* malformed */
    {"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {" GET / HTTP/1.1\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET / FOO/1.1\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET /\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET / HTTP/2.0\r\n\r\n", -505, NULL, NULL, 0, false, 0},
    {"GET /a\x01 HTTP/1.1\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET / HTTP/1.1\rHost: x\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET / HTTP/1.1\r\nHost x\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET / HTTP/1.1\r\n: x\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET / HTTP/1.1\r\nHost: x\r\n\rX", -400, NULL, NULL, 0, false, 0},
    {"GET / HTTP/1.1\r\n\r\n", -400, NULL, NULL, 0, false, 0}, /* no Host */
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -400, NULL,
     NULL, 0, false, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", -501, NULL, NULL, 0, false,
     0},
    {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", -400,
     NULL, NULL, 0, false, 0},
    {"VERYLONGMETHODNAMEXX / HTTP/1.1\r\n\r\n", -400, NULL, NULL, 0, false, 0},
    /* too many headers (max 8) */
    {"GET / HTTP/1.1\r\nHost: x\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\nh: "
     "1\r\n\r\n",
     -431, NULL, NULL, 0, false, 0},
};

/* Feeds in as pieces cut at the given offsets (in order). */
static int feed(const char *in, size_t len, const size_t *cuts, size_t ncuts, http__request_t *req,
                http__header_t *hdrs, http__parser_t *p)
{
    http__parser_init(p);
    int rc = 0;
    size_t have = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        have = k < ncuts ? cuts[k] : len;
        rc = http__parse(p, &lim, in, have, req, hdrs);
        if (rc != 0) return rc;
    }
    return rc;
}

static void run_case(const pcase_t *c)
{
    size_t len = strlen(c->in);
    http__header_t hdrs[8];
    http__request_t req;
    http__parser_t p;
    int whole = feed(c->in, len, NULL, 0, &req, hdrs, &p);
    int want = c->want > 0 ? (c->head_len ? c->head_len : (int)len) : c->want;
    if (whole != want) fprintf(stderr, "case: %s\n", c->in);
    CHECK_INT(whole, want);
    if (c->want > 0 && whole > 0) {
        CHECK(slice_eq_cstr(req.method, c->method));
        CHECK(slice_eq_cstr(req.target, c->target));
        CHECK_INT(req.minor, c->minor);
        CHECK_INT(req.keep_alive, c->keep_alive);
    }
    /* byte by byte */
    size_t cuts[2048];
    for (size_t i = 0; i < len && i < TO_ARRAY_LEN(cuts); i++) cuts[i] = i;
    int bytes = feed(c->in, len, cuts, len, &req, hdrs, &p);
    CHECK_INT(bytes, want);
    /* every split in two */
    int bad = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        size_t one[1] = {cut};
        if (feed(c->in, len, one, 1, &req, hdrs, &p) != want) bad++;
    }
    CHECK_INT(bad, 0);
}

static void test_headers(void)
{
    const char *in = "GET /o/t.gif?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent:  Mozilla/5.0 (X)  \r\n"
                     "X-Forwarded-For: 1.1.1.1\r\nx-forwarded-for: 2.2.2.2\r\nEmpty:\r\n\r\n";
    http__header_t hdrs[8];
    http__request_t req;
    http__parser_t p;
    http__parser_init(&p);
    CHECK_INT(http__parse(&p, &lim, in, strlen(in), &req, hdrs), (int)strlen(in));
    CHECK_INT(req.nheaders, 5);
    const http__header_t *ua = http__find_header(&req, "user-agent");
    CHECK(ua && slice_eq_cstr(ua->value, "Mozilla/5.0 (X)"));
    const http__header_t *xff = http__find_header(&req, "X-FORWARDED-FOR");
    CHECK(xff && slice_eq_cstr(xff->value, "1.1.1.1"));
    const http__header_t *e = http__find_header(&req, "empty");
    CHECK(e && e->value.len == 0);
    CHECK(http__find_header(&req, "accept") == NULL);
    CHECK_INT(req.meth, HTTP__GET);
    CHECK(!req.has_body);

    const char *body = "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    http__parser_init(&p);
    CHECK_INT(http__parse(&p, &lim, body, strlen(body), &req, hdrs), (int)strlen(body) - 5);
    CHECK(req.has_body);
    CHECK_INT(req.content_length, 5);

    const char *post = "POST /o/x HTTP/1.1\r\nHost: h\r\n\r\n";
    http__parser_init(&p);
    CHECK(http__parse(&p, &lim, post, strlen(post), &req, hdrs) > 0);
    CHECK_INT(req.meth, HTTP__OTHER);
}

static void test_pipelined(void)
{
    const char *in = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    size_t len = strlen(in), off = 0;
    const char *want[] = {"/a", "/b", "/c"};
    http__header_t hdrs[8];
    http__request_t req;
    http__parser_t p;
    for (int i = 0; i < 3; i++) {
        http__parser_init(&p);
        int rc = http__parse(&p, &lim, in + off, len - off, &req, hdrs);
        CHECK(rc > 0);
        if (rc <= 0) return;
        CHECK(slice_eq_cstr(req.target, want[i]));
        CHECK_INT(req.meth, i == 1 ? HTTP__HEAD : HTTP__GET);
        CHECK_INT(req.keep_alive, i < 2);
        off += (size_t)rc;
    }
    CHECK_INT(off, len);
}

static void test_limits(void)
{
    http__header_t hdrs[8];
    http__request_t req;
    http__parser_t p;
    buf_t b = BUF_INIT;
    /* target of exactly max_url is fine, one more is 414, even before the line ends */
    buf_puts(&b, "GET /");
    for (int i = 0; i < 255; i++) buf_putc(&b, 'a');
    size_t pre = b.len;
    buf_puts(&b, " HTTP/1.1\r\nHost: x\r\n\r\n");
    http__parser_init(&p);
    CHECK(http__parse(&p, &lim, b.p, b.len, &req, hdrs) > 0);
    CHECK_INT(req.target.len, 256);
    buf_reset(&b);
    buf_puts(&b, "GET /");
    for (int i = 0; i < 256; i++) buf_putc(&b, 'a');
    http__parser_init(&p);
    CHECK_INT(http__parse(&p, &lim, b.p, b.len, &req, hdrs), -414);
    CHECK(pre == 260);
    /* a head over max_head is 431, even when it never ends */
    buf_reset(&b);
    buf_puts(&b, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    while (b.len < 1024) buf_putc(&b, 'v');
    http__parser_init(&p);
    CHECK_INT(http__parse(&p, &lim, b.p, b.len, &req, hdrs), 0); /* exactly max: still open */
    buf_putc(&b, 'v');
    CHECK_INT(http__parse(&p, &lim, b.p, b.len, &req, hdrs), -431);
    CHECK(p.error != NULL);
    /* a failed parser stays failed */
    CHECK(http__parse(&p, &lim, b.p, b.len, &req, hdrs) < 0);
    /* head of exactly max_head bytes parses */
    buf_reset(&b);
    buf_puts(&b, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    while (b.len < 1024 - 4) buf_putc(&b, 'v');
    buf_puts(&b, "\r\n\r\n");
    http__parser_init(&p);
    CHECK_INT(http__parse(&p, &lim, b.p, b.len, &req, hdrs), 1024);
    /* 8 headers is the maximum, accepted */
    const char *eight = "GET / HTTP/1.1\r\nHost: x\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: "
                        "1\r\ng: 1\r\n\r\n";
    http__parser_init(&p);
    CHECK_INT(http__parse(&p, &lim, eight, strlen(eight), &req, hdrs), (int)strlen(eight));
    CHECK_INT(req.nheaders, 8);
    buf_clear(&b);
}

/* The buffer may move between calls (the server grows and compacts it). */
static void test_moving_buffer(void)
{
    const char *in = "GET /moved HTTP/1.1\r\nHost: x\r\nUser-Agent: ua\r\n\r\n";
    size_t len = strlen(in);
    http__header_t hdrs[8];
    http__request_t req;
    http__parser_t p;
    http__parser_init(&p);
    char *a = malloc(len);
    memcpy(a, in, 20);
    CHECK_INT(http__parse(&p, &lim, a, 20, &req, hdrs), 0);
    char *b2 = malloc(len);
    memcpy(b2, in, len);
    memset(a, 'Z', 20);
    free(a);
    CHECK_INT(http__parse(&p, &lim, b2, len, &req, hdrs), (int)len);
    CHECK(slice_eq_cstr(req.target, "/moved"));
    const http__header_t *ua = http__find_header(&req, "user-agent");
    CHECK(ua && slice_eq_cstr(ua->value, "ua"));
    free(b2);
}

int main(void)
{
    for (size_t i = 0; i < TO_ARRAY_LEN(cases); i++) run_case(&cases[i]);
    test_headers();
    test_pipelined();
    test_limits();
    test_moving_buffer();
    return test_done();
}
