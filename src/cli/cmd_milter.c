/* trueopen milter: the rewriter behind libmilter, for Postfix or Sendmail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "rewrite/mx.h"
#include "rewrite/rewrite.h"
#include "store/store.h"

const cfg_def_t cli_milter_cfg[] = {
    {"socket", CFG_STR, "unix:/run/trueopen/milter.sock", 0, 0, 0,
     "milter socket: unix:PATH (the default kind: Postfix waits on every round trip, over "
     "TCP that costs tens of ms a message) or inet:PORT@ADDR"},
    {"socket_mode", CFG_STR, "0660", 0, 0, 0, "permissions of a unix socket (octal)"},
    {"milter_timeout", CFG_MS, "30s", 1000, 3600000, 0, "MTA I/O timeout"},
    CFG_END,
};

int cmd_milter(int argc, char **argv)
{
    const cfg_def_t *const t[] = {cli_milter_cfg, rewrite_cfg, cli_keys_cfg,
                                  store_cfg,      mx_cfg,      NULL};
    config_t *c = cli_config(argc, argv, t, NULL, 0, NULL);
    char err[512];
    const char *sock = config_str(c, "socket");
    char *end;
    unsigned long mode = strtoul(config_str(c, "socket_mode"), &end, 8);
    if (*end || mode > 0777) {
        fprintf(stderr, "trueopen milter: socket_mode: expected an octal mode like 0660\n");
        config_free(c);
        return 2;
    }
    if (strncmp(sock, "unix:", 5) && strncmp(sock, "inet:", 5) && strncmp(sock, "inet6:", 6)) {
        fprintf(stderr, "trueopen milter: socket: expected unix:PATH or inet:PORT@ADDR\n");
        config_free(c);
        return 2;
    }
    if (config_int(c, "account") <= 0 && config_list_len(c, "account_map") == 0) {
        fprintf(stderr, "trueopen milter: --account (or account_map) is required\n");
        config_free(c);
        return cli_usage("milter");
    }
    cli_rewriter_t *r;
    if (cli_rewriter_open(c, &r, err, sizeof(err)) != 0) {
        fprintf(stderr, "trueopen milter: %s\n", err);
        config_free(c);
        return 1;
    }
    int rc = rewrite_milter_run(cli_rewriter_get(r), sock, (unsigned)mode,
                                (int)(config_int(c, "milter_timeout") / 1000));
    cli_rewriter_close(r);
    config_free(c);
    return rc ? 1 : 0;
}
