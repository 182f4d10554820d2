/* Address parsing, CIDR parsing and the flattened interval tables. */
#include <time.h>

#include "classify/classify_int.h"
#include "test.h"

static classify__u128 v4(const char *s)
{
    classify__ip_t ip;
    CHECK(classify__ip_parse(slice_cstr(s), &ip));
    CHECK(!ip.v6);
    return ip.v4;
}

static classify__u128 v6(const char *s)
{
    classify__ip_t ip;
    CHECK(classify__ip_parse(slice_cstr(s), &ip));
    CHECK(ip.v6);
    return ip.a6;
}

static void add(classify__ranges_t *r4, classify__ranges_t *r6, const char *cidr, int set)
{
    bool is6;
    classify__u128 lo, hi;
    unsigned plen;
    CHECK(classify__cidr_parse(slice_cstr(cidr), &is6, &lo, &hi, &plen));
    classify__ranges_add(is6 ? r6 : r4, lo, hi, CLASSIFY__SETBIT(set));
}

int main(void)
{
    classify__ip_t ip;
    CHECK(classify__ip_parse(SLICE_LIT("::ffff:192.0.2.1"), &ip) && !ip.v6 && ip.v4 == 0xc0000201u);
    CHECK(!classify__ip_parse(SLICE_LIT("300.1.1.1"), &ip));
    CHECK(!classify__ip_parse(SLICE_LIT(""), &ip));
    CHECK(!classify__ip_parse(SLICE_LIT("1.2.3.4 "), &ip));
    CHECK(!classify__ip_parse(SLICE_LIT("2001:db8::1::2"), &ip));

    bool is6;
    classify__u128 lo, hi;
    unsigned plen;
    CHECK(classify__cidr_parse(SLICE_LIT("10.1.2.3/8"), &is6, &lo, &hi, &plen));
    CHECK(!is6 && lo == 0x0a000000u && hi == 0x0affffffu && plen == 8);
    CHECK(classify__cidr_parse(SLICE_LIT("2001:db8::/32"), &is6, &lo, &hi, &plen) && is6);
    CHECK(lo == v6("2001:db8::") && hi == v6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
    CHECK(classify__cidr_parse(SLICE_LIT("192.0.2.7"), &is6, &lo, &hi, &plen) && lo == hi &&
          plen == 32);
    CHECK(!classify__cidr_parse(SLICE_LIT("10.0.0.0/33"), &is6, &lo, &hi, &plen));
    CHECK(!classify__cidr_parse(SLICE_LIT("10.0.0.0/"), &is6, &lo, &hi, &plen));
    CHECK(!classify__cidr_parse(SLICE_LIT("10.0.0.0/x"), &is6, &lo, &hi, &plen));
    CHECK(classify__cidr_parse(SLICE_LIT("0.0.0.0/0"), &is6, &lo, &hi, &plen) && lo == 0 &&
          hi == 0xffffffffu);
    CHECK(classify__cidr_parse(SLICE_LIT("::/0"), &is6, &lo, &hi, &plen) && hi == ~lo);

    /* Nested and overlapping ranges of several sets; every covering set is reported. */
    classify__ranges_t r4 = {0}, r6 = {0};
    add(&r4, &r6, "66.249.64.0/19", CLASSIFY__SET_GOOGLE);
    add(&r4, &r6, "66.249.64.0/27", CLASSIFY__SET_GOOGLE_CRAWLER);
    add(&r4, &r6, "66.249.64.0/27", CLASSIFY__SET_GOOGLE_CRAWLER); /* duplicates are fine */
    add(&r4, &r6, "10.0.0.0/8", CLASSIFY__SET_AWS);
    add(&r4, &r6, "10.128.0.0/9", CLASSIFY__SET_GOOGLE_CLOUD);
    add(&r4, &r6, "255.255.255.0/24", CLASSIFY__SET_BING);
    add(&r4, &r6, "2606:54c0::/35", CLASSIFY__SET_APPLE_RELAY);
    add(&r4, &r6, "ffff::/16", CLASSIFY__SET_AWS);
    classify__iptab_t t4, t6;
    classify__iptab_build(&t4, &r4);
    classify__iptab_build(&t6, &r6);
    uint32_t G = CLASSIFY__SETBIT(CLASSIFY__SET_GOOGLE),
             C = CLASSIFY__SETBIT(CLASSIFY__SET_GOOGLE_CRAWLER),
             A = CLASSIFY__SETBIT(CLASSIFY__SET_AWS),
             GC = CLASSIFY__SETBIT(CLASSIFY__SET_GOOGLE_CLOUD),
             B = CLASSIFY__SETBIT(CLASSIFY__SET_BING),
             AP = CLASSIFY__SETBIT(CLASSIFY__SET_APPLE_RELAY);
    CHECK_INT(classify__iptab_lookup(&t4, v4("66.249.64.5")), G | C);
    CHECK_INT(classify__iptab_lookup(&t4, v4("66.249.64.31")), G | C);
    CHECK_INT(classify__iptab_lookup(&t4, v4("66.249.64.32")), G);
    CHECK_INT(classify__iptab_lookup(&t4, v4("66.249.95.255")), G);
    CHECK_INT(classify__iptab_lookup(&t4, v4("66.249.96.0")), 0);
    CHECK_INT(classify__iptab_lookup(&t4, v4("66.249.63.255")), 0);
    CHECK_INT(classify__iptab_lookup(&t4, v4("10.127.255.255")), A);
    CHECK_INT(classify__iptab_lookup(&t4, v4("10.128.0.0")), A | GC);
    CHECK_INT(classify__iptab_lookup(&t4, v4("10.255.255.255")), A | GC);
    CHECK_INT(classify__iptab_lookup(&t4, v4("11.0.0.0")), 0);
    CHECK_INT(classify__iptab_lookup(&t4, v4("0.0.0.0")), 0);
    CHECK_INT(classify__iptab_lookup(&t4, v4("255.255.255.255")), B);
    CHECK_INT(classify__iptab_lookup(&t6, v6("2606:54c0::1")), AP);
    CHECK_INT(classify__iptab_lookup(&t6, v6("2606:54c0:1fff:ffff::1")), AP);
    CHECK_INT(classify__iptab_lookup(&t6, v6("2606:54c0:2000::")), 0);
    CHECK_INT(classify__iptab_lookup(&t6, v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), A);
    CHECK_INT(classify__iptab_lookup(&t6, v6("::")), 0);
    classify__iptab_clear(&t4);
    classify__iptab_clear(&t6);

    /* An empty table answers 0 everywhere. */
    classify__ranges_t e4 = {0};
    classify__iptab_build(&t4, &e4);
    CHECK_INT(classify__iptab_lookup(&t4, v4("1.2.3.4")), 0);
    classify__iptab_clear(&t4);

    /* Brute force against a linear scan of random ranges. */
    classify__ranges_t rr = {0};
    classify__range_t ref[300];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 300; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned pl = 8 + (unsigned)(x % 25);
        uint32_t base = (uint32_t)(x >> 20) & (pl == 32 ? 0xffffffffu : ~((1u << (32 - pl)) - 1));
        uint32_t end = base | (pl == 32 ? 0 : ((1u << (32 - pl)) - 1));
        ref[i] = (classify__range_t){base, end, CLASSIFY__SETBIT(i % 10)};
        classify__ranges_add(&rr, base, end, ref[i].bit);
    }
    classify__iptab_build(&t4, &rr);
    int bad = 0;
    for (int k = 0; k < 20000; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t a = (uint32_t)x;
        if (k % 3 == 0) a = (uint32_t)ref[k % 300].lo + (k % 2);
        uint32_t want = 0;
        for (int i = 0; i < 300; i++)
            if (a >= ref[i].lo && a <= ref[i].hi) want |= ref[i].bit;
        if (classify__iptab_lookup(&t4, a) != want) bad++;
    }
    CHECK_INT(bad, 0);
    classify__iptab_clear(&t4);

    /* Scale: 60,000 v6 ranges (Apple alone publishes about 10,000) build in a few
     * milliseconds; printed, not asserted (machines differ). */
    classify__ranges_t big = {0};
    for (int i = 0; i < 60000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        classify__u128 base = ((classify__u128)x << 64) | (x * 0x9e3779b97f4a7c15ull);
        unsigned pl = 24 + (unsigned)(x % 40);
        classify__u128 host = (((classify__u128)1) << (128 - pl)) - 1;
        classify__ranges_add(&big, base & ~host, (base & ~host) | host, CLASSIFY__SETBIT(i % 11));
    }
    struct timespec a0, a1;
    clock_gettime(CLOCK_MONOTONIC, &a0);
    classify__iptab_build(&t6, &big);
    clock_gettime(CLOCK_MONOTONIC, &a1);
    printf("60000 v6 ranges -> %zu intervals in %.2f ms\n", t6.n,
           (double)(a1.tv_sec - a0.tv_sec) * 1e3 + (double)(a1.tv_nsec - a0.tv_nsec) / 1e6);
    CHECK(t6.n > 60000);
    classify__iptab_clear(&t6);
    return test_done();
}
