/*
 * Our MIME walker against GMime 3, on the corpus of bench/rewrite.sh (rewrite_corpus.h).
 *
 *   ours:  rewrite__mime_parse() on each whole message, then every text/html leaf decoded
 *          into memory (rewrite__qp_decode, rewrite__b64_decode; a 7bit body is copied);
 *   GMime: g_mime_parser_construct_message() from a memory stream over the message (no
 *          copy), g_mime_message_foreach() to every text/html part that is not an
 *          attachment, its content decoded into memory by g_mime_data_wrapper_write_to_stream.
 *
 * Both run alternately ROUNDS times, best time of each kept. Prints MB/s (of message
 * bytes) and the ratio GMime time / our time, then a check outside the timing: both
 * decoded HTML parts compared with the HTML the generator encoded (mismatches counted),
 * the walk alone, and the heap of each: the peak above the start within one message and
 * the allocation calls (malloc interposed; G_SLICE=always-malloc so that GLib's small
 * objects go through it; not in sanitizer builds).
 *   usage: mime_bench [MESSAGES] [ROUNDS] [SEED]
 *
 * The robustness mode walks real files with both and reports where they disagree: which
 * messages each accepts, the leaves (text/html, text/plain) each finds, their decoded
 * bytes and the byte range of each body in the input, the warnings GMime raises, whether
 * GMime writes an unchanged message back byte for byte, and whether it keeps the bytes
 * outside an HTML part it was asked to change.
 *   usage: mime_bench --compare [-v] FILE...   (-v: a line for every file, not only
 *   those where they differ)
 */
#include <gmime/gmime.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rewrite/rewrite_int.h"
#include "rewrite_corpus.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Heap accounting: malloc and friends are interposed (for GLib and GMime too, which
 * resolve them from the executable) and count usable bytes and calls while a span is
 * open. Not under the sanitizers, which interpose them themselves.
 */
static struct {
    bool on;
    long long cur, peak, start;
    unsigned long long calls;
} heap;

static void heap_open(void)
{
    heap.start = heap.peak = heap.cur;
    heap.calls = 0;
    heap.on = true;
}

/* Closes the span: its peak above the start, in bytes; *calls allocations. */
static long long heap_close(unsigned long long *calls)
{
    heap.on = false;
    *calls = heap.calls;
    return heap.peak - heap.start;
}

#ifdef MIME_BENCH_COUNT_ALLOC
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t a, size_t n);
extern void __libc_free(void *p);

static void heap_add(void *p)
{
    if (!heap.on || !p) return;
    heap.cur += (long long)malloc_usable_size(p);
    if (heap.cur > heap.peak) heap.peak = heap.cur;
    heap.calls++;
}

static void heap_sub(void *p)
{
    if (heap.on && p) heap.cur -= (long long)malloc_usable_size(p);
}

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    heap_add(p);
    return p;
}

void *calloc(size_t n, size_t m)
{
    void *p = __libc_calloc(n, m);
    heap_add(p);
    return p;
}

void *realloc(void *p, size_t n)
{
    heap_sub(p);
    void *q = __libc_realloc(p, n);
    if (q) {
        heap_add(q);
    } else if (p && n) {
        heap_add(p); /* failed: p still lives */
    }
    return q;
}

void free(void *p)
{
    heap_sub(p);
    __libc_free(p);
}

void *memalign(size_t a, size_t n)
{
    void *p = __libc_memalign(a, n);
    heap_add(p);
    return p;
}

void *aligned_alloc(size_t a, size_t n)
{
    return memalign(a, n);
}

int posix_memalign(void **out, size_t a, size_t n)
{
    void *p = memalign(a, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}
#endif

/* A decoded leaf, as either walker reports it. */
typedef struct {
    bool html;
    bool decoded_ok;
    size_t body_start, body_end; /* in the input; SIZE_MAX when unknown */
    buf_t dec;
} leaf_t;

typedef struct {
    leaf_t *v;
    size_t n, cap;
} leaves_t;

static leaf_t *leaves_add(leaves_t *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = xrealloc(l->v, xmul(l->cap, sizeof(*l->v)));
    }
    leaf_t *f = &l->v[l->n++];
    memset(f, 0, sizeof(*f));
    buf_init(&f->dec);
    return f;
}

