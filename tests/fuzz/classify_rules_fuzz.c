/* Rule-file parsers: the first byte picks the format (cidr, google_json, aws_json, a
 * User-Agent pattern file, the operator file, and the vendor feeds rules update reads:
 * Microsoft 365 endpoints, Azure service tags, CSV); the rest is the file. Property: every
 * parse either succeeds with at least one entry or fails with an explanation. */
#include <stdlib.h>
#include <string.h>

#include "classify/classify_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int kind = data[0] % 8;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char err[512] = "";
    size_t count = 0;
    int rc;
    if (kind < 3) {
        static const char *const fmts[] = {"cidr", "google_json", "aws_json"};
        classify__ranges_t r4 = {0}, r6 = {0};
        rc = classify__parse_ranges(fmts[kind], text, len, CLASSIFY__SETBIT(CLASSIFY__SET_AWS), &r4,
                                    &r6, &count, "fuzz", err, sizeof(err));
        if (rc == 0) {
            if (count == 0 || r4.n + r6.n != count) abort();
            classify__iptab_t t4, t6;
            classify__iptab_build(&t4, &r4);
            classify__iptab_build(&t6, &r6);
            /* Every range's first address is in the set. */
            if (t4.n && classify__iptab_lookup(&t4, 0) > CLASSIFY__SETBIT(CLASSIFY__SET_AWS))
                abort();
            classify__iptab_clear(&t4);
            classify__iptab_clear(&t6);
        } else {
            free(r4.v);
            free(r6.v);
        }
    } else if (kind < 5) {
        rc = classify__parse_rule_text(kind == 3 ? 1 : 0, text, len, &count, err, sizeof(err));
    } else {
        static const char *const feeds[] = {"m365_json/v4", "azure_tags_json:EOPExtPublished",
                                            "cidr/v6"};
        buf_t out = BUF_INIT;
        rc = classify__parse_feed(feeds[kind - 5], text, len, &out, &count, "fuzz", err,
                                  sizeof(err));
        /* What a feed yields loads back as a cidr file with the same count. */
        if (rc == 0) {
            classify__ranges_t r4 = {0}, r6 = {0};
            size_t again = 0;
            char e2[256];
            if (classify__parse_ranges("cidr", out.p, out.len, 1, &r4, &r6, &again, "fuzz", e2,
                                       sizeof(e2)) != 0 ||
                again != count)
                abort();
            free(r4.v);
            free(r6.v);
        }
        buf_clear(&out);
    }
    if (rc != 0 && err[0] == 0) abort();
    return 0;
}
