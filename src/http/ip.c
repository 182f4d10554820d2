/*
 * Addresses, trusted-proxy CIDRs and the X-Forwarded-For walk. Proxies append the
 * address they received the request from, so the chain is only as trustworthy as
 * the proxies we know: walk it from the right and stop at the first hop we do not
 * trust (everything left of it may be made up by the client).
 */
#include "http/http_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool parse_plain(const char *s, http__addr_t *out)
{
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, s, out->a) == 1) {
        out->family = 4;
        return true;
    }
    uint8_t a6[16];
    if (inet_pton(AF_INET6, s, a6) == 1) {
        if (!memcmp(a6, v4mapped, 12)) {
            out->family = 4;
            memcpy(out->a, a6 + 12, 4);
        } else {
            out->family = 6;
            memcpy(out->a, a6, 16);
        }
        return true;
    }
    return false;
}

static bool port_ok(slice_t p)
{
    if (p.len == 0 || p.len > 5) return false;
    for (size_t i = 0; i < p.len; i++)
        if (p.p[i] < '0' || p.p[i] > '9') return false;
    return true;
}

bool http__addr_parse(slice_t s, http__addr_t *out)
{
    s = slice_trim(s);
    if (s.len == 0 || s.len >= 64) return false;
    char tmp[64];
    if (s.p[0] == '[') {
        const char *close = memchr(s.p, ']', s.len);
        if (!close) return false;
        size_t in = (size_t)(close - s.p - 1);
        size_t rest = s.len - in - 2;
        if (rest && (close[1] != ':' || !port_ok(slice_make(close + 2, rest - 1)))) return false;
        memcpy(tmp, s.p + 1, in);
        tmp[in] = 0;
        http__addr_t a;
        if (!parse_plain(tmp, &a)) return false;
        *out = a;
        return true;
    }
    memcpy(tmp, s.p, s.len);
    tmp[s.len] = 0;
    if (parse_plain(tmp, out)) return true;
    /* IPv4 with a port: exactly one colon */
    char *colon = strchr(tmp, ':');
    if (!colon || strchr(colon + 1, ':') || !port_ok(slice_cstr(colon + 1))) return false;
    *colon = 0;
    http__addr_t a;
    if (inet_pton(AF_INET, tmp, a.a) != 1) return false;
    a.family = 4;
    *out = a;
    return true;
}

bool http__addr_from_sockaddr(const struct sockaddr *sa, http__addr_t *out)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        out->family = 4;
        memcpy(out->a, &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        const uint8_t *b = in6->sin6_addr.s6_addr;
        if (!memcmp(b, v4mapped, 12)) {
            out->family = 4;
            memcpy(out->a, b + 12, 4);
        } else {
            out->family = 6;
            memcpy(out->a, b, 16);
        }
        return true;
    }
    return false;
}

size_t http__addr_format(const http__addr_t *a, char *out, size_t outlen)
{
    if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->a, out, (socklen_t)outlen)) {
        if (outlen) out[0] = 0;
        return 0;
    }
    return strlen(out);
}

bool http__cidr_parse(const char *s, http__cidr_t *out)
{
    char tmp[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(tmp)) return false;
    memcpy(tmp, s, n + 1);
    char *slash = strchr(tmp, '/');
    long bits = -1;
    if (slash) {
        *slash = 0;
        char *end;
        if (!slash[1] || slash[1] == '-' || slash[1] == '+') return false;
        bits = strtol(slash + 1, &end, 10);
        if (*end) return false;
    }
    memset(out, 0, sizeof(*out));
    /* a v4-mapped prefix (::ffff:a.b.c.d/n) is folded like the address itself */
    uint8_t a6[16];
    bool mapped =
        strchr(tmp, ':') && inet_pton(AF_INET6, tmp, a6) == 1 && !memcmp(a6, v4mapped, 12);
    if (!parse_plain(tmp, &out->net)) return false;
    long max = out->net.family == 4 ? 32 : 128;
    if (bits < 0) bits = mapped ? 128 : max;
    if (mapped) {
        if (bits < 96) return false;
        bits -= 96;
    }
    if (bits > max) return false;
    out->bits = (uint8_t)bits;
    /* clear host bits so matching is a plain compare */
    for (long i = bits; i < max; i++) out->net.a[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    return true;
}

bool http__cidr_match(const http__cidr_t *c, const http__addr_t *a)
{
    if (c->net.family != a->family) return false;
    size_t full = c->bits / 8;
    if (memcmp(c->net.a, a->a, full)) return false;
    unsigned rem = c->bits % 8;
    if (!rem) return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rem));
    return (a->a[full] & mask) == c->net.a[full];
}

bool http__trusted(const http__cidr_t *list, size_t n, const http__addr_t *a)
{
    for (size_t i = 0; i < n; i++)
        if (http__cidr_match(&list[i], a)) return true;
    return false;
}

http__addr_t http__client_addr(const http__cidr_t *list, size_t n, const http__addr_t *peer,
                               slice_t xff)
{
    if (!n || !xff.len || !http__trusted(list, n, peer)) return *peer;
    http__addr_t cur = *peer;
    size_t end = xff.len;
    /* bounded: each step consumes at least one byte */
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff.p[start - 1] != ',') start--;
        slice_t item = slice_trim(slice_make(xff.p + start, end - start));
        end = start ? start - 1 : 0;
        if (item.len == 0) {
            if (start == 0) break;
            continue;
        }
        http__addr_t a;
        if (!http__addr_parse(item, &a)) break;
        cur = a;
        if (!http__trusted(list, n, &a)) break;
        if (start == 0) break;
    }
    return cur;
}
