/*
 * Campaign statistics: one merged pass over the campaign's messages (by id) and its
 * event outcomes (by message). Both views are computed together; the caller's view
 * only decides which one is presented as "counted".
 */
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "token/token.h"

#define AGENT_MAX 256   /* distinct agents kept apart; the rest go to "other" */
#define LINK_MAX  65534 /* link indexes above this are not tracked links */
#define HOUR_US   3600000000LL

static const char apple_agent[] = "apple_mpp";

const char *report_view_name(report_view_t v)
{
    return v == REPORT_VIEW_ALL ? "all" : "people";
}

bool report_view_parse(slice_t s, report_view_t *out)
{
    if (slice_eq_cstr(s, "people") || slice_eq_cstr(s, "human")) {
        *out = REPORT_VIEW_PEOPLE;
        return true;
    }
    if (slice_eq_cstr(s, "all")) {
        *out = REPORT_VIEW_ALL;
        return true;
    }
    return false;
}

double report_rate(uint64_t num, uint64_t den)
{
    return den ? (double)num / (double)den : 0.0;
}

uint64_t report_automated(report_pair_t p)
{
    return p.v[REPORT_VIEW_ALL] > p.v[REPORT_VIEW_PEOPLE]
               ? p.v[REPORT_VIEW_ALL] - p.v[REPORT_VIEW_PEOPLE]
               : 0;
}

double report_automated_share(report_pair_t p)
{
    return report_rate(report_automated(p), p.v[REPORT_VIEW_ALL]);
}

uint64_t report_automated_excluded(const report_stats_t *st)
{
    if (st->view == REPORT_VIEW_ALL) return 0;
    return report_automated(st->total_opens) + report_automated(st->total_clicks);
}

/* ---- campaigns -------------------------------------------------------------------- */

static int sql_err(sqlite3 *db, const char *what)
{
    log_error("report: %s: %s", what, sqlite3_errmsg(db));
    return TO_ESTORE;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) return sql_err(db, "prepare");
    return 0;
}

int report_find_campaign(sqlite3 *db, uint64_t account, slice_t name, uint64_t *out_account,
                         uint64_t *out_id)
{
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "SELECT account, id FROM campaigns WHERE name = ?1 AND (?2 = 0 OR account = "
                     "?2) ORDER BY account LIMIT 2",
                     &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name.p ? name.p : "", (int)name.len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)account);
    int n = 0, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++ == 0) {
            *out_account = (uint64_t)sqlite3_column_int64(st, 0);
            *out_id = (uint64_t)sqlite3_column_int64(st, 1);
        }
    }
    if (s != SQLITE_DONE) rc = sql_err(db, "find campaign");
    sqlite3_finalize(st);
    if (rc) return rc;
    if (n == 0) return TO_ENOTFOUND;
    if (n > 1) return TO_EINVAL;
    return 0;
}

int report_list_campaigns(sqlite3 *db, uint64_t account, report_campaign_t **out, size_t *out_n)
{
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "SELECT c.id, c.account, c.name, c.created_us, c.legal_hold,"
                     " (SELECT count(*) FROM messages m WHERE m.campaign = c.id)"
                     " FROM campaigns c WHERE ?1 = 0 OR c.account = ?1"
                     " ORDER BY c.account, c.name",
                     &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)account);
    report_campaign_t *v = NULL;
    size_t n = 0, cap = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        xgrow(v, cap, n, 16);
        report_campaign_t *c = &v[n++];
        c->id = (uint64_t)sqlite3_column_int64(st, 0);
        c->account = (uint64_t)sqlite3_column_int64(st, 1);
        const char *nm = (const char *)sqlite3_column_text(st, 2);
        c->name = xstrdup(nm ? nm : "");
        c->created_us = sqlite3_column_int64(st, 3);
        c->legal_hold = sqlite3_column_int64(st, 4) != 0;
        c->sent = (uint64_t)sqlite3_column_int64(st, 5);
    }
    if (s != SQLITE_DONE) rc = sql_err(db, "list campaigns");
    sqlite3_finalize(st);
    if (rc) {
        report_campaigns_free(v, n);
        return rc;
    }
    *out = v;
    *out_n = n;
    return 0;
}

void report_campaigns_free(report_campaign_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) free(c[i].name);
    free(c);
}

