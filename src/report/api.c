/*
 * The API's request handler: authentication, routing, the view parameters, and the
 * audit row every call leaves. Pure with respect to the network: the listener
 * (api_server.c) parses bytes into a report_api_request_t and writes the response.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "report/report.h"

static void error_body(report_api_response_t *out, int status, const char *msg)
{
    out->status = status;
    buf_reset(&out->body);
    buf_puts(&out->body, "{\"error\":");
    json_cstr(&out->body, msg);
    buf_printf(&out->body, ",\"status\":%d}", status);
}

bool report_url_decode(slice_t s, buf_t *out)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (c == '%') {
            if (i + 2 >= s.len) return false;
            int v = 0;
            for (int k = 1; k <= 2; k++) {
                char h = s.p[i + (size_t)k];
                v <<= 4;
                if (h >= '0' && h <= '9')
                    v |= h - '0';
                else if (h >= 'a' && h <= 'f')
                    v |= h - 'a' + 10;
                else if (h >= 'A' && h <= 'F')
                    v |= h - 'A' + 10;
                else
                    return false;
            }
            if (v == 0) return false;
            buf_putc(out, (char)v);
            i += 2;
        } else if (c == '+') {
            buf_putc(out, ' ');
        } else {
            buf_putc(out, c);
        }
    }
    return true;
}

bool report_query_get(slice_t q, const char *key, slice_t *out)
{
    size_t kl = strlen(key), i = 0;
    while (i <= q.len && q.len) {
        size_t j = i;
        while (j < q.len && q.p[j] != '&') j++;
        slice_t part = slice_make(q.p + i, j - i);
        if (part.len >= kl && !memcmp(part.p, key, kl) && (part.len == kl || part.p[kl] == '=')) {
            *out = part.len == kl ? slice_make(part.p + kl, 0)
                                  : slice_make(part.p + kl + 1, part.len - kl - 1);
            return true;
        }
        i = j + 1;
        if (j >= q.len) break;
    }
    return false;
}

/* The view asked for: -1 for "the account's setting"; -2 on a bad or contradictory
 * parameter. */
static int view_param(slice_t q)
{
    int v = -1;
    slice_t x;
    if (report_query_get(q, "view", &x)) {
        report_view_t pv;
        if (!report_view_parse(x, &pv)) return -2;
        v = (int)pv;
    }
    if (report_query_get(q, "exclude_automated", &x)) {
        if (!slice_eq_cstr(x, "1") && !slice_eq_cstr(x, "true")) return -2;
        if (v == REPORT_VIEW_ALL) return -2;
        v = REPORT_VIEW_PEOPLE;
    }
    if (report_query_get(q, "include_automated", &x)) {
        if (!slice_eq_cstr(x, "1") && !slice_eq_cstr(x, "true")) return -2;
        if (v == REPORT_VIEW_PEOPLE) return -2;
        v = REPORT_VIEW_ALL;
    }
    return v;
}

static bool u64_param(slice_t q, const char *key, uint64_t def, uint64_t max, uint64_t *out)
{
    slice_t x;
    if (!report_query_get(q, key, &x)) {
        *out = def;
        return true;
    }
    uint64_t v;
    if (!slice_to_u64(x, &v) || v > max) return false;
    *out = v;
    return true;
}

typedef struct {
    buf_t *b;
    report_view_t view;
    size_t n;
    uint64_t last;
} msg_out_t;

static int msg_cb(void *arg, const report_message_t *m)
{
    msg_out_t *o = arg;
    if (o->n++) buf_putc(o->b, ',');
    report_message_json(m, o->view, o->b);
    o->last = m->id;
    return 0;
}

static void get_campaigns(store_t *s, sqlite3 *db, uint64_t account, report_api_response_t *out)
{
    report_campaign_t *c;
    size_t n;
    (void)s;
    if (report_list_campaigns(db, account, &c, &n)) {
        error_body(out, 500, "store error");
        return;
    }
    out->status = 200;
    report_campaigns_json(c, n, &out->body);
    report_campaigns_free(c, n);
}

