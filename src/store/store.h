/*
 * store: the storage interface, its backends, and the event writer.
 *
 * - store_t is a handle on a backend behind a small vtable: SQLite (WAL; the
 *   default, "PATH" or "sqlite:PATH") and memory ("memory:", for tests). A ClickHouse
 *   backend plugs in behind the same vtable; http/ never sees any of it.
 * - Events are immutable rows of what was observed plus the per-event classification
 *   (verdict, agent, via_proxy, certainty, reasons, rules version). Message-level
 *   verdicts are derived: after each batch the writer recomputes, for every message
 *   the batch touched, its status (opened/clicked, first times, counts; for both the
 *   "all events" and the "people only" views) with classify_message(), and stores it
 *   on the message row. `trueopen reclassify` recomputes everything.
 * - store_writer_t implements http_sink_t: a bounded queue, one writer thread that
 *   classifies and commits in batches (rows, bytes or milliseconds, whichever comes
 *   first), and calls each event's done callback only after its batch is committed.
 *
 * Schema: docs/schema.md; numbered migrations in store_sqlite.c, version in
 * PRAGMA user_version. Thread-safety: a store_t is used by one thread at a time
 * (the writer owns its own); SQLite readers (events, report) may run while the
 * server writes.
 */
#ifndef TO_STORE_H
#define TO_STORE_H

#include "classify/classify.h"
#include "http/http.h"
#include "token/token.h"
#include "util/util.h"

typedef struct store store_t;

/* An event as stored: what was observed and how it was classified. Strings are
 * slices owned by whoever filled the struct. */
typedef struct {
    int64_t id; /* assigned by the store */
    http_event_t ev;
    classify_result_t cls;
    uint32_t rules_version;
    /* message-level outcome (filled by the store when read back) */
    uint8_t final_verdict;
    uint64_t final_reasons;
} store_event_t;

/* A sent message, as the rewriter records it. */
typedef struct {
    uint64_t id; /* assigned by the store */
    uint64_t account;
    uint64_t campaign;
    slice_t message_id_hdr; /* the Message-ID header */
    slice_t recipient_domain;
    slice_t recipient_hash;   /* keyed hash of the address, hex */
    slice_t recipient_addr;   /* only when the account keeps addresses; else empty */
    uint32_t recipient_count; /* envelope recipients: >1 means tokens name the message only */
    int64_t sent_at;          /* UNIX seconds */
    uint32_t link_count;
    uint8_t provider;
} store_message_t;

/* Message status in one view (all events, or people only). */
typedef struct {
    bool opened, clicked;
    int64_t first_open_us, first_click_us; /* 0: none */
    uint32_t opens, clicks;
} store_view_status_t;

typedef struct {
    store_message_t m;
    slice_t campaign_name;
    store_view_status_t all, human;
} store_message_row_t;

typedef struct {
    int64_t since_us; /* 0: all */
    slice_t campaign; /* empty: all */
    uint64_t account; /* 0: all */
    int64_t limit;    /* 0: none */
} store_query_t;

typedef int (*store_event_cb)(void *arg, const store_event_t *e);
typedef int (*store_message_cb)(void *arg, const store_message_row_t *m);

/* Opens (creating and migrating as needed). err names the problem. */
int store_open(const char *uri, store_t **out, char *err, size_t errlen);
void store_close(store_t *s);

/* Campaigns are named by the sender; the store maps a name to the numeric id
 * tokens carry. Creates the campaign (and account) when create is set. */
int store_campaign_id(store_t *s, uint64_t account, slice_t name, bool create, uint64_t *out_id);
/* Records a sent message; fills m->id. */
int store_message_insert(store_t *s, store_message_t *m);

/* Classifies e->ev with rules into e->cls and e->rules_version (no-op when rules is
 * NULL). The writer does this for every event before it is inserted. */
void store_classify(const classify_rules_t *rules, store_event_t *e);

/* Inserts the batch, as classified, in one transaction and marks the messages it
 * touches for settling. Fills each e->id. */
int store_insert_events(store_t *s, store_event_t *evs, size_t n);

int store_list_events(store_t *s, const store_query_t *q, store_event_cb cb, void *arg);
int store_list_messages(store_t *s, const store_query_t *q, store_message_cb cb, void *arg);

/* Recomputes per-event classification (with rules) and every message's status, for
 * one campaign or all (campaign empty). *out_events gets the events re-scored. */
int store_reclassify(store_t *s, const classify_rules_t *rules, slice_t campaign,
                     uint64_t *out_events);

/* Recomputes the status of every message that gained events since it was last
 * computed (the writer does this when idle; readers that need exact figures call
 * it first). */
int store_settle(store_t *s);

/* Windows of the message-level rules (defaults: burst 1 s, honeypot 30 s, gateway
 * 300 s); link_count is taken per message. */
void store_set_msg_opts(store_t *s, const classify_msg_opts_t *o);

/* The rules the store uses to classify inserted events (may be NULL: then events
 * are stored as classified by the caller). Not owned. */
void store_set_rules(store_t *s, const classify_rules_t *rules);

/* The backend's underlying handle for report queries (sqlite3 * for SQLite, NULL
 * otherwise), and its kind ("sqlite", "memory"). */
void *store_sqlite_handle(store_t *s);
const char *store_kind(const store_t *s);

/* ---- writer ----------------------------------------------------------------------- */

typedef struct store_writer store_writer_t;

typedef struct {
    size_t queue_max;           /* events */
    size_t batch_rows;          /* commit when this many rows are waiting */
    size_t batch_bytes;         /* or this many bytes */
    int64_t batch_ms;           /* or the oldest has waited this long */
    int64_t settle_interval_ms; /* least time between idle status passes */
} store_writer_opts_t;

extern const cfg_def_t store_cfg[];
/* Applies the backend settings of store_cfg (store_synchronous) to an open store. */
int store_apply_config(store_t *s, const config_t *c, char *err, size_t errlen);
void store_writer_opts_from_config(const config_t *c, store_writer_opts_t *o);

/* Starts the writer thread on s (which it then owns until store_writer_stop). */
int store_writer_start(store_t *s, const store_writer_opts_t *o, store_writer_t **out);
/* Commits everything queued, stops the thread, returns the store to the caller. */
void store_writer_stop(store_writer_t *w);
http_sink_t *store_writer_sink(store_writer_t *w);
/* Swaps the rules used for new events (SIGHUP reload). The writer may still be
 * classifying a batch with the old rules: free them only after store_writer_stop or
 * after the next batch has been committed (store_writer_quiesce). */
void store_writer_set_rules(store_writer_t *w, const classify_rules_t *rules);
/* Returns once any batch or settle pass that was running has finished. */
void store_writer_quiesce(store_writer_t *w);

#endif
