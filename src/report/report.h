/*
 * report: what a sender sees. Campaign statistics in two views, per message status,
 * the output formats (table, JSON, CSV) and the JSON HTTP API with its listener.
 *
 * Views. REPORT_VIEW_PEOPLE counts only events whose final verdict (after
 * message-level evidence) is human; REPORT_VIEW_ALL counts every open and click, as a
 * plain tracker does. Automated events are always stored; a view only decides what
 * counts. An account's `suppress_automated` setting picks the default view; every
 * output names the view it shows and where that choice came from.
 *
 * Exactness. Figures come from the derived tables (messages.{all,hum}_* status columns
 * and event_outcomes). Callers holding a store_t settle it first (store_settle) so no
 * message is left dirty; report_* functions only read.
 *
 * Speed. One campaign's report is two ordered scans, merged in C: messages of the
 * campaign by id, and event_outcomes of the campaign by message (both through
 * covering indexes added by the reporting migration). Every figure of both views
 * (agents, providers, links, hours, the Apple estimate) comes out of that one pass.
 *
 * Ownership: report_stats_t is filled by report_campaign_stats and released with
 * report_stats_clear. Thread-safety: functions take a sqlite3 connection that the
 * caller uses from one thread at a time. Errors: 0 or a negative TO_E* code
 * (TO_ENOTFOUND: no such campaign for that account; TO_EINVAL: ambiguous name).
 */
#ifndef TO_REPORT_H
#define TO_REPORT_H

#include <sqlite3.h>

#include "store/store.h"
#include "util/util.h"

typedef enum { REPORT_VIEW_PEOPLE = 0, REPORT_VIEW_ALL = 1 } report_view_t;

/* "people" or "all". */
const char *report_view_name(report_view_t v);
/* Parses "people"/"human" or "all"; false otherwise. */
bool report_view_parse(slice_t s, report_view_t *out);

/* Where the view came from: an explicit request or the account's setting. */
typedef enum { REPORT_VIEW_FROM_REQUEST = 0, REPORT_VIEW_FROM_SETTING = 1 } report_view_source_t;

/* Counts in both views: [REPORT_VIEW_PEOPLE] and [REPORT_VIEW_ALL]. */
typedef struct {
    uint64_t v[2];
} report_pair_t;

typedef struct {
    char name[64]; /* agent string from the classifier ("apple_mpp", ...), "unknown" if none */
    uint64_t events, opens, clicks, honeypot;
    uint64_t automated;                 /* events whose final verdict is automated */
    uint64_t human_opens, human_clicks; /* opens and clicks whose final verdict is human */
    uint64_t messages;                  /* distinct messages with an event of this agent */
} report_agent_t;

typedef struct {
    unsigned code; /* token_provider_t */
    uint64_t sent;
    report_pair_t opened, clicked, opens, clicks;
} report_provider_t;

typedef struct {
    uint32_t index; /* link index in the message (1..) */
    char *url;      /* destination of the first click seen on it (owned) */
    report_pair_t unique_clicks, total_clicks;
} report_link_t;

typedef struct {
    int64_t hour_us; /* start of the hour, microseconds */
    report_pair_t opens, clicks;
} report_hour_t;

/* Estimated human open rate where Apple's prefetching hides opens. */
typedef struct {
    uint64_t apple_messages;          /* messages with an apple_mpp open */
    uint64_t apple_human_opened;      /* of those, opened by a person visibly (e.g. clicked) */
    uint64_t comparable_messages;     /* messages with no apple_mpp event */
    uint64_t comparable_human_opened; /* of those, opened by a person */
    double comparable_rate;           /* comparable_human_opened / comparable_messages */
    double estimated_human_opens;
    double estimated_human_open_rate; /* estimated_human_opens / sent */
    const char *method;               /* static text: how it is computed */
} report_estimate_t;

