/*
 * Counters and their Prometheus text exposition. Each loop owns a counter set and
 * bumps it with relaxed atomics (no sharing on the hot path); /metrics sums the sets.
 */
#include "http/http_internal.h"

#include <stddef.h>
#include <stdio.h>

static const int statuses[] = {
#define HTTP__SV(n) n,
    HTTP__STATUS_LIST(HTTP__SV)
#undef HTTP__SV
};

int http__status_index(int status)
{
    for (size_t i = 0; i < TO_ARRAY_LEN(statuses); i++)
        if (statuses[i] == status) return (int)i;
    return HTTP__S_OTHER;
}

static uint64_t ld(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static uint64_t sum_at(http__counters_t *const *sets, size_t n, size_t off)
{
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++) v += ld((_Atomic uint64_t *)(void *)((char *)sets[k] + off));
    return v;
}
#define SUM(field) sum_at(sets, n, offsetof(http__counters_t, field))

static void series(buf_t *out, const char *name, const char *type, const char *help, uint64_t v)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
               (unsigned long long)v);
}

void http__metrics_render(http__counters_t *const *sets, size_t n, buf_t *out)
{
    buf_puts(out, "# HELP trueopen_http_requests_total HTTP requests answered, by route and "
                  "status.\n# TYPE trueopen_http_requests_total counter\n");
    for (int r = 0; r < HTTP__R__COUNT; r++)
        for (int s = 0; s < HTTP__S__COUNT; s++) {
            uint64_t v = 0;
            for (size_t k = 0; k < n; k++) v += ld(&sets[k]->requests[r][s]);
            /* the tracking routes always show their main statuses, even at zero */
            bool main_status = (r == HTTP__R_OPEN && s == HTTP__S_200) ||
                               (r == HTTP__R_CLICK && (s == HTTP__S_302 || s == HTTP__S_404)) ||
                               (r == HTTP__R_HONEYPOT && s == HTTP__S_204);
            if (!v && !main_status) continue;
            char st[16] = "other";
            if (s != HTTP__S_OTHER) snprintf(st, sizeof(st), "%d", statuses[s]);
            buf_printf(out, "trueopen_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                       http__route_name((http__route_id_t)r), st, (unsigned long long)v);
        }
    buf_puts(out, "# HELP trueopen_tokens_rejected_total Tracking requests whose token did not "
                  "open (nothing recorded).\n# TYPE trueopen_tokens_rejected_total counter\n");
    for (int r = HTTP__R_OPEN; r <= HTTP__R_HONEYPOT; r++) {
        uint64_t v = 0;
        for (size_t k = 0; k < n; k++) v += ld(&sets[k]->tokens_rejected[r]);
        buf_printf(out, "trueopen_tokens_rejected_total{route=\"%s\"} %llu\n",
                   http__route_name((http__route_id_t)r), (unsigned long long)v);
    }
    series(out, "trueopen_http_events_queued_total", "counter",
           "Events handed to the store writer.", SUM(events_queued));
    series(out, "trueopen_http_events_committed_total", "counter",
           "Events the store reported committed before their response.", SUM(events_committed));
    series(out, "trueopen_http_events_failed_total", "counter",
           "Events the store failed to commit (answered anyway).", SUM(events_failed));
    series(out, "trueopen_http_events_refused_total", "counter",
           "Events refused because the store queue was full (answered anyway).",
           SUM(events_refused));
    series(out, "trueopen_http_connections_total", "counter", "Connections accepted.",
           SUM(conns_accepted));
    series(out, "trueopen_http_connections_rejected_total", "counter",
           "Connections closed at once because max connections was reached.", SUM(conns_rejected));
    series(out, "trueopen_http_connections_open", "gauge", "Connections open now.",
           SUM(conns_open));
    buf_puts(out, "# HELP trueopen_http_timeouts_total Connections cut off by a timeout.\n"
                  "# TYPE trueopen_http_timeouts_total counter\n");
    buf_printf(out, "trueopen_http_timeouts_total{kind=\"header\"} %llu\n",
               (unsigned long long)SUM(timeouts_header));
    buf_printf(out, "trueopen_http_timeouts_total{kind=\"idle\"} %llu\n",
               (unsigned long long)SUM(timeouts_idle));
}
