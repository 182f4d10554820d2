/* Addresses, CIDRs and the X-Forwarded-For walk (v4 and v6). */
#include <arpa/inet.h>

#include "http/http_internal.h"
#include "test.h"

static const char *fmt(const http__addr_t *a)
{
    static char out[64];
    http__addr_format(a, out, sizeof(out));
    return out;
}

static void test_parse(void)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"1.2.3.4", "1.2.3.4"},
        {" 10.0.0.1 ", "10.0.0.1"},
        {"1.2.3.4:8080", "1.2.3.4"},
        {"::1", "::1"},
        {"[::1]", "::1"},
        {"[2001:db8::1]:443", "2001:db8::1"},
        {"::ffff:9.8.7.6", "9.8.7.6"},
        {"2001:DB8::A", "2001:db8::a"},
    };
    for (size_t i = 0; i < TO_ARRAY_LEN(ok); i++) {
        http__addr_t a;
        bool r = http__addr_parse(slice_cstr(ok[i].in), &a);
        CHECK(r);
        if (r) CHECK_STR(fmt(&a), ok[i].out);
    }
    static const char *bad[] = {
        "",       "unknown", "1.2.3",     "1.2.3.4:",       "1.2.3.4:x", "[::1",
        "[::1]x", "[::1]:",  "256.1.1.1", "1.2.3.4:123456", "_hidden",   "::1:80:"};
    for (size_t i = 0; i < TO_ARRAY_LEN(bad); i++) {
        http__addr_t a;
        if (http__addr_parse(slice_cstr(bad[i]), &a)) fprintf(stderr, "accepted %s\n", bad[i]);
        CHECK(!http__addr_parse(slice_cstr(bad[i]), &a));
    }
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
    http__addr_t m;
    CHECK(http__addr_from_sockaddr((struct sockaddr *)&s6, &m));
    CHECK_INT(m.family, 4);
    CHECK_STR(fmt(&m), "127.0.0.1");
}

static bool in_cidr(const char *cidr, const char *addr)
{
    http__cidr_t c;
    http__addr_t a;
    if (!http__cidr_parse(cidr, &c) || !http__addr_parse(slice_cstr(addr), &a)) return false;
    return http__cidr_match(&c, &a);
}

static void test_cidr(void)
{
    CHECK(in_cidr("10.0.0.0/8", "10.255.1.2"));
    CHECK(!in_cidr("10.0.0.0/8", "11.0.0.1"));
    CHECK(in_cidr("10.1.2.3/8", "10.9.9.9")); /* host bits are ignored */
    CHECK(in_cidr("192.168.1.0/25", "192.168.1.127"));
    CHECK(!in_cidr("192.168.1.0/25", "192.168.1.128"));
    CHECK(in_cidr("0.0.0.0/0", "8.8.8.8"));
    CHECK(!in_cidr("0.0.0.0/0", "::1"));
    CHECK(in_cidr("127.0.0.1", "127.0.0.1"));
    CHECK(!in_cidr("127.0.0.1", "127.0.0.2"));
    CHECK(in_cidr("2001:db8::/32", "2001:db8:ffff::1"));
    CHECK(!in_cidr("2001:db8::/32", "2001:db9::1"));
    CHECK(in_cidr("::1/128", "::1"));
    CHECK(in_cidr("fd00::/7", "fdab::1"));
    CHECK(in_cidr("::ffff:10.0.0.0/104", "10.1.1.1")); /* a v4-mapped prefix */
    http__cidr_t c;
    CHECK(!http__cidr_parse("10.0.0.0/33", &c));
    CHECK(!http__cidr_parse("::/129", &c));
    CHECK(!http__cidr_parse("10.0.0.0/", &c));
    CHECK(!http__cidr_parse("10.0.0.0/-1", &c));
    CHECK(!http__cidr_parse("10.0.0.0/8x", &c));
    CHECK(!http__cidr_parse("example.com/8", &c));
    CHECK(!http__cidr_parse("", &c));
}

static const char *client(const char *const *cidrs, size_t n, const char *peer, const char *xff)
{
    http__cidr_t list[8];
    for (size_t i = 0; i < n; i++)
        if (!http__cidr_parse(cidrs[i], &list[i])) return "bad cidr";
    http__addr_t p;
    if (!http__addr_parse(slice_cstr(peer), &p)) return "bad peer";
    http__addr_t c = http__client_addr(list, n, &p, slice_cstr(xff));
    return fmt(&c);
}

static void test_xff(void)
{
    const char *t4[] = {"10.0.0.0/8", "127.0.0.1"};
    const char *t6[] = {"fd00::/8", "::1"};
    /* untrusted peer: XFF ignored */
    CHECK_STR(client(t4, 2, "203.0.113.9", "1.1.1.1"), "203.0.113.9");
    /* trusted peer: right-most untrusted */
    CHECK_STR(client(t4, 2, "127.0.0.1", "1.1.1.1"), "1.1.1.1");
    CHECK_STR(client(t4, 2, "127.0.0.1", "6.6.6.6, 1.1.1.1, 10.0.0.5"), "1.1.1.1");
    CHECK_STR(client(t4, 2, "10.1.1.1", "6.6.6.6,1.1.1.1,10.0.0.5,10.0.0.6"), "1.1.1.1");
    /* spoofed left part does not matter */
    CHECK_STR(client(t4, 2, "10.1.1.1", "10.0.0.9, 2.2.2.2"), "2.2.2.2");
    /* all trusted: the left-most */
    CHECK_STR(client(t4, 2, "10.1.1.1", "10.0.0.9, 10.0.0.8"), "10.0.0.9");
    /* empty or missing: the peer */
    CHECK_STR(client(t4, 2, "10.1.1.1", ""), "10.1.1.1");
    CHECK_STR(client(t4, 2, "10.1.1.1", " , "), "10.1.1.1");
    /* junk ends the walk at the last address seen */
    CHECK_STR(client(t4, 2, "10.1.1.1", "1.1.1.1, unknown, 10.0.0.3"), "10.0.0.3");
    CHECK_STR(client(t4, 2, "10.1.1.1", "garbage"), "10.1.1.1");
    /* ports and empty items */
    CHECK_STR(client(t4, 2, "10.1.1.1", "5.5.5.5:1234,,10.0.0.2:80"), "5.5.5.5");
    /* no trusted list: the peer */
    CHECK_STR(client(NULL, 0, "10.1.1.1", "1.1.1.1"), "10.1.1.1");
    /* IPv6 */
    CHECK_STR(client(t6, 2, "::1", "2001:db8::7, fd00::2"), "2001:db8::7");
    CHECK_STR(client(t6, 2, "::1", "[2001:db8::8]:443"), "2001:db8::8");
    CHECK_STR(client(t6, 2, "2001:db8::1", "1.1.1.1"), "2001:db8::1");
    CHECK_STR(client(t6, 2, "fd12::1", "9.9.9.9, fd00::5, ::1"), "9.9.9.9");
    /* mixed lists */
    const char *tm[] = {"127.0.0.0/8", "::1/128"};
    CHECK_STR(client(tm, 2, "::1", "198.51.100.1, 127.0.0.2"), "198.51.100.1");
    CHECK_STR(client(tm, 2, "::ffff:127.0.0.1", "198.51.100.2"), "198.51.100.2");
}

int main(void)
{
    test_parse();
    test_cidr();
    test_xff();
    return test_done();
}
