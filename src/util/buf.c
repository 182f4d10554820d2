#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char empty_str[1];

void buf_init(buf_t *b)
{
    b->p = NULL;
    b->len = b->cap = 0;
}

void buf_clear(buf_t *b)
{
    free(b->p);
    buf_init(b);
}

void buf_reset(buf_t *b)
{
    b->len = 0;
    if (b->p) b->p[0] = 0;
}

void buf__grow(buf_t *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1) log_panic("buffer size overflow");
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
    b->p[b->len] = 0; /* keep the NUL-termination promise for a fresh buffer */
}

void buf_append(buf_t *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}

void buf_append_slice(buf_t *b, slice_t s)
{
    buf_append(b, s.p, s.len);
}

void buf_puts(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_vprintf(buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    buf_reserve(b, 64);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    if (n < 0) log_panic("vsnprintf failed");
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    b->len += (size_t)n;
}

void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

const char *buf_cstr(buf_t *b)
{
    return b->p ? b->p : empty_str;
}

slice_t buf_slice(const buf_t *b)
{
    return (slice_t){b->p ? b->p : empty_str, b->len};
}

int buf_read_fd(buf_t *b, int fd, size_t max)
{
    for (;;) {
        buf_reserve(b, 65536);
        size_t room = b->cap - b->len - 1;
        ssize_t n = read(fd, b->p + b->len, room);
        if (n < 0) {
            if (errno == EINTR) continue;
            return TO_EIO;
        }
        if (n == 0) break;
        b->len += (size_t)n;
        b->p[b->len] = 0;
        if (b->len > max) return TO_ETOOBIG;
    }
    return TO_OK;
}

int buf_read_file(buf_t *b, const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? TO_ENOTFOUND : TO_EIO;
    int rc = buf_read_fd(b, fd, max);
    close(fd);
    return rc;
}
