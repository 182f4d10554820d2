#include "report/report.h"
#include "test.h"

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

int main(void)
{
    test_parse();
    return test_done();
}
