/*
 * User-Agent matching: every pattern of the rule set is compiled into one Hyperscan
 * database (a multi-pattern automaton), so a User-Agent is scanned once whatever the
 * number of patterns; the match callback keeps the lowest pattern id (the highest
 * priority). Scratch space is per scan: a small pool guarded by a mutex, grown by
 * cloning when several threads scan at once.
 *
 * User-Agents repeat: MPP's bare "Mozilla/5.0", Gmail's proxy, a few browser builds
 * make most of the traffic. Each thread keeps a small direct-mapped cache of recent
 * User-Agents and their match, tagged with the database generation so a reload never
 * serves an old answer. No locks: the cache is thread-local.
 */
#include <hs/hs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify_int.h"

#define SCRATCH_POOL 16

struct classify__ua_db {
    uint64_t gen; /* unique per compiled database, never 0 */
    hs_database_t *db;
    hs_scratch_t *proto;
    pthread_mutex_t mu;
    hs_scratch_t *pool[SCRATCH_POOL];
    size_t npool;
};

static const char *const class_names[] = {
    "mpp", "image_proxy", "prefetch", "scanner", "preview", "library", "headless", "bot", "human",
};

int classify__ua_class_id(const char *name)
{
    for (size_t i = 0; i < TO_ARRAY_LEN(class_names); i++)
        if (!strcmp(class_names[i], name)) return (int)i;
    return -1;
}

const char *classify__ua_class_name(int id)
{
    return id >= 0 && id < CLASSIFY__UA__COUNT ? class_names[id] : "?";
}

int classify__ua_compile(const classify__ua_pat_t *pats, size_t n, classify__ua_db_t **out,
                         char *err, size_t errlen)
{
    *out = NULL;
    static atomic_uint_fast64_t generation;
    classify__ua_db_t *u = xcalloc(1, sizeof(*u));
    u->gen = atomic_fetch_add(&generation, 1) + 1;
    pthread_mutex_init(&u->mu, NULL);
    *out = u;
    if (n == 0) return 0;
    const char **exprs = xmalloc(xmul(n, sizeof(*exprs)));
    unsigned *flags = xmalloc(xmul(n, sizeof(*flags)));
    unsigned *ids = xmalloc(xmul(n, sizeof(*ids)));
    for (size_t i = 0; i < n; i++) {
        exprs[i] = pats[i].regex;
        flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
        ids[i] = (unsigned)i;
    }
    hs_compile_error_t *ce = NULL;
    hs_error_t rc =
        hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &u->db, &ce);
    free(exprs);
    free(flags);
    free(ids);
    if (rc != HS_SUCCESS) {
        int bad = ce ? ce->expression : -1;
        snprintf(err, errlen, "%s: bad pattern: %s",
                 bad >= 0 && (size_t)bad < n ? pats[bad].where : "patterns",
                 ce && ce->message ? ce->message : "compile failed");
        hs_free_compile_error(ce);
        classify__ua_free(u);
        *out = NULL;
        return TO_EPARSE;
    }
    if (hs_alloc_scratch(u->db, &u->proto) != HS_SUCCESS) log_panic("hs_alloc_scratch failed");
    return 0;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
                    void *ctx)
{
    long *best = ctx;
    if (*best < 0 || (long)id < *best) *best = (long)id;
    return 0;
}

#define UAC_SLOTS  256
#define UAC_MAXLEN 232

typedef struct {
    uint64_t gen;
    uint64_t hash;
    int32_t result;
    uint16_t len;
    char ua[UAC_MAXLEN];
} uac_slot_t;

static _Thread_local uac_slot_t uac[UAC_SLOTS];

static uint64_t ua_hash(slice_t s)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ s.len;
    size_t i = 0;
    for (; i + 8 <= s.len; i += 8) {
        uint64_t w;
        memcpy(&w, s.p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, s.p + i, s.len - i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 32);
}

static long scan(classify__ua_db_t *u, slice_t ua)
{
    hs_scratch_t *s = NULL;
    pthread_mutex_lock(&u->mu);
    if (u->npool) s = u->pool[--u->npool];
    pthread_mutex_unlock(&u->mu);
    if (!s && hs_clone_scratch(u->proto, &s) != HS_SUCCESS) log_panic("hs_clone_scratch failed");
    long best = -1;
    hs_scan(u->db, ua.p, (unsigned)TO_MIN(ua.len, 65535u), 0, s, on_match, &best);
    pthread_mutex_lock(&u->mu);
    if (u->npool < SCRATCH_POOL) {
        u->pool[u->npool++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&u->mu);
    if (s) hs_free_scratch(s);
    return best;
}

long classify__ua_match(classify__ua_db_t *u, slice_t ua)
{
    if (!u->db || ua.len == 0) return -1;
    if (ua.len > UAC_MAXLEN) return scan(u, ua);
    uint64_t h = ua_hash(ua);
    uac_slot_t *c = &uac[h & (UAC_SLOTS - 1)];
    if (c->gen == u->gen && c->hash == h && c->len == ua.len && !memcmp(c->ua, ua.p, ua.len))
        return c->result;
    long r = scan(u, ua);
    c->gen = u->gen;
    c->hash = h;
    c->len = (uint16_t)ua.len;
    c->result = (int32_t)r;
    memcpy(c->ua, ua.p, ua.len);
    return r;
}

void classify__ua_free(classify__ua_db_t *u)
{
    if (!u) return;
    for (size_t i = 0; i < u->npool; i++) hs_free_scratch(u->pool[i]);
    if (u->proto) hs_free_scratch(u->proto);
    if (u->db) hs_free_database(u->db);
    pthread_mutex_destroy(&u->mu);
    free(u);
}

/* ---- interned agent names ----------------------------------------------------------- */

static pthread_mutex_t intern_mu = PTHREAD_MUTEX_INITIALIZER;
static char **interned;
static size_t ninterned, capinterned;

const char *classify__intern(const char *name, size_t len)
{
    pthread_mutex_lock(&intern_mu);
    const char *r = NULL;
    for (size_t i = 0; i < ninterned && !r; i++)
        if (strlen(interned[i]) == len && !memcmp(interned[i], name, len)) r = interned[i];
    if (!r) {
        if (ninterned == capinterned) {
            capinterned = capinterned ? capinterned * 2 : 64;
            interned = xrealloc(interned, xmul(capinterned, sizeof(*interned)));
        }
        interned[ninterned] = xstrndup(name, len);
        r = interned[ninterned++];
    }
    pthread_mutex_unlock(&intern_mu);
    return r;
}