static void leaves_clear(leaves_t *l)
{
    for (size_t i = 0; i < l->n; i++) buf_clear(&l->v[i].dec);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* ---- ours ---- */

static const rewrite__mime_limits_t LIMITS = {16, 1 << 20, "X-Campaign-ID"};

/* Decodes one leaf body into out (reset first). False when it does not decode cleanly. */
static bool ours_decode(slice_t msg, const rewrite__leaf_t *l, buf_t *out)
{
    slice_t body = slice_make(msg.p + l->body_start, l->body_end - l->body_start);
    bool eol;
    buf_reset(out);
    if (l->enc == REWRITE__ENC_QP) return rewrite__qp_decode(body, out);
    if (l->enc == REWRITE__ENC_BASE64) return rewrite__b64_decode(body, out, &eol);
    buf_append_slice(out, body);
    return true;
}

/* The timed unit: walk, decode every HTML leaf. Returns decoded bytes, or -1. */
static long long ours_run(slice_t msg, buf_t *dec)
{
    rewrite__mime_t m;
    if (rewrite__mime_parse(msg, &LIMITS, &m) != 0) return -1;
    long long got = 0;
    for (size_t k = 0; k < m.nleaves; k++) {
        if (m.leaves[k].kind != REWRITE__LEAF_HTML) continue;
        if (!ours_decode(msg, &m.leaves[k], dec)) got = -1;
        if (got >= 0) got += (long long)dec->len;
    }
    rewrite__mime_clear(&m);
    return got;
}

/* All leaves (both kinds) with their decoded bytes; the parse result, *why on failure. */
static int ours_leaves(slice_t msg, leaves_t *out, const char **why)
{
    rewrite__mime_t m;
    int rc = rewrite__mime_parse(msg, &LIMITS, &m);
    *why = m.why;
    for (size_t k = 0; rc == 0 && k < m.nleaves; k++) {
        leaf_t *f = leaves_add(out);
        f->html = m.leaves[k].kind == REWRITE__LEAF_HTML;
        f->body_start = m.leaves[k].body_start;
        f->body_end = m.leaves[k].body_end;
        f->decoded_ok = ours_decode(msg, &m.leaves[k], &f->dec);
    }
    rewrite__mime_clear(&m);
    return rc;
}

/* ---- GMime ---- */

typedef struct {
    GByteArray *out;   /* reused output of the timed run */
    GMimeStream *outs; /* a memory stream over out, not owning it */
    long long got;
    bool want_text;   /* also text/plain (compare mode) */
    leaves_t *leaves; /* compare mode: collect here */
    GMimePart *first_html;
} gm_walk_t;

static void gm_part(GMimeObject *parent, GMimeObject *obj, gpointer data)
{
    gm_walk_t *w = data;
    (void)parent;
    if (!GMIME_IS_PART(obj)) return;
    GMimePart *part = GMIME_PART(obj);
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    bool html = g_mime_content_type_is_type(ct, "text", "html");
    bool text = g_mime_content_type_is_type(ct, "text", "plain");
    if (!html && !(text && w->want_text)) return;
    if (g_mime_part_is_attachment(part)) return;
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    if (!content) return;
    if (!w->leaves) {
        g_byte_array_set_size(w->out, 0);
        g_mime_stream_reset(w->outs);
        if (g_mime_data_wrapper_write_to_stream(content, w->outs) < 0) w->got = -1;
        if (w->got >= 0) w->got += (long long)w->out->len;
        return;
    }
    leaf_t *f = leaves_add(w->leaves);
    f->html = html;
    GMimeStream *src = g_mime_data_wrapper_get_stream(content);
    f->body_start = src && src->bound_start >= 0 ? (size_t)src->bound_start : SIZE_MAX;
    f->body_end = src && src->bound_end >= 0 ? (size_t)src->bound_end : SIZE_MAX;
    GByteArray *a = g_byte_array_new();
    GMimeStream *s = g_mime_stream_mem_new_with_byte_array(a);
    f->decoded_ok = g_mime_data_wrapper_write_to_stream(content, s) >= 0;
    buf_append(&f->dec, a->data, a->len);
    g_object_unref(s); /* owns a */
    if (html && !w->first_html) w->first_html = part;
}

/* A parser over a memory stream that reads msg in place. */
static GMimeMessage *gm_parse(GByteArray *msg, GMimeParserOptions *opts)
{
    GMimeStream *s = g_mime_stream_mem_new_with_byte_array(msg);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(s), FALSE);
    GMimeParser *p = g_mime_parser_new_with_stream(s);
    GMimeMessage *m = g_mime_parser_construct_message(p, opts);
    g_object_unref(p);
    g_object_unref(s);
    return m;
}

