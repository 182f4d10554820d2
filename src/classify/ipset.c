/* Address parsing and the flattened interval tables (classify_int.h). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify_int.h"

static const char *const set_names[] = {
#define CLASSIFY_X(name, str) str,
    CLASSIFY__SET_MAP(CLASSIFY_X)
#undef CLASSIFY_X
};

int classify__set_id(const char *name)
{
    for (size_t i = 0; i < TO_ARRAY_LEN(set_names); i++)
        if (!strcmp(set_names[i], name)) return (int)i;
    return -1;
}

const char *classify__set_name(int id)
{
    return id >= 0 && id < CLASSIFY__SET_COUNT ? set_names[id] : "?";
}

static classify__u128 load128(const uint8_t b[16])
{
    classify__u128 v = 0;
    for (int i = 0; i < 16; i++) v = (v << 8) | b[i];
    return v;
}

bool classify__ip_parse(slice_t s, classify__ip_t *out)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    if (s.len == 0 || s.len >= sizeof(tmp)) return false;
    memcpy(tmp, s.p, s.len);
    tmp[s.len] = 0;
    uint8_t b[16];
    memset(out, 0, sizeof(*out));
    if (memchr(tmp, ':', s.len)) {
        if (inet_pton(AF_INET6, tmp, b) != 1) return false;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (!memcmp(b, mapped, 12)) {
            out->v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
            return true;
        }
        out->v6 = true;
        out->a6 = load128(b);
        return true;
    }
    if (inet_pton(AF_INET, tmp, b) != 1) return false;
    out->v4 = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return true;
}

bool classify__cidr_parse(slice_t s, bool *v6, classify__u128 *lo, classify__u128 *hi,
                          unsigned *plen)
{
    s = slice_trim(s);
    const char *slash = memchr(s.p, '/', s.len);
    slice_t addr = slash ? slice_make(s.p, (size_t)(slash - s.p)) : s;
    classify__ip_t ip;
    if (!classify__ip_parse(addr, &ip)) return false;
    /* A v4-mapped prefix is not something the feeds publish: reject it for clarity. */
    bool is6 = memchr(addr.p, ':', addr.len) != NULL;
    if (is6 && !ip.v6) return false;
    unsigned max = is6 ? 128 : 32;
    uint64_t n = max;
    if (slash && !slice_to_u64(slice_make(slash + 1, s.len - (size_t)(slash + 1 - s.p)), &n))
        return false;
    if (n > max) return false;
    classify__u128 a = is6 ? ip.a6 : ip.v4;
    classify__u128 hostmask;
    if (n == max)
        hostmask = 0;
    else if (is6 && n == 0)
        hostmask = ~(classify__u128)0;
    else
        hostmask = (((classify__u128)1) << (max - n)) - 1;
    *v6 = is6;
    *lo = a & ~hostmask;
    *hi = *lo | hostmask;
    if (!is6) *hi &= 0xffffffffu;
    *plen = (unsigned)n;
    return true;
}

void classify__ranges_add(classify__ranges_t *r, classify__u128 lo, classify__u128 hi, uint32_t bit)
{
    xgrow(r->v, r->cap, r->n, 256);
    r->v[r->n++] = (classify__range_t){lo, hi, bit};
}

typedef struct {
    classify__u128 pos;
    uint32_t bit;
    int delta; /* +1 at a range start, -1 just past its end */
} edge_t;

static int edge_cmp(const void *a, const void *b)
{
    const edge_t *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos ? 1 : 0;
}

void classify__iptab_build(classify__iptab_t *t, classify__ranges_t *ranges)
{
    size_t ne = 0;
    edge_t *e = xmalloc(xmul(ranges->n * 2 + 1, sizeof(*e)));
    for (size_t i = 0; i < ranges->n; i++) {
        const classify__range_t *r = &ranges->v[i];
        e[ne++] = (edge_t){r->lo, r->bit, +1};
        if (r->hi != ~(classify__u128)0) e[ne++] = (edge_t){r->hi + 1, r->bit, -1};
    }
    qsort(e, ne, sizeof(*e), edge_cmp);
    t->start = xmalloc(xmul(ne + 1, sizeof(*t->start)));
    t->mask = xmalloc(xmul(ne + 1, sizeof(*t->mask)));
    t->n = 0;
    uint32_t count[32] = {0};
    uint32_t mask = 0;
    t->start[0] = 0;
    t->mask[0] = 0;
    t->n = 1;
    for (size_t i = 0; i < ne;) {
        classify__u128 pos = e[i].pos;
        for (; i < ne && e[i].pos == pos; i++) {
            unsigned b = (unsigned)__builtin_ctz(e[i].bit);
            if (e[i].delta > 0)
                count[b]++;
            else if (ALWAYS(count[b] > 0))
                count[b]--;
            if (count[b])
                mask |= e[i].bit;
            else
                mask &= ~e[i].bit;
        }
        if (mask == t->mask[t->n - 1]) continue;
        if (t->start[t->n - 1] == pos) {
            t->mask[t->n - 1] = mask; /* only at pos 0 */
            continue;
        }
        t->start[t->n] = pos;
        t->mask[t->n] = mask;
        t->n++;
    }
    free(e);
    free(ranges->v);
    ranges->v = NULL;
    ranges->n = ranges->cap = 0;
}

uint32_t classify__iptab_lookup(const classify__iptab_t *t, classify__u128 a)
{
    /* Largest i with start[i] <= a; start[0] == 0 so i exists. */
    size_t lo = 0, n = t->n;
    if (n == 0) return 0;
    while (n > 1) {
        size_t half = n / 2;
        if (t->start[lo + half] <= a) lo += half;
        n -= half;
    }
    return t->mask[lo];
}

void classify__iptab_clear(classify__iptab_t *t)
{
    free(t->start);
    free(t->mask);
    memset(t, 0, sizeof(*t));
}
