/* Mailbox provider by MX (mx.h): a small UDP DNS client, a TTL cache, the host map. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rewrite/mx.h"

const cfg_def_t mx_cfg[] = {
    {"dns_server", CFG_STR, NULL, 0, 0, 0,
     "resolver for MX lookups, IP or IP:PORT (unset: no DNS; only well-known consumer "
     "domains map to a provider)"},
    {"mx_budget_ms", CFG_MS, "1000", 1, 60000, CFG_RELOADABLE,
     "longest a recipient's MX lookup may delay a message, all attempts together"},
    {"mx_timeout_ms", CFG_MS, "400", 1, 60000, CFG_RELOADABLE, "one MX query attempt"},
    {"mx_cache_ttl", CFG_MS, "1h", 1000, 604800000, CFG_RELOADABLE,
     "longest an MX answer is cached (shorter when the records say so)"},
    {"mx_negative_ttl", CFG_MS, "5m", 1000, 86400000, CFG_RELOADABLE,
     "how long a failed or timed-out MX lookup is cached"},
    {"mx_cache_size", CFG_INT, "8192", 16, 16777216, 0, "MX cache entries"},
    CFG_END,
};

void mx_opts_default(mx_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout_ms = 400;
    o->budget_ms = 1000;
    o->cache_ttl_s = 3600;
    o->negative_ttl_s = 300;
    o->cache_size = 8192;
}

void mx_opts_from_config(const config_t *c, mx_opts_t *o)
{
    mx_opts_default(o);
    o->dns_server = config_str(c, "dns_server");
    o->budget_ms = config_int(c, "mx_budget_ms");
    o->timeout_ms = config_int(c, "mx_timeout_ms");
    o->cache_ttl_s = config_int(c, "mx_cache_ttl") / 1000;
    o->negative_ttl_s = config_int(c, "mx_negative_ttl") / 1000;
    o->cache_size = (size_t)config_int(c, "mx_cache_size");
}

/* ---- provider maps ------------------------------------------------------------------- */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && !strncasecmp(s + n - m, suffix, m) && (n == m || s[n - m - 1] == '.');
}

uint8_t mx_provider_from_domain(slice_t d)
{
    static const struct {
        const char *domain;
        uint8_t provider;
    } map[] = {
        {"gmail.com", TOKEN_PROVIDER_GMAIL},         {"googlemail.com", TOKEN_PROVIDER_GMAIL},
        {"icloud.com", TOKEN_PROVIDER_ICLOUD},       {"me.com", TOKEN_PROVIDER_ICLOUD},
        {"mac.com", TOKEN_PROVIDER_ICLOUD},          {"outlook.com", TOKEN_PROVIDER_OUTLOOK_COM},
        {"hotmail.com", TOKEN_PROVIDER_OUTLOOK_COM}, {"live.com", TOKEN_PROVIDER_OUTLOOK_COM},
        {"msn.com", TOKEN_PROVIDER_OUTLOOK_COM},     {"yahoo.com", TOKEN_PROVIDER_YAHOO},
        {"ymail.com", TOKEN_PROVIDER_YAHOO},         {"rocketmail.com", TOKEN_PROVIDER_YAHOO},
    };
    for (size_t i = 0; i < TO_ARRAY_LEN(map); i++)
        if (slice_caseeq_cstr(d, map[i].domain)) return map[i].provider;
    return TOKEN_PROVIDER_UNKNOWN;
}

