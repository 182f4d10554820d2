#include "util/util.h"

#include <string.h>
#include <strings.h>

slice_t slice_cstr(const char *s)
{
    return (slice_t){s, s ? strlen(s) : 0};
}

slice_t slice_make(const char *p, size_t len)
{
    return (slice_t){p, len};
}

bool slice_eq(slice_t a, slice_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool slice_eq_cstr(slice_t a, const char *b)
{
    return slice_eq(a, slice_cstr(b));
}

bool slice_caseeq_cstr(slice_t a, const char *b)
{
    size_t n = strlen(b);
    return a.len == n && (n == 0 || strncasecmp(a.p, b, n) == 0);
}

bool slice_starts(slice_t a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.len >= n && memcmp(a.p, prefix, n) == 0;
}

bool slice_casestarts(slice_t a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.len >= n && strncasecmp(a.p, prefix, n) == 0;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

long slice_casefind(slice_t hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0) return 0;
    if (hay.len < n) return -1;
    char first = lower(needle[0]);
    for (size_t i = 0; i + n <= hay.len; i++) {
        if (lower(hay.p[i]) != first) continue;
        size_t j = 1;
        while (j < n && lower(hay.p[i + j]) == lower(needle[j])) j++;
        if (j == n) return (long)i;
    }
    return -1;
}

slice_t slice_trim(slice_t a)
{
    while (a.len && (a.p[0] == ' ' || a.p[0] == '\t' || a.p[0] == '\r' || a.p[0] == '\n')) {
        a.p++;
        a.len--;
    }
    while (a.len && (a.p[a.len - 1] == ' ' || a.p[a.len - 1] == '\t' || a.p[a.len - 1] == '\r' ||
                     a.p[a.len - 1] == '\n'))
        a.len--;
    return a;
}

bool slice_to_u64(slice_t a, uint64_t *out)
{
    if (a.len == 0 || a.len > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < a.len; i++) {
        if (a.p[i] < '0' || a.p[i] > '9') return false;
        uint64_t d = (uint64_t)(a.p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool slice_to_i64(slice_t a, int64_t *out)
{
    bool neg = a.len && a.p[0] == '-';
    if (neg) {
        a.p++;
        a.len--;
    }
    uint64_t v;
    if (!slice_to_u64(a, &v)) return false;
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}
