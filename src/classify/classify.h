/*
 * classify: human or automated, for every open and click, with the agent and the
 * reasons. Two levels:
 *
 *  - per event: classify_event() weighs the User-Agent, the client address (published
 *    ranges: Apple Private Relay, Google, Microsoft Exchange/EOP, cloud space, ...),
 *    the method, speculative-load headers, the time since sending and the mailbox
 *    provider. Pure; no I/O; safe to call from any thread on a loaded rule set.
 *  - per message: classify_message() is a pure function of all events of one message
 *    (bursts, honeypot hits, gateway clicks before any human open, a later human
 *    event upgrading the message) and the rules version. It is re-run whenever a
 *    message gains an event and by `trueopen reclassify`.
 *
 * Rule data is loaded from a directory (data/rules/ by default) and never changes
 * after loading; a reload builds a new set and swaps it in.
 */
#ifndef TO_CLASSIFY_H
#define TO_CLASSIFY_H

#include "util/util.h"

/* Stable reason codes (docs/reasons.md). The string is what is stored and shown. */
#define CLASSIFY_REASON_MAP(X)                                                                     \
    X(UA_HUMAN_CLIENT, "ua_human_client")                                                          \
    X(UA_MPP, "ua_mpp")                                                                            \
    X(IP_APPLE_RELAY, "ip_apple_relay")                                                            \
    X(UA_GOOGLE_IMAGE_PROXY, "ua_google_image_proxy")                                              \
    X(UA_GMAIL_PREFETCH, "ua_gmail_prefetch")                                                      \
    X(IP_GOOGLE, "ip_google")                                                                      \
    X(IP_GOOGLE_CRAWLER, "ip_google_crawler")                                                      \
    X(IP_MICROSOFT_EOP, "ip_microsoft_eop")                                                        \
    X(IP_CLOUD, "ip_cloud")                                                                        \
    X(IP_BING, "ip_bing")                                                                          \
    X(IP_OPERATOR, "ip_operator")                                                                  \
    X(UA_BOT, "ua_bot")                                                                            \
    X(UA_SCANNER, "ua_scanner")                                                                    \
    X(UA_PREVIEW, "ua_preview")                                                                    \
    X(UA_LIBRARY, "ua_library")                                                                    \
    X(UA_HEADLESS, "ua_headless")                                                                  \
    X(UA_EMPTY, "ua_empty")                                                                        \
    X(UA_OPERATOR, "ua_operator")                                                                  \
    X(METHOD_HEAD, "method_head")                                                                  \
    X(HDR_PREFETCH, "hdr_prefetch")                                                                \
    X(EARLY_AFTER_SEND, "early_after_send")                                                        \
    X(PROVIDER_GATEWAY, "provider_gateway")                                                        \
    X(HONEYPOT, "honeypot")                                                                        \
    X(MSG_CLICK_BURST, "msg_click_burst")                                                          \
    X(MSG_ALL_LINKS, "msg_all_links")                                                              \
    X(MSG_NEAR_HONEYPOT, "msg_near_honeypot")                                                      \
    X(MSG_GATEWAY_BEFORE_OPEN, "msg_gateway_before_open")                                          \
    X(MSG_HUMAN_UPGRADE, "msg_human_upgrade")                                                      \
    X(OVERRIDE, "override")                                                                        \
    X(NO_SIGNAL, "no_signal")                                                                      \
    X(UA_UNKNOWN, "ua_unknown")                                                                    \
    X(IP_GOOGLE_FETCHER, "ip_google_fetcher")

typedef enum {
#define CLASSIFY_X(name, str) CLASSIFY_R_##name,
    CLASSIFY_REASON_MAP(CLASSIFY_X)
#undef CLASSIFY_X
        CLASSIFY_R__COUNT
} classify_reason_t;

#define CLASSIFY_BIT(r) ((uint64_t)1 << (r))

typedef enum { CLASSIFY_HUMAN = 0, CLASSIFY_AUTOMATED = 1 } classify_verdict_t;
typedef enum { CLASSIFY_CERTAIN = 0, CLASSIFY_PROBABLE = 1 } classify_certainty_t;

/* Appends reason codes as "a,b,c" (in code order). */
void classify_reasons_text(uint64_t reasons, buf_t *out);
/* Parses "a,b,c" back to a mask; unknown codes are ignored. */
uint64_t classify_reasons_parse(slice_t text);
/* The code of one reason ("ua_mpp"), NULL when out of range. */
const char *classify_reason_name(unsigned r);

typedef struct {
    char route; /* 'o' open, 'c' click, 'h' honeypot */
    bool head;  /* HEAD request */
    slice_t ip; /* text form, v4 or v6 */
    slice_t ua;
    slice_t sec_purpose, purpose, x_purpose, x_moz, accept, accept_language, referer, via, from;
    int64_t seconds_since_send; /* <0 when unknown */
    uint8_t provider;           /* token_provider_t code */
} classify_input_t;

