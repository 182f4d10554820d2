/*
 * The milter front end: the only file that includes libmilter. A thin shell around
 * rewrite_message(): it collects the envelope, headers and body of each message, and at
 * end of message replaces the body (smfi_replacebody) and adds X-Trueopen: tracked when
 * the message was rewritten. Headers are never changed, so Content-Transfer-Encoding and
 * everything a later signer covers stay as they were.
 *
 * libmilter runs one thread per SMTP connection; a connection carries any number of
 * messages, so the per-message state is reset at MAIL FROM, at end of message and on
 * abort. Anything that goes wrong delivers the message unchanged (accept, no
 * modification); only a failure to hand back a rewritten body tempfails, since the MTA
 * would otherwise get half a body.
 */
#include "rewrite/rewrite.h"

#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Recipients kept per message. Past it only the count grows, plus one address of a
 * domain other than the first recipient's, so the rewriter still sees that the message
 * spans several domains (recipient_domain stays empty) and records the full count. */
#define MILTER_RCPT_MAX 1000

typedef struct {
    buf_t msg;       /* headers as "Name: value\r\n", the blank line, then the body */
    buf_t rcpt;      /* addresses, NUL-separated */
    size_t nrcpt;    /* all recipients, also those beyond MILTER_RCPT_MAX */
    size_t nkept;    /* addresses in rcpt */
    bool other_kept; /* rcpt holds an address past the cap of another domain */
    bool too_big;    /* stopped collecting; delivered unchanged */
    bool in_body;
    char auth[256]; /* {auth_authen} */
} mstate_t;

static rewrite_t *g_rw; /* libmilter is process-global; so is the rewriter it serves */

static void reset(mstate_t *m)
{
    buf_clear(&m->msg);
    buf_clear(&m->rcpt);
    m->nrcpt = 0;
    m->nkept = 0;
    m->other_kept = false;
    m->too_big = false;
    m->in_body = false;
    m->auth[0] = 0;
}

static mstate_t *state(SMFICTX *ctx)
{
    return smfi_getpriv(ctx);
}

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
    (void)host;
    (void)addr;
    mstate_t *m = xcalloc(1, sizeof(*m));
    smfi_setpriv(ctx, m);
    return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
    (void)argv;
    mstate_t *m = state(ctx);
    if (!m) return SMFIS_ACCEPT;
    reset(m);
    char sym[] = "{auth_authen}";
    const char *a = smfi_getsymval(ctx, sym);
    if (a) snprintf(m->auth, sizeof(m->auth), "%s", a);
    return SMFIS_CONTINUE;
}

/* The domain of an envelope address (<>, spaces and case do not matter to callers). */
static slice_t rcpt_domain(const char *a)
{
    const char *at = strrchr(a, '@');
    if (!at) return SLICE_NULL;
    slice_t d = slice_trim(slice_cstr(at + 1));
    if (d.len && d.p[d.len - 1] == '>') d.len--;
    return slice_trim(d);
}

static bool same_domain(const char *a, const char *b)
{
    slice_t x = rcpt_domain(a), y = rcpt_domain(b);
    return x.len == y.len && (x.len == 0 || strncasecmp(x.p, y.p, x.len) == 0);
}

static void keep_rcpt(mstate_t *m, const char *a)
{
    buf_puts(&m->rcpt, a);
    buf_putc(&m->rcpt, '\0');
    m->nkept++;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
    mstate_t *m = state(ctx);
    if (!m) return SMFIS_ACCEPT;
    if (argv && argv[0]) {
        if (m->nkept < MILTER_RCPT_MAX) {
            keep_rcpt(m, argv[0]);
        } else if (!m->other_kept && !same_domain(m->rcpt.p, argv[0])) {
            keep_rcpt(m, argv[0]);
            m->other_kept = true;
        }
    }
    m->nrcpt++;
    return SMFIS_CONTINUE;
}

static bool over(mstate_t *m, size_t more)
{
    const rewrite_opts_t *o = rewrite_opts(g_rw);
    if (m->too_big) return true;
    if (m->msg.len + more > o->max_message_size) {
        m->too_big = true;
        buf_clear(&m->msg);
        return true;
    }
    return false;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
    mstate_t *m = state(ctx);
    if (!m) return SMFIS_ACCEPT;
    size_t nl = strlen(name), vl = strlen(value);
    if (over(m, nl + vl + 4)) return SMFIS_CONTINUE;
    buf_append(&m->msg, name, nl);
    buf_puts(&m->msg, ": ");
    /* Folded values come with bare LF line ends; keep the block's CRLF form. */
    for (size_t i = 0; i < vl; i++) {
        if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) buf_putc(&m->msg, '\r');
        buf_putc(&m->msg, value[i]);
    }
    buf_puts(&m->msg, "\r\n");
    return SMFIS_CONTINUE;
}

static sfsistat on_eoh(SMFICTX *ctx)
{
    mstate_t *m = state(ctx);
    if (!m) return SMFIS_ACCEPT;
    if (!over(m, 2)) buf_puts(&m->msg, "\r\n");
    m->in_body = true;
    return SMFIS_CONTINUE;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    mstate_t *m = state(ctx);
    if (!m) return SMFIS_ACCEPT;
    if (!over(m, len)) buf_append(&m->msg, chunk, len);
    return SMFIS_CONTINUE;
}

