/* Counter sets and their Prometheus text. */
#include "http/http_internal.h"
#include "test.h"

int main(void)
{
    http__counters_t *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    http__inc(&a->requests[HTTP__R_OPEN][http__status_index(200)]);
    http__inc(&b->requests[HTTP__R_OPEN][http__status_index(200)]);
    http__inc(&b->requests[HTTP__R_OTHER][http__status_index(431)]);
    http__inc(&b->requests[HTTP__R_OTHER][http__status_index(299)]);
    http__inc(&a->events_queued);
    http__inc(&a->events_queued);
    http__inc(&b->events_committed);
    http__inc(&b->events_refused);
    http__inc(&a->tokens_rejected[HTTP__R_CLICK]);
    http__inc(&a->timeouts_header);
    CHECK_INT(http__status_index(299), HTTP__S_OTHER);
    CHECK_INT(http__status_index(204), HTTP__S_204);
    http__counters_t *sets[] = {a, b};
    buf_t out = BUF_INIT;
    http__metrics_render(sets, 2, &out);
    const char *t = buf_cstr(&out);
    CHECK(strstr(t, "# TYPE trueopen_http_requests_total counter\n"));
    CHECK(strstr(t, "trueopen_http_requests_total{route=\"open\",status=\"200\"} 2\n"));
    CHECK(strstr(t, "trueopen_http_requests_total{route=\"other\",status=\"431\"} 1\n"));
    CHECK(strstr(t, "trueopen_http_requests_total{route=\"other\",status=\"other\"} 1\n"));
    CHECK(strstr(t, "trueopen_http_requests_total{route=\"click\",status=\"302\"} 0\n"));
    CHECK(!strstr(t, "route=\"healthz\""));
    CHECK(strstr(t, "trueopen_http_events_queued_total 2\n"));
    CHECK(strstr(t, "trueopen_http_events_committed_total 1\n"));
    CHECK(strstr(t, "trueopen_http_events_refused_total 1\n"));
    CHECK(strstr(t, "trueopen_tokens_rejected_total{route=\"click\"} 1\n"));
    CHECK(strstr(t, "trueopen_http_timeouts_total{kind=\"header\"} 1\n"));
    /* every line is a comment or "name{labels} value" */
    int bad = 0;
    for (const char *l = t; *l;) {
        const char *nl = strchr(l, '\n');
        if (!nl) {
            bad++;
            break;
        }
        if (*l != '#' && strncmp(l, "trueopen_", 9)) bad++;
        l = nl + 1;
    }
    CHECK_INT(bad, 0);
    buf_clear(&out);
    free(a);
    free(b);
    return test_done();
}
