/* The MIME walker: which leaves it finds, and what it refuses. */
#include "rewrite/rewrite_int.h"
#include "test.h"

static const rewrite__mime_limits_t lim = {8, 4096, "X-Campaign-ID"};

static int parse(const char *msg, rewrite__mime_t *m)
{
    return rewrite__mime_parse(slice_cstr(msg), &lim, m);
}

static void leaves(void)
{
    const char *msg = "Subject: x\r\nX-Campaign-ID:  spring \r\nMessage-ID: <a@b>\r\n"
                      "Content-Type: multipart/mixed; boundary=\"b1\" (comment)\r\n\r\n"
                      "pre\r\n--b1\r\nContent-Type: text/html; charset=\"iso-8859-1\"\r\n"
                      "Content-Transfer-Encoding: Quoted-Printable\r\n\r\n<p>=3D</p>\r\n"
                      "--b1 \r\nContent-Type: text/plain\r\n\r\nplain\r\n--b1\r\n"
                      "Content-Type: text/html; charset=utf-16\r\n\r\nxx\r\n--b1\r\n"
                      "Content-Type: message/rfc822\r\n\r\nContent-Type: text/html\r\n\r\nin\r\n"
                      "--b1\r\nContent-Type: text/html\r\nContent-Disposition: attachment\r\n\r\n"
                      "att\r\n--b1--\r\nepilogue\r\n";
    rewrite__mime_t m;
    CHECK_INT(parse(msg, &m), 0);
    CHECK_INT(m.nleaves, 3);
    if (m.nleaves == 3) {
        CHECK_INT(m.leaves[0].kind, REWRITE__LEAF_HTML);
        CHECK_INT(m.leaves[0].enc, REWRITE__ENC_QP);
        CHECK(m.leaves[0].charset_ok);
        CHECK(m.leaves[0].crlf);
        CHECK(!memcmp(msg + m.leaves[0].body_start, "<p>=3D</p>", 10));
        CHECK_INT(m.leaves[0].body_end - m.leaves[0].body_start, 10);
        CHECK_INT(m.leaves[1].kind, REWRITE__LEAF_TEXT);
        CHECK(!m.leaves[2].charset_ok);
    }
    CHECK(slice_eq_cstr(slice_trim(m.campaign), "spring"));
    CHECK(slice_eq_cstr(slice_trim(m.message_id), "<a@b>"));
    CHECK(m.has_body);
    rewrite__mime_clear(&m);
}

static void refusals(void)
{
    static const char *const bad[] = {
        "",
        "not a header\r\n\r\nbody",
        " continuation first\r\n\r\nbody",
        "Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nbody\r\n--x--\r\n",
        "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nno close\r\n",
        "Content-Type: multipart/mixed; boundary=x\r\n\r\nno delimiter at all\r\n",
        ("Content-Type: multipart/mixed; boundary=x\r\nContent-Transfer-Encoding: base64\r\n\r\n"
         "--x\r\n\r\nb\r\n--x--\r\n"),
        "Subject: nul \0 byte\r\n\r\nx",
    };
    for (size_t i = 0; i < TO_ARRAY_LEN(bad); i++) {
        rewrite__mime_t m;
        size_t len = i == 7 ? 24 : strlen(bad[i]);
        int rc = rewrite__mime_parse(slice_make(bad[i], len), &lim, &m);
        if (rc == 0) fprintf(stderr, "case %zu parsed\n", i);
        CHECK_INT(rc, TO_EPARSE);
        CHECK(m.why != NULL);
        rewrite__mime_clear(&m);
    }
    /* header block over the limit */
    buf_t big = BUF_INIT;
    for (int i = 0; i < 200; i++) buf_puts(&big, "X-Filler: 0123456789012345678901234567890\r\n");
    buf_puts(&big, "\r\nbody");
    rewrite__mime_t m;
    CHECK_INT(rewrite__mime_parse(buf_slice(&big), &lim, &m), TO_EPARSE);
    rewrite__mime_clear(&m);
    buf_clear(&big);
    /* a boundary that prefixes another is not confused with it */
    const char *ok = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                     "Content-Type: multipart/alternative; boundary=bb\r\n\r\n--bb\r\n"
                     "Content-Type: text/html\r\n\r\nx\r\n--bb--\r\n--b--\r\n";
    CHECK_INT(parse(ok, &m), 0);
    CHECK_INT(m.nleaves, 1);
    rewrite__mime_clear(&m);
    /* headers only: no body, nothing to rewrite */
    CHECK_INT(parse("Subject: x\r\n", &m), 0);
    CHECK(!m.has_body);
    CHECK_INT(m.nleaves, 0); /* no body: nothing to add to */
    rewrite__mime_clear(&m);
}

static void charsets(void)
{
    static const struct {
        const char *cs;
        bool ok;
    } t[] = {
        {"", true},          {"utf-8", true},     {"ISO-8859-15", true}, {"windows-1252", true},
        {"Shift_JIS", true}, {"UTF-16", false},   {"utf-32le", false},   {"ISO-2022-JP", false},
        {"utf-7", false},    {"x-unknown", false}};
    for (size_t i = 0; i < TO_ARRAY_LEN(t); i++)
        CHECK_INT(rewrite__charset_ascii_compatible(slice_cstr(t[i].cs)), t[i].ok);
}

int main(void)
{
    leaves();
    refusals();
    charsets();
    return test_done();
}
