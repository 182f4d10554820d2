#include "util/util.h"

#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    arena_chunk_t *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

struct arena_dtor {
    arena_dtor_t *next;
    void (*fn)(void *);
    void *arg;
};

void arena_init(arena_t *a, size_t chunk_size)
{
    a->chunks = NULL;
    a->dtors = NULL;
    a->chunk_size = chunk_size ? chunk_size : 4096;
}

void arena_clear(arena_t *a)
{
    for (arena_dtor_t *d = a->dtors; d; d = d->next) d->fn(d->arg);
    a->dtors = NULL;
    arena_chunk_t *c = a->chunks;
    while (c) {
        arena_chunk_t *n = c->next;
        free(c);
        c = n;
    }
    a->chunks = NULL;
}

void *arena_alloc(arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arena_chunk_t *c = a->chunks;
    if (!c || c->size - c->used < n) {
        size_t size = n > a->chunk_size ? n : a->chunk_size;
        c = xmalloc(sizeof(*c) + size);
        c->size = size;
        c->used = 0;
        c->next = a->chunks;
        a->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void *arena_zalloc(arena_t *a, size_t n)
{
    void *p = arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

slice_t arena_slice_dup(arena_t *a, slice_t s)
{
    return (slice_t){arena_strndup(a, s.p, s.len), s.len};
}

void arena_on_clear(arena_t *a, void (*fn)(void *), void *arg)
{
    arena_dtor_t *d = arena_alloc(a, sizeof(*d));
    d->fn = fn;
    d->arg = arg;
    d->next = a->dtors;
    a->dtors = d;
}