uint8_t mx_provider_from_hosts(const char *const *hosts, size_t n)
{
    static const struct {
        const char *suffix;
        uint8_t provider;
    } map[] = {
        /* Most specific first: outlook.com's consumer MX sits under protection.outlook.com. */
        {"olc.protection.outlook.com", TOKEN_PROVIDER_OUTLOOK_COM},
        {"mail.protection.outlook.com", TOKEN_PROVIDER_MICROSOFT365},
        {"mail.icloud.com", TOKEN_PROVIDER_ICLOUD},
        {"yahoodns.net", TOKEN_PROVIDER_YAHOO},
        {"pphosted.com", TOKEN_PROVIDER_PROOFPOINT},
        {"ppe-hosted.com", TOKEN_PROVIDER_PROOFPOINT},
        {"mimecast.com", TOKEN_PROVIDER_MIMECAST},
        {"barracudanetworks.com", TOKEN_PROVIDER_BARRACUDA},
        {"iphmx.com", TOKEN_PROVIDER_CISCO},
        {"google.com", TOKEN_PROVIDER_GOOGLE_WORKSPACE},
        {"googlemail.com", TOKEN_PROVIDER_GOOGLE_WORKSPACE},
    };
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(hosts[i]);
        for (size_t k = 0; k < TO_ARRAY_LEN(map); k++)
            if (ends_with(hosts[i], len, map[k].suffix)) return map[k].provider;
    }
    return TOKEN_PROVIDER_OTHER;
}

/* ---- DNS wire format ----------------------------------------------------------------- */

size_t mx_build_query(const char *name, uint16_t id, uint8_t *out, size_t cap)
{
    size_t nlen = strlen(name);
    if (cap < 12 + nlen + 2 + 4 || nlen > 253) return 0;
    uint8_t *p = out;
    *p++ = (uint8_t)(id >> 8), *p++ = (uint8_t)id;
    *p++ = 0x01, *p++ = 0x00; /* RD */
    *p++ = 0, *p++ = 1;       /* QDCOUNT */
    memset(p, 0, 6), p += 6;
    const char *s = name;
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        if (l == 0 || l > 63) return 0;
        *p++ = (uint8_t)l;
        memcpy(p, s, l), p += l;
        s += l;
        if (*s == '.') s++;
    }
    *p++ = 0;
    *p++ = 0, *p++ = 15; /* MX */
    *p++ = 0, *p++ = 1;  /* IN */
    return (size_t)(p - out);
}

/* Reads a possibly compressed name at *off into out (lowercased, dotted); advances *off
 * past the name as it appears at that position. */