typedef struct {
    uint64_t account;
    uint64_t campaign_id;
    char *campaign; /* name (owned) */
    bool legal_hold;
    report_view_t view;
    report_view_source_t view_source;
    int64_t generated_us;

    uint64_t sent;
    report_pair_t unique_opens, total_opens, unique_clicks, total_clicks;
    report_pair_t honeypot; /* honeypot hits (never counted as engagement) */
    uint64_t events;        /* every stored open, click and honeypot event */
    uint64_t automated_events;

    report_agent_t *agents;
    size_t n_agents;
    report_provider_t *providers;
    size_t n_providers;
    report_link_t *links;
    size_t n_links;
    report_hour_t *hours;
    size_t n_hours;
    report_estimate_t estimate;
} report_stats_t;

/* Derived figures of the view the stats were asked in. */
double report_rate(uint64_t num, uint64_t den);               /* 0 when den is 0 */
uint64_t report_automated(report_pair_t p);                   /* all - people */
double report_automated_share(report_pair_t p);               /* automated / all */
uint64_t report_automated_excluded(const report_stats_t *st); /* events the view left out */

/* ---- campaigns and settings seen by reports --------------------------------------- */

typedef struct {
    uint64_t id;
    uint64_t account;
    char *name;
    int64_t created_us;
    bool legal_hold;
    uint64_t sent;
} report_campaign_t;

/*
 * Finds a campaign by name. account 0 means any account: TO_EINVAL when the name
 * exists in several. TO_ENOTFOUND when there is none. *out_account and *out_id are
 * filled on success.
 */
int report_find_campaign(sqlite3 *db, uint64_t account, slice_t name, uint64_t *out_account,
                         uint64_t *out_id);

/* Campaigns of one account (0: all), ordered by account then name. The array and its
 * names are owned by the caller: report_campaigns_free. */
int report_list_campaigns(sqlite3 *db, uint64_t account, report_campaign_t **out, size_t *out_n);
void report_campaigns_free(report_campaign_t *c, size_t n);

/* The account's default view: people only when suppress_automated is on (also when
 * the account has no row yet: new accounts suppress by default). */
report_view_t report_default_view(sqlite3 *db, uint64_t account);

/* ---- statistics ------------------------------------------------------------------- */

/*
 * Computes one campaign's statistics. view < 0 means "the account's setting"; the
 * result records which view and why. now_us stamps generated_us.
 */
int report_campaign_stats(sqlite3 *db, uint64_t account, uint64_t campaign_id, int view,
                          int64_t now_us, report_stats_t *out);
void report_stats_clear(report_stats_t *st);

typedef enum { REPORT_FMT_TABLE = 0, REPORT_FMT_JSON, REPORT_FMT_CSV } report_format_t;
bool report_format_parse(const char *s, report_format_t *out);

/* Appends the stats in the stats' own view, in a format (docs/api.md). */
void report_stats_json(const report_stats_t *st, buf_t *out);
void report_stats_table(const report_stats_t *st, buf_t *out);
void report_stats_csv(const report_stats_t *st, buf_t *out);
/* Two reports of the same campaign (people, all) as one table, side by side. */
void report_stats_table_side_by_side(const report_stats_t *people, const report_stats_t *all,
                                     buf_t *out);

/* ---- per message status ----------------------------------------------------------- */

typedef struct {
    uint64_t id;
    uint64_t account;
    slice_t campaign; /* its name */
    slice_t message_id_hdr;
    slice_t recipient_domain;
    slice_t recipient_hash;
    slice_t recipient_addr; /* empty unless the account keeps addresses */
    uint32_t recipient_count, link_count;
    int64_t sent_at; /* UNIX seconds */
    unsigned provider;
    bool opened, clicked; /* in the view asked for */
    int64_t first_open_us, first_click_us;
    uint64_t opens, clicks;
    /* the other view, for comparison */
    bool other_opened, other_clicked;
} report_message_t;

typedef int (*report_message_cb)(void *arg, const report_message_t *m);

/* Messages of a campaign with id > after_id, in id order, at most limit (0: all).
 * Strings are valid during the callback only. A non-zero return from cb stops and is
 * returned. */
int report_messages(sqlite3 *db, uint64_t campaign_id, report_view_t view, uint64_t after_id,
                    uint64_t limit, report_message_cb cb, void *arg);
/* One message as a JSON object, with the view's field names (docs/api.md); the API's
 * message list and `trueopen messages --format jsonl` both write it. */
