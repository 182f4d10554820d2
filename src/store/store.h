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
    const char *final_agent; /* who the message level says it was */
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

/* Before a server started as root drops to another user (after the writer has
 * started): gives the store's files (the database, its WAL and shared-memory files,
 * the spool directory and its segments) to uid/gid so the server goes on writing and
 * ingesting them. No-op for the memory backend. */
int store_prepare_owner(store_t *s, unsigned uid, unsigned gid, char *err, size_t errlen);

/* The backend's underlying handle for report queries (sqlite3 * for SQLite, NULL
 * otherwise), and its kind ("sqlite", "memory"). */
void *store_sqlite_handle(store_t *s);
const char *store_kind(const store_t *s);

/* ---- administration (SQLite backend; src/store/admin.c) ----------------------------
 * Account settings, API keys, the audit log, legal holds and retention. Every function
 * returns TO_EUNSUPPORTED on a backend without SQL (memory). Tables: docs/schema.md. */

typedef struct {
    uint64_t account;
    bool exists;                 /* false: no row yet, the defaults below apply */
    bool suppress_automated;     /* default on */
    bool keep_recipient_address; /* default off */
    bool honeypot;               /* default on */
    int64_t retention_days;      /* default 365 */
} store_settings_t;

/* NULL-terminated: suppress_automated, retention_days, keep_recipient_address, honeypot. */
extern const char *const store_setting_names[];
int store_settings_get(store_t *s, uint64_t account, store_settings_t *out);
/* Sets one setting from text: on|off (also 1|0, true|false, yes|no) or, for
 * retention_days, 1..36500. Creates the account row when needed. On bad input fills
 * err, returns TO_EINVAL and changes nothing. */
int store_settings_set(store_t *s, uint64_t account, const char *key, const char *value,
                       int64_t now_us, char *err, size_t errlen);
void store_settings_json(const store_settings_t *st, buf_t *out);

/* API keys are "tok_" + 43 base64url characters (256 random bits). Only their BLAKE2b
 * hash and the first STORE_APIKEY_SHOWN characters are stored. */
#define STORE_APIKEY_PREFIX "tok_"
#define STORE_APIKEY_SHOWN  12
typedef struct {
    int64_t id;
    uint64_t account;
    char prefix[STORE_APIKEY_SHOWN + 1];
    int64_t created_us;
    int64_t revoked_us; /* 0: active */
} store_apikey_t;
/* Makes a key for account; appends it to out_key (the only time it exists in clear). */
int store_apikey_new(store_t *s, uint64_t account, util_rand_t *rnd, int64_t now_us, buf_t *out_key,
                     int64_t *out_id);
/* Keys of one account (0: all), by id; free(*out). */
int store_apikey_list(store_t *s, uint64_t account, store_apikey_t **out, size_t *out_n);
/* TO_ENOTFOUND when account has no active key with that id. */
int store_apikey_revoke(store_t *s, uint64_t account, int64_t id, int64_t now_us);
/* The account and key id of an active key; TO_EPERM for an unknown or revoked key. */
int store_apikey_check(store_t *s, slice_t key, uint64_t *out_account, int64_t *out_id);

/* One audit row: who (account, key id; via "api" or "cli"), what (action: the HTTP
 * method or the command; target: the path or the setting), when, the answer (status:
 * the HTTP status, or 0/1 for commands) and the remote address. */
typedef struct {
    int64_t id;
    int64_t ts_us;
    const char *via;
    uint64_t account; /* 0: unknown (no or a bad key) */
    int64_t key_id;   /* 0: none */
    const char *action;
    const char *target;
    int status;
    const char *remote;
} store_audit_t;
typedef int (*store_audit_cb)(void *arg, const store_audit_t *a);
int store_audit_add(store_t *s, const store_audit_t *a);
/* Rows with ts_us >= since_us of one account (0: all), oldest first. */
int store_audit_list(store_t *s, int64_t since_us, uint64_t account, store_audit_cb cb, void *arg);

/* Sets or clears a campaign's legal hold. account 0: any (TO_EINVAL when the name
 * exists in several accounts); TO_ENOTFOUND when there is no such campaign. */
int store_hold_set(store_t *s, uint64_t account, slice_t campaign, bool on);

typedef struct {
    uint64_t campaigns;        /* campaigns examined */
    uint64_t held_campaigns;   /* skipped: under legal hold */
    uint64_t messages, events; /* deleted */
} store_retain_result_t;
/* Deletes messages sent, and events received, more than the account's retention_days
 * before now_us, except in campaigns under legal hold. One transaction per campaign;
 * surviving messages that lost events are marked for settling. */
int store_retain(store_t *s, int64_t now_us, store_retain_result_t *out);

/* ---- writer ----------------------------------------------------------------------- */

typedef struct store_writer store_writer_t;

typedef struct {
    size_t queue_max;           /* events */
    size_t batch_rows;          /* commit when this many rows are waiting */
    size_t batch_bytes;         /* or this many bytes */
    int64_t batch_ms;           /* or the oldest has waited this long */
    int64_t settle_interval_ms; /* least time between idle status passes */
    int64_t settle_quiet_ms;    /* with a backlog, settle again after this long without a
                                   batch (0: at once) */
    bool no_spool;              /* SQLite: commit into SQLite itself, not into the spool */
    bool sync;                  /* fdatasync each spool write (store_synchronous=full) */
    size_t spool_segment_bytes; /* start a new spool segment past this size (0: 64 MiB) */
    int ingest_nice;            /* scheduling niceness of the ingester thread (0..19) */
    bool ingest_idle;           /* and SCHED_IDLE */
} store_writer_opts_t;

extern const cfg_def_t store_cfg[];
/* Applies the backend settings of store_cfg (store_synchronous) to an open store. */
int store_apply_config(store_t *s, const config_t *c, char *err, size_t errlen);
void store_writer_opts_from_config(const config_t *c, store_writer_opts_t *o);

/*
 * Starts the writer on s (which it then owns until store_writer_stop). With SQLite the
 * writer commits each batch to the store's spool (<db>.spool/, one append per batch;
 * see spool.c) and an ingester thread at lower priority moves spooled events into
 * SQLite, classifying them and settling message status; readers catch up first
 * (store_settle, store_list_*). err names the problem (another server on the store).
 */
int store_writer_start2(store_t *s, const store_writer_opts_t *o, store_writer_t **out, char *err,
                        size_t errlen);
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
