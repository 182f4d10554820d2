/* Spool records: an event survives encode/decode field for field; a record cut short
 * is "incomplete", a damaged one is "bad", and neither is ever taken for an event. */
#include "store/store_int.h"
#include "test.h"

static http_event_t sample(void)
{
    http_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.ts_us = 1796292000123456LL;
    ev.route = 'c';
    ev.head = true;
    ev.tok.version = 1;
    ev.tok.key_id = 513;
    ev.tok.account = 7;
    ev.tok.campaign = 1ULL << 40;
    ev.tok.message = 99;
    ev.tok.recipient = 3;
    ev.tok.link = 12;
    ev.tok.sent_at = 1796290000;
    ev.tok.provider = 7;
    ev.tok.url = SLICE_LIT("https://clinic.example/portal?a=1&b=2");
    ev.ip = SLICE_LIT("2001:db8::7");
    ev.ua = SLICE_LIT("Mozilla/5.0 (X11; Linux x86_64)");
    ev.accept = slice_make("", 0); /* present but empty: not the same as absent */
    ev.dnt = SLICE_LIT("1");
    return ev;
}

int main(void)
{
    http_event_t ev = sample(), back;
    buf_t b = BUF_INIT;
    store__spool_encode(&b, &ev);
    store__spool_encode(&b, &ev);
    bool bad;
    size_t r = store__spool_decode((const uint8_t *)b.p, b.len, &back, &bad);
    CHECK(r > 0 && r * 2 == b.len && !bad);
    CHECK(back.ts_us == ev.ts_us && back.route == 'c' && back.head);
    CHECK(back.tok.key_id == 513 && back.tok.account == 7 && back.tok.campaign == 1ULL << 40);
    CHECK(back.tok.message == 99 && back.tok.recipient == 3 && back.tok.link == 12);
    CHECK(back.tok.sent_at == 1796290000 && back.tok.provider == 7 && back.tok.version == 1);
    CHECK(slice_eq(back.tok.url, ev.tok.url));
    CHECK(slice_eq(back.ip, ev.ip) && slice_eq(back.ua, ev.ua));
    CHECK(back.accept.p != NULL && back.accept.len == 0);
    CHECK(back.referer.p == NULL); /* absent stays absent */
    CHECK(slice_eq(back.dnt, SLICE_LIT("1")));
    /* Every cut of the first record is incomplete, never an event, never "bad". */
    for (size_t n = 0; n < r; n++) {
        CHECK_INT(store__spool_decode((const uint8_t *)b.p, n, &back, &bad), 0);
        CHECK(!bad);
    }
    /* Any flipped byte of the payload fails the checksum. */
    for (size_t i = 8; i < r; i += 7) {
        buf_t c = BUF_INIT;
        buf_append(&c, b.p, r);
        c.p[i] ^= 0x40;
        CHECK_INT(store__spool_decode((const uint8_t *)c.p, c.len, &back, &bad), 0);
        CHECK(bad);
        buf_clear(&c);
    }
    /* An absurd length is bad at once, without waiting for bytes that never come. */
    uint8_t huge[8] = {0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0};
    CHECK_INT(store__spool_decode(huge, sizeof(huge), &back, &bad), 0);
    CHECK(bad);
    /* Over-long strings are cut at their bounds when encoded. */
    char ua[HTTP_UA_MAX * 2];
    memset(ua, 'u', sizeof(ua));
    http_event_t big = sample();
    big.ua = slice_make(ua, sizeof(ua));
    buf_reset(&b);
    store__spool_encode(&b, &big);
    CHECK(store__spool_decode((const uint8_t *)b.p, b.len, &back, &bad) == b.len);
    CHECK_INT(back.ua.len, HTTP_UA_MAX);
    buf_clear(&b);
    return test_done();
}
