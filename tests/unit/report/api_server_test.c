#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture.h"
#include "report/report.h"

static int parse(const char *req, report_api_request_t *rq, size_t *head, size_t *blen,
                 const char **err)
{
    return report_api_parse(req, strlen(req), 4096, 1024, rq, head, blen, err);
}

static void test_parse(void)
{
    report_api_request_t rq;
    size_t head, blen;
    const char *err;
    const char *ok = "GET /api/v1/campaigns/x/stats?view=all HTTP/1.1\r\nHost: a\r\n"
                     "Authorization:  Bearer tok_abc \r\n\r\n";
    CHECK_INT(parse(ok, &rq, &head, &blen, &err), 0);
    CHECK(slice_eq_cstr(rq.method, "GET"));
    CHECK(slice_eq_cstr(rq.path, "/api/v1/campaigns/x/stats"));
    CHECK(slice_eq_cstr(rq.query, "view=all"));
    CHECK(slice_eq_cstr(rq.authorization, "Bearer tok_abc"));
    CHECK_INT(head, strlen(ok));
    CHECK_INT(blen, 0);

    const char *put = "PUT /api/v1/settings HTTP/1.0\r\nContent-Length: 5\r\n"
                      "content-type: application/json\r\n\r\n{\"a\":";
    CHECK_INT(parse(put, &rq, &head, &blen, &err), 0);
    CHECK_INT(blen, 5);
    CHECK(slice_eq_cstr(rq.content_type, "application/json"));

    /* incomplete heads wait for more */
    CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\n", &rq, &head, &blen, &err), TO_EAGAIN);
    CHECK_INT(parse("", &rq, &head, &blen, &err), TO_EAGAIN);

    static const char *const bad[] = {
        "get / HTTP/1.1\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET x HTTP/1.1\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET / HTTP/1.1\n\r\n\r\n",
        "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
        "GET / HTTP/1.1\r\n folded: x\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n",
    };
    for (size_t i = 0; i < TO_ARRAY_LEN(bad); i++) {
        int rc = parse(bad[i], &rq, &head, &blen, &err);
        if (rc != TO_EPARSE) fprintf(stderr, "case %zu: %d\n", i, rc);
        CHECK_INT(rc, TO_EPARSE);
        CHECK(err && *err);
    }
    CHECK_INT(parse("PUT / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", &rq, &head, &blen, &err),
              TO_ETOOBIG);
    /* a head that never ends is refused at the limit */
    char big[5000];
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    memset(big + 19, 'a', sizeof(big) - 20);
    big[sizeof(big) - 1] = 0;
    CHECK_INT(parse(big, &rq, &head, &blen, &err), TO_ETOOBIG);
    char hdrs[4096];
    size_t n = (size_t)snprintf(hdrs, sizeof(hdrs), "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 70; i++) n += (size_t)snprintf(hdrs + n, sizeof(hdrs) - n, "H%d: v\r\n", i);
    snprintf(hdrs + n, sizeof(hdrs) - n, "\r\n");
    CHECK_INT(parse(hdrs, &rq, &head, &blen, &err), TO_EPARSE);
}

/* One request over a fresh connection; the whole answer into out. */
static void roundtrip(int port, const char *req, size_t len, buf_t *out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    buf_reset(out);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return;
    }
    write_all(fd, req, len);
    shutdown(fd, SHUT_WR);
    buf_read_fd(out, fd, 1 << 20);
    close(fd);
}

static void test_server(void)
{
    sqlite3 *db = fx_open();
    fx_account(db, 1, 1);
    report_api_opts_t o = {.listen = "127.0.0.1:0",
                           .db_uri = fx_path,
                           .threads = 2,
                           .max_head = 4096,
                           .max_body = 1024,
                           .timeout_ms = 5000};
    report_api_server_t *srv;
    char err[256];
    report_api_opts_t bad = o;
    bad.listen = "nowhere";
    CHECK_INT(report_api_start(&bad, &srv, err, sizeof(err)), TO_EINVAL);
    bad.listen = "localhost:80";
    CHECK_INT(report_api_start(&bad, &srv, err, sizeof(err)), TO_EINVAL); /* numeric only */
    CHECK_INT(report_api_start(&o, &srv, err, sizeof(err)), 0);
    int port = report_api_port(srv);
    CHECK(port > 0);
    buf_t b = BUF_INIT;
    const char *r1 = "GET /api/v1/campaigns HTTP/1.1\r\nHost: x\r\n\r\n";
    roundtrip(port, r1, strlen(r1), &b);
    CHECK(strncmp(buf_cstr(&b), "HTTP/1.1 401 ", 13) == 0);
    CHECK(strstr(buf_cstr(&b), "WWW-Authenticate: Bearer") != NULL);
    const char *r2 = "GET nope HTTP/1.1\r\n\r\n";
    roundtrip(port, r2, strlen(r2), &b);
    CHECK(strncmp(buf_cstr(&b), "HTTP/1.1 400 ", 13) == 0);
    const char *r3 = "PUT /api/v1/settings HTTP/1.1\r\nContent-Length: 5000\r\n\r\n";
    roundtrip(port, r3, strlen(r3), &b);
    CHECK(strncmp(buf_cstr(&b), "HTTP/1.1 413 ", 13) == 0);
    util_rand_t rnd = rand_fixed(3);
    buf_t key = BUF_INIT;
    int64_t kid;
    CHECK_INT(store_apikey_new(fx_store, 1, &rnd, 1, &key, &kid), 0);
    buf_t req = BUF_INIT;
    buf_printf(&req,
               "PUT /api/v1/settings HTTP/1.1\r\nAuthorization: Bearer %s\r\n"
               "Content-Length: 28\r\n\r\n{\"suppress_automated\":false}",
               buf_cstr(&key));
    roundtrip(port, req.p, req.len, &b);
    CHECK(strncmp(buf_cstr(&b), "HTTP/1.1 200 ", 13) == 0);
    CHECK(strstr(buf_cstr(&b), "\"suppress_automated\":false") != NULL);
    report_api_stop(srv);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM audit WHERE via = 'api'", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 4);
    sqlite3_finalize(st);
    buf_clear(&b);
    buf_clear(&req);
    buf_clear(&key);
    fx_close();
}

int main(void)
{
    test_parse();
    test_server();
    return test_done();
}
