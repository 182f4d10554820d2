/*
 * Fuzz target: MIME + HTML rewriting. For any input the output is the input unchanged
 * or a message whose bytes outside rewritten attributes are the input's and whose
 * tokens open and name the links that were there (rewrite_check.h); rewriting the
 * output again changes nothing (unless a link was left alone for the 998-octet line
 * limit, which a second pass may then find room for).
 */
#include <stdio.h>
#include <stdlib.h>

#include "../unit/rewrite/rw_fixture.h"
#include "rewrite_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rwf_t f;
    static bool ready;
    if (!ready) {
        log_set_level(LOG_FATAL);
        const char *const sets[] = {"wrap_text_links", "on", "max_mime_depth", "8", NULL};
        if (rwf_init(&f, NULL, sets) != 0) abort();
        ready = true;
    }
    slice_t in = slice_make((const char *)data, size);
    slice_t rcpt = SLICE_LIT("someone@example.org");
    rewrite_env_t env = {.rcpt = &rcpt, .nrcpt = 1, .sent_at = 1764756000};
    buf_t out = BUF_INIT;
    rewrite_result_t res;
    if (rewrite_message(f.rw, in, &env, &out, &res) != 0) abort();
    slice_t got = res.changed ? buf_slice(&out) : in;
    rewrite__mime_limits_t lim = {8, 1 << 20, "X-Campaign-ID"};
    rw_check_t c = {.ring = f.ring, .tracking_url = RWF_TRACKING};
    if (!rewrite_check(&c, &lim, in, got)) {
        fprintf(stderr, "rewrite property violated: %s\n", c.why);
        abort();
    }
    if (res.changed && c.clicks != res.links) {
        fprintf(stderr, "rewrite property violated: %u clicks found, %u sealed\n", c.clicks,
                res.links);
        abort();
    }
    /* Rewriting again adds nothing, except where a link was left alone for the line
     * limit: planning bounds token lengths from above, the second pass sees real ones. */
    if (res.changed && res.links_long == 0) {
        buf_t again = BUF_INIT;
        rewrite_result_t r2;
        if (rewrite_message(f.rw, got, &env, &again, &r2) != 0 || r2.changed) {
            fprintf(stderr, "rewrite property violated: a second rewrite changed the output\n");
            if (getenv("RWC_DEBUG")) {
                (void)write_file_atomic("/tmp/rwc-first.eml", got.p, got.len, 0600);
                (void)write_file_atomic("/tmp/rwc-second.eml", again.p, again.len, 0600);
            }
            abort();
        }
        buf_clear(&again);
    }
    buf_clear(&out);
    return 0;
}
