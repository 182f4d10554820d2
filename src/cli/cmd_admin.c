/*
 * Administration commands: settings, apikey, audit, retain, hold. Every change made
 * here is written to the audit log (via "cli").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "report/report.h"

const cfg_def_t cli_admin_cfg[] = {
    {"account", CFG_INT, "0", 0, INT64_MAX, CFG_FLAG_ONLY, "account id"},
    {"campaign", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY, "campaign name"},
    {"format", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY, "output format (table, json, jsonl)"},
    {"since", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY, "only rows at or after this time"},
    CFG_END,
};

void cli_audit(store_t *s, uint64_t account, const char *action, const char *target, int rc)
{
    store_audit_t a = {.ts_us = clock_now_us(&clock_system),
                       .via = "cli",
                       .account = account,
                       .action = action,
                       .target = target,
                       .status = rc ? 1 : 0};
    if (store_audit_add(s, &a))
        fprintf(stderr, "trueopen: warning: could not write the audit log\n");
}

static config_t *parse(int argc, char **argv, const char **pos, int max_pos, int *np)
{
    const cfg_def_t *const t[] = {store_cfg, cli_admin_cfg, NULL};
    return cli_config(argc - 1, argv + 1, t, pos, max_pos, np);
}

static bool need_account(const config_t *c, const char *cmd, uint64_t *out)
{
    int64_t a = config_int(c, "account");
    if (a <= 0) {
        fprintf(stderr, "trueopen %s: --account N is required\n", cmd);
        return false;
    }
    *out = (uint64_t)a;
    return true;
}

/* ---- settings --------------------------------------------------------------------- */

static void print_setting(const store_settings_t *st, const char *key)
{
    if (!strcmp(key, "suppress_automated"))
        printf("%s\n", st->suppress_automated ? "on" : "off");
    else if (!strcmp(key, "keep_recipient_address"))
        printf("%s\n", st->keep_recipient_address ? "on" : "off");
    else if (!strcmp(key, "honeypot"))
        printf("%s\n", st->honeypot ? "on" : "off");
    else
        printf("%" PRId64 "\n", st->retention_days);
}

static bool known_setting(const char *key)
{
    for (size_t i = 0; store_setting_names[i]; i++)
        if (!strcmp(key, store_setting_names[i])) return true;
    return false;
}

int cmd_settings(int argc, char **argv)
{
    if (argc < 2) return cli_usage("settings");
    const char *sub = argv[1];
    const char *pos[3];
    int np = 0;
    config_t *c = parse(argc, argv, pos, 3, &np);
    uint64_t acc;
    bool get = !strcmp(sub, "get"), set = !strcmp(sub, "set");
    if ((!get && !set) || (get && np > 1) || (set && np != 2)) {
        config_free(c);
        return cli_usage("settings");
    }
    if (!need_account(c, "settings", &acc)) {
        config_free(c);
        return 2;
    }
    if (np >= 1 && !known_setting(pos[0])) {
        fprintf(stderr,
                "trueopen settings: unknown setting '%s' (known: suppress_automated, "
                "retention_days, keep_recipient_address, honeypot)\n",
                pos[0]);
        config_free(c);
        return 2;
    }
    store_t *s = cli_open_sqlite(c, "settings");
    if (!s) {
        config_free(c);
        return 1;
    }
    int rc = 0;
    store_settings_t st;
    if (get) {
        rc = store_settings_get(s, acc, &st);
        if (!rc && np == 1) {
            print_setting(&st, pos[0]);
        } else if (!rc) {
            const char *fmt = config_str(c, "format");
            if (fmt && !strcmp(fmt, "json")) {
                buf_t b = BUF_INIT;
                store_settings_json(&st, &b);
                printf("%s\n", buf_cstr(&b));
                buf_clear(&b);
            } else {
                for (size_t i = 0; store_setting_names[i]; i++) {
                    printf("%-24s ", store_setting_names[i]);
                    print_setting(&st, store_setting_names[i]);
                }
            }
        }
        if (rc) fprintf(stderr, "trueopen settings get: %s\n", err_str(rc));
    } else {
        char err[256], target[160];
        rc = store_settings_set(s, acc, pos[0], pos[1], clock_now_us(&clock_system), err,
                                sizeof(err));
        snprintf(target, sizeof(target), "%s=%.100s", pos[0], pos[1]);
        if (rc == TO_EINVAL) {
            fprintf(stderr, "trueopen settings set: %s\n", err);
        } else if (rc) {
            fprintf(stderr, "trueopen settings set: %s\n", err_str(rc));
        } else {
            cli_audit(s, acc, "settings set", target, rc);
            store_settings_get(s, acc, &st);
            printf("account %" PRIu64 ": %s = ", acc, pos[0]);
            print_setting(&st, pos[0]);
        }
        if (rc == TO_EINVAL) {
            store_close(s);
            config_free(c);
            return 2;
        }
    }
    store_close(s);
    config_free(c);
    return rc ? 1 : 0;
}