static bool read_name(const uint8_t *p, size_t n, size_t *off, char out[256])
{
    size_t pos = *off, olen = 0;
    bool jumped = false;
    int jumps = 0;
    for (;;) {
        if (pos >= n) return false;
        uint8_t l = p[pos];
        if ((l & 0xc0) == 0xc0) {
            if (pos + 1 >= n || ++jumps > 16) return false;
            size_t target = (size_t)(l & 0x3f) << 8 | p[pos + 1];
            if (!jumped) *off = pos + 2;
            jumped = true;
            if (target >= n) return false;
            pos = target;
            continue;
        }
        if (l & 0xc0) return false; /* reserved label types */
        pos++;
        if (l == 0) break;
        if (pos + l > n || olen + l + 1 > 255) return false;
        if (olen) out[olen++] = '.';
        for (size_t i = 0; i < l; i++) {
            char c = (char)p[pos + i];
            out[olen++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        pos += l;
    }
    out[olen] = 0;
    if (!jumped) *off = pos;
    return true;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

int mx_parse_response(const uint8_t *p, size_t n, uint16_t id, const char *name, mx_answer_t *out)
{
    memset(out, 0, sizeof(*out));
    if (n < 12 || rd16(p) != id) return TO_EPARSE;
    uint8_t f1 = p[2], f2 = p[3];
    if (!(f1 & 0x80) || ((f1 >> 3) & 0x0f) != 0) return TO_EPARSE; /* QR, QUERY */
    out->truncated = (f1 & 0x02) != 0;
    out->rcode = f2 & 0x0f;
    uint16_t qd = rd16(p + 4), an = rd16(p + 6);
    if (qd != 1) return TO_EPARSE;
    size_t off = 12;
    char qname[256];
    if (!read_name(p, n, &off, qname) || off + 4 > n) return TO_EPARSE;
    if (strcasecmp(qname, name) || rd16(p + off) != 15 || rd16(p + off + 2) != 1) return TO_EPARSE;
    off += 4;
    out->min_ttl = UINT32_MAX;
    for (uint16_t i = 0; i < an; i++) {
        char rname[256], host[256];
        if (!read_name(p, n, &off, rname) || off + 10 > n) return TO_EPARSE;
        uint16_t type = rd16(p + off), cls = rd16(p + off + 2);
        uint32_t ttl = (uint32_t)rd16(p + off + 4) << 16 | rd16(p + off + 6);
        uint16_t rdlen = rd16(p + off + 8);
        off += 10;
        if (off + rdlen > n) return TO_EPARSE;
        size_t rend = off + rdlen;
        if (type == 15 && cls == 1 && !strcasecmp(rname, name)) {
            if (rdlen < 3) return TO_EPARSE;
            uint16_t pref = rd16(p + off);
            size_t hoff = off + 2;
            if (!read_name(p, rend, &hoff, host)) {
                /* The exchange may point back into the message: read it against the whole. */
                hoff = off + 2;
                if (!read_name(p, n, &hoff, host)) return TO_EPARSE;
            }
            if (out->n < MX_MAX_HOSTS) {
                /* Insert sorted by preference (stable). */
                size_t k = out->n;
                while (k > 0 && out->pref[k - 1] > pref) {
                    out->pref[k] = out->pref[k - 1];
                    memcpy(out->host[k], out->host[k - 1], sizeof(out->host[k]));
                    k--;
                }
                out->pref[k] = pref;
                snprintf(out->host[k], sizeof(out->host[k]), "%s", host);
                out->n++;
            }
            if (ttl < out->min_ttl) out->min_ttl = ttl;
        }
        off = rend;
    }
    if (out->min_ttl == UINT32_MAX) out->min_ttl = 0;
    return 0;
}

/* ---- the resolver -------------------------------------------------------------------- */

typedef struct {
    char domain[254];
    uint8_t provider;
    bool used;
    int64_t expires_us;
} entry_t;

struct mx_resolver {
    mx_opts_t o;
    struct sockaddr_storage server;
    socklen_t server_len;
    pthread_mutex_t mu;
    entry_t *cache;
    size_t mask;
    uint64_t lookups, hits, queries, failures;
};

static bool parse_server(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[128];
    unsigned port = 53;
    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (!e || (size_t)(e - s - 1) >= sizeof(host)) return false;
        memcpy(host, s + 1, (size_t)(e - s - 1));
        host[e - s - 1] = 0;
        if (e[1] == ':' && sscanf(e + 2, "%u", &port) != 1)
            return false;
        else if (e[1] && e[1] != ':')
            return false;
    } else if (strchr(s, ':') && strchr(s, ':') == strrchr(s, ':')) {
        const char *c = strchr(s, ':');
        if ((size_t)(c - s) >= sizeof(host) || sscanf(c + 1, "%u", &port) != 1) return false;
        memcpy(host, s, (size_t)(c - s));
        host[c - s] = 0;
    } else {
        if (strlen(s) >= sizeof(host)) return false;
        snprintf(host, sizeof(host), "%s", s);
    }
    if (port == 0 || port > 65535) return false;
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
        return true;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return true;
    }
    return false;
}

static bool resolv_conf_server(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        char kw[32], addr[128];
        if (sscanf(line, " %31s %127s", kw, addr) == 2 && !strcmp(kw, "nameserver")) {
            char *pct = strchr(addr, '%'); /* fe80::1%eth0 */
            if (pct) *pct = 0;
            if (strchr(addr, ':'))
                snprintf(out, outlen, "[%s]:53", addr);
            else
                snprintf(out, outlen, "%s", addr);
            found = true;
        }
    }
    fclose(f);
    return found;
}