static sfsistat on_eom(SMFICTX *ctx)
{
    mstate_t *m = state(ctx);
    if (!m) return SMFIS_ACCEPT;
    char qsym[] = "i";
    const char *qid = smfi_getsymval(ctx, qsym);
    sfsistat ret = SMFIS_CONTINUE;
    if (m->too_big) {
        log_warn("milter %s: delivered unchanged: too-big", qid ? qid : "-");
        reset(m);
        return ret;
    }
    slice_t *rc = xcalloc(m->nkept ? m->nkept : 1, sizeof(*rc));
    size_t n = 0;
    for (size_t off = 0; off < m->rcpt.len && n < m->nkept;) {
        size_t l = strlen(m->rcpt.p + off);
        rc[n++] = slice_make(m->rcpt.p + off, l);
        off += l + 1;
    }
    /* Past MILTER_RCPT_MAX (> 1) the tokens name the message anyway. */
    const rewrite_opts_t *o = rewrite_opts(g_rw);
    rewrite_env_t env = {
        .rcpt = rc,
        .nrcpt = n,
        .nrcpt_total = m->nrcpt,
        .account = rewrite_account_for(o, slice_cstr(m->auth)),
        .logid = qid,
    };
    buf_t out = BUF_INIT;
    rewrite_result_t res;
    if (rewrite_message(g_rw, buf_slice(&m->msg), &env, &out, &res) == 0 && res.changed) {
        size_t pos = res.header_len;
        int ok = MI_SUCCESS;
        do { /* smfi_replacebody may be called repeatedly; chunks keep packets small */
            size_t chunk = TO_MIN(out.len - pos, (size_t)65536);
            ok = smfi_replacebody(ctx, (unsigned char *)out.p + pos, (int)chunk);
            pos += chunk;
        } while (ok == MI_SUCCESS && pos < out.len);
        if (ok == MI_SUCCESS && o->mark_header) {
            char hn[] = "X-Trueopen", hv[] = "tracked";
            ok = smfi_addheader(ctx, hn, hv);
        }
        if (ok != MI_SUCCESS) {
            log_error("milter %s: could not hand back the rewritten body: tempfail",
                      qid ? qid : "-");
            ret = SMFIS_TEMPFAIL;
        } else {
            log_info("milter %s: rewritten, %u link(s), message %llu", qid ? qid : "-", res.links,
                     (unsigned long long)res.message_id);
        }
    }
    buf_clear(&out);
    free(rc);
    reset(m);
    return ret;
}

static sfsistat on_abort(SMFICTX *ctx)
{
    mstate_t *m = state(ctx);
    if (m) reset(m);
    return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
    mstate_t *m = state(ctx);
    if (m) {
        reset(m);
        free(m);
        smfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

int rewrite_milter_run(rewrite_t *rw, const char *socket, unsigned socket_mode, int timeout_s)
{
    g_rw = rw;
    static char name[] = "trueopen";
    struct smfiDesc desc = {
        .xxfi_name = name,
        .xxfi_version = SMFI_VERSION,
        .xxfi_flags = SMFIF_CHGBODY | SMFIF_ADDHDRS,
        .xxfi_connect = on_connect,
        .xxfi_envfrom = on_envfrom,
        .xxfi_envrcpt = on_envrcpt,
        .xxfi_header = on_header,
        .xxfi_eoh = on_eoh,
        .xxfi_body = on_body,
        .xxfi_eom = on_eom,
        .xxfi_abort = on_abort,
        .xxfi_close = on_close,
    };
    char conn[1024];
    if (snprintf(conn, sizeof(conn), "%s", socket) >= (int)sizeof(conn)) return TO_EINVAL;
    if (smfi_setconn(conn) != MI_SUCCESS || smfi_settimeout(timeout_s) != MI_SUCCESS ||
        smfi_register(desc) != MI_SUCCESS) {
        log_error("milter: cannot register on %s", socket);
        return TO_EIO;
    }
    if (smfi_opensocket(true) != MI_SUCCESS) {
        log_error("milter: cannot open socket %s", socket);
        return TO_EIO;
    }
    const char *path = NULL;
    if (!strncmp(socket, "unix:", 5))
        path = socket + 5;
    else if (!strncmp(socket, "local:", 6))
        path = socket + 6;
    if (path && chmod(path, (mode_t)socket_mode) != 0) {
        log_error("milter: cannot set the mode of %s", path);
        return TO_EIO;
    }
    log_info("milter: listening on %s", socket);
    int rc = smfi_main();
    rewrite_stats_t st;
    rewrite_stats(rw, &st);
    log_info("milter: stopped; rewritten %llu, untracked %llu, signed %llu, too-big %llu, "
             "parse %llu, no-account %llu, store %llu; links %llu; parts left (encoding) %llu, "
             "(charset) %llu",
             (unsigned long long)st.by_status[REWRITE_DONE],
             (unsigned long long)st.by_status[REWRITE_UNTRACKED],
             (unsigned long long)st.by_status[REWRITE_SIGNED],
             (unsigned long long)st.by_status[REWRITE_TOO_BIG],
             (unsigned long long)st.by_status[REWRITE_PARSE],
             (unsigned long long)st.by_status[REWRITE_NO_ACCOUNT],
             (unsigned long long)st.by_status[REWRITE_STORE], (unsigned long long)st.links,
             (unsigned long long)st.parts_bad, (unsigned long long)st.parts_charset);
    return rc == MI_SUCCESS ? 0 : TO_EIO;
}