static long long gm_run(GByteArray *msg, gm_walk_t *w)
{
    GMimeMessage *m = gm_parse(msg, NULL);
    if (!m) return -1;
    w->got = 0;
    g_mime_message_foreach(m, gm_part, w);
    g_object_unref(m);
    return w->got;
}

static GByteArray *byte_array_of(slice_t s)
{
    GByteArray *a = g_byte_array_sized_new((guint)s.len);
    g_byte_array_append(a, (const guint8 *)s.p, (guint)s.len);
    return a;
}

/* ---- benchmark ---- */

static int bench(int n, int rounds, uint64_t seed)
{
    corpus_seed(seed);
    corpus_item_t *items = xcalloc((size_t)n, sizeof(*items));
    GByteArray **ga = xcalloc((size_t)n, sizeof(*ga));
    size_t bytes = 0, html_bytes = 0;
    for (int i = 0; i < n; i++) {
        corpus_gen_message(&items[i], i);
        ga[i] = byte_array_of(buf_slice(&items[i].msg));
        bytes += items[i].msg.len;
        html_bytes += items[i].html.len;
    }
    buf_t dec = BUF_INIT;
    gm_walk_t w = {.out = g_byte_array_sized_new(1 << 20)};
    w.outs = g_mime_stream_mem_new_with_byte_array(w.out);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(w.outs), FALSE);

    double best_ours = 1e30, best_gm = 1e30, best_walk = 1e30, best_gparse = 1e30;
    long long sum_ours = 0, sum_gm = 0;
    for (int r = 0; r < rounds; r++) {
        long long so = 0, sg = 0;
        double t0 = now_s();
        for (int i = 0; i < n; i++) {
            long long g = ours_run(buf_slice(&items[i].msg), &dec);
            if (g < 0) {
                fprintf(stderr, "mime_bench: our walker failed on message %d\n", i);
                return 1;
            }
            so += g;
        }
        double t1 = now_s();
        for (int i = 0; i < n; i++) {
            long long g = gm_run(ga[i], &w);
            if (g < 0) {
                fprintf(stderr, "mime_bench: GMime failed on message %d\n", i);
                return 1;
            }
            sg += g;
        }
        double t2 = now_s();
        /* the walks alone, no decoding */
        for (int i = 0; i < n; i++) {
            rewrite__mime_t m;
            if (rewrite__mime_parse(buf_slice(&items[i].msg), &LIMITS, &m) != 0) return 1;
            rewrite__mime_clear(&m);
        }
        double t3 = now_s();
        for (int i = 0; i < n; i++) {
            GMimeMessage *m = gm_parse(ga[i], NULL);
            if (!m) return 1;
            g_object_unref(m);
        }
        double t4 = now_s();
        if (t1 - t0 < best_ours) best_ours = t1 - t0;
        if (t2 - t1 < best_gm) best_gm = t2 - t1;
        if (t3 - t2 < best_walk) best_walk = t3 - t2;
        if (t4 - t3 < best_gparse) best_gparse = t4 - t3;
        sum_ours = so;
        sum_gm = sg;
    }

    /* Outside the timing: both against the generator's HTML. */
    int mism_ours = 0, mism_gm = 0;
    for (int i = 0; i < n; i++) {
        slice_t want = buf_slice(&items[i].html);
        leaves_t lo = {0}, lg = {0};
        const char *why;
        int rc = ours_leaves(buf_slice(&items[i].msg), &lo, &why);
        size_t nh = 0;
        bool ok = rc == 0;
        for (size_t k = 0; ok && k < lo.n; k++) {
            if (!lo.v[k].html) continue;
            nh++;
            ok = lo.v[k].decoded_ok && slice_eq(buf_slice(&lo.v[k].dec), want);
        }
        if (!ok || nh != 1) mism_ours++;
        GMimeMessage *m = gm_parse(ga[i], NULL);
        gm_walk_t cw = {.leaves = &lg};
        if (m) g_mime_message_foreach(m, gm_part, &cw);
        if (m) g_object_unref(m);
        nh = 0;
        ok = m != NULL;
        for (size_t k = 0; ok && k < lg.n; k++) {
            nh++;
            ok = lg.v[k].decoded_ok && slice_eq(buf_slice(&lg.v[k].dec), want);
        }
        if (!ok || nh != 1) mism_gm++;
        leaves_clear(&lo);
        leaves_clear(&lg);
    }

    /* The heap of each timed unit, its output buffer new each time (so included), and
     * of the walk alone. Largest peak over the corpus, allocation calls per message. */
    long long peak_o = 0, peak_g = 0, peak_ow = 0, peak_gw = 0;
    unsigned long long calls_o = 0, calls_g = 0, calls_ow = 0, calls_gw = 0, c;
    size_t largest = 0;
    for (int i = 0; i < n; i++) {
        if (items[i].msg.len > largest) largest = items[i].msg.len;
        heap_open();
        buf_t d = BUF_INIT;
        if (ours_run(buf_slice(&items[i].msg), &d) < 0) return 1;
        buf_clear(&d);
        long long pk = heap_close(&c);
        calls_o += c;
        if (pk > peak_o) peak_o = pk;

        heap_open();
        gm_walk_t gw = {.out = g_byte_array_new()};
        gw.outs = g_mime_stream_mem_new_with_byte_array(gw.out);
        if (gm_run(ga[i], &gw) < 0) return 1;
        g_object_unref(gw.outs);
        pk = heap_close(&c);
        calls_g += c;
        if (pk > peak_g) peak_g = pk;

        heap_open();
        rewrite__mime_t m;
        if (rewrite__mime_parse(buf_slice(&items[i].msg), &LIMITS, &m) != 0) return 1;
        rewrite__mime_clear(&m);
        pk = heap_close(&c);
        calls_ow += c;
        if (pk > peak_ow) peak_ow = pk;

        heap_open();
        GMimeMessage *gm = gm_parse(ga[i], NULL);
        if (!gm) return 1;
        g_object_unref(gm);
        pk = heap_close(&c);
        calls_gw += c;
        if (pk > peak_gw) peak_gw = pk;
    }

    double mb = (double)bytes / 1e6;
    printf("corpus: %d messages, %.1f MB (%.1f MB of HTML), seed %llu\n", n, mb,
           (double)html_bytes / 1e6, (unsigned long long)seed);
    printf("ours:  %8.1f MB/s %8.0f messages/s  walk + decode HTML (best of %d: %.4f s)\n",
           mb / best_ours, n / best_ours, rounds, best_ours);
    printf("GMime: %8.1f MB/s %8.0f messages/s  parse + decode HTML (best of %d: %.4f s)\n",
           mb / best_gm, n / best_gm, rounds, best_gm);
    printf("ratio GMime/ours (time): %.2f\n", best_gm / best_ours);
    printf("walk alone: ours %.1f MB/s, GMime %.1f MB/s, ratio %.2f\n", mb / best_walk,
           mb / best_gparse, best_gparse / best_walk);
    printf("decoded HTML bytes: ours %lld, GMime %lld\n", sum_ours, sum_gm);
    printf("mismatches against the generated HTML: ours %d, GMime %d (of %d messages)\n", mism_ours,
           mism_gm, n);
