/* Internal to store/: the backend vtable and helpers shared by the backends. */
#ifndef TO_STORE_INT_H
#define TO_STORE_INT_H

#include "store/store.h"

typedef struct {
    const char *kind;
    void (*close)(store_t *s);
    int (*campaign_id)(store_t *s, uint64_t account, slice_t name, bool create, uint64_t *out);
    int (*message_insert)(store_t *s, store_message_t *m);
    int (*insert_events)(store_t *s, store_event_t *evs, size_t n);
    int (*list_events)(store_t *s, const store_query_t *q, store_event_cb cb, void *arg);
    int (*list_messages)(store_t *s, const store_query_t *q, store_message_cb cb, void *arg);
    /* Settles up to max dirty messages; *out_left gets how many remain dirty. */
    int (*settle)(store_t *s, size_t max, size_t *out_done, size_t *out_left);
    int (*reclassify)(store_t *s, const classify_rules_t *rules, slice_t campaign,
                      uint64_t *out_events);
    void *(*sqlite_handle)(store_t *s);
} store__ops_t;

struct store {
    const store__ops_t *ops;
    const classify_rules_t *rules;
    classify_msg_opts_t msg_opts;
};

int store__sqlite_open(const char *path, store_t **out, char *err, size_t errlen);
int store__memory_open(store_t **out);

/* The SQL of each migration; index i brings the schema to version i+1. */
extern const char *const store__migrations[];

/* Per-event inputs of the message level, with the status derived from them. */
typedef struct {
    int64_t event_id;
    classify_msg_event_t m;
    uint64_t reasons; /* per-event reasons */
} store__msg_ev_t;

/* Settles every dirty message (no spool catch-up: for the store's own threads). */
int store__settle_all(store_t *s);
/* Settles up to max dirty messages; *out_left gets how many remain. */
int store__settle_some(store_t *s, size_t max, size_t *out_left);

/* Runs classify_message over evs (sorted by ts) and derives both views' status. */
void store__derive(const classify_msg_opts_t *o, store__msg_ev_t *evs, size_t n,
                   store_view_status_t *out_all, store_view_status_t *out_human);

/* The agent of an event after message-level evidence: its own, unless the message
 * level made it automated, then the gateway that fronts the recipient's mailbox (by
 * provider) or the kind of machine the message rule points at. Static strings. */
const char *store__final_agent(const classify_msg_event_t *m, uint8_t provider);

/* ---- spool (spool.c) ---- */
typedef struct store__spool store__spool_t;
/* The encoded record of an event, appended to b. */
void store__spool_encode(buf_t *b, const http_event_t *ev);
/* Decodes the record at p (n bytes available) into ev, pointing into p. Returns the
 * record's size, 0 when incomplete or (with *out_bad) damaged. */
size_t store__spool_decode(const uint8_t *p, size_t n, http_event_t *ev, bool *out_bad);
/* Takes the store's spool lock (TO_AGAIN when another process holds it). */
int store__spool_lock(const char *dir, bool wait, int *out_fd);
/* Opens the spool for writing: locks it and starts a new segment numbered past every
 * existing one and at least min_seq (the store's ingest position). */
int store__spool_open(const char *dir, size_t seg_max, uint64_t min_seq, store__spool_t **out,
                      char *err, size_t errlen);
int store__spool_append(store__spool_t *sp, const void *p, size_t n, bool sync);
uint64_t store__spool_live_seq(const store__spool_t *sp);
void store__spool_close(store__spool_t *sp);
/* Moves up to max spooled events into the store; live_seq is the segment a writer
 * is appending to (0: none). *out_more when there is more to do at once. */
int store__spool_ingest(store_t *s, int dirfd, uint64_t live_seq, size_t max, size_t *out_n,
                        bool *out_more);
/* The spool directory's descriptor (segments are opened relative to it). */
int store__spool_dirfd(const store__spool_t *sp);
/* Before reading: ingests what a stopped server left, or waits (up to wait_ms) for a
 * running one to pass the spool's current end. */
int store__spool_catch_up(store_t *s, const char *dir, int64_t wait_ms);
/* SQLite only (TO_EUNSUPPORTED otherwise). */
int store__insert_events_at(store_t *s, store_event_t *evs, size_t n, uint64_t seq, uint64_t off);
int store__spool_pos(store_t *s, uint64_t *seq, uint64_t *off);
const char *store__spool_dir(store_t *s); /* NULL for the memory backend */

/* Interns an agent name so classify_msg_event_t can point at it for the store's life. */
const char *store__agent_intern(slice_t name);

#endif
