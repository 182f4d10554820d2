/*
 * trueopen report: one campaign's statistics in a view; trueopen campaigns: the list.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "report/report.h"

const cfg_def_t cli_report_cfg[] = {
    {"campaign", CFG_STR, NULL, 0, 0, CFG_FLAG_ONLY, "campaign name"},
    {"account", CFG_INT, "0", 0, INT64_MAX, CFG_FLAG_ONLY,
     "account owning the campaign (0: whichever account has a campaign of that name)"},
    {"exclude_automated", CFG_BOOL, "false", 0, 0, CFG_FLAG_ONLY,
     "count people only (automated events are still listed by agent)"},
    {"include_automated", CFG_BOOL, "false", 0, 0, CFG_FLAG_ONLY,
     "count every event, automated ones included"},
    {"format", CFG_STR, "table", 0, 0, CFG_FLAG_ONLY, "table, json or csv"},
    {"both_views", CFG_BOOL, "false", 0, 0, CFG_FLAG_ONLY,
     "table of both views side by side (people only, all events)"},
    CFG_END,
};

/* Opens the store named by --db and settles it so figures are exact. */
static store_t *open_settled(const config_t *c, const char *cmd)
{
    store_t *s = cli_open_sqlite(c, cmd);
    if (!s) return NULL;
    int rc = store_settle(s);
    if (rc) {
        fprintf(stderr, "trueopen %s: cannot settle message status: %s\n", cmd, err_str(rc));
        store_close(s);
        return NULL;
    }
    return s;
}

static int print_buf(buf_t *b)
{
    fwrite(b->p ? b->p : "", 1, b->len, stdout);
    buf_clear(b);
    return fflush(stdout) == 0 ? 0 : 1;
}

int cmd_report(int argc, char **argv)
{
    const cfg_def_t *const t[] = {store_cfg, cli_report_cfg, NULL};
    config_t *c = cli_config(argc, argv, t, NULL, 0, NULL);
    const char *name = config_str(c, "campaign");
    report_format_t fmt;
    bool ex = config_bool(c, "exclude_automated"), in = config_bool(c, "include_automated");
    bool both = config_bool(c, "both_views");
    if (!name || !*name || !report_format_parse(config_str(c, "format"), &fmt) || (ex && in) ||
        (both && (ex || in || fmt != REPORT_FMT_TABLE))) {
        if (!name || !*name)
            fprintf(stderr, "trueopen report: --campaign NAME is required\n");
        else if (ex && in)
            fprintf(stderr, "trueopen report: --exclude-automated and --include-automated "
                            "contradict each other\n");
        else if (both)
            fprintf(stderr, "trueopen report: --both-views is a table of both views; it takes "
                            "no view flag and no other format\n");
        else
            fprintf(stderr, "trueopen report: --format is table, json or csv\n");
        config_free(c);
        return cli_usage("report");
    }
    store_t *s = open_settled(c, "report");
    if (!s) {
        config_free(c);
        return 1;
    }
    sqlite3 *db = store_sqlite_handle(s);
    uint64_t acc, id;
    int rc =
        report_find_campaign(db, (uint64_t)config_int(c, "account"), slice_cstr(name), &acc, &id);
    if (rc == TO_ENOTFOUND) {
        fprintf(stderr, "trueopen report: no campaign named '%s'%s\n", name,
                config_int(c, "account") ? " in that account" : "");
    } else if (rc == TO_EINVAL) {
        fprintf(stderr,
                "trueopen report: several accounts have a campaign named '%s': pass "
                "--account N\n",
                name);
    } else if (rc) {
        fprintf(stderr, "trueopen report: %s\n", err_str(rc));
    }
    int64_t now = clock_now_us(&clock_system);
    buf_t out = BUF_INIT;
    if (!rc && both) {
        report_stats_t p, a;
        rc = report_campaign_stats(db, acc, id, REPORT_VIEW_PEOPLE, now, &p);
        if (!rc) {
            rc = report_campaign_stats(db, acc, id, REPORT_VIEW_ALL, now, &a);
            if (!rc) {
                report_stats_table_side_by_side(&p, &a, &out);
                report_stats_clear(&a);
            }
            report_stats_clear(&p);
        }
    } else if (!rc) {
        report_stats_t st;
        int view = ex ? REPORT_VIEW_PEOPLE : in ? REPORT_VIEW_ALL : -1;
        rc = report_campaign_stats(db, acc, id, view, now, &st);
        if (!rc) {
            if (fmt == REPORT_FMT_JSON) {
                report_stats_json(&st, &out);
                buf_putc(&out, '\n');
            } else if (fmt == REPORT_FMT_CSV) {
                report_stats_csv(&st, &out);
            } else {
                report_stats_table(&st, &out);
            }
            report_stats_clear(&st);
        }
        if (rc) fprintf(stderr, "trueopen report: %s\n", err_str(rc));
    }
    if (!rc) rc = print_buf(&out);
    buf_clear(&out);
    char target[256];
    snprintf(target, sizeof(target), "campaign %.200s", name);
    cli_audit(s, rc == TO_ENOTFOUND || rc == TO_EINVAL ? 0 : acc, "report", target, rc);
    store_close(s);
    config_free(c);
    return rc ? 1 : 0;
}

const cfg_def_t cli_campaigns_cfg[] = {
    {"account", CFG_INT, "0", 0, INT64_MAX, CFG_FLAG_ONLY, "only this account (0: all)"},
    {"format", CFG_STR, "table", 0, 0, CFG_FLAG_ONLY, "table or json"},
    CFG_END,
};

int cmd_campaigns(int argc, char **argv)
{
    const cfg_def_t *const t[] = {store_cfg, cli_campaigns_cfg, NULL};
    config_t *c = cli_config(argc, argv, t, NULL, 0, NULL);
    report_format_t fmt;
    if (!report_format_parse(config_str(c, "format"), &fmt) || fmt == REPORT_FMT_CSV) {
        fprintf(stderr, "trueopen campaigns: --format is table or json\n");
        config_free(c);
        return cli_usage("campaigns");
    }
    store_t *s = open_settled(c, "campaigns");
    if (!s) {
        config_free(c);
        return 1;
    }
    report_campaign_t *v;
    size_t n;
    int rc =
        report_list_campaigns(store_sqlite_handle(s), (uint64_t)config_int(c, "account"), &v, &n);
    if (rc) {
        fprintf(stderr, "trueopen campaigns: %s\n", err_str(rc));
    } else {
        buf_t out = BUF_INIT;
        if (fmt == REPORT_FMT_JSON) {
            report_campaigns_json(v, n, &out);
            buf_putc(&out, '\n');
        } else {
            report_campaigns_table(v, n, &out);
        }
        rc = print_buf(&out);
        report_campaigns_free(v, n);
    }
    cli_audit(s, (uint64_t)config_int(c, "account"), "campaigns", "", rc);
    store_close(s);
    config_free(c);
    return rc ? 1 : 0;
}
