/*
 * mx: the mailbox provider of a recipient domain, from its MX records, for the token
 * and the store (classify uses it as evidence: a message behind Proofpoint expects
 * Proofpoint's scanner).
 *
 * - Well-known consumer domains answer without DNS (gmail.com, icloud.com, outlook.com,
 *   yahoo.com, ...). Otherwise the MX set is resolved by a small UDP DNS client of our
 *   own against one resolver (`dns_server`, default the first nameserver of
 *   /etc/resolv.conf), and the hosts are mapped in preference order (mx_provider_from_hosts).
 * - A lookup never takes longer than `mx_budget_ms` in all, each attempt at most
 *   `mx_timeout_ms`: mail is never held up by DNS. Failure or timeout answers
 *   TOKEN_PROVIDER_UNKNOWN (0); a domain with no MX answers OTHER.
 * - Answers are cached (the records' TTL, clamped to mx_cache_ttl; failures for
 *   mx_negative_ttl) in a fixed-size table.
 *
 * Thread-safety: an mx_resolver_t may be shared by threads (the cache has a lock; queries
 * run outside it). mx_provider_lookup has the shape of rewrite_provider_fn.
 * Errors: mx_resolver_new fails only on a bad setting (err filled).
 */
#ifndef TO_REWRITE_MX_H
#define TO_REWRITE_MX_H

#include "token/token.h"
#include "util/util.h"

typedef struct mx_resolver mx_resolver_t;

typedef struct {
    const char *dns_server;  /* "IP", "IP:PORT" or "[IPv6]:PORT"; NULL: /etc/resolv.conf */
    const char *resolv_conf; /* NULL: /etc/resolv.conf */
    int64_t timeout_ms;      /* one attempt; default 400 */
    int64_t budget_ms;       /* a whole lookup; default 1000 */
    int64_t cache_ttl_s;     /* longest a positive answer is kept; default 3600 */
    int64_t negative_ttl_s;  /* failures and timeouts; default 300 */
    size_t cache_size;       /* entries; default 8192 */
    util_clock_t *clock;     /* default clock_system (cache expiry) */
} mx_opts_t;

void mx_opts_default(mx_opts_t *o);
/* Reads mx_cfg values (the returned strings belong to c). */
void mx_opts_from_config(const config_t *c, mx_opts_t *o);
extern const cfg_def_t mx_cfg[];

int mx_resolver_new(const mx_opts_t *o, mx_resolver_t **out, char *err, size_t errlen);
void mx_resolver_free(mx_resolver_t *r);

/* The provider code of domain (token_provider_t); ctx is an mx_resolver_t *. */
uint8_t mx_provider_lookup(void *ctx, slice_t domain);

/* Counters (monotonic): lookups, cache hits, DNS queries sent, timeouts/failures. */
typedef struct {
    uint64_t lookups, cache_hits, queries, failures;
} mx_stats_t;
void mx_stats(mx_resolver_t *r, mx_stats_t *out);

/* Provider of domain from a consumer-domain table, or TOKEN_PROVIDER_UNKNOWN. */
uint8_t mx_provider_from_domain(slice_t domain);
/* Provider from MX host names in preference order (first known host wins; OTHER). */
uint8_t mx_provider_from_hosts(const char *const *hosts, size_t n);

/* ---- DNS wire format (exposed for tests and fuzzing) ------------------------------ */

#define MX_MAX_HOSTS 16

typedef struct {
    int rcode;      /* 0 NOERROR, 3 NXDOMAIN, ... */
    bool truncated; /* TC bit */
    size_t n;       /* MX records kept (sorted by preference) */
    uint16_t pref[MX_MAX_HOSTS];
    char host[MX_MAX_HOSTS][256]; /* lowercased, no trailing dot */
    uint32_t min_ttl;             /* smallest TTL among them */
} mx_answer_t;

/* Builds an MX query for name (already validated) with id into out (>= 512 bytes);
 * returns its length or 0 when the name does not fit. */
size_t mx_build_query(const char *name, uint16_t id, uint8_t *out, size_t cap);
/* Parses a response to the query (id, name); 0 or TO_EPARSE for anything malformed,
 * mismatched or not a response. Bounded: compression loops and overlong names fail. */
int mx_parse_response(const uint8_t *p, size_t n, uint16_t id, const char *name, mx_answer_t *out);

#endif
