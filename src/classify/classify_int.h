/*
 * Internals shared by the files of classify/ (not a public header).
 *
 * IP sets: every published range is tagged with one set bit (CLASSIFY__SET_*). All
 * ranges of one family are flattened into a sorted array of disjoint intervals, each
 * carrying the mask of every set that covers it; a lookup is one binary search and
 * answers "which sets contain this address" (a superset of longest-prefix match).
 */
#ifndef TO_CLASSIFY_INT_H
#define TO_CLASSIFY_INT_H

#include <pthread.h>

#include "classify/classify.h"

#define CLASSIFY__SET_MAP(X)                                                                       \
    X(APPLE_RELAY, "apple_relay")                                                                  \
    X(GOOGLE, "google")                                                                            \
    X(GOOGLE_CRAWLER, "google_crawler")                                                            \
    X(GOOGLE_SPECIAL, "google_special")                                                            \
    X(GOOGLE_USER_FETCHER, "google_user_fetcher")                                                  \
    X(GOOGLE_CLOUD, "google_cloud")                                                                \
    X(AWS, "aws")                                                                                  \
    X(AZURE, "azure")                                                                              \
    X(MICROSOFT_EXCHANGE, "microsoft_exchange")                                                    \
    X(MICROSOFT_EOP, "microsoft_eop")                                                              \
    X(BING, "bing")                                                                                \
    X(OPERATOR, "operator")

enum {
#define CLASSIFY_X(name, str) CLASSIFY__SET_##name,
    CLASSIFY__SET_MAP(CLASSIFY_X)
#undef CLASSIFY_X
        CLASSIFY__SET_COUNT
};
#define CLASSIFY__SETBIT(s) ((uint32_t)1 << (s))

/* Set name -> id, or -1. */
int classify__set_id(const char *name);
const char *classify__set_name(int id);

typedef unsigned __int128 classify__u128;

/* An address: v4 in the low 32 bits when v4. */
typedef struct {
    bool v6;
    uint32_t v4;
    classify__u128 a6;
} classify__ip_t;

/* Parses a textual address (v4, v6, v4-mapped v6 becomes v4). */
bool classify__ip_parse(slice_t s, classify__ip_t *out);
/* Parses "a.b.c.d/n" or "x::/n" (a bare address is a full-length prefix); lo..hi. */
bool classify__cidr_parse(slice_t s, bool *v6, classify__u128 *lo, classify__u128 *hi,
                          unsigned *plen);

typedef struct {
    classify__u128 lo, hi;
    uint32_t bit;
} classify__range_t;

typedef struct {
    classify__range_t *v;
    size_t n, cap;
} classify__ranges_t;

void classify__ranges_add(classify__ranges_t *r, classify__u128 lo, classify__u128 hi,
                          uint32_t bit);

/* Parses one range file (FORMAT cidr | google_json | aws_json) into r4/r6 with bit;
 * checks every entry parses and is plausibly narrow, and that there is at least one.
 * On error fills err ("FILE:LINE: ...") and returns TO_EPARSE. */
int classify__parse_ranges(const char *format, const char *data, size_t len, uint32_t bit,
                           classify__ranges_t *r4, classify__ranges_t *r6, size_t *count,
                           const char *where, char *err, size_t errlen);

/* Parses a vendor feed (spec KIND[:ARG][/v4|/v6], see update.c) and appends its checked
 * ranges to out as CIDR lines; TO_EPARSE with err filled when anything is wrong. */
int classify__parse_feed(const char *spec, const char *data, size_t len, buf_t *out, size_t *count,
                         const char *where, char *err, size_t errlen);

typedef struct {
    classify__u128 *start; /* sorted; start[0] == 0 */
    uint32_t *mask;
    size_t n;
} classify__iptab_t;

/* Flattens ranges into t (ranges is consumed and freed). */
void classify__iptab_build(classify__iptab_t *t, classify__ranges_t *ranges);
uint32_t classify__iptab_lookup(const classify__iptab_t *t, classify__u128 a);
void classify__iptab_clear(classify__iptab_t *t);

/* ---- User-Agent patterns ------------------------------------------------------------ */

typedef enum {
    CLASSIFY__UA_MPP = 0,
    CLASSIFY__UA_IMAGE_PROXY,
    CLASSIFY__UA_PREFETCH,
    CLASSIFY__UA_SCANNER,
    CLASSIFY__UA_PREVIEW,
    CLASSIFY__UA_LIBRARY,
    CLASSIFY__UA_HEADLESS,
    CLASSIFY__UA_BOT,
    CLASSIFY__UA_HUMAN,
    CLASSIFY__UA__COUNT
} classify__ua_class_t;

int classify__ua_class_id(const char *name);
const char *classify__ua_class_name(int id);

typedef struct {
    const char *agent; /* interned: lives as long as the process */
    uint8_t cls;
    bool operator_rule;
    char *regex;
    char *where; /* "file:line" */
} classify__ua_pat_t;

typedef struct classify__ua_db classify__ua_db_t;

/* Compiles pats (in priority order: lower index wins). */
int classify__ua_compile(const classify__ua_pat_t *pats, size_t n, classify__ua_db_t **out,
                         char *err, size_t errlen);
/* Index of the first pattern (lowest index) that matches ua, or -1. */
long classify__ua_match(classify__ua_db_t *db, slice_t ua);
void classify__ua_free(classify__ua_db_t *db);

/* Parses the text of a User-Agent pattern file (kind 1) or an operator file (kind 0)
 * and, when it holds few patterns, compiles them (fuzzing). */
int classify__parse_rule_text(int kind, const char *data, size_t len, size_t *count, char *err,
                              size_t errlen);

/* Agent names are interned once per process so results can carry plain pointers that
 * outlive a rule reload. */
const char *classify__intern(const char *name, size_t len);

/* ---- the rule set ------------------------------------------------------------------ */

typedef struct {
    classify__u128 lo, hi;
    bool v6;
    unsigned plen;
    const char *agent;
    uint8_t verdict;
} classify__op_range_t;

typedef struct {
    const char *agent;
    uint8_t verdict;
} classify__override_t;

typedef struct {
    char *file;
    char *kind; /* "range SET", "ua", "operator" */
    size_t entries;
} classify__file_info_t;

struct classify_rules {
    classify__iptab_t v4, v6;
    classify__op_range_t *ops;
    size_t nops;
    classify__ua_pat_t *pats;
    size_t npats;
    classify__ua_db_t *ua;
    classify__override_t *overrides;
    size_t noverrides;
    classify__file_info_t *files;
    size_t nfiles;
    uint32_t version;
    classify_opts_t opts;
};

#endif
