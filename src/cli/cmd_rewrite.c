/* trueopen rewrite: a filter, message on stdin, rewritten message on stdout. A message
 * the rewriter leaves alone (or one too big to read) is copied through unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rewrite/mx.h"
#include "rewrite/rewrite.h"
#include "store/store.h"

const cfg_def_t cli_rewrite_cfg[] = {
    {"campaign", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY,
     "campaign name (overrides the campaign header)"},
    {"recipient", CFG_LIST, NULL, 0, 0, CFG_FLAG_ONLY,
     "envelope recipient address (repeat for several)"},
    {"sent_at", CFG_INT, "0", 0, INT64_MAX, CFG_FLAG_ONLY, "UNIX time sent (default: now)"},
    CFG_END,
};

int cmd_rewrite(int argc, char **argv)
{
    /* the milter's settings too, so one config file serves both front ends */
    const cfg_def_t *const t[] = {
        cli_rewrite_cfg, rewrite_cfg, cli_milter_cfg, cli_keys_cfg, store_cfg, mx_cfg, NULL};
    config_t *c = cli_config(argc, argv, t, NULL, 0, NULL);
    char err[512];
    if (config_int(c, "account") <= 0) {
        fprintf(stderr, "trueopen rewrite: --account is required\n");
        config_free(c);
        return cli_usage("rewrite");
    }
    cli_rewriter_t *r;
    if (cli_rewriter_open(c, &r, err, sizeof(err)) != 0) {
        fprintf(stderr, "trueopen rewrite: %s\n", err);
        config_free(c);
        return 1;
    }
    rewrite_t *rw = cli_rewriter_get(r);
    size_t max = rewrite_opts(rw)->max_message_size;
    buf_t in = BUF_INIT;
    int rc = buf_read_fd(&in, 0, max);
    int ret = 0;
    if (rc == TO_ETOOBIG) {
        /* Fail open: what was read, then the rest of stdin as it comes. */
        log_warn("rewrite: delivered unchanged: too-big (over %zu bytes)", max);
        if (write_all(1, in.p, in.len) != 0) ret = 1;
        char chunk[65536];
        ssize_t n;
        while (ret == 0 && (n = read(0, chunk, sizeof(chunk))) > 0)
            if (write_all(1, chunk, (size_t)n) != 0) ret = 1;
    } else if (rc != 0) {
        fprintf(stderr, "trueopen rewrite: cannot read the message: %s\n", err_str(rc));
        ret = 1;
    } else {
        slice_t rcpt[64];
        size_t nr = TO_MIN(config_list_len(c, "recipient"), TO_ARRAY_LEN(rcpt));
        for (size_t i = 0; i < nr; i++) rcpt[i] = slice_cstr(config_list_at(c, "recipient", i));
        const char *camp = config_str(c, "campaign");
        rewrite_env_t env = {
            .rcpt = rcpt,
            .nrcpt = nr,
            .campaign = camp ? slice_cstr(camp) : SLICE_NULL,
            .sent_at = config_int(c, "sent_at"),
        };
        buf_t out = BUF_INIT;
        rewrite_result_t res;
        rewrite_message(rw, buf_slice(&in), &env, &out, &res);
        slice_t w = res.changed ? buf_slice(&out) : buf_slice(&in);
        if (write_all(1, w.p, w.len) != 0) {
            fprintf(stderr, "trueopen rewrite: cannot write the output\n");
            ret = 1;
        } else if (res.changed) {
            log_info("rewrite: rewritten, %u link(s), message %llu", res.links,
                     (unsigned long long)res.message_id);
        } else {
            log_info("rewrite: delivered unchanged: %s", rewrite_status_str(res.status));
        }
        buf_clear(&out);
    }
    buf_clear(&in);
    cli_rewriter_close(r);
    config_free(c);
    return ret;
}
