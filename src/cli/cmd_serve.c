/*
 * trueopen serve: the tracking server. Privileged setup first (read the keys, open
 * the store, bind the listeners), then the irrevocable privilege drop, then the
 * threads. SIGTERM/SIGINT: stop accepting, answer what is in flight, commit all that
 * is queued, exit 0. SIGHUP: reload the rule data; the new set is loaded beside the
 * old one, handed to the writer, and the old one freed once no batch can still be
 * using it. A rule set that does not load is logged and the old one kept. No request
 * waits on a reload: the HTTP threads never touch the rules.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "classify/classify.h"
#include "cli/cli.h"
#include "http/http.h"
#include "report/report.h"
#include "store/store.h"

const cfg_def_t cli_serve_cfg[] = {
    {"user", CFG_STR, NULL, 0, 0, 0,
     "when started as root, the user to run as after binding (privileges dropped for good)"},
    CFG_END,
};

/* setgroups, setgid, setuid; then check that nothing of root is left. */
static int drop_privileges(const char *user, char *err, size_t errlen)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errlen, "user '%.64s' not found", user);
        return TO_ENOTFOUND;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        snprintf(err, errlen, "cannot become '%.64s': %s", user, strerror(errno));
        return TO_EPERM;
    }
    gid_t groups[8];
    int ng = getgroups(8, groups);
    bool regained = uid != 0 && (setuid(0) == 0 || seteuid(0) == 0);
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid || ng != 1 ||
        groups[0] != gid || regained) {
        snprintf(err, errlen, "privileges were not dropped completely");
        return TO_EPERM;
    }
    return TO_OK;
}

static int load_rules(const config_t *c, classify_rules_t **out, char *err, size_t errlen)
{
    const char *dir = cli_rules_dir(c);
    char lerr[512];
    if (classify_rules_load(dir, out, lerr, sizeof(lerr)) != 0) {
        snprintf(err, errlen, "rules: %s", lerr);
        return TO_EPARSE;
    }
    classify_opts_t o;
    classify_opts_from_config(c, &o, NULL);
    classify_rules_set_opts(*out, &o);
    log_info("serve: rules %08x loaded from %s", classify_rules_version(*out), dir);
    return 0;
}

/* SIGHUP: the new set goes to the writer, which takes it up at its next batch; once
 * any batch that began with the old set has finished, nothing refers to it. */
static void reload_rules(const config_t *c, store_writer_t *w, classify_rules_t **cur)
{
    classify_rules_t *fresh = NULL;
    char err[600];
    log_info("serve: reload requested");
    if (load_rules(c, &fresh, err, sizeof(err)) != 0) {
        log_error("serve: reload failed, keeping rules %08x: %s", classify_rules_version(*cur),
                  err);
        return;
    }
    store_writer_set_rules(w, fresh);
    store_writer_quiesce(w);
    classify_rules_free(*cur);
    *cur = fresh;
}

int cmd_serve(int argc, char **argv)
{
    const cfg_def_t *const tables[] = {cli_keys_cfg, http_cfg,          store_cfg,  cli_serve_cfg,
                                       classify_cfg, cli_rules_dir_cfg, report_cfg, NULL};
    config_t *c = cli_config(argc, argv, tables, NULL, 0, NULL);
    char err[512];
    http_opts_t ho;
    if (http_opts_from_config(c, &ho, err, sizeof(err)) != 0) {
        fprintf(stderr, "trueopen serve: %s\n", err);
        config_free(c);
        return 2;
    }
    store_writer_opts_t wo;
    store_writer_opts_from_config(c, &wo);

    /* Signals are taken by sigwait in this thread only; every thread started below
     * inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    token_ring_t *ring = NULL;
    store_t *st = NULL;
    http_server_t *srv = NULL;
    store_writer_t *w = NULL;
    classify_rules_t *rules = NULL;
    report_api_server_t *api = NULL;
    report_retainer_t *ret = NULL;
    int rc = 1;
    if (token_ring_load(config_str(c, "keys"), &ring, err, sizeof(err)) != 0) goto fail;
    if (store_open(config_str(c, "db"), &st, err, sizeof(err)) != 0) goto fail;
    if (store_apply_config(st, c, err, sizeof(err)) != 0) goto fail;
    if (load_rules(c, &rules, err, sizeof(err)) != 0) goto fail;
    classify_msg_opts_t mo;
    classify_opts_from_config(c, NULL, &mo);
    store_set_msg_opts(st, &mo);
    store_set_rules(st, rules);
    if (http_server_new(&ho, ring, &clock_system, &srv, err, sizeof(err)) != 0) goto fail;
    /* The API has its own listener, bound only where --api-listen says (none by default). */
    if (config_str(c, "api_listen")) {
        report_api_opts_t ao;
        report_api_opts_from_config(c, &ao);
        ao.listen = config_str(c, "api_listen");
        ao.db_uri = config_str(c, "db");
        ao.msg_opts = &mo;
        if (report_api_start(&ao, &api, err, sizeof(err)) != 0) goto fail;
        log_info("serve: API listening on %.*s:%d", (int)(strrchr(ao.listen, ':') - ao.listen),
                 ao.listen, report_api_port(api));
    }
    /* The writer opens the store's spool before the drop: its directory stays
     * usable through a descriptor even where the server's user cannot reach it. */
    bool sqlite = store_sqlite_handle(st) != NULL; /* asked now: the writer owns st below */
    const char *user = config_str(c, "user");
    struct passwd *pw = user && geteuid() == 0 ? getpwnam(user) : NULL;
    if (store_writer_start2(st, &wo, &w, err, sizeof(err)) != 0) goto fail;
    if (pw && store_prepare_owner(st, pw->pw_uid, pw->pw_gid, err, sizeof(err)) != 0) goto fail;
    if (user && geteuid() == 0) {
        if (drop_privileges(user, err, sizeof(err)) != 0) goto fail;
        log_info("serve: running as %s", user);
    } else if (user) {
        log_warn("serve: not started as root; user setting ignored");
    }
    if (sqlite && report_retainer_start(config_str(c, "db"), config_int(c, "retention_interval"),
                                        &mo, &ret, err, sizeof(err)) != 0)
        goto fail;
    if (http_server_start(srv, store_writer_sink(w)) != 0) {
        snprintf(err, sizeof(err), "cannot start the server threads");
        goto fail;
    }
    /* the port matters when the setting asked for port 0 */
    log_info("serve: listening on %.*s:%u (%d threads)", (int)(strrchr(ho.listen, ':') - ho.listen),
             ho.listen, (unsigned)http_server_port(srv), ho.threads);
    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0) continue;
        if (sig == SIGHUP) {
            reload_rules(c, w, &rules);
            continue;
        }
        log_info("serve: %s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    report_api_stop(api);
    api = NULL;
    report_retainer_stop(ret);
    ret = NULL;
    http_server_stop(srv);
    size_t left = http_server_parked(srv);
    if (left) log_warn("serve: %zu requests still unanswered at the shutdown timeout", left);
    store_writer_stop(w); /* commits everything queued; the store is ours again */
    w = NULL;
    log_info("serve: stopped, every queued event committed");
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "trueopen serve: %s\n", err);
done:
    report_api_stop(api);
    report_retainer_stop(ret);
    if (w) store_writer_stop(w);
    http_server_free(srv);
    store_close(st);
    classify_rules_free(rules); /* after the writer, the only user, has stopped */
    token_ring_free(ring);
    config_free(c);
    return rc;
}
