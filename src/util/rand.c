#include "util/util.h"

#include <sodium.h>
#include <string.h>

static void system_fill(util_rand_t *r, void *out, size_t n)
{
    (void)r;
    randombytes_buf(out, n);
}

/* ChaCha20 keystream from the seed; each fill uses a fresh nonce (the counter). */
static void fixed_fill(util_rand_t *r, void *out, size_t n)
{
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    uint64_t c = r->counter++;
    memcpy(nonce, &c, sizeof(c) < sizeof(nonce) ? sizeof(c) : sizeof(nonce));
    crypto_stream_chacha20(out, n, nonce, r->seed);
}

util_rand_t rand_system = {system_fill, {0}, 0};

util_rand_t rand_fixed(uint64_t seed)
{
    util_rand_t r = {fixed_fill, {0}, 0};
    memcpy(r.seed, &seed, sizeof(seed));
    return r;
}

void rand_fill(util_rand_t *r, void *out, size_t n)
{
    r->fill(r, out, n);
}
