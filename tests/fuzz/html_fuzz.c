/*
 * Fuzz target: the HTML tokenizer and entity decoder. Properties: tags come in order,
 * inside the input and without overlap; attribute values lie inside their tag; the
 * tokenizer ends; unescaping never grows a value by more than 3 bytes per input byte.
 */
#include <stdlib.h>

#include "rewrite/rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rewrite_html_t h;
    rewrite_html_tag_t *t = xmalloc(sizeof(*t));
    rewrite_html_init(&h, slice_make((const char *)data, size));
    size_t last = 0, n = 0;
    buf_t b = BUF_INIT;
    while (rewrite_html_next(&h, t)) {
        if (t->start < last || t->stop <= t->start || t->stop > size) abort();
        if (data[t->start] != '<' || data[t->stop - 1] != '>') abort();
        for (size_t i = 0; i < t->nattrs; i++) {
            const rewrite_html_attr_t *a = &t->attrs[i];
            if (a->value.len && (a->value_off < t->start || a->value_off + a->value.len > t->stop ||
                                 a->value.p != (const char *)data + a->value_off))
                abort();
            buf_reset(&b);
            rewrite_html_unescape(a->value, &b);
            if (b.len > a->value.len * 3) abort();
        }
        last = t->stop;
        if (++n > size) abort(); /* every tag consumes at least one byte */
    }
    if (h.tail > size) abort();
    buf_clear(&b);
    free(t);
    return 0;
}
