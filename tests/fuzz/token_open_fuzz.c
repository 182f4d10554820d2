/* token_open on arbitrary text never crashes, and whatever it opens re-seals to a
 * token that opens to the same fields: open(seal(x)) == x. */
#include <string.h>

#include "token/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static token_ring_t *ring;
    static const uint8_t key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    if (!ring) ring = token_ring_from_key(1, key);
    buf_t url = BUF_INIT, out = BUF_INIT, url2 = BUF_INIT;
    token_fields_t f, g;
    if (token_open(ring, slice_make((const char *)data, size), &f, &url) == 0) __builtin_trap();
    /* The input as field values: seal, open, compare. */
    token_fields_t x = {0};
    uint64_t v[6] = {0};
    for (size_t i = 0; i < 6 && i * 8 < size; i++)
        memcpy(&v[i], data + i * 8, TO_MIN(8, size - i * 8));
    x.account = v[0];
    x.campaign = v[1];
    x.message = v[2];
    x.recipient = v[3];
    x.link = (uint32_t)v[4];
    x.sent_at = (int64_t)(v[5] >> 1);
    x.provider = size ? data[0] : 0;
    x.url = size > 48 ? slice_make((const char *)data + 48, TO_MIN(size - 48, TOKEN_URL_MAX))
                      : SLICE_NULL;
    util_rand_t rnd = rand_fixed(size);
    if (token_seal(ring, &x, &rnd, &out) != 0) __builtin_trap();
    if (token_open(ring, buf_slice(&out), &g, &url2) != 0) __builtin_trap();
    if (g.account != x.account || g.campaign != x.campaign || g.message != x.message ||
        g.recipient != x.recipient || g.link != x.link || g.sent_at != x.sent_at ||
        g.provider != x.provider || !slice_eq(g.url, x.url.p ? x.url : slice_make("", 0)))
        __builtin_trap();
    buf_clear(&url);
    buf_clear(&out);
    buf_clear(&url2);
    return 0;
}
