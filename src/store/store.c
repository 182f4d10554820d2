#include "store/store_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_open(const char *uri, store_t **out, char *err, size_t errlen)
{
    int rc;
    if (!strcmp(uri, "memory:")) {
        rc = store__memory_open(out);
    } else {
        const char *path = !strncmp(uri, "sqlite:", 7) ? uri + 7 : uri;
        if (!*path) {
            snprintf(err, errlen, "empty database path");
            return TO_EINVAL;
        }
        rc = store__sqlite_open(path, out, err, errlen);
    }
    if (rc == 0) {
        (*out)->msg_opts = (classify_msg_opts_t){1000, 30000, 300, 0};
    }
    return rc;
}

void store_close(store_t *s)
{
    if (s) s->ops->close(s);
}

int store_campaign_id(store_t *s, uint64_t account, slice_t name, bool create, uint64_t *out_id)
{
    if (name.len == 0 || name.len > 200 || account == 0) return TO_EINVAL;
    return s->ops->campaign_id(s, account, name, create, out_id);
}

int store_message_insert(store_t *s, store_message_t *m)
{
    return s->ops->message_insert(s, m);
}

int store_insert_events(store_t *s, store_event_t *evs, size_t n)
{
    if (n == 0) return TO_OK;
    return s->ops->insert_events(s, evs, n);
}

int store_list_events(store_t *s, const store_query_t *q, store_event_cb cb, void *arg)
{
    const char *dir = store__spool_dir(s);
    if (dir) store__spool_catch_up(s, dir, 10000);
    return s->ops->list_events(s, q, cb, arg);
}

int store_list_messages(store_t *s, const store_query_t *q, store_message_cb cb, void *arg)
{
    const char *dir = store__spool_dir(s);
    if (dir) store__spool_catch_up(s, dir, 10000);
    return s->ops->list_messages(s, q, cb, arg);
}

int store_settle(store_t *s)
{
    const char *dir = store__spool_dir(s);
    if (dir) {
        int rc = store__spool_catch_up(s, dir, 10000);
        if (rc) return rc;
    }
    return store__settle_all(s);
}

int store__settle_all(store_t *s)
{
    size_t done, left;
    do {
        int rc = s->ops->settle(s, 1000, &done, &left);
        if (rc) return rc;
    } while (left > 0 && done > 0);
    return TO_OK;
}

int store__settle_some(store_t *s, size_t max, size_t *out_left)
{
    size_t done;
    return s->ops->settle(s, max, &done, out_left);
}

int store_reclassify(store_t *s, const classify_rules_t *rules, slice_t campaign,
                     uint64_t *out_events)
{
    return s->ops->reclassify(s, rules, campaign, out_events);
}

void store_set_rules(store_t *s, const classify_rules_t *rules)
{
    s->rules = rules;
}

void store_set_msg_opts(store_t *s, const classify_msg_opts_t *o)
{
    s->msg_opts = *o;
}

void *store_sqlite_handle(store_t *s)
{
    return s->ops->sqlite_handle ? s->ops->sqlite_handle(s) : NULL;
}

const char *store_kind(const store_t *s)
{
    return s->ops->kind;
}

void store_classify(const classify_rules_t *rules, store_event_t *e)
{
    if (!rules) return;
    const http_event_t *ev = &e->ev;
    classify_input_t in = {
        .route = ev->route,
        .head = ev->head,
        .ip = ev->ip,
        .ua = ev->ua,
        .sec_purpose = ev->sec_purpose,
        .purpose = ev->purpose,
        .x_purpose = ev->x_purpose,
        .x_moz = ev->x_moz,
        .accept = ev->accept,
        .accept_language = ev->accept_language,
        .referer = ev->referer,
        .via = ev->via,
        .from = ev->from,
        .seconds_since_send = ev->tok.sent_at > 0 ? ev->ts_us / 1000000 - ev->tok.sent_at : -1,
        .provider = ev->tok.provider,
    };
    classify_event(rules, &in, &e->cls);
    e->rules_version = classify_rules_version(rules);
}

/* Agent names live as long as the process: the set is small (rule data). */
static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static char **interned;
static size_t n_interned;

const char *store__agent_intern(slice_t name)
{
    pthread_mutex_lock(&intern_lock);
    for (size_t i = 0; i < n_interned; i++)
        if (slice_eq_cstr(name, interned[i])) {
            pthread_mutex_unlock(&intern_lock);
            return interned[i];
        }
    interned = xrealloc(interned, xmul(n_interned + 1, sizeof(char *)));
    char *p = xstrndup(name.p ? name.p : "", name.len);
    interned[n_interned++] = p;
    pthread_mutex_unlock(&intern_lock);
    return p;
}

static void count(store_view_status_t *v, const store__msg_ev_t *e)
{
    int64_t ts = e->m.ts_us;
    if (e->m.route == HTTP_ROUTE_OPEN) {
        v->opens++;
        if (!v->first_open_us || ts < v->first_open_us) v->first_open_us = ts;
    } else if (e->m.route == HTTP_ROUTE_CLICK) {
        v->clicks++;
        if (!v->first_click_us || ts < v->first_click_us) v->first_click_us = ts;
    }
}

static void finish(store_view_status_t *v)
{
    v->clicked = v->clicks > 0;
    v->opened = v->opens > 0 || v->clicked;
    /* A click without a counted open opens the message at the click's time. */
    if (!v->opens && v->clicked) v->first_open_us = v->first_click_us;
}

void store__derive(const classify_msg_opts_t *o, store__msg_ev_t *evs, size_t n,
                   store_view_status_t *out_all, store_view_status_t *out_human)
{
    memset(out_all, 0, sizeof(*out_all));
    memset(out_human, 0, sizeof(*out_human));
    if (n == 0) return;
    classify_msg_event_t *m = xmalloc(xmul(n, sizeof(*m)));
    for (size_t i = 0; i < n; i++) m[i] = evs[i].m;
    classify_message(o, m, n);
    for (size_t i = 0; i < n; i++) {
        evs[i].m.final_verdict = m[i].final_verdict;
        evs[i].m.final_reasons = m[i].final_reasons;
        count(out_all, &evs[i]);
        if (m[i].final_verdict == CLASSIFY_HUMAN) count(out_human, &evs[i]);
    }
    free(m);
    finish(out_all);
    finish(out_human);
}

const char *store__final_agent(const classify_msg_event_t *m, uint8_t provider)
{
    if (m->final_verdict != CLASSIFY_AUTOMATED || m->verdict == CLASSIFY_AUTOMATED) return m->agent;
    switch (provider) {
    case TOKEN_PROVIDER_PROOFPOINT: return "proofpoint";
    case TOKEN_PROVIDER_MIMECAST: return "mimecast";
    case TOKEN_PROVIDER_BARRACUDA: return "barracuda";
    case TOKEN_PROVIDER_CISCO: return "cisco_ironport";
    case TOKEN_PROVIDER_MICROSOFT365: return "safe_links";
    default: break;
    }
    if (m->final_reasons & CLASSIFY_BIT(CLASSIFY_R_MSG_NEAR_HONEYPOT)) return "link_follower";
    if (m->final_reasons & CLASSIFY_BIT(CLASSIFY_R_MSG_GATEWAY_BEFORE_OPEN))
        return "gateway_scanner";
    return "link_scanner";
}