/* ---- apikey ----------------------------------------------------------------------- */

int cmd_apikey(int argc, char **argv)
{
    if (argc < 2) return cli_usage("apikey");
    const char *sub = argv[1];
    const char *pos[2];
    int np = 0;
    config_t *c = parse(argc, argv, pos, 2, &np);
    bool is_new = !strcmp(sub, "new"), list = !strcmp(sub, "list"), revoke = !strcmp(sub, "revoke");
    uint64_t acc = (uint64_t)config_int(c, "account");
    if ((!is_new && !list && !revoke) || (revoke ? np != 1 : np != 0)) {
        config_free(c);
        return cli_usage("apikey");
    }
    if (!list && !need_account(c, "apikey", &acc)) {
        config_free(c);
        return 2;
    }
    int64_t id = 0;
    if (revoke) {
        uint64_t v;
        if (!slice_to_u64(slice_cstr(pos[0]), &v) || v == 0 || v > INT64_MAX) {
            fprintf(stderr, "trueopen apikey revoke: '%s' is not a key id\n", pos[0]);
            config_free(c);
            return 2;
        }
        id = (int64_t)v;
    }
    store_t *s = cli_open_sqlite(c, "apikey");
    if (!s) {
        config_free(c);
        return 1;
    }
    int rc;
    int64_t now = clock_now_us(&clock_system);
    if (is_new) {
        buf_t key = BUF_INIT;
        rc = store_apikey_new(s, acc, &rand_system, now, &key, &id);
        char target[32];
        snprintf(target, sizeof(target), "key %" PRId64, id);
        if (!rc) {
            cli_audit(s, acc, "apikey new", target, 0);
            printf("API key %" PRId64 " for account %" PRIu64
                   " (shown once; only its hash is stored):\n%s\n",
                   id, acc, buf_cstr(&key));
        } else {
            fprintf(stderr, "trueopen apikey new: %s\n", err_str(rc));
        }
        if (key.p) memset(key.p, 0, key.len);
        buf_clear(&key);
    } else if (list) {
        store_apikey_t *ks;
        size_t n;
        rc = store_apikey_list(s, acc, &ks, &n);
        if (!rc) {
            printf("%-6s %-8s %-14s %-28s %s\n", "id", "account", "prefix", "created", "status");
            for (size_t i = 0; i < n; i++) {
                char ts[32], rv[32];
                time_format_us(ks[i].created_us, ts);
                if (ks[i].revoked_us) time_format_us(ks[i].revoked_us, rv);
                printf("%-6" PRId64 " %-8" PRIu64 " %-14s %-28s %s%s\n", ks[i].id, ks[i].account,
                       ks[i].prefix, ts, ks[i].revoked_us ? "revoked " : "active",
                       ks[i].revoked_us ? rv : "");
            }
            free(ks);
        } else {
            fprintf(stderr, "trueopen apikey list: %s\n", err_str(rc));
        }
    } else {
        rc = store_apikey_revoke(s, acc, id, now);
        char target[32];
        snprintf(target, sizeof(target), "key %" PRId64, id);
        cli_audit(s, acc, "apikey revoke", target, rc);
        if (rc == TO_ENOTFOUND)
            fprintf(stderr,
                    "trueopen apikey revoke: account %" PRIu64 " has no active key %" PRId64 "\n",
                    acc, id);
        else if (rc)
            fprintf(stderr, "trueopen apikey revoke: %s\n", err_str(rc));
        else
            printf("API key %" PRId64 " of account %" PRIu64 " revoked\n", id, acc);
    }
    store_close(s);
    config_free(c);
    return rc ? 1 : 0;
}

/* ---- audit ------------------------------------------------------------------------ */

