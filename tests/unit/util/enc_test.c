#include "test.h"
#include "util/util.h"

int main(void)
{
    /* base64url round trips at every length modulo 3, and rejects what it must. */
    uint8_t in[64], out[128];
    for (int i = 0; i < 64; i++) in[i] = (uint8_t)(i * 37 + 5);
    for (size_t n = 0; n <= 64; n++) {
        buf_t b = BUF_INIT;
        b64url_encode(&b, in, n);
        CHECK(strchr(buf_cstr(&b), '=') == NULL && strchr(buf_cstr(&b), '+') == NULL);
        size_t got = 0;
        CHECK(b64url_decode(buf_slice(&b), out, &got));
        CHECK_INT(got, n);
        CHECK(memcmp(in, out, n) == 0);
        buf_clear(&b);
    }
    size_t n;
    CHECK(!b64url_decode(SLICE_LIT("A"), out, &n));
    CHECK(!b64url_decode(SLICE_LIT("AB=="), out, &n));
    CHECK(!b64url_decode(SLICE_LIT("A+B/"), out, &n));
    CHECK(b64url_decode(SLICE_LIT("AA"), out, &n) && n == 1 && out[0] == 0);
    CHECK(!b64url_decode(SLICE_LIT("AB"), out, &n)); /* non-zero trailing bits */
    /* varints */
    uint64_t vals[] = {0, 1, 127, 128, 300, 16384, UINT32_MAX, UINT64_MAX};
    for (size_t k = 0; k < TO_ARRAY_LEN(vals); k++) {
        uint8_t v[10];
        size_t w = varint_put(v, vals[k]);
        uint64_t back;
        CHECK_INT(varint_get(v, w, &back), w);
        CHECK(back == vals[k]);
        CHECK_INT(varint_get(v, w - 1, &back), 0); /* truncated */
    }
    uint8_t overlong[] = {0x80, 0x00};
    uint64_t back;
    CHECK_INT(varint_get(overlong, 2, &back), 0);
    /* JSON strings escape controls and quotes and replace invalid UTF-8. */
    buf_t j = BUF_INIT;
    json_str(&j, SLICE_LIT("a\"b\\c\n\x01\xc3\xa9\xff"));
    CHECK_STR(buf_cstr(&j), "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\xef\xbf\xbd\"");
    buf_clear(&j);
    /* time parsing */
    int64_t t;
    CHECK(time_parse_us(SLICE_LIT("1970-01-01T00:00:00Z"), &t) && t == 0);
    CHECK(time_parse_us(SLICE_LIT("2026-12-03T10:00:00.5Z"), &t) && t == 1796292000500000LL);
    CHECK(time_parse_us(SLICE_LIT("2026-12-03T11:00:00+01:00"), &t) && t == 1796292000000000LL);
    CHECK(time_parse_us(SLICE_LIT("1796292000"), &t) && t == 1796292000000000LL);
    CHECK(time_parse_us(SLICE_LIT("1796292000.25"), &t) && t == 1796292000250000LL);
    CHECK(!time_parse_us(SLICE_LIT("2026-13-03T10:00:00Z"), &t));
    CHECK(!time_parse_us(SLICE_LIT("yesterday"), &t));
    char ts[32];
    time_format_us(1796292000500000LL, ts);
    CHECK_STR(ts, "2026-12-03T10:00:00.500000Z");
    /* the fixed random source is deterministic and the stream advances */
    util_rand_t r1 = rand_fixed(7), r2 = rand_fixed(7);
    uint8_t a[16], b2[16], c[16];
    rand_fill(&r1, a, 16);
    rand_fill(&r2, b2, 16);
    rand_fill(&r1, c, 16);
    CHECK(memcmp(a, b2, 16) == 0);
    CHECK(memcmp(a, c, 16) != 0);
    util_clock_t fc = clock_fixed(42);
    CHECK_INT(clock_now_us(&fc), 42);
    return test_done();
}
