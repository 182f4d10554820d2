/*
 * Fuzz target: the transfer codecs against their byte-at-a-time references
 * (codec_ref.h). For any input: the QP and base64 decoders accept exactly what the
 * references accept and give the same bytes (and the same QP line map); both encoders
 * write what the references write; decode(encode(x)) == x for both codecs.
 * The input is also given a regular 76-column base64 layout, so the vector paths run.
 */
#include <stdlib.h>
#include <string.h>

#include "codec_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const buf_t *a, const buf_t *b)
{
    if (a->len != b->len || (a->len && memcmp(a->p, b->p, a->len))) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slice_t in = slice_make((const char *)data, size);
    if (ref_disagree(in)) abort();
    for (int crlf = 0; crlf < 2; crlf++) {
        /* the encoders: same text as the reference, and back */
        buf_t e = BUF_INIT, r = BUF_INIT, d = BUF_INIT;
        rewrite__b64_encode(in, crlf, crlf, &e);
        ref_b64_encode(in, crlf, crlf, &r);
        same(&e, &r);
        bool eol;
        if (!rewrite__b64_decode(buf_slice(&e), &d, &eol)) abort();
        if (d.len != size || (size && memcmp(d.p, data, size))) abort();
        if (ref_disagree(buf_slice(&e))) abort();
        /* a damaged copy (one byte of the encoded text replaced) still agrees */
        if (e.len && size) {
            e.p[data[0] % e.len] = (char)data[size - 1];
            if (ref_disagree(buf_slice(&e))) abort();
        }
        buf_reset(&e);
        buf_reset(&d);
        buf_reset(&r);
        rewrite__qp_encode(in, crlf, &e);
        ref_qp_encode(in, crlf, &r);
        same(&e, &r);
        if (!rewrite__qp_decode(buf_slice(&e), &d)) abort();
        if (d.len != size || (size && memcmp(d.p, data, size))) abort();
        buf_clear(&e);
        buf_clear(&r);
        buf_clear(&d);
    }
    return 0;
}
