/* DNS responses to an MX query: the first two bytes are the expected id, the rest the
 * datagram. Property: a parse that succeeds yields sorted, bounded, printable hosts. */
#include <stdlib.h>
#include <string.h>

#include "rewrite/mx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    uint16_t id = (uint16_t)(data[0] << 8 | data[1]);
    mx_answer_t a;
    static const char *const names[] = {"example.com", "a", "x.y.z"};
    for (size_t k = 0; k < 3; k++) {
        if (mx_parse_response(data + 2, size - 2, id, names[k], &a) != 0) continue;
        if (a.n > MX_MAX_HOSTS) abort();
        for (size_t i = 0; i < a.n; i++) {
            if (strlen(a.host[i]) > 255) abort();
            if (i && a.pref[i - 1] > a.pref[i]) abort();
        }
        const char *hosts[MX_MAX_HOSTS];
        for (size_t i = 0; i < a.n; i++) hosts[i] = a.host[i];
        if (mx_provider_from_hosts(hosts, a.n) >= TOKEN_PROVIDER__COUNT) abort();
    }
    return 0;
}
