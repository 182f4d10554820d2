/* trueopen rules list|check|update. */
#include <stdio.h>
#include <string.h>

#include "classify/classify.h"
#include "cli/cli.h"

const cfg_def_t cli_rules_cfg[] = {
    {"from", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY,
     "rules update: read the feeds from this directory or base URL instead of the vendors'"},
    {"force", CFG_BOOL, "false", 0, 0, CFG_FLAG_ONLY,
     "rules update: accept a feed that shrank to less than half"},
    CFG_END,
};

int cmd_rules(int argc, char **argv)
{
    if (argc < 2) return cli_usage("rules");
    const char *sub = argv[1];
    if (strcmp(sub, "list") && strcmp(sub, "check") && strcmp(sub, "update"))
        return cli_usage("rules");
    const cfg_def_t *const t[] = {classify_cfg, cli_rules_dir_cfg, cli_rules_cfg, NULL};
    config_t *c = cli_config(argc - 1, argv + 1, t, NULL, 0, NULL);
    const char *dir = cli_rules_dir(c);
    char err[1024];
    buf_t out = BUF_INIT;
    int rc = 0;
    if (!strcmp(sub, "update")) {
        rc = classify_rules_update(dir, config_str(c, "from"), config_bool(c, "force"), &out, err,
                                   sizeof(err));
        fputs(buf_cstr(&out), stdout);
        if (rc) fprintf(stderr, "trueopen rules update: %s (nothing changed)\n", err);
    } else {
        classify_rules_t *r = NULL;
        rc = classify_rules_load(dir, &r, err, sizeof(err));
        if (rc) {
            fprintf(stderr, "trueopen rules %s: %s\n", sub, err);
        } else {
            classify_rules_describe(r, &out);
            if (!strcmp(sub, "check")) printf("%s: ok\n", dir);
            fputs(buf_cstr(&out), stdout);
        }
        classify_rules_free(r);
    }
    buf_clear(&out);
    config_free(c);
    return rc ? 1 : 0;
}
