/*
 * Wires the rewriter to the store: a rewrite_sink_t over a store_t (serialised by a
 * mutex, since the milter calls it from many threads), and the setup both front ends
 * share (key ring, store, options).
 *
 * Account settings: each message is rewritten with the honeypot and
 * keep_recipient_address settings of its own account (the default account, or the one
 * account_map gives its authenticated sender), unless the configuration sets the option
 * explicitly. They come from a small cache, one entry per account seen, read from the
 * store on the account's first message and again when the entry is older than
 * account_settings_refresh: at most one store query per account and period, never one
 * per message.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "rewrite/mx.h"
#include "rewrite/rewrite.h"
#include "store/store.h"

/* Entries past this many accounts are not cached (each of their messages asks the
 * store); the accounts a milter serves are its account_map plus the default. */
#define ACCT_CACHE_MAX 4096

typedef struct {
    uint64_t account;
    int64_t fetched_us;
    bool exists; /* the store has settings for the account */
    bool honeypot, keep_recipient_address;
} acct_entry_t;

struct cli_rewriter {
    store_t *store;
    token_ring_t *ring;
    rewrite_t *rw;
    mx_resolver_t *mx;           /* NULL: no DNS, well-known consumer domains only */
    pthread_mutex_t mu;          /* the store and the cache */
    bool pin_honeypot, pin_keep; /* set explicitly by the configuration */
    int64_t refresh_us;
    acct_entry_t *cache;
    size_t ncache, capcache;
    log_limit_t lim;
};

/* Without a configured resolver no DNS query leaves the machine: the provider comes
 * from the table of well-known consumer domains alone. */
static uint8_t provider_from_domain(void *ctx, slice_t domain)
{
    (void)ctx;
    return mx_provider_from_domain(domain);
}

static int sink_campaign(void *ctx, uint64_t account, slice_t name, uint64_t *out)
{
    cli_rewriter_t *r = ctx;
    pthread_mutex_lock(&r->mu);
    int rc = store_campaign_id(r->store, account, name, true, out);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static int sink_sent(void *ctx, const rewrite_sent_t *m, uint64_t *out)
{
    cli_rewriter_t *r = ctx;
    store_message_t sm = {
        .account = m->account,
        .campaign = m->campaign,
        .message_id_hdr = m->message_id_hdr,
        .recipient_domain = m->recipient_domain,
        .recipient_hash = m->recipient_hash,
        .recipient_addr = m->recipient_addr,
        .recipient_count = m->recipient_count,
        .sent_at = m->sent_at,
        .link_count = m->link_count,
        .provider = m->provider,
    };
    pthread_mutex_lock(&r->mu);
    int rc = store_message_insert(r->store, &sm);
    pthread_mutex_unlock(&r->mu);
    if (rc == 0) *out = sm.id;
    return rc;
}

/* Reads an account's settings into e (under r->mu). On a store error the entry keeps
 * what it had (the options' values for a new one) until the next period. */
static void acct_fetch(cli_rewriter_t *r, acct_entry_t *e, int64_t now)
{
    store_settings_t st;
    int rc = store_settings_get(r->store, e->account, &st);
    e->fetched_us = now;
    if (rc != 0) {
        log_limited(&r->lim, 1, LOG_WARN,
                    "rewrite: cannot read the settings of account %llu (%s); keeping the "
                    "previous ones",
                    (unsigned long long)e->account, err_str(rc));
        return;
    }
    e->exists = st.exists;
    e->honeypot = st.honeypot;
    e->keep_recipient_address = st.keep_recipient_address;
}

static void sink_settings(void *ctx, uint64_t account, rewrite_account_settings_t *out)
{
    cli_rewriter_t *r = ctx;
    if (r->pin_honeypot && r->pin_keep) return;
    int64_t now = clock_now_us(&clock_system);
    pthread_mutex_lock(&r->mu);
    acct_entry_t one = {.account = account}, *e = NULL;
    for (size_t i = 0; i < r->ncache && !e; i++)
        if (r->cache[i].account == account) e = &r->cache[i];
    if (!e && r->ncache < ACCT_CACHE_MAX) {
        xgrow(r->cache, r->capcache, r->ncache, 8);
        e = &r->cache[r->ncache++];
        *e = one;
        acct_fetch(r, e, now);
    } else if (!e) {
        e = &one;
        acct_fetch(r, e, now);
    } else if (now - e->fetched_us >= r->refresh_us) {
        acct_fetch(r, e, now);
    }
    if (e->exists) {
        if (!r->pin_honeypot) out->honeypot = e->honeypot;
        if (!r->pin_keep) out->keep_recipient_address = e->keep_recipient_address;
    }
    pthread_mutex_unlock(&r->mu);
}

int cli_rewriter_open(const config_t *c, cli_rewriter_t **out, char *err, size_t errlen)
{
    cli_rewriter_t *r = xcalloc(1, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    rewrite_opts_t o;
    int rc = rewrite_opts_from_config(c, &o, err, errlen);
    if (rc) goto fail;
    rc = token_ring_load(config_str(c, "keys"), &r->ring, err, errlen);
    if (rc) {
        rewrite_opts_clear(&o);
        goto fail;
    }
    rc = store_open(config_str(c, "db"), &r->store, err, errlen);
    if (rc) {
        rewrite_opts_clear(&o);
        goto fail;
    }
    /* The account's own settings (trueopen settings, the API) decide the honeypot and
     * whether addresses are kept, unless the configuration sets them explicitly: per
     * message, for the message's account (sink_settings). */
    r->pin_honeypot = config_is_set(c, "honeypot");
    r->pin_keep = config_is_set(c, "keep_recipient_address");
    r->refresh_us = config_int(c, "account_settings_refresh") * 1000;
    if (config_str(c, "dns_server")) {
        mx_opts_t mo;
        mx_opts_from_config(c, &mo);
        rc = mx_resolver_new(&mo, &r->mx, err, errlen);
        if (rc) {
            rewrite_opts_clear(&o);
            goto fail;
        }
    }
    rewrite_deps_t d = {
        .ring = r->ring,
        .sink = {sink_campaign, sink_sent, r, sink_settings},
        .provider = r->mx ? mx_provider_lookup : provider_from_domain,
        .provider_ctx = r->mx,
        .clock = &clock_system,
        .rand = &rand_system,
    };
    rc = rewrite_new(&o, &d, &r->rw, err, errlen);
    if (rc) {
        rewrite_opts_clear(&o);
        goto fail;
    }
    *out = r;
    return 0;
fail:
    cli_rewriter_close(r);
    return rc;
}

rewrite_t *cli_rewriter_get(cli_rewriter_t *r)
{
    return r->rw;
}

void cli_rewriter_close(cli_rewriter_t *r)
{
    if (!r) return;
    rewrite_free(r->rw);
    mx_resolver_free(r->mx);
    if (r->store) store_close(r->store);
    token_ring_free(r->ring);
    pthread_mutex_destroy(&r->mu);
    free(r->cache);
    free(r);
}
