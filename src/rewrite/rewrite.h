/*
 * rewrite: makes outgoing mail trackable. A library; the milter (milter.c, the only
 * file that includes libmilter) and the CLI filter (cli/cmd_rewrite.c) are thin shells.
 *
 * What a rewrite does (docs/rewrite.md has the full list):
 * - walks the MIME tree with our own bounded walker (mime.c): headers are never
 *   re-serialised, so every byte outside a rewritten part body stays as it was;
 * - decodes each text/html part (7bit, 8bit, binary, quoted-printable, base64; any
 *   ASCII-compatible charset), wraps every http(s) <a href>/<area href> in a click token
 *   (TRACKING_URL/c/<token>, the URL sealed after entity decoding and <base href>
 *   resolution), inserts a 1x1 pixel (TRACKING_URL/o/<token>) and, when enabled, a hidden
 *   honeypot link (TRACKING_URL/h/<token>) just before </body> (or at the end), and
 *   re-encodes with the part's own encoding (QP and base64 lines at most 76 octets; a
 *   7bit/8bit line is never grown past 998 octets: such a link is left alone);
 * - optionally wraps http(s) URLs in text/plain parts;
 * - leaves alone: mailto:/tel:/sms:/other schemes, fragment-only and unresolvable relative
 *   links, links on the tracking host, links with the opt-out attribute, List-Unsubscribe
 *   targets, links matching the skip patterns (unsubscribe/confirmation), attachments,
 *   message/rfc822 and other message parts (forwarded mail), parts in charsets that are not
 * ASCII-compatible.
 *
 * Order of work for one message: parse and plan (nothing recorded yet) -> campaign id
 * from the sink -> record the message (the sink returns its id, which the tokens carry)
 * -> seal the tokens -> emit. Fail open: a message that is too big, DKIM-signed (unless
 * rewrite_signed), unparseable, has nothing to track, or cannot be recorded comes back
 * unchanged (res->changed false), with a log line that names no recipient, and a counter.
 *
 * Recipient ids: with exactly one envelope recipient the tokens carry recipient = the
 * store's message row id (the row records that one recipient's domain and keyed hash);
 * with several, recipient = 0 and the row records recipient_count > 1: the tokens name
 * the message, not a person. The keyed hash is BLAKE2b (crypto_generichash, 32 bytes, hex)
 * of the lowercased address under token_ring_derive(ring, "recipient-hash").
 *
 * Thread-safety: a rewrite_t is read-only after rewrite_new and may be shared by threads,
 * provided its sink, provider callback and random source are thread-safe (rand_system
 * is; rand_fixed is not). Counters are atomic.
 */
#ifndef TO_REWRITE_H
#define TO_REWRITE_H

#include "token/token.h"
#include "util/util.h"

#include <string.h>

/* RFC 5322 line limit, excluding CRLF. */
#define REWRITE_LINE_MAX 998

/* ---- interfaces the front ends pass in ------------------------------------------- */

/* A sent message as the rewriter records it. Slices are valid during the call only. */
typedef struct {
    uint64_t account;
    uint64_t campaign;
    slice_t message_id_hdr;   /* the Message-ID header, trimmed; may be empty */
    slice_t recipient_domain; /* lowercased; empty when recipients span several domains */
    slice_t recipient_hash;   /* hex keyed hash; empty unless exactly one recipient */
    slice_t recipient_addr;   /* lowercased address, only with keep_recipient_address */
    uint32_t recipient_count; /* envelope recipients */
    int64_t sent_at;          /* UNIX seconds */
    uint32_t link_count;      /* click tokens in the message */
    uint8_t provider;         /* token_provider_t */
} rewrite_sent_t;

/* An account's own settings that change how its messages are rewritten. */
typedef struct {
    bool honeypot;
    bool keep_recipient_address;
} rewrite_account_settings_t;

/* Where sent messages are recorded (cli/ wires it to the store). Both return 0 or a
 * negative TO_E* code; a failure leaves the message unchanged. Must be thread-safe when
 * the rewrite_t is shared (the milter).
 * account_settings (optional, may be NULL) is asked once per message for the settings of
 * the message's account (env->account, else the options' account); *out comes in filled
 * from the options and the callback changes what the account decides. It is called on
 * the message path: it should answer from memory (cli/ keeps a cache). */
typedef struct {
    int (*campaign_id)(void *ctx, uint64_t account, slice_t name, uint64_t *out_id);
    int (*message_sent)(void *ctx, const rewrite_sent_t *m, uint64_t *out_message_id);
    void *ctx;
    void (*account_settings)(void *ctx, uint64_t account, rewrite_account_settings_t *out);
} rewrite_sink_t;

