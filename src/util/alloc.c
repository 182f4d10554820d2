#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static void oom(size_t n, const char *file, int line)
{
    log_panic_at(file, line, "out of memory allocating %zu bytes", n);
}

void *xmalloc_at(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n, file, line);
    return p;
}

void *xcalloc_at(size_t n, size_t size, const char *file, int line)
{
    if (size && n > SIZE_MAX / size) oom(SIZE_MAX, file, line);
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size, file, line);
    return p;
}

void *xrealloc_at(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n, file, line);
    return q;
}

char *xstrdup_at(const char *s, const char *file, int line)
{
    return xstrndup_at(s, strlen(s), file, line);
}

char *xstrndup_at(const char *s, size_t n, const char *file, int line)
{
    char *p = xmalloc_at(n + 1, file, line);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

size_t xmul(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) log_panic("size overflow: %zu * %zu", n, size);
    return n * size;
}

void *xgrow_at(void *p, size_t *cap, size_t n, size_t size, size_t first, const char *file,
               int line)
{
    if (n < *cap) return p;
    size_t c = *cap ? *cap : first;
    while (c <= n) {
        if (c > SIZE_MAX / 2) oom(SIZE_MAX, file, line);
        c *= 2;
    }
    if (size && c > SIZE_MAX / size) oom(SIZE_MAX, file, line);
    p = xrealloc_at(p, c * size, file, line);
    *cap = c;
    return p;
}
