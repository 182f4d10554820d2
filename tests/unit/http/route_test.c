/* Routes, URL checks, header capture and response heads. */
#include "http/http_internal.h"
#include "test.h"

static void test_route(void)
{
    static const struct {
        const char *target;
        http__route_id_t r;
        const char *tok;
    } cases[] = {
        {"/o/abc", HTTP__R_OPEN, "abc"},
        {"/o/abc.gif", HTTP__R_OPEN, "abc"},
        {"/o/abc.gif?utm=1", HTTP__R_OPEN, "abc"},
        {"/c/abc.gif", HTTP__R_CLICK, "abc.gif"}, /* only /o/ takes the suffix */
        {"/c/abc?x#y", HTTP__R_CLICK, "abc"},
        {"/h/xyz", HTTP__R_HONEYPOT, "xyz"},
        {"http://track.example/o/abc", HTTP__R_OPEN, "abc"},
        {"HTTPS://track.example/c/q", HTTP__R_CLICK, "q"},
        {"/healthz", HTTP__R_HEALTHZ, ""},
        {"/healthz?x", HTTP__R_HEALTHZ, ""},
        {"/metrics", HTTP__R_METRICS, ""},
        {"/o/", HTTP__R_OTHER, ""},
        {"/x/abc", HTTP__R_OTHER, ""},
        {"/", HTTP__R_OTHER, ""},
        {"*", HTTP__R_OTHER, ""},
        {"/oo/abc", HTTP__R_OTHER, ""},
        {"http://host", HTTP__R_OTHER, ""},
    };
    for (size_t i = 0; i < TO_ARRAY_LEN(cases); i++) {
        slice_t tok;
        http__route_id_t r = http__route(slice_cstr(cases[i].target), &tok);
        if (r != cases[i].r) fprintf(stderr, "target %s\n", cases[i].target);
        CHECK_INT(r, cases[i].r);
        CHECK(slice_eq_cstr(tok, cases[i].tok) || (tok.len == 0 && !cases[i].tok[0]));
    }
    CHECK_STR(http__route_name(HTTP__R_CLICK), "click");
}

static void test_url(void)
{
    CHECK(http__url_ok(slice_cstr("https://example.com/a?b=c")));
    CHECK(http__url_ok(slice_cstr("HTTP://example.com")));
    CHECK(!http__url_ok(slice_cstr("https://")));
    CHECK(!http__url_ok(slice_cstr("javascript:alert(1)")));
    CHECK(!http__url_ok(slice_cstr("ftp://example.com")));
    CHECK(!http__url_ok(slice_cstr("https://example.com/\r\nSet-Cookie: x")));
    CHECK(!http__url_ok(slice_cstr("https://example.com/\nx")));
    CHECK(!http__url_ok(slice_cstr("https://example.com/ a")));
    CHECK(!http__url_ok(slice_cstr("https://exa\xc3\xa9mple.com/")));
    CHECK(!http__url_ok(SLICE_NULL));
}

static void test_cut(void)
{
    CHECK_INT(http__cut(slice_cstr("abcdef"), 10).len, 6);
    CHECK_INT(http__cut(slice_cstr("abcdef"), 3).len, 3);
    /* "ab" + U+00E9 (2 bytes): cutting inside the character backs off */
    CHECK_INT(http__cut(slice_cstr("ab\xc3\xa9z"), 3).len, 2);
    CHECK_INT(http__cut(slice_cstr("ab\xc3\xa9z"), 4).len, 4);
    /* U+20AC (3 bytes) */
    CHECK_INT(http__cut(slice_cstr("a\xe2\x82\xac"), 3).len, 1);
}

static void test_event_headers(void)
{
    buf_t big = BUF_INIT;
    for (int i = 0; i < 1000; i++) buf_putc(&big, 'u');
    http__header_t h[] = {
        {SLICE_LIT("Host"), SLICE_LIT("x")},
        {SLICE_LIT("user-agent"), buf_slice(&big)},
        {SLICE_LIT("Sec-Purpose"), SLICE_LIT("prefetch")},
        {SLICE_LIT("Purpose"), SLICE_LIT("prefetch2")},
        {SLICE_LIT("X-Purpose"), SLICE_LIT("preview")},
        {SLICE_LIT("X-Moz"), SLICE_LIT("prefetch3")},
        {SLICE_LIT("ACCEPT"), SLICE_LIT("image/*")},
        {SLICE_LIT("Accept-Language"), SLICE_LIT("en")},
        {SLICE_LIT("Referer"), SLICE_LIT("https://r/")},
        {SLICE_LIT("Via"), SLICE_LIT("1.1 proxy")},
        {SLICE_LIT("From"), SLICE_LIT("bot@example")},
        {SLICE_LIT("DNT"), SLICE_LIT("1")},
        {SLICE_LIT("Sec-GPC"), SLICE_LIT("")},
        {SLICE_LIT("Accept"), SLICE_LIT("second")},
        {SLICE_LIT("X-Other"), buf_slice(&big)},
    };
    http__request_t req = {.headers = h, .nheaders = TO_ARRAY_LEN(h)};
    http_event_t ev;
    memset(&ev, 0x55, sizeof(ev));
    http__event_headers(&ev, &req);
    CHECK_INT(ev.ua.len, HTTP_UA_MAX);
    CHECK(slice_eq_cstr(ev.sec_purpose, "prefetch"));
    CHECK(slice_eq_cstr(ev.purpose, "prefetch2"));
    CHECK(slice_eq_cstr(ev.x_purpose, "preview"));
    CHECK(slice_eq_cstr(ev.x_moz, "prefetch3"));
    CHECK(slice_eq_cstr(ev.accept, "image/*")); /* the first one */
    CHECK(slice_eq_cstr(ev.accept_language, "en"));
    CHECK(slice_eq_cstr(ev.referer, "https://r/"));
    CHECK(slice_eq_cstr(ev.via, "1.1 proxy"));
    CHECK(slice_eq_cstr(ev.from, "bot@example"));
    CHECK(slice_eq_cstr(ev.dnt, "1"));
    CHECK(ev.sec_gpc.p != NULL && ev.sec_gpc.len == 0);
    /* a long classification header is cut */
    http__header_t h2[] = {{SLICE_LIT("Via"), buf_slice(&big)}};
    http__request_t req2 = {.headers = h2, .nheaders = 1};
    http__event_headers(&ev, &req2);
    CHECK_INT(ev.via.len, HTTP_HEADER_MAX);
    CHECK(ev.ua.p == NULL && ev.accept.p == NULL);
    buf_clear(&big);
}