static int audit_row(void *arg, const store_audit_t *a)
{
    bool jsonl = *(bool *)arg;
    char ts[32];
    time_format_us(a->ts_us, ts);
    buf_t b = BUF_INIT;
    if (jsonl) {
        bool f = true;
        buf_putc(&b, '{');
        json_key(&b, &f, "id");
        buf_printf(&b, "%" PRId64, a->id);
        json_key(&b, &f, "ts");
        json_cstr(&b, ts);
        json_key(&b, &f, "via");
        json_cstr(&b, a->via ? a->via : "");
        json_key(&b, &f, "account");
        if (a->account)
            buf_printf(&b, "%" PRIu64, a->account);
        else
            buf_puts(&b, "null");
        json_key(&b, &f, "key_id");
        if (a->key_id)
            buf_printf(&b, "%" PRId64, a->key_id);
        else
            buf_puts(&b, "null");
        json_key(&b, &f, "action");
        json_cstr(&b, a->action ? a->action : "");
        json_key(&b, &f, "target");
        json_cstr(&b, a->target ? a->target : "");
        json_key(&b, &f, "status");
        buf_printf(&b, "%d", a->status);
        json_key(&b, &f, "remote");
        json_cstr(&b, a->remote);
        buf_puts(&b, "}\n");
    } else {
        char acc[24] = "-", key[24] = "-";
        if (a->account) snprintf(acc, sizeof(acc), "%" PRIu64, a->account);
        if (a->key_id) snprintf(key, sizeof(key), "%" PRId64, a->key_id);
        buf_printf(&b, "%-8" PRId64 " %-28s %-4s %-8s %-6s %-14s %-6d %-16s %s\n", a->id, ts,
                   a->via ? a->via : "", acc, key, a->action ? a->action : "", a->status,
                   a->remote ? a->remote : "-", a->target ? a->target : "");
    }
    fwrite(b.p, 1, b.len, stdout);
    buf_clear(&b);
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    const cfg_def_t *const t[] = {store_cfg, cli_admin_cfg, NULL};
    config_t *c = cli_config(argc, argv, t, NULL, 0, NULL);
    const char *fmt = config_str(c, "format");
    if (!fmt) fmt = "table";
    bool jsonl = !strcmp(fmt, "jsonl");
    if (!jsonl && strcmp(fmt, "table")) {
        fprintf(stderr, "trueopen audit: --format is jsonl or table\n");
        config_free(c);
        return cli_usage("audit");
    }
    int64_t since = 0;
    const char *sv = config_str(c, "since");
    if (sv && !time_parse_us(slice_cstr(sv), &since)) {
        fprintf(stderr, "trueopen audit: --since takes RFC 3339 or UNIX time\n");
        config_free(c);
        return 2;
    }
    store_t *s = cli_open_sqlite(c, "audit");
    if (!s) {
        config_free(c);
        return 1;
    }
    if (!jsonl)
        printf("%-8s %-28s %-4s %-8s %-6s %-14s %-6s %-16s %s\n", "id", "when", "via", "account",
               "key", "action", "status", "remote", "target");
    int rc = store_audit_list(s, since, (uint64_t)config_int(c, "account"), audit_row, &jsonl);
    if (rc) fprintf(stderr, "trueopen audit: %s\n", err_str(rc));
    store_close(s);
    config_free(c);
    return rc ? 1 : 0;
}

/* ---- retain and hold -------------------------------------------------------------- */

int cmd_retain(int argc, char **argv)
{
    const cfg_def_t *const t[] = {store_cfg, cli_admin_cfg, NULL};
    config_t *c = cli_config(argc, argv, t, NULL, 0, NULL);
    store_t *s = cli_open_sqlite(c, "retain");
    if (!s) {
        config_free(c);
        return 1;
    }
    store_retain_result_t r;
    int rc = store_retain(s, clock_now_us(&clock_system), &r);
    if (!rc) rc = store_settle(s);
    char target[128];
    snprintf(target, sizeof(target), "%" PRIu64 " messages, %" PRIu64 " events deleted",
             rc ? 0 : r.messages, rc ? 0 : r.events);
    cli_audit(s, 0, "retain", target, rc);
    if (rc)
        fprintf(stderr, "trueopen retain: %s\n", err_str(rc));
    else
        printf("retain: %" PRIu64 " campaigns examined, %" PRIu64
               " under legal hold kept; deleted %" PRIu64 " messages and %" PRIu64 " events\n",
               r.campaigns, r.held_campaigns, r.messages, r.events);
    store_close(s);
    config_free(c);
    return rc ? 1 : 0;
}

int cmd_hold(int argc, char **argv)
{
    if (argc < 2) return cli_usage("hold");
    const char *sub = argv[1];
    int np = 0;
    const char *pos[1];
    config_t *c = parse(argc, argv, pos, 1, &np);
    bool on = !strcmp(sub, "set"), off = !strcmp(sub, "clear");
    const char *name = config_str(c, "campaign");
    if ((!on && !off) || np) {
        config_free(c);
        return cli_usage("hold");
    }
    if (!name || !*name) {
        fprintf(stderr, "trueopen hold: --campaign NAME is required\n");
        config_free(c);
        return 2;
    }
    store_t *s = cli_open_sqlite(c, "hold");
    if (!s) {
        config_free(c);
        return 1;
    }
    uint64_t acc = (uint64_t)config_int(c, "account");
    int rc = store_hold_set(s, acc, slice_cstr(name), on);
    char target[256];
    snprintf(target, sizeof(target), "campaign %.200s", name);
    cli_audit(s, acc, on ? "hold set" : "hold clear", target, rc);
    if (rc == TO_ENOTFOUND)
        fprintf(stderr, "trueopen hold: no campaign named '%s'\n", name);
    else if (rc == TO_EINVAL)
        fprintf(stderr,
                "trueopen hold: several accounts have a campaign named '%s': pass --account N\n",
                name);
    else if (rc)
        fprintf(stderr, "trueopen hold: %s\n", err_str(rc));
    else
        printf("legal hold %s on campaign '%s'\n", on ? "set" : "cleared", name);
    store_close(s);
    config_free(c);
    return rc == TO_EINVAL ? 2 : rc ? 1 : 0;
}
