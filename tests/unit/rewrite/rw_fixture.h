/* Shared by the rewrite unit tests and fuzz targets: a fixed key, clock and random
 * source, and an in-memory sink, so outputs reproduce byte for byte. */
#ifndef TO_RW_FIXTURE_H
#define TO_RW_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "rewrite/rewrite.h"

#define RWF_TRACKING "https://t.example.net"

typedef struct {
    char names[16][64];
    size_t nnames;
    uint64_t next_message;
    int fail; /* make the sink fail */
    rewrite_sent_t last;
    char last_domain[256], last_hash[80], last_addr[256], last_mid[256], last_campaign[64];
    unsigned calls;
    /* account_settings: the settings of account settings_account (0: none) */
    uint64_t settings_account;
    rewrite_account_settings_t settings;
    unsigned settings_calls;
} rwf_sink_t;

static int rwf_campaign(void *ctx, uint64_t account, slice_t name, uint64_t *out)
{
    rwf_sink_t *s = ctx;
    (void)account;
    if (s->fail) return TO_ESTORE;
    snprintf(s->last_campaign, sizeof(s->last_campaign), "%.*s", SLICE_FMT(name));
    for (size_t i = 0; i < s->nnames; i++)
        if (strlen(s->names[i]) == name.len && !memcmp(s->names[i], name.p, name.len)) {
            *out = i + 1;
            return 0;
        }
    if (s->nnames == 16 || name.len >= 64) return TO_EFULL;
    memcpy(s->names[s->nnames], name.p, name.len);
    s->names[s->nnames][name.len] = 0;
    *out = ++s->nnames;
    return 0;
}

static int rwf_sent(void *ctx, const rewrite_sent_t *m, uint64_t *out)
{
    rwf_sink_t *s = ctx;
    if (s->fail) return TO_ESTORE;
    s->calls++;
    s->last = *m;
    snprintf(s->last_domain, sizeof(s->last_domain), "%.*s", SLICE_FMT(m->recipient_domain));
    snprintf(s->last_hash, sizeof(s->last_hash), "%.*s", SLICE_FMT(m->recipient_hash));
    snprintf(s->last_addr, sizeof(s->last_addr), "%.*s", SLICE_FMT(m->recipient_addr));
    snprintf(s->last_mid, sizeof(s->last_mid), "%.*s", SLICE_FMT(m->message_id_hdr));
    *out = ++s->next_message;
    return 0;
}

static void rwf_settings(void *ctx, uint64_t account, rewrite_account_settings_t *out)
{
    rwf_sink_t *s = ctx;
    s->settings_calls++;
    if (s->settings_account && account == s->settings_account) *out = s->settings;
}

static uint8_t rwf_provider(void *ctx, slice_t domain)
{
    (void)ctx;
    return slice_eq_cstr(domain, "gmail.com") ? TOKEN_PROVIDER_GMAIL : TOKEN_PROVIDER_UNKNOWN;
}

typedef struct {
    token_ring_t *ring;
    rwf_sink_t sink;
    util_clock_t clock;
    util_rand_t rand;
    rewrite_t *rw;
} rwf_t;

/* settings: extra `name = value` lines (may be NULL). Returns 0 or an error. */
static inline int rwf_init(rwf_t *f, const char *settings_file, const char *const *sets)
{
    memset(f, 0, sizeof(*f));
    uint8_t key[32];
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)(i * 7 + 1);
    f->ring = token_ring_from_key(1, key);
    f->sink.next_message = 1000;
    f->clock = clock_fixed(1764756000LL * 1000000);
    f->rand = rand_fixed(42);
    const cfg_def_t *const t[] = {rewrite_cfg, NULL};
    config_t *c = config_new(t);
    char err[256];
    int rc = config_set(c, "tracking_url", RWF_TRACKING, err, sizeof(err));
    if (!rc) rc = config_set(c, "account", "7", err, sizeof(err));
    if (!rc && settings_file) rc = config_load_file(c, settings_file, err, sizeof(err));
    for (size_t i = 0; !rc && sets && sets[i]; i += 2)
        rc = config_set(c, sets[i], sets[i + 1], err, sizeof(err));
    rewrite_opts_t o;
    if (!rc) rc = rewrite_opts_from_config(c, &o, err, sizeof(err));
    config_free(c);
    if (rc) {
        fprintf(stderr, "rwf_init: %s\n", err);
        token_ring_free(f->ring);
        return rc;
    }
    rewrite_deps_t d = {.ring = f->ring,
                        .sink = {rwf_campaign, rwf_sent, &f->sink, rwf_settings},
                        .provider = rwf_provider,
                        .clock = &f->clock,
                        .rand = &f->rand};
    rc = rewrite_new(&o, &d, &f->rw, err, sizeof(err));
    if (rc) {
        rewrite_opts_clear(&o);
        token_ring_free(f->ring);
    }
    return rc;
}

static inline void rwf_clear(rwf_t *f)
{
    rewrite_free(f->rw);
    token_ring_free(f->ring);
}

#endif
