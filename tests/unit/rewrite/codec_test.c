/* Transfer codecs: clean and unclean inputs, line lengths, and decode(encode(x)) == x. */
#include "../../fuzz/codec_ref.h"
#include "rewrite/rewrite_int.h"
#include "test.h"

static void qp_cases(void)
{
    static const struct {
        const char *in, *out;
        bool ok;
    } t[] = {
        {"abc", "abc", true},
        {"a=3Db", "a=b", true},
        {"a=3db", "a=b", true},
        {"soft=\r\nbreak\r\n", "softbreak\r\n", true},
        {"soft=\nbreak", "softbreak", true},
        {"pad   \r\nx", "pad\r\nx", true},
        {"pad=  \r\nx", "padx", true},
        {"=C3=A9", "\xc3\xa9", true},
        {"bad=ZZ", NULL, false},
        {"bad=4", NULL, false},
        {"bad==", NULL, false},
        {"end=", "end", true},
    };
    for (size_t i = 0; i < TO_ARRAY_LEN(t); i++) {
        buf_t b = BUF_INIT;
        bool ok = rewrite__qp_decode(slice_cstr(t[i].in), &b);
        CHECK_INT(ok, t[i].ok);
        if (ok && t[i].out) CHECK_STR(buf_cstr(&b), t[i].out);
        buf_clear(&b);
    }
}

static void b64_cases(void)
{
    static const struct {
        const char *in, *out;
        bool ok;
    } t[] = {
        {"aGVsbG8=", "hello", true}, {"aGVs\r\nbG8=\r\n", "hello", true},
        {"aGVsbA==", "hell", true},  {"aGVsbG8", NULL, false},
        {"aGVs!G8=", NULL, false},   {"aGVsbG8=aGVs", NULL, false},
        {"aGVsbG8===", NULL, false}, {"", "", true},
    };
    for (size_t i = 0; i < TO_ARRAY_LEN(t); i++) {
        buf_t b = BUF_INIT;
        bool eol;
        bool ok = rewrite__b64_decode(slice_cstr(t[i].in), &b, &eol);
        CHECK_INT(ok, t[i].ok);
        if (ok && t[i].out) CHECK_STR(buf_cstr(&b), t[i].out);
        buf_clear(&b);
    }
}

static size_t longest_line(slice_t s)
{
    size_t col = 0, max = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] == '\n')
            col = 0;
        else if (s.p[i] != '\r' && ++col > max)
            max = col;
    }
    return max;
}

static void roundtrip(void)
{
    util_rand_t r = rand_fixed(7);
    for (int iter = 0; iter < 400; iter++) {
        uint8_t len8[2];
        rand_fill(&r, len8, 2);
        size_t n = (size_t)(len8[0] | (len8[1] & 3) << 8);
        uint8_t *x = xmalloc(n + 1);
        rand_fill(&r, x, n);
        /* bias towards text: spaces, line breaks, '=' */
        for (size_t i = 0; i < n; i++) {
            uint8_t k = x[i] % 8;
            if (k == 0)
                x[i] = ' ';
            else if (k == 1)
                x[i] = '\n';
            else if (k == 2)
                x[i] = '\r';
            else if (k == 3)
                x[i] = '=';
            else if (k < 6)
                x[i] = (uint8_t)('a' + x[i] % 26);
        }
        slice_t in = slice_make((const char *)x, n);
        for (int crlf = 0; crlf < 2; crlf++) {
            buf_t e = BUF_INIT, d = BUF_INIT;
            rewrite__qp_encode(in, crlf, &e);
            CHECK(longest_line(buf_slice(&e)) <= 76);
            CHECK(rewrite__qp_decode(buf_slice(&e), &d));
            CHECK(slice_eq(buf_slice(&d), in));
            buf_reset(&e);
            buf_reset(&d);
            bool eol;
            rewrite__b64_encode(in, crlf, true, &e);
            CHECK(longest_line(buf_slice(&e)) <= 76);
            CHECK(rewrite__b64_decode(buf_slice(&e), &d, &eol));
            CHECK(slice_eq(buf_slice(&d), in));
            buf_clear(&e);
            buf_clear(&d);
        }
        free(x);
    }
}

/* The vectorised codecs against the references: base64 in regular and irregular line
 * layouts (76, 72, 64 and 60 columns, CRLF and LF, padding, one damaged byte), QP text
 * with padding, escapes and soft breaks. */
static void differential(void)
{
    util_rand_t r = rand_fixed(11);
    int bad = 0, encodings = 0;
    static const size_t cols[] = {76, 72, 64, 60};
    for (int iter = 0; iter < 300; iter++) {
        uint8_t h[4];
        rand_fill(&r, h, sizeof(h));
        size_t n = (size_t)(h[0] | (h[1] & 7) << 8);
        uint8_t *x = xmalloc(n + 1);
        rand_fill(&r, x, n);
        slice_t in = slice_make((const char *)x, n);
        buf_t e = BUF_INIT, ref = BUF_INIT, lines = BUF_INIT;
        rewrite__b64_encode(in, h[2] & 1, h[2] & 2, &e);
        ref_b64_encode(in, h[2] & 1, h[2] & 2, &ref);
        if (!slice_eq(buf_slice(&e), buf_slice(&ref))) encodings++;
        bad += ref_disagree(buf_slice(&e));
        /* the same data re-wrapped at another width */
        size_t col = cols[h[3] % 4], c = 0;
        for (size_t i = 0; i < e.len; i++) {
            if (e.p[i] == '\r' || e.p[i] == '\n') continue;
            if (c == col) {
                buf_puts(&lines, h[3] & 4 ? "\r\n" : "\n");
                c = 0;
            }
            buf_putc(&lines, e.p[i]);
            c++;
        }
        bad += ref_disagree(buf_slice(&lines));
        if (lines.len) {
            lines.p[h[3] % lines.len] = "=! \n\r-A"[h[2] % 7];
            bad += ref_disagree(buf_slice(&lines));
        }
        /* QP-looking text */
        for (size_t i = 0; i < n; i++) x[i] = (uint8_t) "ab =3D\r\n\t=A9=\n  x"[x[i] % 17];
        bad += ref_disagree(in);
        buf_reset(&e);
        buf_reset(&ref);
        rewrite__qp_encode(in, h[2] & 1, &e);
        ref_qp_encode(in, h[2] & 1, &ref);
        if (!slice_eq(buf_slice(&e), buf_slice(&ref))) encodings++;
        bad += ref_disagree(buf_slice(&e));
        buf_clear(&e);
        buf_clear(&ref);
        buf_clear(&lines);
        free(x);
    }
    CHECK_INT(encodings, 0);
    CHECK_INT(bad, 0);
}

int main(void)
{
    qp_cases();
    b64_cases();
    roundtrip();
    differential();
    return test_done();
}
