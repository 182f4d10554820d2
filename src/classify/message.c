/*
 * Message-level evidence (classify.h): a pure function of one message's events.
 * Order: honeypot windows, click bursts, every link clicked, gateway clicks before
 * any human open, then the upgrade by a later human event.
 */
#include <stdlib.h>
#include <string.h>

#include "classify/classify_int.h"

#define R(x) CLASSIFY_BIT(CLASSIFY_R_##x)

static void mark(classify_msg_event_t *e, uint64_t reason)
{
    e->final_verdict = CLASSIFY_AUTOMATED;
    e->final_reasons |= reason;
}

void classify_message(const classify_msg_opts_t *o, classify_msg_event_t *evs, size_t n)
{
    classify_msg_opts_t def;
    if (!o) {
        classify_msg_opts_default(&def);
        o = &def;
    }
    for (size_t i = 0; i < n; i++) {
        evs[i].final_verdict = evs[i].verdict;
        evs[i].final_reasons = 0;
    }
    /* Honeypot: nobody clicks a link they cannot see; what came with it is the same
     * machine. */
    const int64_t hw = o->honeypot_window_ms * 1000;
    for (size_t h = 0; h < n; h++) {
        if (evs[h].route != 'h') continue;
        for (size_t i = 0; i < n; i++) {
            int64_t d = evs[i].ts_us - evs[h].ts_us;
            if (d >= -hw && d <= hw) mark(&evs[i], R(MSG_NEAR_HONEYPOT));
        }
    }
    /* Click burst: two distinct links within the window. */
    const int64_t bw = o->burst_window_ms * 1000;
    for (size_t i = 0; i < n; i++) {
        if (evs[i].route != 'c') continue;
        for (size_t j = i + 1; j < n && evs[j].ts_us - evs[i].ts_us <= bw; j++) {
            if (evs[j].route != 'c' || evs[j].link == evs[i].link) continue;
            for (size_t k = i; k <= j; k++)
                if (evs[k].route == 'c') mark(&evs[k], R(MSG_CLICK_BURST));
        }
    }
    /* Every tracked link clicked (two or more links), the first clicks of all of them
     * within the gateway window: a scanner walking the message. */
    if (o->link_count >= 2 && o->link_count <= 4096) {
        uint32_t nl = o->link_count;
        size_t *first = xmalloc(xmul(nl, sizeof(*first)));
        for (uint32_t l = 0; l < nl; l++) first[l] = SIZE_MAX;
        uint32_t seen = 0;
        for (size_t i = 0; i < n; i++) {
            if (evs[i].route != 'c' || evs[i].link == 0 || evs[i].link > nl) continue;
            if (first[evs[i].link - 1] == SIZE_MAX) {
                first[evs[i].link - 1] = i;
                seen++;
            }
        }
        if (seen == nl) {
            int64_t lo = INT64_MAX, hi = INT64_MIN;
            for (uint32_t l = 0; l < nl; l++) {
                lo = TO_MIN(lo, evs[first[l]].ts_us);
                hi = TO_MAX(hi, evs[first[l]].ts_us);
            }
            if (hi - lo <= o->gateway_window_s * 1000000)
                for (uint32_t l = 0; l < nl; l++) mark(&evs[first[l]], R(MSG_ALL_LINKS));
        }
        free(first);
    }
    /* A click from gateway or cloud space soon after sending, before any human open. */
    bool human_open = false;
    for (size_t i = 0; i < n; i++) {
        classify_msg_event_t *e = &evs[i];
        if (e->route == 'c' && e->datacenter && !human_open && e->seconds_since_send >= 0 &&
            e->seconds_since_send <= o->gateway_window_s)
            mark(e, R(MSG_GATEWAY_BEFORE_OPEN));
        if (e->route == 'o' && e->final_verdict == CLASSIFY_HUMAN) human_open = true;
    }
    /* A person after the machines: the message counts as opened by a person. */
    bool automated_before = false;
    for (size_t i = 0; i < n; i++) {
        if (evs[i].final_verdict == CLASSIFY_AUTOMATED) {
            automated_before = true;
        } else if (automated_before) {
            evs[i].final_reasons |= R(MSG_HUMAN_UPGRADE);
            break;
        }
    }
}
