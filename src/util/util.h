/*
 * util: the project's base layer. Knows nothing about email.
 *
 * - slice_t: a non-owning view {p, len}; parsers hand these out into their input.
 * - buf_t: an owning, growable byte string. The handle (the buf_t itself) never moves;
 *   its bytes may, so never keep a pointer into p across an append. p is always
 *   NUL-terminated (buf_cstr) so it can be passed to C APIs.
 * - arena_t: bump allocator for one unit of work (a request, a message, a query),
 *   released at once; destructors can be registered for non-memory resources.
 * - xmalloc family: never returns NULL; aborts with the call site on failure or overflow.
 * - err: one X-macro list of negative TO_E* codes and err_str().
 * - log: info, warn, error, fatal (environment broken: exit 1), panic (our bug: abort),
 *   with a rate-limited form for hostile traffic. Never log a token, a URL or a recipient.
 * - clock and random source: small vtables so tests pin time and randomness.
 * - json: an escaping emitter (parsing uses jansson).
 *
 * Thread-safety: everything here is safe to use from several threads on distinct
 * objects; the logger is safe to call from any thread.
 */
#ifndef TO_UTIL_H
#define TO_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors ----------------------------------------------------------------------- */

#define TO_ERRNO_MAP(X)                                                                            \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(IO, "input/output error")                                                                    \
    X(NOTFOUND, "not found")                                                                       \
    X(EXISTS, "already exists")                                                                    \
    X(PERM, "permission denied")                                                                   \
    X(FORGED, "token does not open")                                                               \
    X(TOOBIG, "too large")                                                                         \
    X(FULL, "queue full")                                                                          \
    X(PARSE, "malformed input")                                                                    \
    X(STORE, "store error")                                                                        \
    X(TIMEOUT, "timed out")                                                                        \
    X(AGAIN, "try again")                                                                          \
    X(CLOSED, "closed")                                                                            \
    X(UNSUPPORTED, "not supported")

enum {
    TO_OK = 0,
    TO_E__BASE = -1000,
#define TO_X(name, msg) TO_E##name,
    TO_ERRNO_MAP(TO_X)
#undef TO_X
};

/* The message for a TO_E* code (or "ok" for 0). Never NULL. */
const char *err_str(int code);

/* ---- allocation ------------------------------------------------------------------- */

void *xmalloc_at(size_t n, const char *file, int line);
void *xcalloc_at(size_t n, size_t size, const char *file, int line);
void *xrealloc_at(void *p, size_t n, const char *file, int line);
char *xstrdup_at(const char *s, const char *file, int line);
char *xstrndup_at(const char *s, size_t n, const char *file, int line);
#define xmalloc(n)     xmalloc_at((n), __FILE__, __LINE__)
#define xcalloc(n, s)  xcalloc_at((n), (s), __FILE__, __LINE__)
#define xrealloc(p, n) xrealloc_at((p), (n), __FILE__, __LINE__)
#define xstrdup(s)     xstrdup_at((s), __FILE__, __LINE__)
#define xstrndup(s, n) xstrndup_at((s), (n), __FILE__, __LINE__)
/* Makes room for element n of the array p (*cap elements of size bytes), doubling the
 * capacity from first; returns p, moved or not. */
void *xgrow_at(void *p, size_t *cap, size_t n, size_t size, size_t first, const char *file,
               int line);
#define xgrow(p, cap, n, first)                                                                    \
    ((p) = xgrow_at((p), &(cap), (n), sizeof(*(p)), (first), __FILE__, __LINE__))
/* n * size, aborting on overflow. */
size_t xmul(size_t n, size_t size);

/* ---- slices ----------------------------------------------------------------------- */

typedef struct {
    const char *p;
    size_t len;
} slice_t;

#define SLICE_LIT(s) ((slice_t){(s), sizeof(s) - 1})
#define SLICE_NULL   ((slice_t){NULL, 0})
/* printf("%.*s", SLICE_FMT(s)) */
#define SLICE_FMT(s) (int)(s).len, (s).p

