/*
 * The spool: the store's durable inbox. The writer appends each batch of events to
 * a segment file with one write() and answers its clients once the write returned
 * (with store_synchronous=full, once it was also fdatasync'ed): that is the commit.
 * An ingester moves spooled events into SQLite (classifying them on the way) in
 * large transactions that also record how far it got (spool_state), so every
 * spooled event is stored exactly once, across crashes too.
 *
 * Layout: <db>.spool/ holds `lock` (flock'ed by the one server writing the store)
 * and segments NNNNNNNNNNNNNNNN.seg (hex sequence numbers). A segment is a run of
 * records:
 *
 *   offset  size  meaning
 *   0       4     payload length n, little endian
 *   4       4     FNV-1a 32 of the payload (a torn tail fails it)
 *   8       n     payload: the event (spool_encode)
 *
 * A writer always starts a new segment, so only the segment it is writing can end
 * in a partial record that is still being written; a partial record at the end of
 * any other segment was never answered and is dropped.
 */
#include "store/store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_HDR 8
#define REC_MAX (1u << 20)

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static void put_u16(buf_t *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    buf_append(b, x, 2);
}

static void put_u32(buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_append(b, x, 4);
}

static void put_u64(buf_t *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

/* A string: u16 length, 0xffff for absent (NULL), then the bytes. */
static void put_str(buf_t *b, slice_t s, size_t max)
{
    if (!s.p) {
        put_u16(b, 0xffff);
        return;
    }
    size_t n = TO_MIN(s.len, TO_MIN(max, 0xfffe));
    put_u16(b, (uint16_t)n);
    buf_append(b, s.p, n);
}

#define SPOOL_STRINGS(X, ev)                                                                       \
    X(ev->tok.url, TOKEN_URL_MAX)                                                                  \
    X(ev->ip, 64)                                                                                  \
    X(ev->ua, HTTP_UA_MAX)                                                                         \
    X(ev->sec_purpose, HTTP_HEADER_MAX)                                                            \
    X(ev->purpose, HTTP_HEADER_MAX)                                                                \
    X(ev->x_purpose, HTTP_HEADER_MAX)                                                              \
    X(ev->x_moz, HTTP_HEADER_MAX)                                                                  \
    X(ev->accept, HTTP_HEADER_MAX)                                                                 \
    X(ev->accept_language, HTTP_HEADER_MAX)                                                        \
    X(ev->referer, HTTP_HEADER_MAX)                                                                \
    X(ev->via, HTTP_HEADER_MAX)                                                                    \
    X(ev->from, HTTP_HEADER_MAX)                                                                   \
    X(ev->dnt, HTTP_HEADER_MAX)                                                                    \
    X(ev->sec_gpc, HTTP_HEADER_MAX)

void store__spool_encode(buf_t *b, const http_event_t *ev)
{
    size_t start = b->len;
    put_u32(b, 0); /* length, filled below */
    put_u32(b, 0); /* checksum */
    put_u64(b, (uint64_t)ev->ts_us);
    buf_putc(b, ev->route);
    buf_putc(b, (char)(ev->head ? 1 : 0));
    buf_putc(b, (char)ev->tok.version);
    buf_putc(b, (char)ev->tok.provider);
    put_u16(b, ev->tok.key_id);
    put_u64(b, ev->tok.account);
    put_u64(b, ev->tok.campaign);
    put_u64(b, ev->tok.message);
    put_u64(b, ev->tok.recipient);
    put_u32(b, ev->tok.link);
    put_u64(b, (uint64_t)ev->tok.sent_at);
#define PUT(field, max) put_str(b, field, max);
    SPOOL_STRINGS(PUT, ev)
#undef PUT
    uint32_t n = (uint32_t)(b->len - start - REC_HDR);
    uint8_t *h = (uint8_t *)b->p + start;
    uint32_t sum = fnv1a(h + REC_HDR, n);
    for (int i = 0; i < 4; i++) {
        h[i] = (uint8_t)(n >> (8 * i));
        h[4 + i] = (uint8_t)(sum >> (8 * i));
    }
}

typedef struct {
    const uint8_t *p, *end;
    bool bad;
} rd_t;

static uint64_t get(rd_t *r, int bytes)
{
    if (r->end - r->p < bytes) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    return v;
}

/* Strict: a length past what the encoder writes for the field is damage. */
static slice_t get_str(rd_t *r, size_t max)
{
    uint16_t n = (uint16_t)get(r, 2);
    if (r->bad || n == 0xffff) return SLICE_NULL;
    if (n > max || r->end - r->p < n) {
        r->bad = true;
        return SLICE_NULL;
    }
    slice_t s = slice_make((const char *)r->p, n);
    r->p += n;
    return s;
}

/* Decodes one payload into ev (slices into p). */
static bool decode(const uint8_t *p, size_t n, http_event_t *ev)
{
    rd_t r = {p, p + n, false};
    memset(ev, 0, sizeof(*ev));
    ev->ts_us = (int64_t)get(&r, 8);
    ev->route = (char)get(&r, 1);
    uint64_t head = get(&r, 1);
    if (head > 1) r.bad = true;
    ev->head = head == 1;
    ev->tok.version = (uint8_t)get(&r, 1);
    ev->tok.provider = (uint8_t)get(&r, 1);
    ev->tok.key_id = (uint16_t)get(&r, 2);
    ev->tok.account = get(&r, 8);
    ev->tok.campaign = get(&r, 8);
    ev->tok.message = get(&r, 8);
    ev->tok.recipient = get(&r, 8);
    ev->tok.link = (uint32_t)get(&r, 4);
    ev->tok.sent_at = (int64_t)get(&r, 8);
#define GET(field, max) field = get_str(&r, TO_MIN((size_t)(max), (size_t)0xfffe));
    SPOOL_STRINGS(GET, ev)
#undef GET
    return !r.bad && r.p == r.end;
}

size_t store__spool_decode(const uint8_t *p, size_t n, http_event_t *ev, bool *out_bad)
{
    *out_bad = false;
    if (n < REC_HDR) return 0;
    uint32_t len =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    uint32_t sum =
        (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    if (len > REC_MAX) {
        *out_bad = true;
        return 0;
    }
    if (n - REC_HDR < len) return 0; /* incomplete */
    if (fnv1a(p + REC_HDR, len) != sum || !decode(p + REC_HDR, len, ev)) {
        *out_bad = true;
        return 0;
    }
    return REC_HDR + len;
}

/* ---- segments --------------------------------------------------------------------- */

/* Segments are named relative to the spool directory's descriptor, so a server that
 * dropped its privileges keeps using a directory whose parents it cannot reach. */
static void seg_name(uint64_t seq, char out[32])
{
    snprintf(out, 32, "%016" PRIx64 ".seg", seq);
}

/* Lowest and highest segment numbers present (false when none). */
static bool seg_range(int dirfd, uint64_t *lo, uint64_t *hi)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return false;
    }
    rewinddir(d);
    bool any = false;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l != 20 || strcmp(e->d_name + 16, ".seg") != 0) continue;
        char *end;
        uint64_t v = strtoull(e->d_name, &end, 16);
        if (end != e->d_name + 16) continue;
        if (!any || v < *lo) *lo = v;
        if (!any || v > *hi) *hi = v;
        any = true;
    }
    closedir(d);
    return any;
}