static void get_campaign(store_t *s, sqlite3 *db, uint64_t account, slice_t name, bool messages,
                         slice_t q, int64_t now_us, report_api_response_t *out)
{
    int view = view_param(q);
    if (view == -2) {
        error_body(out, 400,
                   "bad view: use view=people|all, exclude_automated=1 or include_automated=1");
        return;
    }
    uint64_t after = 0, limit = REPORT_API_PAGE_DEFAULT;
    if (messages && (!u64_param(q, "after", 0, INT64_MAX, &after) ||
                     !u64_param(q, "limit", REPORT_API_PAGE_DEFAULT, REPORT_API_PAGE_MAX, &limit) ||
                     limit == 0)) {
        error_body(out, 400, "bad paging: after=ID, limit=1..10000");
        return;
    }
    uint64_t acc, id;
    int rc = report_find_campaign(db, account, name, &acc, &id);
    if (rc == TO_ENOTFOUND) {
        error_body(out, 404, "no such campaign");
        return;
    }
    if (rc) {
        error_body(out, 500, "store error");
        return;
    }
    if (store_settle(s)) {
        error_body(out, 500, "store error");
        return;
    }
    if (!messages) {
        report_stats_t st;
        if (report_campaign_stats(db, account, id, view, now_us, &st)) {
            error_body(out, 500, "store error");
            return;
        }
        out->status = 200;
        report_stats_json(&st, &out->body);
        report_stats_clear(&st);
        return;
    }
    report_view_t v = view < 0 ? report_default_view(db, account) : (report_view_t)view;
    buf_t *b = &out->body;
    buf_puts(b, "{\"campaign\":");
    json_str(b, name);
    buf_printf(b, ",\"account\":%" PRIu64 ",\"view\":\"%s\",\"view_source\":\"%s\",\"messages\":[",
               account, report_view_name(v), view < 0 ? "account_setting" : "request");
    msg_out_t mo = {b, v, 0, 0};
    if (report_messages(db, id, v, after, limit, msg_cb, &mo)) {
        error_body(out, 500, "store error");
        return;
    }
    buf_puts(b, "],\"next_after\":");
    if (mo.n == limit)
        buf_printf(b, "%" PRIu64, mo.last);
    else
        buf_puts(b, "null");
    buf_putc(b, '}');
    out->status = 200;
}

static void get_settings(store_t *s, uint64_t account, report_api_response_t *out)
{
    store_settings_t st;
    if (store_settings_get(s, account, &st)) {
        error_body(out, 500, "store error");
        return;
    }
    out->status = 200;
    store_settings_json(&st, &out->body);
}

/* PUT: every member is checked before anything is written, so a bad request changes
 * nothing. */
static void put_settings(store_t *s, uint64_t account, slice_t body, int64_t now_us,
                         report_api_response_t *out)
{
    json_error_t je;
    json_t *j = json_loadb(body.p ? body.p : "", body.len, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        error_body(out, 400, "the body must be a JSON object of settings");
        return;
    }
    char vals[4][32];
    const char *keys[4];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        const char *name = NULL;
        for (size_t i = 0; store_setting_names[i]; i++)
            if (!strcmp(k, store_setting_names[i])) name = store_setting_names[i];
        if (!name || n == 4) {
            json_decref(j);
            error_body(out, 400, "unknown setting");
            return;
        }
        if (!strcmp(k, "retention_days")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 36500) {
                json_decref(j);
                error_body(out, 400, "retention_days must be an integer from 1 to 36500");
                return;
            }
            snprintf(vals[n], sizeof(vals[n]), "%lld", (long long)json_integer_value(v));
        } else {
            if (!json_is_boolean(v)) {
                json_decref(j);
                error_body(out, 400, "boolean settings take true or false");
                return;
            }
            snprintf(vals[n], sizeof(vals[n]), "%s", json_is_true(v) ? "on" : "off");
        }
        keys[n++] = name;
    }
    json_decref(j);
    for (size_t i = 0; i < n; i++) {
        char err[256];
        if (store_settings_set(s, account, keys[i], vals[i], now_us, err, sizeof(err))) {
            error_body(out, 500, "store error");
            return;
        }
    }
    get_settings(s, account, out);
}