report_view_t report_default_view(sqlite3 *db, uint64_t account)
{
    sqlite3_stmt *st;
    report_view_t v = REPORT_VIEW_PEOPLE;
    if (prepare(db, "SELECT suppress_automated FROM accounts WHERE id = ?1", &st)) return v;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)account);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == 0) v = REPORT_VIEW_ALL;
    sqlite3_finalize(st);
    return v;
}

/* ---- the pass --------------------------------------------------------------------- */

typedef struct {
    report_agent_t a;
    uint64_t last_msg; /* distinct-message stamp */
    bool seen_msg;
} agent_acc_t;

typedef struct {
    report_link_t l;
    int64_t first_event; /* event id of the first click on it */
    int64_t first_ts;
    uint64_t last_msg[2]; /* distinct-message stamps per view */
    bool seen[2];
} link_acc_t;

typedef struct {
    int64_t key; /* hour number; INT64_MIN: empty slot */
    size_t idx;
} hour_slot_t;

typedef struct {
    agent_acc_t *agents;
    size_t n_agents;
    link_acc_t *links;
    size_t n_links; /* allocated: links[0..n_links) by index */
    report_hour_t *hours;
    size_t n_hours, cap_hours;
    hour_slot_t *slots;
    size_t n_slots; /* power of two */
    size_t last_agent;
} acc_t;

static size_t agent_index(acc_t *a, const char *name, size_t len)
{
    if (!name || !len) name = "unknown", len = 7;
    if (len >= sizeof(a->agents[0].a.name)) len = sizeof(a->agents[0].a.name) - 1;
    if (a->last_agent < a->n_agents) {
        const char *n = a->agents[a->last_agent].a.name;
        if (strlen(n) == len && !memcmp(n, name, len)) return a->last_agent;
    }
    for (size_t i = 0; i < a->n_agents; i++) {
        const char *n = a->agents[i].a.name;
        if (strlen(n) == len && !memcmp(n, name, len)) return a->last_agent = i;
    }
    if (a->n_agents >= AGENT_MAX - 1) {
        /* bounded: past AGENT_MAX - 1 distinct names, the rest share the last slot */
        name = "other";
        len = 5;
        for (size_t i = 0; i < a->n_agents; i++)
            if (!strcmp(a->agents[i].a.name, "other")) return a->last_agent = i;
    }
    agent_acc_t *g = &a->agents[a->n_agents];
    memset(g, 0, sizeof(*g));
    memcpy(g->a.name, name, len);
    g->a.name[len] = 0;
    return a->last_agent = a->n_agents++;
}

static uint64_t hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static report_hour_t *hour_get(acc_t *a, int64_t hour)
{
    if (a->n_hours * 2 >= a->n_slots) {
        size_t ns = a->n_slots ? a->n_slots * 2 : 256;
        hour_slot_t *sl = xmalloc(xmul(ns, sizeof(*sl)));
        for (size_t i = 0; i < ns; i++) sl[i].key = INT64_MIN;
        for (size_t i = 0; i < a->n_hours; i++) {
            size_t j = hash64((uint64_t)a->hours[i].hour_us) & (ns - 1);
            while (sl[j].key != INT64_MIN) j = (j + 1) & (ns - 1);
            sl[j].key = a->hours[i].hour_us;
            sl[j].idx = i;
        }
        free(a->slots);
        a->slots = sl;
        a->n_slots = ns;
    }
    int64_t key = hour * HOUR_US;
    size_t j = hash64((uint64_t)key) & (a->n_slots - 1);
    while (a->slots[j].key != INT64_MIN) {
        if (a->slots[j].key == key) return &a->hours[a->slots[j].idx];
        j = (j + 1) & (a->n_slots - 1);
    }
    if (a->n_hours == a->cap_hours) {
        a->cap_hours = a->cap_hours ? a->cap_hours * 2 : 64;
        a->hours = xrealloc(a->hours, xmul(a->cap_hours, sizeof(*a->hours)));
    }
    report_hour_t *h = &a->hours[a->n_hours];
    memset(h, 0, sizeof(*h));
    h->hour_us = key;
    a->slots[j].key = key;
    a->slots[j].idx = a->n_hours++;
    return h;
}

