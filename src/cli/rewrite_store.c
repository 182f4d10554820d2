/*
 * Wires the rewriter to the store: a rewrite_sink_t over a store_t (serialised by a
 * mutex, since the milter calls it from many threads), and the setup both front ends
 * share (key ring, store, options).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "rewrite/mx.h"
#include "rewrite/rewrite.h"
#include "store/store.h"

struct cli_rewriter {
    store_t *store;
    token_ring_t *ring;
    rewrite_t *rw;
    mx_resolver_t *mx; /* NULL: no DNS, well-known consumer domains only */
    pthread_mutex_t mu;
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
     * whether addresses are kept, unless the configuration sets them explicitly. The
     * milter applies those of its default account. */
    store_settings_t as;
    if (o.account && store_settings_get(r->store, o.account, &as) == 0 && as.exists) {
        if (!config_is_set(c, "honeypot")) o.honeypot = as.honeypot;
        if (!config_is_set(c, "keep_recipient_address"))
            o.keep_recipient_address = as.keep_recipient_address;
    }
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
        .sink = {sink_campaign, sink_sent, r},
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
    free(r);
}
