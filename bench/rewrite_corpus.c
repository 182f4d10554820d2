/* The generated corpus of the rewrite benchmarks (rewrite_corpus.h). */
#include "rewrite_corpus.h"

#include "rewrite/rewrite_int.h"

static uint64_t rng_state;

void corpus_seed(uint64_t seed)
{
    rng_state = seed;
}

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((rng_state >> 33) % n);
}

static const char *const words[] = {"health", "checkup", "appointment", "clinic", "care",
                                    "your",   "book",    "today",       "team",   "annual",
                                    "visit",  "doctor",  "wellness",    "family", "offer"};

static void text(buf_t *b, int n)
{
    for (int i = 0; i < n; i++) {
        buf_puts(b, words[rnd(TO_ARRAY_LEN(words))]);
        buf_putc(b, i % 12 == 11 ? '\n' : ' ');
    }
}

/* One marketing HTML body of about target bytes with nlinks links. */
static void gen_html(buf_t *h, size_t target, int nlinks)
{
    buf_puts(h, "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\">\n<html>"
                "<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">"
                "<style type=\"text/css\">body{margin:0;padding:0} .btn a{color:#fff} "
                "@media only screen and (max-width:600px){.col{width:100%!important}}</style>"
                "</head>\n<body style=\"margin:0;padding:0;background:#f4f4f4\">\n"
                "<!--[if mso]><table width=\"600\"><tr><td><![endif]-->\n");
    size_t per_link = target / (size_t)(nlinks + 1);
    for (int l = 0; l < nlinks; l++) {
        size_t stop = h->len + per_link;
        buf_puts(h, "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" "
                    "border=\"0\" width=\"100%\" class=\"col\"><tr><td style=\"padding:12px "
                    "24px;font-family:Helvetica,Arial,sans-serif;font-size:16px;line-height:"
                    "24px;color:#333333\">\n");
        while (h->len < stop) {
            buf_puts(h, "<p style=\"margin:0 0 12px 0\">");
            text(h, 40);
            buf_puts(h, "</p>\n");
            if (rnd(4) == 0)
                buf_printf(h,
                           "<img src=\"https://cdn.clinic.example/img/%u.png\" width=\"600\" "
                           "alt=\"\" style=\"display:block;border:0\">\n",
                           rnd(100000));
        }
        switch (rnd(6)) {
        case 0:
            buf_printf(h, "<a href=\"mailto:help@clinic.example?subject=q%d\">Write to us</a>", l);
            break;
        case 1:
            buf_printf(h, "<a href=\"https://clinic.example/unsubscribe?u=%u\">Unsubscribe</a>",
                       rnd(1000000));
            break;
        default:
            buf_printf(h,
                       "<a href=\"https://www.clinic.example/offers/%u?utm_source=newsletter&amp;"
                       "utm_medium=email&amp;utm_campaign=spring-%d&amp;utm_content=link%d\" "
                       "style=\"color:#0b5cad;text-decoration:underline\" target=\"_blank\">",
                       rnd(100000), l, l);
            text(h, 4);
            buf_puts(h, "</a>");
        }
        buf_puts(h, "\n</td></tr></table>\n");
    }
    buf_puts(h, "<!--[if mso]></td></tr></table><![endif]-->\n</body>\n</html>\n");
}

static void crlf(slice_t in, buf_t *out)
{
    for (size_t i = 0; i < in.len; i++) {
        if (in.p[i] == '\n' && (i == 0 || in.p[i - 1] != '\r')) buf_putc(out, '\r');
        buf_putc(out, in.p[i]);
    }
}

void corpus_gen_message(corpus_item_t *it, int idx)
{
    buf_t h = BUF_INIT, hc = BUF_INIT, enc = BUF_INIT, m = BUF_INIT;
    size_t size = 50 * 1024 + rnd(150 * 1024);
    int links = 20 + (int)rnd(81);
    gen_html(&h, size, links);
    crlf(buf_slice(&h), &hc);
    int kind = (int)rnd(10); /* 6 QP, 2 base64, 2 7bit */
    it->kind = kind < 6 ? 0 : kind < 8 ? 1 : 2;
    const char *cte = kind < 6 ? "quoted-printable" : kind < 8 ? "base64" : "7bit";
    if (kind < 6)
        rewrite__qp_encode(buf_slice(&hc), true, &enc);
    else if (kind < 8)
        rewrite__b64_encode(buf_slice(&hc), true, true, &enc);
    else
        buf_append_slice(&enc, buf_slice(&hc));
    buf_printf(&m,
               "From: Clinic <news@clinic.example>\nTo: patient%d@example.org\n"
               "Subject: Your spring newsletter\nDate: Wed, 03 Dec 2025 10:00:00 +0000\n"
               "Message-ID: <bench-%d@clinic.example>\nX-Campaign-ID: spring-newsletter\n"
               "List-Unsubscribe: <https://clinic.example/lu?u=%d>\nMIME-Version: 1.0\n"
               "Content-Type: multipart/alternative; boundary=\"=_b%d\"\n\n"
               "--=_b%d\nContent-Type: text/plain; charset=utf-8\n\n",
               idx, idx, idx, idx, idx);
    text(&m, 120);
    buf_printf(&m,
               "\nhttps://www.clinic.example/offers\n--=_b%d\nContent-Type: text/html; "
               "charset=utf-8\nContent-Transfer-Encoding: %s\n\n",
               idx, cte);
    buf_t head = BUF_INIT;
    crlf(buf_slice(&m), &head);
    buf_append_slice(&it->msg, buf_slice(&head));
    buf_append_slice(&it->msg, buf_slice(&enc));
    buf_printf(&it->msg, "\r\n--=_b%d--\r\n", idx);
    buf_append_slice(&it->html, buf_slice(&hc));
    buf_clear(&h);
    buf_clear(&hc);
    buf_clear(&enc);
    buf_clear(&m);
    buf_clear(&head);
}
