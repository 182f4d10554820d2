/*
 * The memory backend: everything in arrays, for tests. It implements the same
 * contract as SQLite, including derived message status.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t id, account;
    char *name;
} mcamp_t;

typedef struct {
    store_message_row_t r;
    arena_t strings;
    bool dirty;
} mmsg_t;

typedef struct {
    store_event_t e;
    arena_t strings;
} mev_t;

typedef struct {
    store_t base;
    mcamp_t *camps;
    size_t ncamps;
    mmsg_t **msgs;
    size_t nmsgs;
    mev_t **evs;
    size_t nevs;
} mem_t;

static void m_close(store_t *s)
{
    mem_t *m = (mem_t *)s;
    for (size_t i = 0; i < m->ncamps; i++) free(m->camps[i].name);
    for (size_t i = 0; i < m->nmsgs; i++) {
        arena_clear(&m->msgs[i]->strings);
        free(m->msgs[i]);
    }
    for (size_t i = 0; i < m->nevs; i++) {
        arena_clear(&m->evs[i]->strings);
        free(m->evs[i]);
    }
    free(m->camps);
    free(m->msgs);
    free(m->evs);
    free(m);
}

static const mcamp_t *camp_by_id(mem_t *m, uint64_t id)
{
    for (size_t i = 0; i < m->ncamps; i++)
        if (m->camps[i].id == id) return &m->camps[i];
    return NULL;
}

static int m_campaign_id(store_t *s, uint64_t account, slice_t name, bool create, uint64_t *out)
{
    mem_t *m = (mem_t *)s;
    for (size_t i = 0; i < m->ncamps; i++)
        if (m->camps[i].account == account && slice_eq_cstr(name, m->camps[i].name)) {
            *out = m->camps[i].id;
            return TO_OK;
        }
    if (!create) return TO_ENOTFOUND;
    m->camps = xrealloc(m->camps, xmul(m->ncamps + 1, sizeof(*m->camps)));
    mcamp_t *c = &m->camps[m->ncamps++];
    c->id = m->ncamps;
    c->account = account;
    c->name = xstrndup(name.p, name.len);
    *out = c->id;
    return TO_OK;
}

static int m_message_insert(store_t *s, store_message_t *msg)
{
    mem_t *m = (mem_t *)s;
    mmsg_t *x = xcalloc(1, sizeof(*x));
    arena_init(&x->strings, 512);
    x->r.m = *msg;
    x->r.m.id = m->nmsgs + 1;
    x->r.m.message_id_hdr = arena_slice_dup(&x->strings, msg->message_id_hdr);
    x->r.m.recipient_domain = arena_slice_dup(&x->strings, msg->recipient_domain);
    x->r.m.recipient_hash = arena_slice_dup(&x->strings, msg->recipient_hash);
    x->r.m.recipient_addr = arena_slice_dup(&x->strings, msg->recipient_addr);
    const mcamp_t *c = camp_by_id(m, msg->campaign);
    x->r.campaign_name = arena_slice_dup(&x->strings, c ? slice_cstr(c->name) : SLICE_NULL);
    m->msgs = xrealloc(m->msgs, xmul(m->nmsgs + 1, sizeof(*m->msgs)));
    m->msgs[m->nmsgs++] = x;
    msg->id = x->r.m.id;
    return TO_OK;
}

static slice_t dup(arena_t *a, slice_t s)
{
    return s.p ? arena_slice_dup(a, s) : SLICE_NULL;
}

static int m_insert_events(store_t *s, store_event_t *evs, size_t n)
{
    mem_t *m = (mem_t *)s;
    m->evs = xrealloc(m->evs, xmul(m->nevs + n, sizeof(*m->evs)));
    for (size_t i = 0; i < n; i++) {
        mev_t *x = xcalloc(1, sizeof(*x));
        arena_init(&x->strings, 1024);
        x->e = evs[i];
        http_event_t *d = &x->e.ev;
        const http_event_t *o = &evs[i].ev;
        d->tok.url = dup(&x->strings, o->tok.url);
        d->ip = dup(&x->strings, o->ip);
        d->ua = dup(&x->strings, o->ua);
        d->sec_purpose = dup(&x->strings, o->sec_purpose);
        d->purpose = dup(&x->strings, o->purpose);
        d->x_purpose = dup(&x->strings, o->x_purpose);
        d->x_moz = dup(&x->strings, o->x_moz);
        d->accept = dup(&x->strings, o->accept);
        d->accept_language = dup(&x->strings, o->accept_language);
        d->referer = dup(&x->strings, o->referer);
        d->via = dup(&x->strings, o->via);
        d->from = dup(&x->strings, o->from);
        d->dnt = dup(&x->strings, o->dnt);
        d->sec_gpc = dup(&x->strings, o->sec_gpc);
        if (evs[i].cls.agent) x->e.cls.agent = store__agent_intern(slice_cstr(evs[i].cls.agent));
        x->e.id = (int64_t)m->nevs + 1;
        x->e.final_verdict = x->e.cls.verdict;
        x->e.final_reasons = x->e.cls.reasons;
        x->e.final_agent = x->e.cls.agent;
        evs[i].id = x->e.id;
        m->evs[m->nevs++] = x;
        uint64_t mid = o->tok.message;
        if (mid >= 1 && mid <= m->nmsgs) m->msgs[mid - 1]->dirty = true;
    }
    return TO_OK;
}

static bool campaign_match(mem_t *m, uint64_t campaign, slice_t name)
{
    if (!name.len) return true;
    const mcamp_t *c = camp_by_id(m, campaign);
    return c && slice_eq_cstr(name, c->name);
}

static int m_list_events(store_t *s, const store_query_t *q, store_event_cb cb, void *arg)
{
    mem_t *m = (mem_t *)s;
    int64_t emitted = 0;
    for (size_t i = 0; i < m->nevs; i++) {
        const store_event_t *e = &m->evs[i]->e;
        if (e->ev.ts_us < q->since_us || (q->account && e->ev.tok.account != q->account) ||
            !campaign_match(m, e->ev.tok.campaign, q->campaign))
            continue;
        int rc = cb(arg, e);
        if (rc) return rc;
        if (q->limit > 0 && ++emitted >= q->limit) break;
    }
    return TO_OK;
}

static int m_list_messages(store_t *s, const store_query_t *q, store_message_cb cb, void *arg)
{
    mem_t *m = (mem_t *)s;
    int64_t emitted = 0;
    for (size_t i = 0; i < m->nmsgs; i++) {
        const store_message_row_t *r = &m->msgs[i]->r;
        if (r->m.sent_at < q->since_us / 1000000 || (q->account && r->m.account != q->account) ||
            !campaign_match(m, r->m.campaign, q->campaign))
            continue;
        int rc = cb(arg, r);
        if (rc) return rc;
        if (q->limit > 0 && ++emitted >= q->limit) break;
    }
    return TO_OK;
}

static int cmp_ev(const void *a, const void *b)
{
    const store__msg_ev_t *x = a, *y = b;
    if (x->m.ts_us != y->m.ts_us) return x->m.ts_us < y->m.ts_us ? -1 : 1;
    return x->event_id < y->event_id ? -1 : x->event_id > y->event_id;
}

static void settle_one(mem_t *m, mmsg_t *msg)
{
    size_t n = 0;
    store__msg_ev_t *evs = xmalloc(xmul(m->nevs ? m->nevs : 1, sizeof(*evs)));
    for (size_t i = 0; i < m->nevs; i++) {
        const store_event_t *e = &m->evs[i]->e;
        if (e->ev.tok.message != msg->r.m.id) continue;
        store__msg_ev_t *x = &evs[n++];
        memset(x, 0, sizeof(*x));
        x->event_id = e->id;
        x->m.ts_us = e->ev.ts_us;
        x->m.route = e->ev.route;
        x->m.link = e->ev.tok.link;
        x->m.seconds_since_send =
            e->ev.tok.sent_at > 0 ? e->ev.ts_us / 1000000 - e->ev.tok.sent_at : -1;
        x->m.verdict = e->cls.verdict;
        x->m.datacenter = e->cls.datacenter;
        x->m.agent = e->cls.agent;
        x->reasons = e->cls.reasons;
    }
    qsort(evs, n, sizeof(*evs), cmp_ev);
    classify_msg_opts_t o = m->base.msg_opts;
    o.link_count = msg->r.m.link_count;
    store__derive(&o, evs, n, &msg->r.all, &msg->r.human);
    for (size_t i = 0; i < n; i++) {
        store_event_t *e = &m->evs[evs[i].event_id - 1]->e;
        e->final_verdict = evs[i].m.final_verdict;
        e->final_reasons = evs[i].reasons | evs[i].m.final_reasons;
        e->final_agent = store__final_agent(&evs[i].m, msg->r.m.provider);
    }
    free(evs);
    msg->dirty = false;
}

static int m_settle(store_t *s, size_t max, size_t *out_done, size_t *out_left)
{
    mem_t *m = (mem_t *)s;
    *out_done = *out_left = 0;
    for (size_t i = 0; i < m->nmsgs; i++) {
        if (!m->msgs[i]->dirty) continue;
        if (*out_done < max) {
            settle_one(m, m->msgs[i]);
            (*out_done)++;
        } else {
            (*out_left)++;
        }
    }
    return TO_OK;
}

static int m_reclassify(store_t *s, const classify_rules_t *rules, slice_t campaign,
                        uint64_t *out_events)
{
    mem_t *m = (mem_t *)s;
    *out_events = 0;
    for (size_t i = 0; i < m->nevs; i++) {
        store_event_t *e = &m->evs[i]->e;
        if (!campaign_match(m, e->ev.tok.campaign, campaign)) continue;
        store_classify(rules, e);
        if (e->cls.agent) e->cls.agent = store__agent_intern(slice_cstr(e->cls.agent));
        (*out_events)++;
    }
    for (size_t i = 0; i < m->nmsgs; i++)
        if (campaign_match(m, m->msgs[i]->r.m.campaign, campaign)) m->msgs[i]->dirty = true;
    return store_settle(s);
}

static const store__ops_t mem_ops = {
    .kind = "memory",
    .close = m_close,
    .campaign_id = m_campaign_id,
    .message_insert = m_message_insert,
    .insert_events = m_insert_events,
    .list_events = m_list_events,
    .list_messages = m_list_messages,
    .settle = m_settle,
    .reclassify = m_reclassify,
    .sqlite_handle = NULL,
};

int store__memory_open(store_t **out)
{
    mem_t *m = xcalloc(1, sizeof(*m));
    m->base.ops = &mem_ops;
    *out = &m->base;
    return TO_OK;
}
