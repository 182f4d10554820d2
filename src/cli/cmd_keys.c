#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "token/token.h"

const cfg_def_t cli_keys_cfg[] = {
    {"keys", CFG_STR, NULL, 0, 0, CFG_REQUIRED, "path of the key ring file (mode 0600)"},
    CFG_END,
};

int cmd_keys(int argc, char **argv)
{
    if (argc < 2) return cli_usage("keys");
    const char *sub = argv[1];
    const cfg_def_t *const t[] = {cli_keys_cfg, NULL};
    const char *pos[2];
    int np = 0;
    config_t *c = cli_config(argc - 1, argv + 1, t, pos, 2, &np);
    const char *path = config_str(c, "keys");
    char err[512];
    int rc = 0;
    if (!strcmp(sub, "new") && np == 0) {
        unsigned id;
        rc = token_ring_add_key(path, &rand_system, clock_now_us(&clock_system) / 1000000, &id, err,
                                sizeof(err));
        if (rc == 0) printf("key %u added to %s\n", id, path);
    } else if (!strcmp(sub, "list") && np == 0) {
        token_ring_t *r;
        rc = token_ring_load(path, &r, err, sizeof(err));
        if (rc == 0) {
            printf("%-6s %-28s %s\n", "id", "created", "status");
            for (size_t i = 0; i < token_ring_count(r); i++) {
                token_key_info_t k = token_ring_key(r, i);
                char ts[32];
                time_format_us(k.created * 1000000, ts);
                printf("%-6u %-28s %s\n", k.id, ts, k.retired ? "retired" : "active");
            }
            token_ring_free(r);
        }
    } else if (!strcmp(sub, "retire") && np == 1) {
        uint64_t id;
        if (!slice_to_u64(slice_cstr(pos[0]), &id) || id > 0xffff) {
            fprintf(stderr, "trueopen keys retire: '%s' is not a key id\n", pos[0]);
            config_free(c);
            return 2;
        }
        rc = token_ring_retire(path, (unsigned)id, err, sizeof(err));
        if (rc == 0) printf("key %u retired\n", (unsigned)id);
    } else {
        config_free(c);
        return cli_usage("keys");
    }
    if (rc) fprintf(stderr, "trueopen keys %s: %s\n", sub, err);
    config_free(c);
    return rc ? 1 : 0;
}
