#include "util/util.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

/*
 * rand_system serves small requests (token nonces: 16 bytes each, tens per message)
 * from a per-thread pool filled by randombytes_buf 4 KiB at a time, so a nonce costs a
 * copy instead of a getrandom(2) call. Served bytes are wiped from the pool. A fork
 * bumps a generation counter (pthread_atfork), and a thread whose pool predates the
 * fork throws it away: parent and child never hand out the same bytes.
 */
#define POOL_SIZE  4096
#define POOL_SMALL 64 /* larger requests go to randombytes_buf directly */

static _Atomic unsigned fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add(&fork_gen, 1);
}

static void atfork_init(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

static _Thread_local struct {
    uint8_t b[POOL_SIZE];
    size_t pos; /* bytes before pos are used (and wiped) */
    unsigned gen;
    bool filled;
} pool;

static void system_fill(util_rand_t *r, void *out, size_t n)
{
    (void)r;
    if (n > POOL_SMALL) {
        randombytes_buf(out, n);
        return;
    }
    pthread_once(&atfork_once, atfork_init);
    unsigned gen = atomic_load_explicit(&fork_gen, memory_order_relaxed);
    if (!pool.filled || pool.gen != gen || POOL_SIZE - pool.pos < n) {
        randombytes_buf(pool.b, POOL_SIZE);
        pool.pos = 0;
        pool.gen = gen;
        pool.filled = true;
    }
    memcpy(out, pool.b + pool.pos, n);
    sodium_memzero(pool.b + pool.pos, n);
    pool.pos += n;
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