static void test_response(void)
{
    char scratch[HTTP__HEAD_SCRATCH + 64];
    struct iovec iov[2];
    const char *date = "Thu, 03 Dec 2026 10:00:00 GMT";
    http__resp_t r = {.status = 200,
                      .keep_alive = true,
                      .nocache = true,
                      .ctype = "image/gif",
                      .body = slice_make((const char *)http__gif, sizeof(http__gif))};
    int n = http__response(&r, date, scratch, sizeof(scratch), iov);
    CHECK_INT(n, 2);
    buf_t h = BUF_INIT;
    buf_append(&h, iov[0].iov_base, iov[0].iov_len);
    CHECK(slice_starts(buf_slice(&h), "HTTP/1.1 200 OK\r\n"));
    CHECK(strstr(h.p, "Date: Thu, 03 Dec 2026 10:00:00 GMT\r\n"));
    CHECK(strstr(h.p, "Cache-Control: no-store, no-cache, must-revalidate, private\r\n"));
    CHECK(strstr(h.p, "Pragma: no-cache\r\n"));
    CHECK(strstr(h.p, "Expires: 0\r\n"));
    CHECK(strstr(h.p, "Content-Type: image/gif\r\n"));
    CHECK(strstr(h.p, "Content-Length: 43\r\n"));
    CHECK(strstr(h.p, "Connection: keep-alive\r\n\r\n"));
    CHECK_INT(iov[1].iov_len, 43);
    CHECK(!memcmp(iov[1].iov_base, "GIF89a", 6));
    CHECK_INT(http__gif[42], 0x3b);
    /* HEAD: the length, not the body */
    r.head = true;
    r.keep_alive = false;
    n = http__response(&r, date, scratch, sizeof(scratch), iov);
    CHECK_INT(n, 1);
    buf_reset(&h);
    buf_append(&h, iov[0].iov_base, iov[0].iov_len);
    CHECK(strstr(h.p, "Content-Length: 43\r\n"));
    CHECK(strstr(h.p, "Connection: close\r\n\r\n"));
    /* 302 */
    http__resp_t r2 = {.status = 302,
                       .keep_alive = true,
                       .nocache = true,
                       .location = SLICE_LIT("https://example.com/x?y=1")};
    n = http__response(&r2, date, scratch, sizeof(scratch), iov);
    CHECK_INT(n, 1);
    buf_reset(&h);
    buf_append(&h, iov[0].iov_base, iov[0].iov_len);
    CHECK(slice_starts(buf_slice(&h), "HTTP/1.1 302 Found\r\n"));
    CHECK(strstr(h.p, "Location: https://example.com/x?y=1\r\n"));
    CHECK(strstr(h.p, "Content-Length: 0\r\n"));
    /* 204 has no Content-Length */
    http__resp_t r3 = {.status = 204, .keep_alive = true};
    n = http__response(&r3, date, scratch, sizeof(scratch), iov);
    buf_reset(&h);
    buf_append(&h, iov[0].iov_base, iov[0].iov_len);
    CHECK(slice_starts(buf_slice(&h), "HTTP/1.1 204 No Content\r\n"));
    CHECK(!strstr(h.p, "Content-Length"));
    http__resp_t r4 = {.status = 405, .allow = "GET, HEAD"};
    n = http__response(&r4, date, scratch, sizeof(scratch), iov);
    buf_reset(&h);
    buf_append(&h, iov[0].iov_base, iov[0].iov_len);
    CHECK(strstr(h.p, "Allow: GET, HEAD\r\n"));
    CHECK_STR(http__status_text(431), "Request Header Fields Too Large");
    buf_clear(&h);
}

int main(void)
{
    test_route();
    test_url();
    test_cut();
    test_event_headers();
    test_response();
    return test_done();
}