slice_t slice_cstr(const char *s);
slice_t slice_make(const char *p, size_t len);
bool slice_eq(slice_t a, slice_t b);
bool slice_eq_cstr(slice_t a, const char *b);
bool slice_caseeq_cstr(slice_t a, const char *b);
bool slice_starts(slice_t a, const char *prefix);
bool slice_casestarts(slice_t a, const char *prefix);
/* Case-insensitive substring search; returns the offset or -1. */
long slice_casefind(slice_t hay, const char *needle);
slice_t slice_trim(slice_t a);
/* Parses a whole slice as an unsigned decimal; false on empty, junk or overflow. */
bool slice_to_u64(slice_t a, uint64_t *out);
bool slice_to_i64(slice_t a, int64_t *out);

/* ---- buffers ---------------------------------------------------------------------- */

typedef struct {
    char *p; /* always NUL-terminated once initialised */
    size_t len;
    size_t cap;
} buf_t;

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void buf_init(buf_t *b);
void buf_clear(buf_t *b); /* frees the bytes; b may be reused after buf_init */
void buf_reset(buf_t *b); /* len = 0, keeps the memory */
/* The slow path of buf_reserve (grows the allocation). */
void buf__grow(buf_t *b, size_t extra);
/* Makes room for extra more bytes (and the NUL). Inline: encoders call it per byte. */
static inline void buf_reserve(buf_t *b, size_t extra)
{
    if (extra >= b->cap - b->len || b->cap == 0) buf__grow(b, extra);
}
void buf_append(buf_t *b, const void *p, size_t n);
void buf_append_slice(buf_t *b, slice_t s);
void buf_puts(buf_t *b, const char *s);
static inline void buf_putc(buf_t *b, char c)
{
    buf_reserve(b, 1);
    b->p[b->len++] = c;
    b->p[b->len] = 0;
}
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
const char *buf_cstr(buf_t *b); /* "" for an empty, never-grown buffer */
slice_t buf_slice(const buf_t *b);
/* Reads a whole file (at most max bytes); TO_ETOOBIG past it, TO_EIO on error. */
int buf_read_file(buf_t *b, const char *path, size_t max);
/* Reads a whole stream (at most max bytes). */
int buf_read_fd(buf_t *b, int fd, size_t max);

/* ---- arena ------------------------------------------------------------------------ */

typedef struct arena_chunk arena_chunk_t;
typedef struct arena_dtor arena_dtor_t;
typedef struct {
    arena_chunk_t *chunks;
    arena_dtor_t *dtors;
    size_t chunk_size;
} arena_t;

void arena_init(arena_t *a, size_t chunk_size);
void arena_clear(arena_t *a);            /* runs destructors (last registered first), frees all */
void *arena_alloc(arena_t *a, size_t n); /* 16-byte aligned, never NULL */
void *arena_zalloc(arena_t *a, size_t n);
char *arena_strndup(arena_t *a, const char *s, size_t n);
slice_t arena_slice_dup(arena_t *a, slice_t s);
void arena_on_clear(arena_t *a, void (*fn)(void *), void *arg);

/* ---- logging ---------------------------------------------------------------------- */

typedef enum { LOG_INFO = 0, LOG_WARN, LOG_ERROR, LOG_FATAL, LOG_PANIC } log_level_t;

