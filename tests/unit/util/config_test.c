#include <unistd.h>

#include "test.h"
#include "util/util.h"

static const cfg_def_t tbl[] = {
    {"listen", CFG_STR, "127.0.0.1:8080", 0, 0, 0, "address"},
    {"workers", CFG_INT, "2", 1, 64, 0, "threads"},
    {"verbose", CFG_BOOL, "off", 0, 0, 0, "more output"},
    {"max_head", CFG_SIZE, "8k", 256, 1048576, 0, "head size"},
    {"idle_timeout", CFG_MS, "30s", 0, 3600000, 0, "idle"},
    {"trusted_proxy", CFG_LIST, NULL, 0, 0, 0, "proxies"},
    {"api_secret", CFG_STR, NULL, 0, 0, CFG_SECRET, "secret"},
    {"db", CFG_STR, NULL, 0, 0, CFG_REQUIRED, "database"},
    CFG_END,
};

static const char *write_tmp(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/trueopen-cfg-XXXXXX");
    int fd = mkstemp(path);
    if (write(fd, text, strlen(text)) < 0) return NULL;
    close(fd);
    return path;
}

int main(void)
{
    const cfg_def_t *const tables[] = {tbl, NULL};
    config_t *c = config_new(tables);
    CHECK_STR(config_str(c, "listen"), "127.0.0.1:8080");
    CHECK_INT(config_int(c, "workers"), 2);
    CHECK_INT(config_int(c, "max_head"), 8192);
    CHECK_INT(config_int(c, "idle_timeout"), 30000);
    CHECK(!config_bool(c, "verbose"));
    char err[256];
    CHECK_INT(config_check_required(c, err, sizeof(err)), TO_EINVAL);
    CHECK(strstr(err, "--db") != NULL);

    const char *f = write_tmp("# comment\nworkers = 4\n\ntrusted_proxy = 10.0.0.0/8\n"
                              "trusted_proxy = ::1/128\napi_secret = \"s3cret\"\ndb = x.db\n");
    CHECK_INT(config_load_file(c, f, err, sizeof(err)), 0);
    unlink(f);
    CHECK_INT(config_int(c, "workers"), 4);
    CHECK_INT(config_list_len(c, "trusted_proxy"), 2);
    CHECK_STR(config_list_at(c, "trusted_proxy", 1), "::1/128");
    CHECK_STR(config_str(c, "api_secret"), "s3cret");
    buf_t d = BUF_INIT;
    config_dump(c, &d, false);
    CHECK(strstr(buf_cstr(&d), "api_secret = ********") != NULL);
    CHECK(strstr(buf_cstr(&d), "s3cret") == NULL);
    CHECK(strstr(buf_cstr(&d), "workers = 4") != NULL);
    buf_clear(&d);

    /* A bad line names the file and line and changes nothing. */
    f = write_tmp("workers = 8\nworkers_typo = 3\n");
    CHECK_INT(config_load_file(c, f, err, sizeof(err)), TO_EPARSE);
    CHECK(strstr(err, ":2: unknown setting 'workers_typo'") != NULL);
    CHECK_INT(config_int(c, "workers"), 4);
    unlink(f);
    f = write_tmp("workers = 99\n");
    CHECK_INT(config_load_file(c, f, err, sizeof(err)), TO_EPARSE);
    CHECK(strstr(err, ":1: workers: 99 is out of range") != NULL);
    unlink(f);
    f = write_tmp("no equals sign\n");
    CHECK_INT(config_load_file(c, f, err, sizeof(err)), TO_EPARSE);
    CHECK(strstr(err, ":1: expected") != NULL);
    unlink(f);

    /* Flags override the file; a list flag replaces the file's list. */
    f = write_tmp("workers = 3\ntrusted_proxy = 10.0.0.0/8\ndb = from-file.db\n");
    char fpath[64];
    strcpy(fpath, f);
    const char *args[] = {"--workers", "5",
                          "pos1",      "--config",
                          fpath,       "--trusted-proxy=192.0.2.0/24",
                          "--verbose", "--idle-timeout",
                          "2s"};
    char *argv[9];
    for (int i = 0; i < 9; i++) argv[i] = xstrdup(args[i]);
    const char *pos[4];
    int np;
    config_t *c2 = config_new(tables);
    CHECK_INT(config_parse_args(c2, 9, argv, pos, 4, &np, err, sizeof(err)), 0);
    CHECK_INT(np, 1);
    CHECK_STR(pos[0], "pos1");
    CHECK_INT(config_int(c2, "workers"), 5);
    CHECK_STR(config_str(c2, "db"), "from-file.db");
    CHECK_INT(config_list_len(c2, "trusted_proxy"), 1);
    CHECK_STR(config_list_at(c2, "trusted_proxy", 0), "192.0.2.0/24");
    CHECK(config_bool(c2, "verbose"));
    CHECK_INT(config_int(c2, "idle_timeout"), 2000);
    CHECK_INT(config_check_required(c2, err, sizeof(err)), 0);
    char *bad[] = {xstrdup("--no-such-flag"), xstrdup("1")};
    CHECK_INT(config_parse_args(c2, 2, bad, pos, 4, &np, err, sizeof(err)), TO_EINVAL);
    CHECK(strstr(err, "unknown flag '--no-such-flag'") != NULL);
    char *badv[] = {xstrdup("--workers"), xstrdup("many")};
    CHECK_INT(config_parse_args(c2, 2, badv, pos, 4, &np, err, sizeof(err)), TO_EINVAL);
    CHECK(strstr(err, "--workers: 'many' is not a valid integer") != NULL);
    unlink(fpath);
    for (int i = 0; i < 9; i++) free(argv[i]);
    for (int i = 0; i < 2; i++) free(bad[i]), free(badv[i]);
    buf_t md = BUF_INIT;
    config_doc_markdown(tables, &md);
    CHECK(strstr(buf_cstr(&md), "| trusted_proxy | `--trusted-proxy` | list |") != NULL);
    buf_clear(&md);
    config_free(c2);
    config_free(c);
    int64_t v;
    CHECK(parse_duration_ms("1.5s", &v) && v == 1500);
    CHECK(parse_duration_ms("1d", &v) && v == 86400000);
    CHECK(!parse_duration_ms("5 parsecs", &v));
    CHECK(parse_size("10M", &v) && v == 10485760);
    CHECK(!parse_size("-1", &v));
    return test_done();
}