/* Mailbox provider of a recipient domain (token_provider_t code); NULL: provider 0. */
typedef uint8_t (*rewrite_provider_fn)(void *ctx, slice_t domain);

/* ---- options ---------------------------------------------------------------------- */

typedef struct {
    char *tracking_url;     /* absolute http(s) base, no trailing slash */
    uint64_t account;       /* default account (0: none; the message is left unchanged) */
    char *campaign_header;  /* header naming the campaign */
    char *default_campaign; /* when neither the header nor the caller names one */
    size_t max_message_size;
    unsigned max_depth; /* MIME nesting */
    size_t max_header_size;
    unsigned max_links; /* click tokens per message; later links are left alone */
    bool honeypot;
    bool wrap_text_links;
    bool rewrite_signed;
    bool skip_list_unsubscribe;
    bool keep_recipient_address;
    char *optout_name;    /* attribute name, lowercase (e.g. data-trueopen) */
    char *optout_value;   /* its value (e.g. off); case-insensitive */
    char **skip_patterns; /* case-insensitive URL substrings */
    size_t nskip;
    /* milter only */
    char **account_map_sender; /* authenticated sender -> account */
    uint64_t *account_map_account;
    size_t naccount_map;
    bool mark_header; /* adds X-Trueopen: tracked to rewritten messages */
} rewrite_opts_t;

extern const cfg_def_t rewrite_cfg[];
/* Fills o from c (defaults from rewrite_cfg). TO_EINVAL with err filled on a bad value
 * (e.g. a tracking_url that is not an absolute http(s) URL of safe characters). */
int rewrite_opts_from_config(const config_t *c, rewrite_opts_t *o, char *err, size_t errlen);
void rewrite_opts_clear(rewrite_opts_t *o);
/* The account for an authenticated sender per account_map, else o->account. */
uint64_t rewrite_account_for(const rewrite_opts_t *o, slice_t auth_sender);

/* ---- the rewriter ------------------------------------------------------------------ */

typedef struct rewrite rewrite_t;

typedef struct {
    const token_ring_t *ring; /* not owned; must have an active key */
    rewrite_sink_t sink;
    rewrite_provider_fn provider;
    void *provider_ctx;
    util_clock_t *clock; /* sent-at when the caller gives none */
    util_rand_t *rand;   /* token nonces */
} rewrite_deps_t;

/* Takes ownership of *opts (it is zeroed; rewrite_free clears the copy). TO_EINVAL with
 * err filled when the ring has no active key or the options are unusable. */
int rewrite_new(rewrite_opts_t *opts, const rewrite_deps_t *deps, rewrite_t **out, char *err,
                size_t errlen);
void rewrite_free(rewrite_t *rw);
const rewrite_opts_t *rewrite_opts(const rewrite_t *rw);

/* One message's envelope. */
typedef struct {
    const slice_t *rcpt; /* envelope recipients (with or without <>) */
    size_t nrcpt;
    slice_t campaign;  /* overrides the campaign header when non-empty */
    uint64_t account;  /* 0: the options' account */
    int64_t sent_at;   /* UNIX seconds; 0: now */
    const char *logid; /* e.g. the queue id, for log lines; may be NULL */
    /* All envelope recipients when rcpt lists only some of them (the milter keeps at
     * most a bounded number); 0 or less than nrcpt: nrcpt. It sets recipient_count and
     * decides between per-recipient and per-message tokens; the domain comes from the
     * listed recipients, so a caller that lists only some must list one of each other
     * domain it saw (the milter does). */
    size_t nrcpt_total;
} rewrite_env_t;

typedef enum {
    REWRITE_DONE = 0,   /* rewritten */
    REWRITE_UNTRACKED,  /* nothing to track (no HTML part, everything skipped) */
    REWRITE_SIGNED,     /* DKIM-Signature present and rewrite_signed off */
    REWRITE_TOO_BIG,    /* over max_message_size */
    REWRITE_PARSE,      /* broken MIME or over a limit */
    REWRITE_NO_ACCOUNT, /* no account configured or mapped */
    REWRITE_STORE,      /* the sink failed */
    REWRITE__STATUS_COUNT
} rewrite_status_t;

const char *rewrite_status_str(rewrite_status_t s);

