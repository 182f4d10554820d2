/*
 * trueopen serve: the tracking server. Privileged setup first (read the keys, open
 * the store, bind the listeners), then the irrevocable privilege drop, then the
 * threads. SIGTERM/SIGINT: stop accepting, answer what is in flight, commit all that
 * is queued, exit 0. SIGHUP: a reload request.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "http/http.h"
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

int cmd_serve(int argc, char **argv)
{
    const cfg_def_t *const tables[] = {cli_keys_cfg, http_cfg, store_cfg, cli_serve_cfg, NULL};
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
    int rc = 1;
    if (token_ring_load(config_str(c, "keys"), &ring, err, sizeof(err)) != 0) goto fail;
    if (store_open(config_str(c, "db"), &st, err, sizeof(err)) != 0) goto fail;
    if (store_apply_config(st, c, err, sizeof(err)) != 0) goto fail;
    if (http_server_new(&ho, ring, &clock_system, &srv, err, sizeof(err)) != 0) goto fail;
    const char *user = config_str(c, "user");
    if (user && geteuid() == 0) {
        if (drop_privileges(user, err, sizeof(err)) != 0) goto fail;
        log_info("serve: running as %s", user);
    } else if (user) {
        log_warn("serve: not started as root; user setting ignored");
    }
    if (store_writer_start(st, &wo, &w) != 0) {
        snprintf(err, sizeof(err), "cannot start the store writer");
        goto fail;
    }
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
            log_info("serve: reload requested");
            continue;
        }
        log_info("serve: %s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
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
    if (w) store_writer_stop(w);
    http_server_free(srv);
    store_close(st);
    token_ring_free(ring);
    config_free(c);
    return rc;
}