#ifdef MIME_BENCH_COUNT_ALLOC
    printf("heap peak, walk + decode (output included): ours %.1f KB, GMime %.1f KB; "
           "allocations a message: ours %.1f, GMime %.1f\n",
           (double)peak_o / 1024, (double)peak_g / 1024, (double)calls_o / n, (double)calls_g / n);
    printf("heap peak, walk alone: ours %.1f KB, GMime %.1f KB; allocations a message: "
           "ours %.1f, GMime %.1f (largest message %.1f KB)\n",
           (double)peak_ow / 1024, (double)peak_gw / 1024, (double)calls_ow / n,
           (double)calls_gw / n, (double)largest / 1024);
#else
    (void)calls_o, (void)calls_g, (void)calls_ow, (void)calls_gw, (void)largest;
    printf("heap: not counted in this build (the sanitizers own malloc)\n");
#endif
    buf_clear(&dec);
    g_object_unref(w.outs);
    g_byte_array_unref(w.out);
    for (int i = 0; i < n; i++) {
        buf_clear(&items[i].msg);
        buf_clear(&items[i].html);
        g_byte_array_unref(ga[i]);
    }
    free(items);
    free(ga);
    return mism_ours || mism_gm ? 1 : 0;
}

/* ---- robustness: both walkers over real files ---- */