typedef struct {
    rewrite_status_t status;
    bool changed;           /* out holds the rewritten message */
    const char *why;        /* static detail for PARSE, or NULL */
    uint32_t links;         /* click tokens sealed */
    uint32_t html_parts;    /* parts given a pixel */
    uint32_t text_parts;    /* text/plain parts with wrapped links */
    uint32_t parts_bad;     /* parts left alone: transfer encoding did not decode cleanly */
    uint32_t parts_charset; /* parts left alone: charset not ASCII-compatible */
    uint32_t links_skipped; /* http(s) links left alone by a rule */
    uint32_t links_long;    /* of which: would have grown a 7bit/8bit line past 998 */
    uint64_t message_id;    /* the store's id (0 when not recorded) */
    size_t header_len;      /* bytes of the top-level header block incl. the blank line;
                               identical in input and output */
} rewrite_result_t;

/*
 * Rewrites msg. When res->changed, the rewritten message is appended to out (which the
 * caller owns); otherwise out is untouched and the caller delivers msg as it was.
 * Returns 0 for every outcome that delivers mail (res->status says which); a negative
 * TO_E* code only for caller errors (NULL arguments).
 */
int rewrite_message(rewrite_t *rw, slice_t msg, const rewrite_env_t *env, buf_t *out,
                    rewrite_result_t *res);

/* Process-wide counters since start, per status, plus tokens and bad parts. */
typedef struct {
    uint64_t by_status[REWRITE__STATUS_COUNT];
    uint64_t links, parts_bad, parts_charset;
} rewrite_stats_t;
void rewrite_stats(const rewrite_t *rw, rewrite_stats_t *out);

/* ---- the HTML tokenizer ------------------------------------------------------------ */

/*
 * A small HTML5-style tokenizer over bytes of any ASCII-compatible charset: yields start
 * and end tags with their attributes; skips text, comments, <!...>, <?...> and the raw
 * text of script/style/textarea/title/xmp. Case-insensitive names, double-quoted,
 * single-quoted and unquoted values. Slices point into the input. An unterminated tag at
 * the end is not a tag. Attributes beyond REWRITE_HTML_ATTRS_MAX are dropped (flagged).
 */
#define REWRITE_HTML_ATTRS_MAX 32

typedef struct {
    slice_t name;     /* as written */
    slice_t value;    /* raw, entities not decoded; empty when absent */
    size_t value_off; /* offset of the value (inside quotes) in the input */
    char quote;       /* '"', '\'' or 0 (unquoted or no value) */
    bool has_value;
} rewrite_html_attr_t;

typedef struct {
    slice_t name;       /* as written */
    bool end;           /* </name> */
    size_t start, stop; /* offset of '<' and one past '>' */
    size_t nattrs;
    bool attrs_dropped;
    rewrite_html_attr_t attrs[REWRITE_HTML_ATTRS_MAX];
} rewrite_html_tag_t;

typedef struct {
    const char *p;
    size_t len, pos;
    size_t tail;      /* at the end: where visible markup ends (the '<' of a tag, comment or
                         raw-text element that never closes, else len) */
    size_t raw_start; /* '<' of the raw-text element whose end tag comes next, or SIZE_MAX */
} rewrite_html_t;

void rewrite_html_init(rewrite_html_t *h, slice_t text);
/* The next tag, or false at the end. */
bool rewrite_html_next(rewrite_html_t *h, rewrite_html_tag_t *out);
/* Case-insensitive name test (name given in lowercase). Inline, lengths first: it runs
 * for every tag and attribute, and with a literal the length is a constant. */
static inline bool rewrite_html_is(slice_t name, const char *lower)
{
    size_t n = strlen(lower);
    if (name.len != n) return false;
    for (size_t i = 0; i < n; i++) {
        char c = name.p[i];
        if ((c >= 'A' && c <= 'Z' ? (char)(c + 32) : c) != lower[i]) return false;
    }
    return true;
}
/* Appends v with character references decoded (&amp; &lt; &gt; &quot; &apos; &nbsp;,
 * &#N; &#xH; as UTF-8; unknown references kept as written). */
void rewrite_html_unescape(slice_t v, buf_t *out);

/* ---- the milter -------------------------------------------------------------------- */

/*
 * Runs the milter on socket ("unix:PATH" or "inet:PORT@ADDR") until SIGTERM/SIGINT
 * (libmilter's threads serve concurrent connections; per-message state is reset at end
 * of message and abort). socket_mode: permissions of a unix socket (e.g. 0660).
 * Returns 0 on a clean stop, TO_EIO when the socket cannot be opened.
 */
int rewrite_milter_run(rewrite_t *rw, const char *socket, unsigned socket_mode, int timeout_s);

#endif
