/*
 * cli: main(), subcommands and their flags. No logic a test would want lives here:
 * each subcommand parses its flags into a config_t and calls a module.
 *
 * Exit codes: 0 success, 1 failure (the message says why), 2 usage error.
 */
#ifndef TO_CLI_H
#define TO_CLI_H

#include "util/util.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand */
    const char *usage;
} cli_cmd_t;

/*
 * Parses argv[1..] against tables (util_cfg is added), exits 2 with the error on a
 * bad flag or a missing required setting. Positional arguments go to pos.
 */
config_t *cli_config(int argc, char **argv, const cfg_def_t *const *tables, const char **pos,
                     int max_pos, int *npos);
/* Every settings table of every module, for config check/dump/docs. */
const cfg_def_t *const *cli_all_tables(void);
/* Opens the SQLite store named by --db (the reports and the account tables live only
 * there); prints why not and returns NULL on failure. */
struct store;
struct store *cli_open_sqlite(const config_t *c, const char *cmd);
/* Prints usage for a command to stderr and returns 2. */
int cli_usage(const char *cmd);

int cmd_config(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_rewrite(int argc, char **argv);
int cmd_milter(int argc, char **argv);
int cmd_messages(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_reclassify(int argc, char **argv);

extern const cfg_def_t cli_keys_cfg[];
extern const cfg_def_t cli_token_cfg[];
extern const cfg_def_t cli_rewrite_cfg[];
extern const cfg_def_t cli_milter_cfg[];
extern const cfg_def_t cli_messages_cfg[];

/* The rewriter wired to the store (cli/rewrite_store.c), for rewrite and milter: loads
 * the key ring (keys), opens the store (db), reads the rewrite settings. */
typedef struct cli_rewriter cli_rewriter_t;
struct rewrite;
int cli_rewriter_open(const config_t *c, cli_rewriter_t **out, char *err, size_t errlen);
struct rewrite *cli_rewriter_get(cli_rewriter_t *r);
void cli_rewriter_close(cli_rewriter_t *r);
extern const cfg_def_t cli_serve_cfg[];
extern const cfg_def_t cli_events_cfg[];
extern const cfg_def_t cli_import_cfg[];
extern const cfg_def_t cli_reclassify_cfg[];

int cmd_report(int argc, char **argv);
int cmd_campaigns(int argc, char **argv);
int cmd_settings(int argc, char **argv);
int cmd_apikey(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_retain(int argc, char **argv);
int cmd_hold(int argc, char **argv);
extern const cfg_def_t cli_report_cfg[];
/* Writes an audit row for a command (via "cli"): who (account, 0: none), what, whether
 * it failed (rc). Reads of reports are audited like changes. */
typedef struct store store_t;
void cli_audit(store_t *s, uint64_t account, const char *action, const char *target, int rc);
extern const cfg_def_t cli_campaigns_cfg[];
extern const cfg_def_t cli_admin_cfg[];
int cmd_classify(int argc, char **argv);
int cmd_rules(int argc, char **argv);
extern const cfg_def_t cli_classify_cfg[];
extern const cfg_def_t cli_rules_cfg[];
extern const cfg_def_t cli_rules_dir_cfg[];
/* --rules, else the rules_dir setting, else the compiled-in default. */
const char *cli_rules_dir(const config_t *c);

#endif