static link_acc_t *link_get(acc_t *a, uint32_t idx)
{
    if (idx >= a->n_links) {
        size_t nn = a->n_links ? a->n_links : 16;
        while (nn <= idx) nn *= 2;
        a->links = xrealloc(a->links, xmul(nn, sizeof(*a->links)));
        memset(a->links + a->n_links, 0, (nn - a->n_links) * sizeof(*a->links));
        a->n_links = nn;
    }
    link_acc_t *l = &a->links[idx];
    if (!l->l.index) {
        l->l.index = idx;
        l->first_event = -1;
    }
    return l;
}

static int cmp_hour(const void *x, const void *y)
{
    const report_hour_t *a = x, *b = y;
    return a->hour_us < b->hour_us ? -1 : a->hour_us > b->hour_us;
}

static int cmp_agent(const void *x, const void *y)
{
    const report_agent_t *a = x, *b = y;
    if (a->events != b->events) return a->events > b->events ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Events of one message: accumulate; returns whether an apple_mpp open was seen. */
static void add_event(acc_t *a, report_stats_t *st, uint64_t msg, char route, int fv,
                      const char *agent, size_t agent_len, int64_t link, int64_t ts_us,
                      int64_t event_id, bool *apple)
{
    bool human = fv == 0;
    size_t ai = agent_index(a, agent, agent_len);
    agent_acc_t *g = &a->agents[ai];
    g->a.events++;
    st->events++;
    if (!human) {
        g->a.automated++;
        st->automated_events++;
    }
    if (!g->seen_msg || g->last_msg != msg) {
        g->seen_msg = true;
        g->last_msg = msg;
        g->a.messages++;
    }
    int64_t hour = ts_us >= 0 ? ts_us / HOUR_US : (ts_us - HOUR_US + 1) / HOUR_US;
    if (route == 'o') {
        g->a.opens++;
        if (human) g->a.human_opens++;
        if (!strcmp(g->a.name, apple_agent)) *apple = true;
        report_hour_t *h = hour_get(a, hour);
        h->opens.v[REPORT_VIEW_ALL]++;
        if (human) h->opens.v[REPORT_VIEW_PEOPLE]++;
    } else if (route == 'c') {
        g->a.clicks++;
        if (human) g->a.human_clicks++;
        report_hour_t *h = hour_get(a, hour);
        h->clicks.v[REPORT_VIEW_ALL]++;
        if (human) h->clicks.v[REPORT_VIEW_PEOPLE]++;
        if (link >= 1 && link <= LINK_MAX) {
            link_acc_t *l = link_get(a, (uint32_t)link);
            for (int v = 0; v < 2; v++) {
                if (v == REPORT_VIEW_PEOPLE && !human) continue;
                l->l.total_clicks.v[v]++;
                if (!l->seen[v] || l->last_msg[v] != msg) {
                    l->seen[v] = true;
                    l->last_msg[v] = msg;
                    l->l.unique_clicks.v[v]++;
                }
            }
            if (l->first_event < 0 || ts_us < l->first_ts ||
                (ts_us == l->first_ts && event_id < l->first_event)) {
                l->first_event = event_id;
                l->first_ts = ts_us;
            }
        }
    } else if (route == 'h') {
        g->a.honeypot++;
        st->honeypot.v[REPORT_VIEW_ALL]++;
        if (human) st->honeypot.v[REPORT_VIEW_PEOPLE]++;
    }
}

typedef struct {
    bool have;
    uint64_t id;
    unsigned provider;
    int64_t v[8]; /* hum_opened, all_opened, hum_clicked, all_clicked, hum_opens, all_opens,
                     hum_clicks, all_clicks */
} msg_row_t;

static void add_message(report_stats_t *st, report_provider_t *prov, const msg_row_t *m, bool apple)
{
    st->sent++;
    report_provider_t *p = &prov[m->provider < TOKEN_PROVIDER__COUNT ? m->provider : 0];
    p->sent++;
    report_pair_t *tot[4] = {&st->unique_opens, &st->unique_clicks, &st->total_opens,
                             &st->total_clicks};
    report_pair_t *pp[4] = {&p->opened, &p->clicked, &p->opens, &p->clicks};
    for (int k = 0; k < 4; k++) {
        uint64_t hum = (uint64_t)(m->v[2 * k] > 0 ? m->v[2 * k] : 0);
        uint64_t all = (uint64_t)(m->v[2 * k + 1] > 0 ? m->v[2 * k + 1] : 0);
        if (k < 2) hum = hum != 0, all = all != 0;
        tot[k]->v[REPORT_VIEW_PEOPLE] += hum;
        tot[k]->v[REPORT_VIEW_ALL] += all;
        pp[k]->v[REPORT_VIEW_PEOPLE] += hum;
        pp[k]->v[REPORT_VIEW_ALL] += all;
    }
    report_estimate_t *e = &st->estimate;
    bool hum_opened = m->v[0] > 0;
    if (apple) {
        e->apple_messages++;
        if (hum_opened) e->apple_human_opened++;
    } else {
        e->comparable_messages++;
        if (hum_opened) e->comparable_human_opened++;
    }
}

static const char estimate_method[] =
    "comparable_recipients: messages with an Apple MPP open are assumed to be opened by "
    "people at the human open rate of this campaign's messages without any Apple MPP event; "
    "human opens seen on Apple messages are a floor";

static int fetch_link_urls(sqlite3 *db, acc_t *a, report_stats_t *st)
{
    size_t n = 0;
    for (size_t i = 1; i < a->n_links; i++)
        if (a->links[i].l.index) n++;
    st->links = n ? xcalloc(n, sizeof(*st->links)) : NULL;
    st->n_links = 0;
    sqlite3_stmt *q;
    int rc = prepare(db, "SELECT url FROM events WHERE id = ?1", &q);
    if (rc) return rc;
    for (size_t i = 1; i < a->n_links; i++) {
        link_acc_t *l = &a->links[i];
        if (!l->l.index) continue;
        report_link_t *o = &st->links[st->n_links++];
        *o = l->l;
        o->url = NULL;
        sqlite3_bind_int64(q, 1, l->first_event);
        if (sqlite3_step(q) == SQLITE_ROW) {
            const char *u = (const char *)sqlite3_column_text(q, 0);
            if (u) o->url = xstrdup(u);
        }
        if (!o->url) o->url = xstrdup("");
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    return 0;
}

int report_campaign_stats(sqlite3 *db, uint64_t account, uint64_t campaign_id, int view,
                          int64_t now_us, report_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *c;
    int rc = prepare(db, "SELECT account, name, legal_hold FROM campaigns WHERE id = ?1", &c);
    if (rc) return rc;
    sqlite3_bind_int64(c, 1, (sqlite3_int64)campaign_id);
    if (sqlite3_step(c) != SQLITE_ROW ||
        (account && (uint64_t)sqlite3_column_int64(c, 0) != account)) {
        sqlite3_finalize(c);
        return TO_ENOTFOUND;
    }
    out->account = (uint64_t)sqlite3_column_int64(c, 0);
    const char *nm = (const char *)sqlite3_column_text(c, 1);
    out->campaign = xstrdup(nm ? nm : "");
    out->legal_hold = sqlite3_column_int64(c, 2) != 0;
    sqlite3_finalize(c);
    out->campaign_id = campaign_id;
    out->generated_us = now_us;
    if (view < 0) {
        out->view = report_default_view(db, out->account);
        out->view_source = REPORT_VIEW_FROM_SETTING;
    } else {
        out->view = view == REPORT_VIEW_ALL ? REPORT_VIEW_ALL : REPORT_VIEW_PEOPLE;
        out->view_source = REPORT_VIEW_FROM_REQUEST;
    }

    sqlite3_stmt *m = NULL, *e = NULL;
    rc = prepare(db,
                 "SELECT id, provider, hum_opened, all_opened, hum_clicked, all_clicked,"
                 " hum_opens, all_opens, hum_clicks, all_clicks"
                 " FROM messages WHERE campaign = ?1 ORDER BY id",
                 &m);
    if (!rc)
        rc = prepare(db,
                     "SELECT message, route, final_verdict, agent, link, ts_us, event"
                     " FROM event_outcomes WHERE campaign = ?1 ORDER BY message",
                     &e);
    if (rc) {
        sqlite3_finalize(m);
        report_stats_clear(out);
        return rc;
    }
    sqlite3_bind_int64(m, 1, (sqlite3_int64)campaign_id);
    sqlite3_bind_int64(e, 1, (sqlite3_int64)campaign_id);

    acc_t a = {0};
    a.agents = xcalloc(AGENT_MAX, sizeof(*a.agents));
    a.last_agent = SIZE_MAX;
    report_provider_t prov[TOKEN_PROVIDER__COUNT];
    memset(prov, 0, sizeof(prov));

    msg_row_t mr = {0};
    bool e_have = false;
    uint64_t e_msg = 0;
    int sm = SQLITE_ROW, se = SQLITE_ROW;
#define NEXT_M()                                                                                   \
    do {                                                                                           \
        sm = sqlite3_step(m);                                                                      \
        mr.have = sm == SQLITE_ROW;                                                                \
        if (mr.have) {                                                                             \
            mr.id = (uint64_t)sqlite3_column_int64(m, 0);                                          \
            mr.provider = (unsigned)sqlite3_column_int64(m, 1);                                    \
            for (int k_ = 0; k_ < 8; k_++) mr.v[k_] = sqlite3_column_int64(m, 2 + k_);             \
        }                                                                                          \
    } while (0)
#define NEXT_E()                                                                                   \
    do {                                                                                           \
        se = sqlite3_step(e);                                                                      \
        e_have = se == SQLITE_ROW;                                                                 \
        if (e_have) e_msg = (uint64_t)sqlite3_column_int64(e, 0);                                  \
    } while (0)
    NEXT_M();
    NEXT_E();
    while (mr.have || e_have) {
        uint64_t key = !e_have ? mr.id : !mr.have ? e_msg : TO_MIN(mr.id, e_msg);
        bool apple = false;
        while (e_have && e_msg == key) {
            const unsigned char *route = sqlite3_column_text(e, 1);
            add_event(&a, out, key, route ? (char)route[0] : '?', (int)sqlite3_column_int64(e, 2),
                      (const char *)sqlite3_column_text(e, 3), (size_t)sqlite3_column_bytes(e, 3),
                      sqlite3_column_int64(e, 4), sqlite3_column_int64(e, 5),
                      sqlite3_column_int64(e, 6), &apple);
            NEXT_E();
        }
        if (mr.have && mr.id == key) {
            add_message(out, prov, &mr, apple);
            NEXT_M();
        }
    }
#undef NEXT_M
#undef NEXT_E
    if (sm != SQLITE_DONE || se != SQLITE_DONE) rc = sql_err(db, "campaign scan");
    sqlite3_finalize(m);
    sqlite3_finalize(e);

    if (!rc) rc = fetch_link_urls(db, &a, out);
    if (!rc) {
        out->n_agents = a.n_agents;
        out->agents = xcalloc(a.n_agents ? a.n_agents : 1, sizeof(*out->agents));
        for (size_t i = 0; i < a.n_agents; i++) out->agents[i] = a.agents[i].a;
        qsort(out->agents, out->n_agents, sizeof(*out->agents), cmp_agent);
        size_t np = 0;
        for (size_t i = 0; i < TOKEN_PROVIDER__COUNT; i++)
            if (prov[i].sent) np++;
        out->providers = xcalloc(np ? np : 1, sizeof(*out->providers));
        for (size_t i = 0; i < TOKEN_PROVIDER__COUNT; i++)
            if (prov[i].sent) {
                prov[i].code = (unsigned)i;
                out->providers[out->n_providers++] = prov[i];
            }
        if (a.n_hours) qsort(a.hours, a.n_hours, sizeof(*a.hours), cmp_hour);
        out->hours = a.hours;
        out->n_hours = a.n_hours;
        a.hours = NULL;

        report_estimate_t *es = &out->estimate;
        es->method = estimate_method;
        es->comparable_rate = report_rate(es->comparable_human_opened, es->comparable_messages);
        double apple_est = es->comparable_rate * (double)es->apple_messages;
        if (apple_est < (double)es->apple_human_opened) apple_est = (double)es->apple_human_opened;
        es->estimated_human_opens = (double)es->comparable_human_opened + apple_est;
        es->estimated_human_open_rate =
            out->sent ? es->estimated_human_opens / (double)out->sent : 0.0;
    }
    free(a.agents);
    free(a.links);
    free(a.hours);
    free(a.slots);
    if (rc) report_stats_clear(out);
    return rc;
}

void report_stats_clear(report_stats_t *st)
{
    if (!st) return;
    free(st->campaign);
    free(st->agents);
    free(st->providers);
    for (size_t i = 0; i < st->n_links; i++) free(st->links[i].url);
    free(st->links);
    free(st->hours);
    memset(st, 0, sizeof(*st));
}
