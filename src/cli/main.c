#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"
#include "cli/cli.h"
#include "rewrite/rewrite.h"
#include "http/http.h"
#include "report/report.h"
#include "rewrite/mx.h"
#include "store/store.h"

static const cli_cmd_t commands[] = {
    {"rewrite", cmd_rewrite,
     "rewrite --keys PATH --db PATH --tracking-url URL --account N [--campaign NAME] "
     "[--recipient ADDR] [--sent-at UNIX] < in.eml > out.eml"},
    {"milter", cmd_milter,
     "milter --socket unix:PATH|inet:PORT@ADDR --keys PATH --db PATH --tracking-url URL "
     "--account N"},
    {"messages", cmd_messages,
     "messages --db PATH [--campaign NAME] [--exclude-automated|--include-automated] --format "
     "jsonl|table"},
    {"serve", cmd_serve,
     "serve [--config FILE] --listen ADDR:PORT --db PATH --keys PATH [--trusted-proxy CIDR]... "
     "[--user NAME]"},
    {"classify", cmd_classify,
     "classify [--rules DIR] [--link-count N] < events.jsonl (JSON lines in, one verdict line out "
     "each)"},
    {"rules", cmd_rules,
     "rules list|check [--rules DIR] | rules update [--rules DIR] [--from DIR-or-URL] [--force]"},
    {"config", cmd_config, "config check FILE | config dump [--config FILE] | config docs"},
    {"keys", cmd_keys, "keys new|list|retire --keys PATH [ID]"},
    {"token", cmd_token,
     "token seal --keys PATH --account A --campaign C --message M --recipient R [--link URL] "
     "[--link-index N] [--sent-at UNIX] [--provider NAME] | token open --keys PATH TOKEN"},
    {"events", cmd_events,
     "events --db PATH [--since T] [--campaign NAME] [--limit N] --format jsonl|table"},
    {"import", cmd_import, "import --db PATH --keys PATH [--rules DIR] < access.jsonl"},
    {"reclassify", cmd_reclassify, "reclassify --db PATH [--campaign NAME] [--rules DIR]"},
    {"report", cmd_report,
     "report --db PATH --campaign NAME [--account N] [--exclude-automated|--include-automated] "
     "[--format table|json|csv] [--both-views]"},
    {"campaigns", cmd_campaigns, "campaigns --db PATH [--account N] [--format table|json]"},
    {"settings", cmd_settings,
     "settings get|set --db PATH --account N [KEY [VALUE]] (suppress_automated on|off, "
     "retention_days N, keep_recipient_address on|off, honeypot on|off)"},
    {"apikey", cmd_apikey, "apikey new|list|revoke --db PATH --account N [ID]"},
    {"audit", cmd_audit, "audit --db PATH [--format jsonl|table] [--since T] [--account N]"},
    {"retain", cmd_retain, "retain --db PATH"},
    {"hold", cmd_hold, "hold set|clear --db PATH --campaign NAME [--account N]"},
};

static const cfg_def_t *const all_tables[] = {
    util_cfg,       rewrite_cfg,        cli_rewrite_cfg,
    cli_milter_cfg, cli_messages_cfg,   cli_keys_cfg,
    cli_token_cfg,  store_cfg,          cli_events_cfg,
    cli_import_cfg, cli_reclassify_cfg, report_cfg,
    cli_report_cfg, cli_campaigns_cfg,  cli_admin_cfg,
    classify_cfg,   cli_classify_cfg,   cli_rules_cfg,
    http_cfg,       cli_serve_cfg,      mx_cfg,
    NULL,
};

const cfg_def_t *const *cli_all_tables(void)
{
    return all_tables;
}

int cli_usage(const char *cmd)
{
    for (size_t i = 0; i < TO_ARRAY_LEN(commands); i++)
        if (!cmd || !strcmp(commands[i].name, cmd))
            fprintf(stderr, "usage: trueopen %s\n", commands[i].usage);
    return 2;
}

config_t *cli_config(int argc, char **argv, const cfg_def_t *const *tables, const char **pos,
                     int max_pos, int *npos)
{
    const cfg_def_t *t[32];
    size_t n = 0;
    t[n++] = util_cfg;
    for (size_t i = 0; tables && tables[i] && n < TO_ARRAY_LEN(t) - 1; i++) t[n++] = tables[i];
    t[n] = NULL;
    config_t *c = config_new(t);
    char err[512];
    int np = 0;
    const char *dummy[1];
    if (config_parse_args(c, argc - 1, argv + 1, pos ? pos : dummy, pos ? max_pos : 0, &np, err,
                          sizeof(err)) != 0 ||
        config_check_required(c, err, sizeof(err)) != 0) {
        fprintf(stderr, "trueopen %s: %s\n", argv[0], err);
        config_free(c);
        cli_usage(argv[0]);
        exit(2);
    }
    if (npos) *npos = np;
    util_apply_config(c);
    return c;
}

store_t *cli_open_sqlite(const config_t *c, const char *cmd)
{
    store_t *s;
    char err[512];
    if (store_open(config_str(c, "db"), &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "trueopen %s: %s\n", cmd, err);
        return NULL;
    }
    if (!store_sqlite_handle(s)) {
        fprintf(stderr, "trueopen %s: this needs the SQLite store\n", cmd);
        store_close(s);
        return NULL;
    }
    return s;
}

int main(int argc, char **argv)
{
    log_set_output(2, "trueopen");
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        fprintf(stderr, "trueopen: email engagement tracking that tells people from machines\n");
        cli_usage(NULL);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < TO_ARRAY_LEN(commands); i++)
        if (!strcmp(commands[i].name, argv[1])) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "trueopen: unknown command '%s'\n", argv[1]);
    cli_usage(NULL);
    return 2;
}