typedef struct {
    uint8_t verdict;   /* classify_verdict_t */
    uint8_t certainty; /* classify_certainty_t */
    bool via_proxy;    /* a person behind an image proxy (Gmail's) */
    const char *agent; /* static string: "apple_mpp", "gmail_proxy", "safe_links", ... */
    uint64_t reasons;  /* CLASSIFY_BIT() mask */
    /* Signals the message level needs. */
    bool datacenter; /* gateway or cloud address (weaker evidence for clicks) */
} classify_result_t;

typedef struct classify_rules classify_rules_t;
typedef struct classify_msg_opts classify_msg_opts_t;

/* Per-event thresholds (settings in classify_cfg). */
typedef struct {
    int64_t early_after_send_s;       /* default 10: any event this soon is suspect */
    int64_t google_prefetch_window_s; /* default 60: an open from Google space this soon */
    int64_t gateway_window_s;         /* default 300: a click behind a gateway this soon */
} classify_opts_t;

void classify_opts_default(classify_opts_t *o);
/* Reads classify_cfg values (a config_t built with classify_cfg among its tables). */
void classify_opts_from_config(const config_t *c, classify_opts_t *o, classify_msg_opts_t *m);
/* Sets the thresholds of a loaded rule set (before it is shared between threads). */
void classify_rules_set_opts(classify_rules_t *r, const classify_opts_t *o);
/* The rules directory compiled in (the source tree's data/rules for a build tree). */
const char *classify_default_rules_dir(void);
/*
 * `trueopen rules update`: refreshes every range file listed in DIR/rules.conf from
 * `from` (a directory, or a base URL file:// http:// https:// to which the file name
 * is appended), or from each file's vendor URL when from is NULL. Each feed is read
 * in its vendor format, parsed and checked (every entry valid and plausibly narrow, at
 * least one, and no fewer than half the ranges of the current file unless force); the
 * new set is staged next to DIR and loaded as a whole, and only then are the changed
 * files renamed into DIR under an exclusive lock on DIR/.lock (loads take a shared
 * one). report gets one line per file. Nothing changes on any error.
 */
int classify_rules_update(const char *dir, const char *from, bool force, buf_t *report, char *err,
                          size_t errlen);

/* One line per rule file: file, kind, entries; then totals and the version. */
void classify_rules_describe(const classify_rules_t *r, buf_t *out);

/* Loads every rule file in dir; on error fills err (file and line) and returns
 * TO_EPARSE or TO_ENOTFOUND. */
int classify_rules_load(const char *dir, classify_rules_t **out, char *err, size_t errlen);
void classify_rules_free(classify_rules_t *r);
/* The rules version: changes whenever the loaded rule data or the code's rules change. */
uint32_t classify_rules_version(const classify_rules_t *r);

void classify_event(const classify_rules_t *r, const classify_input_t *in, classify_result_t *out);

/* ---- message level ---------------------------------------------------------------- */

typedef struct {
    int64_t ts_us;
    char route;    /* 'o', 'c', 'h' */
    uint32_t link; /* link index for clicks */
    int64_t seconds_since_send;
    uint8_t verdict;   /* per-event verdict, in */
    bool datacenter;   /* per-event signal, in */
    const char *agent; /* per-event agent, in */
    /* out: the verdict after message-level evidence, and the reasons it adds */
    uint8_t final_verdict;
    uint64_t final_reasons;
} classify_msg_event_t;

struct classify_msg_opts {
    int64_t burst_window_ms;    /* default 1000 */
    int64_t honeypot_window_ms; /* default 30000 */
    int64_t gateway_window_s;   /* default 300: "first minutes after sending" */
    uint32_t link_count;        /* tracked links in the message (0: unknown) */
};
void classify_msg_opts_default(classify_msg_opts_t *o);

/* evs sorted by ts_us. Fills final_verdict and final_reasons of every event. */
void classify_message(const classify_msg_opts_t *o, classify_msg_event_t *evs, size_t n);

/* ---- JSON lines (trueopen classify) ---------------------------------------------- */

/*
 * One input line: {"type":"open|click|honeypot","ip":..,"ua":..,"method":..,
 * "headers":{..},"seconds_since_send":..,"message":"id","provider":"name",
 * "ts":"RFC 3339 or UNIX","link":N}. Only "type" is required. Header names are
 * case-insensitive; DNT and Sec-GPC are accepted and never used as evidence.
 */
typedef struct {
    classify_input_t in;
    slice_t message; /* empty when absent */
    bool has_ts;
    int64_t ts_us;
    uint32_t link;
} classify_json_event_t;

/* Parses one line; strings are copied into a. Returns 0, or TO_EPARSE with err filled
 * (a static explanation, no input echoed). */
int classify_json_parse(slice_t line, arena_t *a, classify_json_event_t *out, char *err,
                        size_t errlen);
/* Appends the output object: verdict, agent, via_proxy, certainty, reasons (array),
 * rules_version, and event_verdict when the message level changed the verdict. */
void classify_json_result(buf_t *out, const classify_result_t *res, uint8_t final_verdict,
                          uint64_t final_reasons, uint32_t rules_version);

extern const cfg_def_t classify_cfg[];

#endif
