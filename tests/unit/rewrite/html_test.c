/* The HTML tokenizer and the entity decoder, table-driven. */
#include "rewrite/rewrite.h"
#include "test.h"

/* Tokenizes s and writes "name[/]{attr=value}..." per tag into out. */
static void dump(const char *s, buf_t *out)
{
    rewrite_html_t h;
    rewrite_html_tag_t t;
    rewrite_html_init(&h, slice_cstr(s));
    while (rewrite_html_next(&h, &t)) {
        buf_printf(out, "%s%.*s", t.end ? "/" : "", SLICE_FMT(t.name));
        for (size_t i = 0; i < t.nattrs; i++)
            buf_printf(out, " %.*s%s%.*s", SLICE_FMT(t.attrs[i].name),
                       t.attrs[i].has_value ? "=" : "", SLICE_FMT(t.attrs[i].value));
        buf_putc(out, ';');
    }
}

static void tokenizer(void)
{
    static const struct {
        const char *in, *want;
    } t[] = {
        {"<a href=\"x\">t</a>", "a href=x;/a;"},
        {"<A HREF='y' Class=z>", "A HREF=y Class=z;"},
        {"<a href=u?a=1&amp;b>", "a href=u?a=1&amp;b;"},
        {"<a href = \"sp\" >", "a href=sp;"},
        {"<a  data-x=\"href=no\" href=yes>", "a data-x=href=no href=yes;"},
        {"<img src=x/><br/>", "img src=x/;br;"},
        {"<!-- <a href=c> -->ok<b>", "b;"},
        {"<!--><a href=x>", "a href=x;"},
        {"<!DOCTYPE html><p>", "p;"},
        {"<?xml x?><p>", "p;"},
        {"<script>if(a<b)'<a href=s>'</script><i>", "script;/script;i;"},
        {"<STYLE>a{}</style ><i>", "STYLE;/style;i;"},
        {"<textarea><a href=t></textarea>", "textarea;/textarea;"},
        {"a < b and c<1", ""},
        {"<a href=\"unterminated", ""},
        {"<a href=x", ""},
        {"<a checked href=x>", "a checked href=x;"},
        {"</body  >", "/body;"},
        {"<a =x>", "a =x;"},
        {"<a href=>", "a href=;"},
    };
    for (size_t i = 0; i < TO_ARRAY_LEN(t); i++) {
        buf_t b = BUF_INIT;
        dump(t[i].in, &b);
        if (strcmp(buf_cstr(&b), t[i].want))
            fprintf(stderr, "case %zu: %s -> %s\n", i, t[i].in, buf_cstr(&b));
        CHECK_STR(buf_cstr(&b), t[i].want);
        buf_clear(&b);
    }
    /* offsets point into the input */
    const char *s = "xx<a href=\"abc\">";
    rewrite_html_t h;
    rewrite_html_tag_t tag;
    rewrite_html_init(&h, slice_cstr(s));
    CHECK(rewrite_html_next(&h, &tag));
    CHECK_INT(tag.start, 2);
    CHECK_INT(tag.stop, strlen(s));
    CHECK_INT(tag.attrs[0].value_off, 11);
    CHECK_INT(tag.attrs[0].quote, '"');
    /* the tail marks an unterminated tag */
    rewrite_html_init(&h, slice_cstr("<p>x<a href=\"y"));
    while (rewrite_html_next(&h, &tag)) {
    }
    CHECK_INT(h.tail, 4);
    static const struct {
        const char *in;
        size_t tail;
    } tails[] = {{"<p>x<textarea>never closed", 4},
                 {"<b>x<!-- open comment", 4},
                 {"<b>x<!doctype", 4},
                 {"<b>x</b>", 8},
                 {"<b><script>x</script>", 21},
                 {"<b><style>x</style", 3},
                 {"<b><style>x</style a=\"", 3},
                 {"<b>x</", 4},
                 {"<b>x<", 4},
                 {"<b>x<?", 4}};
    for (size_t i = 0; i < TO_ARRAY_LEN(tails); i++) {
        rewrite_html_init(&h, slice_cstr(tails[i].in));
        while (rewrite_html_next(&h, &tag)) {
        }
        CHECK_INT(h.tail, tails[i].tail);
    }
    /* attributes beyond the limit are dropped, flagged */
    buf_t many = BUF_INIT;
    buf_puts(&many, "<a");
    for (int i = 0; i < REWRITE_HTML_ATTRS_MAX + 5; i++) buf_printf(&many, " a%d=v", i);
    buf_puts(&many, ">");
    rewrite_html_init(&h, buf_slice(&many));
    CHECK(rewrite_html_next(&h, &tag));
    CHECK_INT(tag.nattrs, REWRITE_HTML_ATTRS_MAX);
    CHECK(tag.attrs_dropped);
    buf_clear(&many);
}

static void unescape(void)
{
    static const struct {
        const char *in, *want;
    } t[] = {
        {"a&amp;b", "a&b"},
        {"&#38;", "&"},
        {"&#x26;&#X26;", "&&"},
        {"&lt;&gt;&quot;&apos;", "<>\"'"},
        {"&amp", "&"},
        {"&copy=1", "&copy=1"},
        {"&ampx", "&ampx"},
        {"&amp;=", "&="},
        {"&#233;", "\xc3\xa9"},
        {"&#0;", "\xef\xbf\xbd"},
        {"&#xD800;", "\xef\xbf\xbd"},
        {"&#;", "&#;"},
        {"&#99999999999;", "\xef\xbf\xbd"},
        {"&nbsp;", "\xc2\xa0"},
        {"&unknown;", "&unknown;"},
        {"https&#58;//x", "https://x"},
    };
    for (size_t i = 0; i < TO_ARRAY_LEN(t); i++) {
        buf_t b = BUF_INIT;
        rewrite_html_unescape(slice_cstr(t[i].in), &b);
        CHECK_STR(buf_cstr(&b), t[i].want);
        buf_clear(&b);
    }
}

int main(void)
{
    tokenizer();
    unescape();
    return test_done();
}