typedef struct {
    unsigned n, crit;
    buf_t list; /* "NAME@offset " ... */
} warns_t;

static const char *warn_name(GMimeParserWarning w)
{
    switch (w) {
    case GMIME_WARN_DUPLICATED_HEADER: return "duplicated-header";
    case GMIME_WARN_DUPLICATED_PARAMETER: return "duplicated-parameter";
    case GMIME_WARN_UNENCODED_8BIT_HEADER: return "8bit-header";
    case GMIME_WARN_INVALID_CONTENT_TYPE: return "invalid-content-type";
    case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE: return "invalid-rfc2047";
    case GMIME_WARN_MALFORMED_MULTIPART: return "malformed-multipart";
    case GMIME_WARN_TRUNCATED_MESSAGE: return "truncated-message";
    case GMIME_WARN_MALFORMED_MESSAGE: return "malformed-message";
    case GMIME_CRIT_INVALID_HEADER_NAME: return "CRIT-invalid-header-name";
    case GMIME_CRIT_CONFLICTING_HEADER: return "CRIT-conflicting-header";
    case GMIME_CRIT_CONFLICTING_PARAMETER: return "CRIT-conflicting-parameter";
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY: return "CRIT-multipart-without-boundary";
    case GMIME_WARN_INVALID_PARAMETER: return "invalid-parameter";
    case GMIME_WARN_INVALID_ADDRESS_LIST: return "invalid-address-list";
    case GMIME_CRIT_NESTING_OVERFLOW: return "CRIT-nesting-overflow";
    case GMIME_WARN_PART_WITHOUT_CONTENT: return "part-without-content";
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT: return "CRIT-part-without-headers";
    }
    return "unknown";
}

static void on_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer data)
{
    warns_t *w = data;
    (void)item; /* may hold a header value: not printed */
    w->n++;
    if (code == GMIME_CRIT_INVALID_HEADER_NAME || code == GMIME_CRIT_CONFLICTING_HEADER ||
        code == GMIME_CRIT_CONFLICTING_PARAMETER || code == GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY ||
        code == GMIME_CRIT_NESTING_OVERFLOW || code == GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT)
        w->crit++;
    if (w->list.len < 200) buf_printf(&w->list, " %s@%lld", warn_name(code), (long long)offset);
}

/* GMime writes m back; 0 when the bytes are in's, else 1 + the first differing offset. */
static size_t gm_write(GMimeMessage *m, bool crlf, GByteArray *out)
{
    GMimeFormatOptions *fo = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(fo, crlf ? GMIME_NEWLINE_FORMAT_DOS
                                                      : GMIME_NEWLINE_FORMAT_UNIX);
    GMimeStream *s = g_mime_stream_mem_new_with_byte_array(out);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(s), FALSE);
    g_mime_object_write_to_stream(GMIME_OBJECT(m), fo, s);
    g_object_unref(s);
    g_mime_format_options_free(fo);
    return out->len;
}

static bool first_line_crlf(slice_t in)
{
    const char *nl = memchr(in.p, '\n', in.len);
    return nl && nl > in.p && nl[-1] == '\r';
}

static size_t first_diff(slice_t a, const GByteArray *b)
{
    size_t n = a.len < b->len ? a.len : b->len;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a.p[i] != b->data[i]) return i + 1;
    return a.len == b->len ? 0 : n + 1;
}

typedef struct {
    unsigned files, agree, ours_only, gm_only, both_reject, nleaves_differ, dec_differ,
        range_differ, range_unknown, gm_warned, roundtrip_same, roundtrip_tried, kept_outside,
        change_tried, body_same, gm_lenient, ranges_same, ranges_compared;
} tally_t;

/* Prints a line for the file when the two disagree or GMime warns or changes bytes (every
 * file when all is set). */
