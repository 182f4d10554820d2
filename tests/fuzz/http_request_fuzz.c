/*
 * The request parser on arbitrary bytes. Property: the verdict and every parsed field
 * are the same whether the input arrives in one piece, byte by byte, or in pieces cut
 * where the input's first byte says; and on success every slice lies inside the input.
 */
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const http__limits_t lim = {.max_head = 2048, .max_headers = 16, .max_url = 512};

typedef struct {
    int rc;
    http__request_t req;
    http__header_t hdrs[16];
} result_t;

static void parse_cut(const char *in, size_t len, size_t step, result_t *out)
{
    http__parser_t p;
    http__parser_init(&p);
    out->rc = 0;
    size_t have = step ? 0 : len;
    for (;;) {
        if (step) have = TO_MIN(len, have + step);
        out->rc = http__parse(&p, &lim, in, have, &out->req, out->hdrs);
        if (out->rc != 0 || have == len) return;
    }
}

static bool inside(slice_t s, const char *in, size_t len)
{
    return s.len == 0 || (s.p >= in && s.p + s.len <= in + len);
}

static void same(const result_t *a, const result_t *b, const char *in, size_t len)
{
    if (a->rc != b->rc) abort();
    if (a->rc <= 0) return;
    if ((size_t)a->rc > len) abort();
    const http__request_t *x = &a->req, *y = &b->req;
    if (!slice_eq(x->method, y->method) || !slice_eq(x->target, y->target) ||
        x->keep_alive != y->keep_alive || x->minor != y->minor || x->nheaders != y->nheaders ||
        x->meth != y->meth || x->has_body != y->has_body || x->head_len != (size_t)a->rc)
        abort();
    if (!inside(x->method, in, len) || !inside(x->target, in, len)) abort();
    if (x->target.len > lim.max_url || x->nheaders > lim.max_headers) abort();
    for (size_t i = 0; i < x->nheaders; i++) {
        if (!slice_eq(x->headers[i].name, y->headers[i].name) ||
            !slice_eq(x->headers[i].value, y->headers[i].value))
            abort();
        if (!inside(x->headers[i].name, in, len) || !inside(x->headers[i].value, in, len)) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192) return 0;
    size_t step = (size_t)data[0] % 17 + 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    /* a private copy so a read past the end is caught by the sanitizers */
    char *copy = malloc(len ? len : 1);
    memcpy(copy, in, len);
    static result_t whole, bytes, pieces;
    parse_cut(copy, len, 0, &whole);
    parse_cut(copy, len, 1, &bytes);
    parse_cut(copy, len, step, &pieces);
    same(&whole, &bytes, copy, len);
    same(&whole, &pieces, copy, len);
    /* whatever follows a complete head parses on its own (pipelining) */
    if (whole.rc > 0 && (size_t)whole.rc < len) {
        result_t next, next1;
        parse_cut(copy + whole.rc, len - (size_t)whole.rc, 0, &next);
        parse_cut(copy + whole.rc, len - (size_t)whole.rc, 1, &next1);
        same(&next, &next1, copy + whole.rc, len - (size_t)whole.rc);
    }
    free(copy);
    return 0;
}
