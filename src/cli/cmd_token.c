#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "token/token.h"

const cfg_def_t cli_token_cfg[] = {
    {"account", CFG_INT, "0", 0, INT64_MAX, CFG_FLAG_ONLY, "account id"},
    {"campaign", CFG_INT, "0", 0, INT64_MAX, CFG_FLAG_ONLY, "campaign id"},
    {"message", CFG_INT, "0", 0, INT64_MAX, CFG_FLAG_ONLY, "message id"},
    {"recipient", CFG_INT, "0", 0, INT64_MAX, CFG_FLAG_ONLY, "recipient id"},
    {"link", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY, "destination URL (makes a click token)"},
    {"link_index", CFG_INT, "0", 0, 65535, CFG_FLAG_ONLY,
     "link index (default 1 with --link, 0 for the pixel)"},
    {"sent_at", CFG_INT, "0", 0, INT64_MAX, CFG_FLAG_ONLY, "UNIX time the message was sent"},
    {"provider", CFG_STR, "unknown", 0, 0, CFG_FLAG_ONLY, "mailbox provider name"},
    CFG_END,
};

int cmd_token(int argc, char **argv)
{
    if (argc < 2) return cli_usage("token");
    const char *sub = argv[1];
    const cfg_def_t *const t[] = {cli_keys_cfg, cli_token_cfg, NULL};
    const char *pos[1];
    int np = 0;
    config_t *c = cli_config(argc - 1, argv + 1, t, pos, 1, &np);
    char err[512];
    token_ring_t *r = NULL;
    int rc = token_ring_load(config_str(c, "keys"), &r, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "trueopen token: %s\n", err);
        config_free(c);
        return 1;
    }
    buf_t out = BUF_INIT;
    if (!strcmp(sub, "seal") && np == 0) {
        token_fields_t f = {0};
        f.account = (uint64_t)config_int(c, "account");
        f.campaign = (uint64_t)config_int(c, "campaign");
        f.message = (uint64_t)config_int(c, "message");
        f.recipient = (uint64_t)config_int(c, "recipient");
        f.sent_at = config_int(c, "sent_at");
        const char *url = config_str(c, "link");
        f.url = url ? slice_cstr(url) : SLICE_NULL;
        f.link = (uint32_t)(config_is_set(c, "link_index") ? config_int(c, "link_index")
                            : url                          ? 1
                                                           : 0);
        int p = token_provider_code(config_str(c, "provider"));
        if (p < 0) {
            fprintf(stderr, "trueopen token seal: unknown provider '%s'\n",
                    config_str(c, "provider"));
            rc = 2;
        } else {
            f.provider = (uint8_t)p;
            rc = token_seal(r, &f, &rand_system, &out);
            if (rc)
                fprintf(stderr, "trueopen token seal: %s\n", err_str(rc));
            else
                printf("%s\n", buf_cstr(&out));
            rc = rc ? 1 : 0;
        }
    } else if (!strcmp(sub, "open") && np == 1) {
        token_fields_t f;
        buf_t url = BUF_INIT;
        rc = token_open(r, slice_cstr(pos[0]), &f, &url);
        if (rc) {
            fprintf(stderr, "trueopen token open: %s\n", err_str(rc));
            rc = 1;
        } else {
            token_fields_json(&f, &out);
            printf("%s\n", buf_cstr(&out));
        }
        buf_clear(&url);
    } else {
        rc = cli_usage("token");
    }
    buf_clear(&out);
    token_ring_free(r);
    config_free(c);
    return rc;
}
