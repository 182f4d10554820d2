/* Message-level rules: bursts, every link, honeypot windows, gateway clicks before
 * a human open, the upgrade by a later human event. */
#include "classify/classify.h"
#include "test.h"

#define B(x) CLASSIFY_BIT(CLASSIFY_R_##x)
enum { H = CLASSIFY_HUMAN, A = CLASSIFY_AUTOMATED };
#define SEC 1000000LL

static classify_msg_event_t ev(int64_t ts_s_ms, char route, uint32_t link, uint8_t verdict, bool dc)
{
    /* ts in milliseconds after sending; seconds_since_send follows from it. */
    classify_msg_event_t e = {0};
    e.ts_us = 1700000000 * SEC + ts_s_ms * 1000;
    e.route = route;
    e.link = link;
    e.seconds_since_send = ts_s_ms / 1000;
    e.verdict = verdict;
    e.datacenter = dc;
    e.agent = verdict == H ? "chrome" : "apple_mpp";
    return e;
}

int main(void)
{
    classify_msg_opts_t o;
    classify_msg_opts_default(&o);
    CHECK_INT(o.burst_window_ms, 1000);
    CHECK_INT(o.honeypot_window_ms, 30000);

    /* Burst: two distinct links within 1 s. */
    classify_msg_event_t b[] = {ev(3600000, 'c', 1, H, false), ev(3600400, 'c', 2, H, false),
                                ev(3700000, 'c', 3, H, false)};
    classify_message(&o, b, 3);
    CHECK_INT(b[0].final_verdict, A);
    CHECK(b[0].final_reasons & B(MSG_CLICK_BURST));
    CHECK_INT(b[1].final_verdict, A);
    CHECK_INT(b[2].final_verdict, H);
    CHECK(!(b[2].final_reasons & B(MSG_CLICK_BURST)));
    /* The same link twice within a second is a double click, not a burst. */
    classify_msg_event_t dbl[] = {ev(3600000, 'c', 1, H, false), ev(3600300, 'c', 1, H, false)};
    classify_message(&o, dbl, 2);
    CHECK_INT(dbl[0].final_verdict, H);
    CHECK_INT(dbl[1].final_verdict, H);
    /* Just outside the window. */
    classify_msg_event_t far[] = {ev(3600000, 'c', 1, H, false), ev(3601001, 'c', 2, H, false)};
    classify_message(&o, far, 2);
    CHECK_INT(far[1].final_verdict, H);
    /* A wider window (configurable). */
    o.burst_window_ms = 2000;
    classify_message(&o, far, 2);
    CHECK_INT(far[1].final_verdict, A);
    o.burst_window_ms = 1000;

    /* Every link clicked (link_count known), first clicks within the gateway window. */
    o.link_count = 3;
    classify_msg_event_t all[] = {ev(3600000, 'c', 1, H, false), ev(3610000, 'c', 2, H, false),
                                  ev(3620000, 'c', 3, H, false)};
    classify_message(&o, all, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(all[i].final_verdict, A);
        CHECK(all[i].final_reasons & B(MSG_ALL_LINKS));
    }
    /* Over a day, a reader may click them all. */
    classify_msg_event_t slow[] = {ev(3600000, 'c', 1, H, false), ev(7200000, 'c', 2, H, false),
                                   ev(9000000, 'c', 3, H, false)};
    classify_message(&o, slow, 3);
    CHECK_INT(slow[2].final_verdict, H);
    /* Not all of them. */
    classify_msg_event_t two[] = {ev(3600000, 'c', 1, H, false), ev(3610000, 'c', 2, H, false)};
    classify_message(&o, two, 2);
    CHECK_INT(two[1].final_verdict, H);
    o.link_count = 0;

    /* Honeypot: events within ±30 s are automated, others not. */
    classify_msg_event_t hp[] = {ev(100000, 'o', 0, H, false), ev(200000, 'c', 1, H, false),
                                 ev(210000, 'h', 0, A, false), ev(235000, 'c', 2, H, false),
                                 ev(500000, 'c', 1, H, false)};
    classify_message(&o, hp, 5);
    CHECK_INT(hp[0].final_verdict, H);
    CHECK_INT(hp[1].final_verdict, A);
    CHECK(hp[1].final_reasons & B(MSG_NEAR_HONEYPOT));
    CHECK(hp[2].final_reasons & B(MSG_NEAR_HONEYPOT));
    CHECK_INT(hp[3].final_verdict, A);
    CHECK_INT(hp[4].final_verdict, H);

    /* A datacenter click in the first minutes, before any human open: automated. */
    classify_msg_event_t gw[] = {ev(20000, 'c', 1, H, true), ev(3600000, 'o', 0, H, false),
                                 ev(3700000, 'c', 1, H, true)};
    classify_message(&o, gw, 3);
    CHECK_INT(gw[0].final_verdict, A);
    CHECK(gw[0].final_reasons & B(MSG_GATEWAY_BEFORE_OPEN));
    CHECK_INT(gw[2].final_verdict, H); /* an hour later: not "first minutes" */
    /* After a human open, a datacenter click soon after sending is not this rule's. */
    classify_msg_event_t gw2[] = {ev(20000, 'o', 0, H, false), ev(60000, 'c', 1, H, true)};
    classify_message(&o, gw2, 2);
    CHECK_INT(gw2[1].final_verdict, H);
    /* An automated open does not count as a human open. */
    classify_msg_event_t gw3[] = {ev(2000, 'o', 0, A, false), ev(60000, 'c', 1, H, true)};
    classify_message(&o, gw3, 2);
    CHECK_INT(gw3[1].final_verdict, A);

    /* Upgrade: an MPP prefetch, then a real open from a mail client. */
    classify_msg_event_t up[] = {ev(3000, 'o', 0, A, false), ev(7200000, 'o', 0, H, false),
                                 ev(7300000, 'o', 0, H, false)};
    classify_message(&o, up, 3);
    CHECK_INT(up[0].final_verdict, A);
    CHECK_INT(up[1].final_verdict, H);
    CHECK(up[1].final_reasons & B(MSG_HUMAN_UPGRADE));
    CHECK(!(up[2].final_reasons & B(MSG_HUMAN_UPGRADE)));
    /* Only a prefetch: no upgrade anywhere. */
    classify_msg_event_t only[] = {ev(3000, 'o', 0, A, false)};
    classify_message(&o, only, 1);
    CHECK_INT(only[0].final_reasons, 0);

    /* Pure: running twice gives the same answer; NULL options mean defaults. */
    classify_message(NULL, b, 3);
    CHECK_INT(b[0].final_verdict, A);
    CHECK_INT(b[2].final_verdict, H);
    classify_message(&o, NULL, 0);
    return test_done();
}
