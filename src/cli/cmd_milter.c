/* trueopen milter: the rewriter behind libmilter, for Postfix or Sendmail. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "http/http.h"
#include "rewrite/mx.h"
#include "rewrite/rewrite.h"
#include "store/store.h"

const cfg_def_t cli_milter_cfg[] = {
    {"socket", CFG_STR, "unix:/run/trueopen/milter.sock", 0, 0, 0,
     "milter socket: unix:PATH (the default kind: Postfix waits on every round trip, over "
     "TCP that costs tens of ms a message) or inet:PORT@ADDR"},
    {"socket_mode", CFG_STR, "0660", 0, 0, 0, "permissions of a unix socket (octal)"},
    {"milter_timeout", CFG_MS, "30s", 1000, 3600000, 0, "MTA I/O timeout"},
    {"metrics_listen", CFG_STR, NULL, 0, 0, 0,
     "ADDR:PORT where the milter serves GET /metrics (Prometheus text) and GET /healthz "
     "(none by default; bind it to loopback, e.g. 127.0.0.1:9464; port 0 picks one)"},
    {"account_settings_refresh", CFG_MS, "60s", 1000, 86400000, 0,
     "how long an account's honeypot and keep_recipient_address settings are used from "
     "memory before they are read from the store again"},
    CFG_END,
};

/* ---- the metrics listener ---------------------------------------------------------- */

typedef struct {
    http_sink_t sink; /* first: the server hands this pointer back */
    rewrite_t *rw;
} milter_metrics_t;

/* A monitoring listener records no events (it has no key ring: no tracking route). */
static int mm_submit(http_sink_t *s, const http_event_t *ev, http_done_fn done, void *arg)
{
    (void)s;
    (void)ev;
    (void)done;
    (void)arg;
    return TO_EFULL;
}

static void counter(buf_t *out, const char *name, const char *help, uint64_t v)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
               (unsigned long long)v);
}

static void mm_metrics(http_sink_t *s, buf_t *out)
{
    milter_metrics_t *m = (milter_metrics_t *)s;
    rewrite_stats_t st;
    rewrite_stats(m->rw, &st);
    buf_puts(out, "# HELP trueopen_rewrite_messages_total Messages the rewriter handled, by "
                  "outcome (rewritten, or why it was delivered unchanged).\n"
                  "# TYPE trueopen_rewrite_messages_total counter\n");
    for (int i = 0; i < REWRITE__STATUS_COUNT; i++)
        buf_printf(out, "trueopen_rewrite_messages_total{status=\"%s\"} %llu\n",
                   rewrite_status_str((rewrite_status_t)i), (unsigned long long)st.by_status[i]);
    counter(out, "trueopen_rewrite_links_total", "Click tokens sealed into rewritten messages.",
            st.links);
    counter(out, "trueopen_rewrite_parts_bad_total",
            "Parts left unchanged because their transfer encoding did not decode cleanly.",
            st.parts_bad);
    counter(out, "trueopen_rewrite_parts_charset_total",
            "Parts left unchanged because their charset is not ASCII-compatible.",
            st.parts_charset);
}

/* Binds metrics_listen with the http_cfg defaults (one loop; the milter's traffic is a
 * scraper's). */
static int metrics_open(const char *listen, http_server_t **out, char *err, size_t errlen)
{
    const cfg_def_t *const t[] = {http_cfg, NULL};
    config_t *hc = config_new(t);
    http_opts_t ho;
    int rc = http_opts_from_config(hc, &ho, err, errlen);
    if (rc == 0) {
        ho.listen = listen;
        ho.threads = 1;
        rc = http_server_new(&ho, NULL, &clock_system, out, err, errlen);
    }
    config_free(hc);
    return rc;
}

/* ---- the command -------------------------------------------------------------------- */

int cmd_milter(int argc, char **argv)
{
    const cfg_def_t *const t[] = {cli_milter_cfg, rewrite_cfg, cli_keys_cfg,
                                  store_cfg,      mx_cfg,      NULL};
    config_t *c = cli_config(argc, argv, t, NULL, 0, NULL);
    char err[512];
    const char *sock = config_str(c, "socket");
    char *end;
    unsigned long mode = strtoul(config_str(c, "socket_mode"), &end, 8);
    if (*end || mode > 0777) {
        fprintf(stderr, "trueopen milter: socket_mode: expected an octal mode like 0660\n");
        config_free(c);
        return 2;
    }
    if (strncmp(sock, "unix:", 5) && strncmp(sock, "inet:", 5) && strncmp(sock, "inet6:", 6)) {
        fprintf(stderr, "trueopen milter: socket: expected unix:PATH or inet:PORT@ADDR\n");
        config_free(c);
        return 2;
    }
    if (config_int(c, "account") <= 0 && config_list_len(c, "account_map") == 0) {
        fprintf(stderr, "trueopen milter: --account (or account_map) is required\n");
        config_free(c);
        return cli_usage("milter");
    }
    /* The listener binds before the store is opened: a bad metrics_listen changes
     * nothing. */
    http_server_t *srv = NULL;
    const char *ml = config_str(c, "metrics_listen");
    if (ml) {
        int mrc = metrics_open(ml, &srv, err, sizeof(err));
        if (mrc != 0) {
            fprintf(stderr, "trueopen milter: metrics_listen: %s\n", err);
            config_free(c);
            return mrc == TO_EINVAL ? 2 : 1;
        }
    }
    cli_rewriter_t *r;
    if (cli_rewriter_open(c, &r, err, sizeof(err)) != 0) {
        fprintf(stderr, "trueopen milter: %s\n", err);
        http_server_free(srv);
        config_free(c);
        return 1;
    }
    milter_metrics_t mm = {.sink = {.submit = mm_submit, .metrics = mm_metrics},
                           .rw = cli_rewriter_get(r)};
    if (srv) {
        /* libmilter takes SIGTERM/SIGINT/SIGHUP with sigwait in a thread of its own; the
         * listener's thread must not catch them (their default action ends the process
         * before the milter has stopped) */
        sigset_t sigs, old;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &sigs, &old);
        int mrc = http_server_start(srv, &mm.sink);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (mrc != 0) {
            fprintf(stderr, "trueopen milter: metrics_listen: cannot start the listener thread\n");
            http_server_free(srv);
            cli_rewriter_close(r);
            config_free(c);
            return 1;
        }
        log_info("milter: metrics on %.*s:%u", (int)(strrchr(ml, ':') - ml), ml,
                 (unsigned)http_server_port(srv));
    }
    int rc = rewrite_milter_run(cli_rewriter_get(r), sock, (unsigned)mode,
                                (int)(config_int(c, "milter_timeout") / 1000));
    http_server_free(srv); /* stops it first */
    cli_rewriter_close(r);
    config_free(c);
    return rc ? 1 : 0;
}
