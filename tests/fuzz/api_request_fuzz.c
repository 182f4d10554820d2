/*
 * The API request parser: never reads out of bounds, and whatever it accepts points
 * inside the input with a path that starts with '/' and a body that fits the limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    report_api_request_t rq;
    size_t head, blen;
    const char *err;
    int rc = report_api_parse(copy, size, 2048, 512, &rq, &head, &blen, &err);
    if (rc == 0) {
        if (head > size || blen > 512 || !rq.path.len || rq.path.p[0] != '/' || rq.path.p < copy ||
            rq.path.p + rq.path.len > copy + head)
            abort();
        buf_t b = BUF_INIT;
        (void)report_url_decode(rq.path, &b);
        slice_t v;
        (void)report_query_get(rq.query, "view", &v);
        buf_clear(&b);
    } else if (rc != TO_EAGAIN && rc != TO_EPARSE && rc != TO_ETOOBIG) {
        abort();
    }
    free(copy);
    return 0;
}