static void compare_one(const char *path, slice_t in, bool all, tally_t *t)
{
    bool note = false;
    t->files++;
    leaves_t lo = {0}, lg = {0};
    const char *why = NULL;
    int rc = ours_leaves(in, &lo, &why);

    warns_t w = {0};
    buf_init(&w.list);
    GMimeParserOptions *po = g_mime_parser_options_new();
    g_mime_parser_options_set_warning_callback(po, on_warning, &w);
    GByteArray *ga = byte_array_of(in);
    GMimeMessage *m = gm_parse(ga, po);
    gm_walk_t gw = {.want_text = true, .leaves = &lg};
    if (m) g_mime_message_foreach(m, gm_part, &gw);
    if (w.n) t->gm_warned++;
    note |= w.n > 0;

    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    buf_t line = BUF_INIT;
    buf_printf(&line, "%-40s ", base);
    if (rc != 0) {
        buf_printf(&line, "ours: left alone (%s)", why ? why : "?");
    } else {
        size_t nh = 0;
        for (size_t k = 0; k < lo.n; k++) nh += lo.v[k].html;
        buf_printf(&line, "ours: %zu html %zu text", nh, lo.n - nh);
    }
    if (!m) {
        buf_puts(&line, " | GMime: no message");
    } else {
        size_t nh = 0;
        for (size_t k = 0; k < lg.n; k++) nh += lg.v[k].html;
        buf_printf(&line, " | GMime: %zu html %zu text", nh, lg.n - nh);
    }
    if (w.n) buf_printf(&line, ", %u warnings (%u critical):%s", w.n, w.crit, w.list.p);

    if (rc != 0 || !m) note = true;
    if (rc != 0 && !m) {
        t->both_reject++;
    } else if (rc != 0) {
        t->gm_only++;
        buf_puts(&line, " | GMIME ACCEPTS what we leave alone");
    } else if (!m) {
        t->ours_only++;
        buf_puts(&line, " | GMIME REJECTS");
    } else if (lo.n != lg.n) {
        t->nleaves_differ++;
        note = true;
        buf_puts(&line, " | LEAVES DIFFER");
    } else {
        bool dec = true, range = true, unknown = false;
        for (size_t k = 0; k < lo.n; k++) {
            const leaf_t *a = &lo.v[k], *b = &lg.v[k];
            if (a->html != b->html) {
                dec = false;
                buf_printf(&line, " | leaf %zu: a different kind", k);
            } else if (!a->decoded_ok && b->decoded_ok) {
                dec = false;
                t->gm_lenient++;
                buf_printf(&line,
                           " | leaf %zu: we refuse its transfer encoding, GMime decodes "
                           "it anyway (%zu bytes)",
                           k, b->dec.len);
            } else if (a->decoded_ok != b->decoded_ok ||
                       !slice_eq(buf_slice(&a->dec), buf_slice(&b->dec))) {
                dec = false;
                buf_printf(&line, " | leaf %zu: decoded bytes differ", k);
            }
            if (b->body_start == SIZE_MAX || b->body_end == SIZE_MAX) {
                unknown = true;
                continue;
            }
            t->ranges_compared++;
            if (a->body_start == b->body_start && a->body_end == b->body_end) {
                t->ranges_same++;
                continue;
            }
            range = false;
            buf_printf(&line, " | leaf %zu: ours [%zu,%zu) GMime [%zu,%zu)", k, a->body_start,
                       a->body_end, b->body_start, b->body_end);
        }
        if (!dec) t->dec_differ++;
        if (unknown) t->range_unknown++;
        if (!range) t->range_differ++;
        if (dec && range && !unknown) t->agree++;
        note |= !(dec && range && !unknown);
    }

    if (m) {
        bool crlf = first_line_crlf(in);
        GByteArray *out = g_byte_array_new();
        gm_write(m, crlf, out);
        size_t d = first_diff(in, out);
        t->roundtrip_tried++;
        if (d == 0) {
            t->roundtrip_same++;
            buf_puts(&line, " | written back: same bytes");
        } else {
            note = true;
            buf_printf(&line, " | written back: differs at byte %zu (%u vs %u bytes)", d - 1,
                       (unsigned)in.len, out->len);
        }
        g_byte_array_unref(out);
    }

    /* Asked to set the first HTML part to its own decoded text, does GMime keep every
     * byte outside that part's body (what byte-exact rewriting needs)? */
    if (m && gw.first_html) {
        const leaf_t *f = NULL;
        for (size_t k = 0; k < lg.n && !f; k++)
            if (lg.v[k].html) f = &lg.v[k];
        if (f && f->body_start != SIZE_MAX && f->body_end != SIZE_MAX && f->body_end <= in.len) {
            GByteArray *a = g_byte_array_new();
            g_byte_array_append(a, (const guint8 *)f->dec.p, (guint)f->dec.len);
            GMimeStream *s = g_mime_stream_mem_new_with_byte_array(a);
            GMimeDataWrapper *dw =
                g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
            g_mime_part_set_content(gw.first_html, dw);
            g_object_unref(dw);
            g_object_unref(s);
            bool crlf = first_line_crlf(in);
            GByteArray *out = g_byte_array_new();
            gm_write(m, crlf, out);
            size_t pre = f->body_start, post = in.len - f->body_end;
            bool kept = out->len >= pre + post && memcmp(out->data, in.p, pre) == 0 &&
                        memcmp(out->data + out->len - post, in.p + f->body_end, post) == 0;
            bool same = out->len == in.len && memcmp(out->data, in.p, in.len) == 0;
            t->change_tried++;
            t->kept_outside += kept;
            note |= !kept;
            t->body_same += same;
            buf_printf(&line, " | HTML set to itself: %s, body %s",
                       kept ? "outside kept" : "OUTSIDE CHANGED",
                       same ? "same bytes" : "re-encoded differently");
            g_byte_array_unref(out);
        }
    }
    if (note || all) printf("%s\n", line.p);
    buf_clear(&line);
    if (m) g_object_unref(m);
    g_byte_array_unref(ga);
    g_mime_parser_options_free(po);
    buf_clear(&w.list);
    leaves_clear(&lo);
    leaves_clear(&lg);
}

