/* The config file parser on arbitrary bytes: never crashes, and a file that fails
 * to parse changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const cfg_def_t tbl[] = {
    {"a", CFG_STR, "x", 0, 0, 0, "a"},
    {"n", CFG_INT, "1", 0, 100, 0, "n"},
    {"b", CFG_BOOL, "off", 0, 0, 0, "b"},
    {"s", CFG_SIZE, "1k", 0, 0, 0, "s"},
    {"d", CFG_MS, "1s", 0, 0, 0, "d"},
    {"l", CFG_LIST, NULL, 0, 0, 0, "l"},
    CFG_END,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/trueopen-cfgfuzz-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    if (write(fd, data, size) < 0) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    const cfg_def_t *const tables[] = {tbl, NULL};
    config_t *c = config_new(tables);
    char err[256];
    if (config_load_file(c, path, err, sizeof(err)) != 0) {
        if (config_int(c, "n") != 1 || config_list_len(c, "l") != 0 ||
            strcmp(config_str(c, "a"), "x") != 0)
            __builtin_trap();
    }
    buf_t b = BUF_INIT;
    config_dump(c, &b, true);
    buf_clear(&b);
    config_free(c);
    unlink(path);
    return 0;
}