static void route(store_t *s, const report_api_request_t *rq, uint64_t account, int64_t now_us,
                  report_api_response_t *out)
{
    sqlite3 *db = store_sqlite_handle(s);
    if (!db) {
        error_body(out, 501, "the API needs the SQLite store");
        return;
    }
    slice_t p = rq->path;
    bool get = slice_eq_cstr(rq->method, "GET");
    bool put = slice_eq_cstr(rq->method, "PUT");
    static const char pre[] = "/api/v1/campaigns/";
    if (slice_eq_cstr(p, "/api/v1/campaigns") || slice_eq_cstr(p, "/api/v1/campaigns/")) {
        if (get)
            get_campaigns(s, db, account, out);
        else
            error_body(out, 405, "method not allowed");
        return;
    }
    if (slice_eq_cstr(p, "/api/v1/settings")) {
        if (get)
            get_settings(s, account, out);
        else if (put)
            put_settings(s, account, rq->body, now_us, out);
        else
            error_body(out, 405, "method not allowed");
        return;
    }
    if (slice_starts(p, pre)) {
        slice_t rest = slice_make(p.p + sizeof(pre) - 1, p.len - (sizeof(pre) - 1));
        size_t slash = 0;
        while (slash < rest.len && rest.p[slash] != '/') slash++;
        slice_t name_enc = slice_make(rest.p, slash);
        slice_t tail = slice_make(rest.p + slash, rest.len - slash);
        bool stats = slice_eq_cstr(tail, "/stats"), msgs = slice_eq_cstr(tail, "/messages");
        if (name_enc.len && (stats || msgs)) {
            buf_t name = BUF_INIT;
            if (!get)
                error_body(out, 405, "method not allowed");
            else if (!report_url_decode(name_enc, &name) || name.len > 200)
                error_body(out, 400, "bad campaign name");
            else
                get_campaign(s, db, account, buf_slice(&name), msgs, rq->query, now_us, out);
            buf_clear(&name);
            return;
        }
    }
    error_body(out, 404, "not found");
}

void report_api_handle(store_t *s, const report_api_request_t *rq, int64_t now_us,
                       report_api_response_t *out)
{
    uint64_t account = 0;
    int64_t key_id = 0;
    slice_t auth = slice_trim(rq->authorization);
    buf_reset(&out->body);
    if (!slice_casestarts(auth, "bearer ")) {
        error_body(out, 401, "an API key is required (Authorization: Bearer KEY)");
    } else {
        slice_t key = slice_trim(slice_make(auth.p + 7, auth.len - 7));
        int rc = store_apikey_check(s, key, &account, &key_id);
        if (rc == 0 && account == 0) rc = TO_EPERM; /* 0 would mean "any account" below */
        if (rc == TO_EPERM)
            error_body(out, 401, "unknown or revoked API key");
        else if (rc)
            error_body(out, 500, "store error");
        else
            route(s, rq, account, now_us, out);
    }
    /* who, what, when, answer. The target is the path and query as sent (names and
     * view parameters; never the key, which travels in a header). */
    buf_t method = BUF_INIT, target = BUF_INIT;
    buf_append_slice(&method, slice_make(rq->method.p, TO_MIN(rq->method.len, 16)));
    buf_append_slice(&target, slice_make(rq->path.p, TO_MIN(rq->path.len, 1024)));
    if (rq->query.len) {
        buf_putc(&target, '?');
        buf_append_slice(&target, slice_make(rq->query.p, TO_MIN(rq->query.len, 1024)));
    }
    store_audit_t a = {.ts_us = now_us,
                       .via = "api",
                       .account = account,
                       .key_id = key_id,
                       .action = buf_cstr(&method),
                       .target = buf_cstr(&target),
                       .status = out->status,
                       .remote = rq->remote};
    if (store_audit_add(s, &a)) {
        /* A call that cannot be audited is not answered with data. */
        error_body(out, 503, "audit log unavailable");
    }
    buf_clear(&method);
    buf_clear(&target);
}