struct store__spool {
    char dir[4096];
    int dirfd;
    int lock_fd;
    int wfd;
    uint64_t wseq, woff;
    size_t seg_max;
};

int store__spool_lock(const char *dir, bool wait, int *out_fd)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return TO_EIO;
    char p[4200];
    snprintf(p, sizeof(p), "%s/lock", dir);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return errno == EACCES ? TO_EPERM : TO_EIO;
    if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
        close(fd);
        return TO_EAGAIN;
    }
    *out_fd = fd;
    return TO_OK;
}

static int open_segment(store__spool_t *sp)
{
    char name[32];
    seg_name(sp->wseq, name);
    sp->wfd = openat(sp->dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    sp->woff = 0;
    return sp->wfd < 0 ? TO_EIO : TO_OK;
}

int store__spool_open(const char *dir, size_t seg_max, uint64_t min_seq, store__spool_t **out,
                      char *err, size_t errlen)
{
    store__spool_t *sp = xcalloc(1, sizeof(*sp));
    snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
    sp->seg_max = seg_max ? seg_max : (64u << 20);
    int rc = store__spool_lock(dir, false, &sp->lock_fd);
    if (rc) {
        snprintf(err, errlen, "%s: %s", dir,
                 rc == TO_EAGAIN ? "another server is writing this store" : err_str(rc));
        free(sp);
        return rc;
    }
    sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    uint64_t lo = 0, hi = 0;
    /* Past every segment there is and every one the store has ingested. */
    sp->wseq = sp->dirfd >= 0 && seg_range(sp->dirfd, &lo, &hi) ? hi + 1 : 1;
    if (sp->wseq < min_seq) sp->wseq = min_seq;
    if (sp->dirfd < 0 || (rc = open_segment(sp)) != 0) {
        rc = TO_EIO;
        snprintf(err, errlen, "%s: cannot create a spool segment", dir);
        if (sp->dirfd >= 0) close(sp->dirfd);
        close(sp->lock_fd);
        free(sp);
        return rc;
    }
    *out = sp;
    return TO_OK;
}

uint64_t store__spool_live_seq(const store__spool_t *sp)
{
    return sp->wseq;
}

int store__spool_dirfd(const store__spool_t *sp)
{
    return sp->dirfd;
}

int store__spool_append(store__spool_t *sp, const void *p, size_t n, bool sync)
{
    if (sp->woff > 0 && sp->woff + n > sp->seg_max) {
        close(sp->wfd);
        sp->wseq++;
        if (open_segment(sp) != 0) return TO_EIO;
    }
    if (write_all(sp->wfd, p, n) != 0) return TO_EIO;
    if (sync && fdatasync(sp->wfd) != 0) return TO_EIO;
    sp->woff += n;
    return TO_OK;
}

void store__spool_close(store__spool_t *sp)
{
    if (!sp) return;
    if (sp->wfd >= 0) close(sp->wfd);
    close(sp->dirfd);
    close(sp->lock_fd); /* releases the lock */
    free(sp);
}

/* ---- ingesting -------------------------------------------------------------------- */

#define INGEST_READ (4u << 20)

int store__spool_ingest(store_t *s, int dirfd, uint64_t live_seq, size_t max, size_t *out_n,
                        bool *out_more)
{
    *out_n = 0;
    *out_more = false;
    uint64_t seq, off;
    int rc = store__spool_pos(s, &seq, &off);
    if (rc) return rc;
    uint64_t lo = 0, hi = 0;
    if (!seg_range(dirfd, &lo, &hi)) return TO_OK;
    if (seq < lo) {
        seq = lo;
        off = 0;
    }
    while (seq <= hi) {
        char p[32];
        seg_name(seq, p);
        int fd = openat(dirfd, p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) { /* a gap: go on with the next one */
            seq++;
            off = 0;
            continue;
        }
        uint8_t *data = xmalloc(INGEST_READ);
        ssize_t got = pread(fd, data, INGEST_READ, (off_t)off);
        close(fd);
        if (got < 0) {
            free(data);
            return TO_EIO;
        }
        size_t cap = max ? max : 1;
        store_event_t *evs = xcalloc(cap, sizeof(*evs));
        size_t n = 0, used = 0;
        bool bad = false;
        while (n < cap) {
            size_t r = store__spool_decode(data + used, (size_t)got - used, &evs[n].ev, &bad);
            if (r == 0) break;
            store_classify(s->rules, &evs[n]);
            used += r;
            n++;
        }
        /* Stopped short of what is there only because of max or the read size. */
        bool partial_read = n == cap || (!bad && (size_t)got == INGEST_READ);
        bool closed = live_seq == 0 || seq < live_seq;
        bool finished = !partial_read && closed;
        if (finished && (bad || used < (size_t)got))
            log_warn("store: spool segment %016" PRIx64 " ends in %zu bytes that do not "
                     "decode (a write cut short, never answered); skipped",
                     seq, (size_t)got - used);
        rc = TO_OK;
        if (n > 0 || finished)
            rc = store__insert_events_at(s, evs, n, finished ? seq + 1 : seq,
                                         finished ? 0 : off + used);
        free(evs);
        free(data);
        if (rc) return rc;
        *out_n += n;
        if (partial_read) {
            *out_more = true;
            return TO_OK;
        }
        if (!finished) return TO_OK; /* the live segment: caught up */
        unlinkat(dirfd, p, 0);
        seq++;
        off = 0;
        if (n > 0) {
            *out_more = true;
            return TO_OK;
        }
    }
    return TO_OK;
}

/* The end of the spool as it is now: the last segment and its size. */
static void spool_end(int dirfd, uint64_t *seq, uint64_t *off)
{
    uint64_t lo = 0, hi = 0;
    *seq = 0;
    *off = 0;
    if (!seg_range(dirfd, &lo, &hi)) return;
    char p[32];
    seg_name(hi, p);
    struct stat st;
    *seq = hi;
    *off = fstatat(dirfd, p, &st, 0) == 0 ? (uint64_t)st.st_size : 0;
}

int store__spool_catch_up(store_t *s, const char *dir, int64_t wait_ms)
{
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) return TO_OK; /* never spooled (or not ours to read) */
    int fd;
    int rc = store__spool_lock(dir, false, &fd);
    if (rc == TO_OK) {
        /* Nobody is serving: ingest what a stopped or crashed server left. */
        classify_rules_t *own = NULL;
        const classify_rules_t *saved = s->rules;
        if (!s->rules) {
            char err[256];
            if (classify_rules_load(classify_default_rules_dir(), &own, err, sizeof(err)) == 0)
                s->rules = own;
        }
        size_t n;
        bool more = true;
        while (rc == TO_OK && more) rc = store__spool_ingest(s, dirfd, 0, 5000, &n, &more);
        s->rules = saved;
        classify_rules_free(own);
        close(fd);
        close(dirfd);
        return rc;
    }
    if (rc != TO_EAGAIN) { /* unreadable: report what SQLite has */
        close(dirfd);
        return TO_OK;
    }
    /* A server is ingesting: wait until it has passed the end as it is now. */
    uint64_t eseq, eoff;
    spool_end(dirfd, &eseq, &eoff);
    close(dirfd);
    int64_t deadline = mono_ms() + wait_ms;
    for (;;) {
        uint64_t seq, off;
        if (store__spool_pos(s, &seq, &off) != 0) return TO_OK;
        if (seq > eseq || (seq == eseq && off >= eoff)) return TO_OK;
        if (mono_ms() >= deadline) {
            log_warn("store: the server's ingester is behind; figures may miss the latest "
                     "events");
            return TO_OK;
        }
        usleep(2000);
    }
}