void report_message_json(const report_message_t *m, report_view_t view, buf_t *out);

/* ---- campaigns list output -------------------------------------------------------- */

void report_campaigns_json(const report_campaign_t *c, size_t n, buf_t *out);
void report_campaigns_table(const report_campaign_t *c, size_t n, buf_t *out);

/* ---- the JSON HTTP API ------------------------------------------------------------ */

/*
 * Routes (docs/api.md), all under Authorization: Bearer KEY (an API key of one
 * account; no key or a bad key: 401):
 *   GET /api/v1/campaigns
 *   GET /api/v1/campaigns/<name>/stats      [?view=people|all | ?exclude_automated=1 |
 *   GET /api/v1/campaigns/<name>/messages    ?include_automated=1] [&after=ID&limit=N]
 *   GET|PUT /api/v1/settings                 (PUT: a JSON object of settings)
 * Another account's campaign is 404, exactly like a missing one. Every call, answered
 * or refused, is written to the audit log.
 */
typedef struct {
    slice_t method, path, query; /* path without the query; query without '?' */
    slice_t authorization;       /* the header's value */
    slice_t content_type;
    slice_t body;
    const char *remote; /* peer address, text */
} report_api_request_t;

typedef struct {
    int status;
    buf_t body; /* JSON */
} report_api_response_t;

#define REPORT_API_PAGE_DEFAULT 1000
#define REPORT_API_PAGE_MAX     10000

/* Answers one request with s (settled first where figures must be exact) and audits
 * it. out->body must be initialised by the caller (buf_init). */
void report_api_handle(store_t *s, const report_api_request_t *rq, int64_t now_us,
                       report_api_response_t *out);

/*
 * Request parsing for the API listener: one HTTP/1.1 request head in buf[0..len).
 * Returns 0 with out filled (slices into buf; body not yet read: *out_head_len and
 * *out_body_len say where it starts and how long it is), TO_EAGAIN when the head is
 * incomplete, TO_ETOOBIG past max_head or when Content-Length exceeds max_body, and
 * TO_EPARSE for anything malformed (*out_err says what; static text).
 */
int report_api_parse(const char *buf, size_t len, size_t max_head, size_t max_body,
                     report_api_request_t *out, size_t *out_head_len, size_t *out_body_len,
                     const char **out_err);

/* Percent-decodes s into out; false on a bad escape or a decoded NUL. */
bool report_url_decode(slice_t s, buf_t *out);
/* The value of key in a query string (first occurrence, still encoded); false if absent. */
bool report_query_get(slice_t query, const char *key, slice_t *out);

typedef struct {
    const char *listen; /* ADDR:PORT ([v6]:PORT); port 0 picks a free one */
    const char *db_uri; /* each worker opens its own store on it */
    int threads;        /* workers */
    size_t max_head, max_body;
    int64_t timeout_ms; /* per connection, for reading the request */
    /* message-level windows for settling (as the writer uses); NULL: the defaults */
    const classify_msg_opts_t *msg_opts;
} report_api_opts_t;

extern const cfg_def_t report_cfg[];
/* Fills o from report_cfg values (listen and db_uri are left to the caller). */
void report_api_opts_from_config(const config_t *c, report_api_opts_t *o);

typedef struct report_api_server report_api_server_t;
/* Binds and starts the listener and its workers. On error fills err. */
int report_api_start(const report_api_opts_t *o, report_api_server_t **out, char *err,
                     size_t errlen);
/* The bound port (useful with port 0). */
int report_api_port(const report_api_server_t *srv);
/* Stops accepting, finishes the requests in hand, joins every thread, frees. */
void report_api_stop(report_api_server_t *srv);

/* ---- retention in the background (serve) ------------------------------------------ */

typedef struct report_retainer report_retainer_t;
/* Runs store_retain on its own connection to db_uri now and every interval_ms;
 * msg_opts (may be NULL) as for the API. */
int report_retainer_start(const char *db_uri, int64_t interval_ms,
                          const classify_msg_opts_t *msg_opts, report_retainer_t **out, char *err,
                          size_t errlen);
void report_retainer_stop(report_retainer_t *r);

#endif