int mx_resolver_new(const mx_opts_t *o, mx_resolver_t **out, char *err, size_t errlen)
{
    *out = NULL;
    mx_resolver_t *r = xcalloc(1, sizeof(*r));
    if (o)
        r->o = *o;
    else
        mx_opts_default(&r->o);
    if (r->o.timeout_ms <= 0 || r->o.budget_ms <= 0 || r->o.cache_size < 1) {
        snprintf(err, errlen, "mx: timeout, budget and cache size must be positive");
        free(r);
        return TO_EINVAL;
    }
    if (!r->o.clock) r->o.clock = &clock_system;
    char server[160];
    const char *s = r->o.dns_server;
    if (!s || !*s) {
        const char *rc = r->o.resolv_conf ? r->o.resolv_conf : "/etc/resolv.conf";
        if (!resolv_conf_server(rc, server, sizeof(server)))
            snprintf(server, sizeof(server), "127.0.0.1");
        s = server;
    }
    if (!parse_server(s, &r->server, &r->server_len)) {
        snprintf(err, errlen, "dns_server: '%.60s' is not IP, IP:PORT or [IPv6]:PORT", s);
        free(r);
        return TO_EINVAL;
    }
    size_t cap = 16;
    while (cap < r->o.cache_size && cap < ((size_t)1 << 24)) cap <<= 1;
    r->cache = xcalloc(cap, sizeof(*r->cache));
    r->mask = cap - 1;
    r->o.dns_server = NULL; /* not kept: the caller owns the string */
    r->o.resolv_conf = NULL;
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return 0;
}

void mx_resolver_free(mx_resolver_t *r)
{
    if (!r) return;
    pthread_mutex_destroy(&r->mu);
    free(r->cache);
    free(r);
}