void log_set_level(log_level_t min);
/* Sends log lines to fd (default 2); a program name prefixes each line. */
void log_set_output(int fd, const char *prog);
void log_msg(log_level_t lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
/* Environment broken (bad config, missing file): logs and exits 1. */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Our own bug: logs with the call site and aborts. */
void log_panic_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
#define log_panic(...) log_panic_at(__FILE__, __LINE__, __VA_ARGS__)

/* At most `per_sec` lines a second per limiter; suppressed lines are counted and
 * reported with the next line that gets through. Zero-initialise a limiter. */
typedef struct {
    int64_t window_start_s;
    uint32_t in_window;
    uint32_t suppressed;
} log_limit_t;
void log_limited(log_limit_t *lim, uint32_t per_sec, log_level_t lvl, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* SQLite-style "cannot happen" markers: in debug builds they panic. */
#ifdef NDEBUG
#define ALWAYS(x) (x)
#define NEVER(x)  (x)
#else
#define ALWAYS(x) ((x) ? 1 : (log_panic("ALWAYS(%s) failed", #x), 0))
#define NEVER(x)  ((x) ? (log_panic("NEVER(%s) failed", #x), 1) : 0)
#endif

/* ---- clock ------------------------------------------------------------------------ */

typedef struct util_clock {
    int64_t (*now_us)(struct util_clock *c); /* microseconds since the UNIX epoch */
    int64_t fixed_us;                        /* for clock_fixed */
} util_clock_t;

extern util_clock_t clock_system;
/* A clock that always answers t (tests); advance it by writing fixed_us. */
util_clock_t clock_fixed(int64_t t_us);
int64_t clock_now_us(util_clock_t *c);
/* Monotonic milliseconds, for timeouts (not injectable: it measures, never records). */
int64_t mono_ms(void);
/* RFC 3339 UTC with microseconds, e.g. 2026-12-03T10:00:00.000123Z, into out. */
void time_format_us(int64_t t_us, char out[32]);
/* Parses RFC 3339 (Z or +hh:mm offset, optional fraction) or a UNIX time (seconds,
 * with an optional fraction). */
bool time_parse_us(slice_t s, int64_t *out_us);

/* ---- random source ---------------------------------------------------------------- */

typedef struct util_rand {
    void (*fill)(struct util_rand *r, void *out, size_t n);
    uint8_t seed[32]; /* for rand_fixed */
    uint64_t counter;
} util_rand_t;

extern util_rand_t
    rand_system; /* libsodium randombytes_buf, small requests from a per-thread pool */
/* A deterministic stream from a seed (tests, golden files). */
util_rand_t rand_fixed(uint64_t seed);
void rand_fill(util_rand_t *r, void *out, size_t n);

/* ---- encodings -------------------------------------------------------------------- */

/* base64url without padding. */
void b64url_encode(buf_t *out, const void *p, size_t n);
/* Decodes; false on a bad character or length. out must hold b64url_decoded_max(n). */
bool b64url_decode(slice_t in, uint8_t *out, size_t *out_len);
size_t b64url_decoded_max(size_t n);
void hex_encode(buf_t *out, const void *p, size_t n);

/* Unsigned LEB128 varints. */
size_t varint_put(uint8_t *out, uint64_t v); /* writes at most 10 bytes */
/* Returns bytes read, 0 on truncation or overlong encoding. */
size_t varint_get(const uint8_t *p, size_t n, uint64_t *out);

/* ---- json output ------------------------------------------------------------------ */

/* Appends s as a JSON string literal (with quotes), escaping as RFC 8259 requires;
 * invalid UTF-8 bytes become U+FFFD. */
void json_str(buf_t *b, slice_t s);
void json_cstr(buf_t *b, const char *s);
/* Appends "key": for an object member (with a leading comma unless *first). */
void json_key(buf_t *b, bool *first, const char *key);
/* Appends "key": and the time t_us as an RFC 3339 string, or null when t_us is 0. */
void json_time(buf_t *b, bool *first, const char *key, int64_t t_us);

/* ---- config ----------------------------------------------------------------------- */

/*
 * Table-driven settings (Redis static_configs). Each module exports a table of
 * cfg_def_t rows; the CLI hands the tables of a subcommand to config_new(). From the
 * table come the file parser, flag parsing (--name-with-dashes), `config check`,
 * `config dump` (secrets masked) and docs/config.md. Modules read their values once
 * at start into their own option structs, never by name at the point of use.
 *
 * File format: `name = value` per line, `#` comments, blank lines; list settings may
 * repeat. Values may be double-quoted. Errors name FILE:LINE.
 */
typedef enum { CFG_STR, CFG_INT, CFG_BOOL, CFG_SIZE, CFG_MS, CFG_LIST } cfg_type_t;

enum {
    CFG_SECRET = 1u << 0,     /* masked by config dump */
    CFG_RELOADABLE = 1u << 1, /* applied on SIGHUP */
    CFG_REQUIRED = 1u << 2,   /* must be set by file or flag */
    CFG_FLAG_ONLY = 1u << 3,  /* a command-line flag, not a file setting */
};

typedef struct {
    const char *name; /* snake_case; the flag is --name-with-dashes */
    cfg_type_t type;
    const char *def;  /* default as text, NULL for none */
    int64_t min, max; /* bounds for INT, SIZE, MS (0, 0: none) */
    unsigned flags;
    const char *doc; /* one line */
} cfg_def_t;

#define CFG_END                                                                                    \
    {                                                                                              \
        NULL, CFG_STR, NULL, 0, 0, 0, NULL                                                         \
    }

typedef struct config config_t;

/* tables: NULL-terminated array of CFG_END-terminated tables. */
config_t *config_new(const cfg_def_t *const *tables);
void config_free(config_t *c);
/* Parses a file; on error fills err ("FILE:LINE: message") and returns TO_EPARSE.
 * Nothing is changed when the file has any error. */
int config_load_file(config_t *c, const char *path, char *err, size_t errlen);
/* Sets one value from text (a flag). */
int config_set(config_t *c, const char *name, const char *value, char *err, size_t errlen);
/*
 * Parses argv (after the subcommand): `--name value`, `--name=value`, and `--flag`
 * alone for BOOL. `--config FILE` is loaded first wherever it appears, so flags
 * override the file. Non-flag arguments are returned in out_pos (count in
 * *out_npos, at most max_pos). Returns 0 or TO_EINVAL with err filled.
 */
int config_parse_args(config_t *c, int argc, char **argv, const char **out_pos, int max_pos,
                      int *out_npos, char *err, size_t errlen);
/* Checks CFG_REQUIRED settings; TO_EINVAL naming the first missing. */
int config_check_required(const config_t *c, char *err, size_t errlen);

const char *config_str(const config_t *c, const char *name); /* NULL when unset */
int64_t config_int(const config_t *c, const char *name);     /* INT, SIZE, MS */
bool config_bool(const config_t *c, const char *name);
/* LIST values: count and i-th. */
size_t config_list_len(const config_t *c, const char *name);
const char *config_list_at(const config_t *c, const char *name, size_t i);
bool config_is_set(const config_t *c, const char *name); /* by file or flag */

/* `name = value` lines, secrets masked, with docs as comments when with_docs. */
void config_dump(const config_t *c, buf_t *out, bool with_docs);
/* A Markdown table of every setting (docs/config.md). */
void config_doc_markdown(const cfg_def_t *const *tables, buf_t *out);

/* Parses "10ms", "2s", "5m", "1h", "1d" or a bare number of ms. */
bool parse_duration_ms(const char *s, int64_t *out);
/* Parses "512", "64k", "10M", "1G" (binary multiples). */
bool parse_size(const char *s, int64_t *out);

/* The tables util itself owns (logging). */
extern const cfg_def_t util_cfg[];
/* Applies util_cfg values (log level). */
void util_apply_config(const config_t *c);

/* ---- misc ------------------------------------------------------------------------- */

#define TO_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TO_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define TO_MAX(a, b)    ((a) > (b) ? (a) : (b))

/* Writes all of p to fd, retrying on EINTR and short writes. */
int write_all(int fd, const void *p, size_t n);
/* Writes a file atomically (temp file in the same directory, fsync, rename) with mode. */
int write_file_atomic(const char *path, const void *p, size_t n, unsigned mode);

#endif
