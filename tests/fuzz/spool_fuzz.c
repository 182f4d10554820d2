/* The spool record decoder on arbitrary bytes (a damaged or foreign segment): never
 * crashes, and whatever it accepts re-encodes to the same bytes. */
#include <string.h>

#include "store/store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t used = 0, r;
    bool bad;
    http_event_t ev;
    buf_t b = BUF_INIT;
    while ((r = store__spool_decode(data + used, size - used, &ev, &bad)) > 0) {
        buf_reset(&b);
        store__spool_encode(&b, &ev);
        if (b.len != r || memcmp(b.p, data + used, r) != 0) __builtin_trap();
        used += r;
    }
    buf_clear(&b);
    return 0;
}