void mx_stats(mx_resolver_t *r, mx_stats_t *out)
{
    pthread_mutex_lock(&r->mu);
    *out = (mx_stats_t){r->lookups, r->hits, r->queries, r->failures};
    pthread_mutex_unlock(&r->mu);
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

#define PROBE 8

static bool cache_get(mx_resolver_t *r, const char *d, int64_t now, uint8_t *out)
{
    uint64_t h = hash(d);
    for (size_t i = 0; i < PROBE; i++) {
        entry_t *e = &r->cache[(h + i) & r->mask];
        if (e->used && !strcmp(e->domain, d)) {
            if (e->expires_us > now) {
                *out = e->provider;
                return true;
            }
            return false;
        }
    }
    return false;
}

static void cache_put(mx_resolver_t *r, const char *d, uint8_t provider, int64_t expires)
{
    uint64_t h = hash(d);
    entry_t *victim = NULL;
    for (size_t i = 0; i < PROBE; i++) {
        entry_t *e = &r->cache[(h + i) & r->mask];
        if (!e->used || !strcmp(e->domain, d)) {
            victim = e;
            break;
        }
        if (!victim || e->expires_us < victim->expires_us) victim = e;
    }
    snprintf(victim->domain, sizeof(victim->domain), "%s", d);
    victim->provider = provider;
    victim->used = true;
    victim->expires_us = expires;
}

/* Lowercases and checks a domain: letters, digits, '-', '_', '.'; labels 1..63. */
static bool normalise(slice_t d, char out[254])
{
    if (d.len && d.p[d.len - 1] == '.') d.len--;
    if (d.len == 0 || d.len > 253) return false;
    size_t label = 0;
    for (size_t i = 0; i < d.len; i++) {
        char c = d.p[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
            if (++label > 63) return false;
        } else {
            return false;
        }
        out[i] = c;
    }
    if (label == 0) return false;
    out[d.len] = 0;
    return true;
}

/* One lookup against the server within the budget. Returns 0 with ans filled, or
 * TO_ETIMEOUT / TO_EIO. */
static int query(mx_resolver_t *r, const char *name, mx_answer_t *ans)
{
    int64_t deadline = mono_ms() + r->o.budget_ms;
    int fd = socket(r->server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return TO_EIO;
    /* connect() makes the kernel drop datagrams from any other source. */
    if (connect(fd, (struct sockaddr *)&r->server, r->server_len) != 0) {
        close(fd);
        return TO_EIO;
    }
    int rc = TO_ETIMEOUT;
    uint8_t q[512], resp[4096];
    for (int attempt = 0; attempt < 8; attempt++) {
        int64_t now = mono_ms();
        if (now >= deadline) break;
        uint16_t id;
        rand_fill(&rand_system, &id, sizeof(id));
        size_t qlen = mx_build_query(name, id, q, sizeof(q));
        if (!qlen) {
            rc = TO_EINVAL;
            break;
        }
        pthread_mutex_lock(&r->mu);
        r->queries++;
        pthread_mutex_unlock(&r->mu);
        if (send(fd, q, qlen, 0) < 0 && errno != EAGAIN) {
            rc = TO_EIO;
            /* An ICMP refusal shows up here on the next attempt; keep trying in budget. */
        }
        int64_t until = TO_MIN(deadline, now + r->o.timeout_ms);
        for (;;) {
            int64_t left = until - mono_ms();
            if (left <= 0) break;
            struct pollfd pfd = {fd, POLLIN, 0};
            int pr = poll(&pfd, 1, (int)left);
            if (pr < 0 && errno == EINTR) continue;
            if (pr <= 0) break;
            ssize_t got = recv(fd, resp, sizeof(resp), 0);
            if (got < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                rc = TO_EIO;
                break; /* refused: try again after the attempt's time */
            }
            if (mx_parse_response(resp, (size_t)got, id, name, ans) == 0) {
                close(fd);
                return 0;
            }
            /* A stray or forged datagram: keep waiting for ours. */
        }
        if (rc == TO_EIO) {
            /* Wait out the attempt instead of spinning on a refusing server. */
            int64_t left = until - mono_ms();
            if (left > 0) poll(NULL, 0, (int)left);
            rc = TO_ETIMEOUT;
        }
    }
    close(fd);
    return rc;
}

uint8_t mx_provider_lookup(void *ctx, slice_t domain)
{
    mx_resolver_t *r = ctx;
    char d[254];
    if (!r || !normalise(domain, d)) return TOKEN_PROVIDER_UNKNOWN;
    uint8_t p = mx_provider_from_domain(slice_cstr(d));
    pthread_mutex_lock(&r->mu);
    r->lookups++;
    pthread_mutex_unlock(&r->mu);
    if (p != TOKEN_PROVIDER_UNKNOWN) return p;
    int64_t now = clock_now_us(r->o.clock);
    pthread_mutex_lock(&r->mu);
    bool hit = cache_get(r, d, now, &p);
    if (hit) r->hits++;
    pthread_mutex_unlock(&r->mu);
    if (hit) return p;

    mx_answer_t ans;
    int rc = query(r, d, &ans);
    int64_t ttl_s;
    if (rc == 0 && (ans.rcode == 0 || ans.rcode == 3) && !(ans.truncated && ans.n == 0)) {
        const char *hosts[MX_MAX_HOSTS] = {0};
        for (size_t i = 0; i < ans.n; i++) hosts[i] = ans.host[i];
        p = mx_provider_from_hosts(hosts, ans.n);
        ttl_s = ans.n ? TO_MIN((int64_t)ans.min_ttl, r->o.cache_ttl_s) : r->o.negative_ttl_s;
        if (ttl_s < 30) ttl_s = TO_MIN(30, r->o.cache_ttl_s);
    } else {
        p = TOKEN_PROVIDER_UNKNOWN;
        ttl_s = r->o.negative_ttl_s;
    }
    pthread_mutex_lock(&r->mu);
    if (p == TOKEN_PROVIDER_UNKNOWN) r->failures++;
    cache_put(r, d, p, now + ttl_s * 1000000);
    pthread_mutex_unlock(&r->mu);
    return p;
}