static int compare(int nfiles, char **files)
{
    tally_t t = {0};
    bool all = nfiles > 0 && strcmp(files[0], "-v") == 0;
    for (int i = all; i < nfiles; i++) {
        buf_t b = BUF_INIT;
        if (buf_read_file(&b, files[i], 64u << 20) != 0) {
            fprintf(stderr, "mime_bench: cannot read %s\n", files[i]);
            return 1;
        }
        compare_one(files[i], buf_slice(&b), all, &t);
        buf_clear(&b);
    }
    printf("summary: %u files; both accept and agree (leaves, decoded bytes, body ranges): %u\n",
           t.files, t.agree);
    printf("  we leave alone, GMime accepts: %u; GMime rejects, we accept: %u; both reject: %u\n",
           t.gm_only, t.ours_only, t.both_reject);
    printf("  both accept but the leaves differ: %u; decoded bytes differ: %u (a leaf we refuse "
           "to decode, GMime decodes leniently: %u); body ranges differ: %u; GMime range "
           "unknown: %u\n",
           t.nleaves_differ, t.dec_differ, t.gm_lenient, t.range_differ, t.range_unknown);
    printf("  GMime's body ranges (the bounds of each part's content stream) equal ours for "
           "%u of %u leaves\n",
           t.ranges_same, t.ranges_compared);
    printf("  GMime warned on %u files\n", t.gm_warned);
    printf("  GMime writes the unchanged message back byte for byte: %u of %u\n", t.roundtrip_same,
           t.roundtrip_tried);
    printf("  HTML part set to its own text: bytes outside it kept %u of %u, whole message "
           "unchanged %u of %u\n",
           t.kept_outside, t.change_tried, t.body_same, t.change_tried);
    return 0;
}

int main(int argc, char **argv)
{
    setenv("G_SLICE", "always-malloc", 0);
    g_mime_init();
    int rc;
    if (argc > 1 && strcmp(argv[1], "--compare") == 0) {
        rc = compare(argc - 2, argv + 2);
    } else {
        int n = argc > 1 ? atoi(argv[1]) : 200;
        int rounds = argc > 2 ? atoi(argv[2]) : 5;
        uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
        if (n <= 0 || rounds <= 0) {
            fprintf(stderr, "usage: mime_bench [MESSAGES] [ROUNDS] [SEED]\n"
                            "       mime_bench --compare [-v] FILE...\n");
            return 2;
        }
        rc = bench(n, rounds, seed);
    }
    g_mime_shutdown();
    return rc;
}
