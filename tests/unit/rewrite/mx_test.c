/*
 * MX provider lookups against a tiny DNS server run by the test on 127.0.0.1 (a thread
 * answering canned MX sets), plus the wire format, the host map and the cache.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rewrite/mx.h"
#include "test.h"

/* ---- the test's DNS server ----------------------------------------------------------- */

typedef struct {
    const char *domain;
    const char *mode; /* "mx" answer, "nx" NXDOMAIN, "servfail", "drop" (never answers),
                         "wrongid" (a reply with another id first), "slow" (answers after 300 ms) */
    const char *hosts[4];
    uint16_t pref[4];
    uint32_t ttl;
} zone_t;

static const zone_t zones[] = {
    {"example-workspace.org",
     "mx",
     {"alt1.aspmx.l.google.com", "aspmx.l.google.com"},
     {20, 10},
     300},
    {"contoso.com", "mx", {"contoso-com.mail.protection.outlook.com"}, {0}, 3600},
    {"hotmail.co.uk", "mx", {"eur.olc.protection.outlook.com"}, {5}, 3600},
    {"fabrikam.com", "mx", {"mx0a-001.pphosted.com", "mx0b-001.pphosted.com"}, {10, 10}, 60},
    {"ppe.example", "mx", {"mx1.ppe-hosted.com"}, {10}, 60},
    {"mimecast.example", "mx", {"eu-smtp-inbound-1.mimecast.com"}, {10}, 60},
    {"cuda.example", "mx", {"d123.mx.ess.barracudanetworks.com"}, {10}, 60},
    {"cisco.example", "mx", {"mx1.hc123-45.iphmx.com"}, {10}, 60},
    {"apple-custom.example", "mx", {"mx01.mail.icloud.com", "mx02.mail.icloud.com"}, {10, 10}, 60},
    {"yahoo-biz.example", "mx", {"mta5.am0.yahoodns.net"}, {1}, 60},
    {"self-hosted.example", "mx", {"mail.self-hosted.example"}, {10}, 60},
    /* Preference decides: the gateway in front is what the mail meets first. */
    {"mixed.example",
     "mx",
     {"backup.mail.protection.outlook.com", "mx1.mimecast.com"},
     {20, 5},
     60},
    {"nosuch.example", "nx", {NULL}, {0}, 0},
    {"broken.example", "servfail", {NULL}, {0}, 0},
    {"blackhole.example", "drop", {NULL}, {0}, 0},
    {"spoofed.example", "wrongid", {"mx.pphosted.com"}, {10}, 60},
    {"slow.example", "slow", {"mx.pphosted.com"}, {10}, 60},
};

static int srv_fd;
static atomic_int srv_stop, srv_queries;

static size_t put_name(uint8_t *p, const char *name)
{
    size_t n = 0;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        p[n++] = (uint8_t)l;
        memcpy(p + n, name, l);
        n += l;
        name += l + (dot ? 1 : 0);
    }
    p[n++] = 0;
    return n;
}

static void *serve(void *arg)
{
    uint8_t q[1024], r[2048];
    while (!atomic_load(&srv_stop)) {
        struct pollfd pfd = {srv_fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0) continue;
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(srv_fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
        if (n < 17) continue;
        atomic_fetch_add(&srv_queries, 1);
        /* The question name, uncompressed. */
        char name[256];
        size_t off = 12, o = 0;
        while (off < (size_t)n && q[off]) {
            size_t l = q[off++];
            if (o) name[o++] = '.';
            memcpy(name + o, q + off, l);
            o += l;
            off += l;
        }
        name[o] = 0;
        size_t qend = off + 1 + 4;
        const zone_t *z = NULL;
        for (size_t i = 0; i < TO_ARRAY_LEN(zones); i++)
            if (!strcmp(zones[i].domain, name)) z = &zones[i];
        if (z && !strcmp(z->mode, "drop")) continue;
        memcpy(r, q, qend);
        r[2] = 0x81; /* QR RD */
        r[3] = 0x80 | (!z || !strcmp(z->mode, "nx") ? 3 : !strcmp(z->mode, "servfail") ? 2 : 0);
        r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
        size_t len = qend;
        int an = 0;
        if (z && z->hosts[0] && strcmp(z->mode, "servfail")) {
            for (int i = 0; i < 4 && z->hosts[i]; i++) {
                r[len++] = 0xc0, r[len++] = 12; /* pointer to the question name */
                r[len++] = 0, r[len++] = 15, r[len++] = 0, r[len++] = 1;
                r[len++] = (uint8_t)(z->ttl >> 24), r[len++] = (uint8_t)(z->ttl >> 16);
                r[len++] = (uint8_t)(z->ttl >> 8), r[len++] = (uint8_t)z->ttl;
                size_t rdl = len;
                len += 2;
                r[len++] = (uint8_t)(z->pref[i] >> 8), r[len++] = (uint8_t)z->pref[i];
                len += put_name(r + len, z->hosts[i]);
                size_t rdlen = len - rdl - 2;
                r[rdl] = (uint8_t)(rdlen >> 8), r[rdl + 1] = (uint8_t)rdlen;
                an++;
            }
        }
        r[7] = (uint8_t)an;
        if (z && !strcmp(z->mode, "wrongid")) {
            uint8_t forged[2048];
            memcpy(forged, r, len);
            forged[0] ^= 0x5a;
            forged[len - 3] = 'X'; /* would name another host */
            sendto(srv_fd, forged, len, 0, (struct sockaddr *)&from, fl);
        }
        if (z && !strcmp(z->mode, "slow")) usleep(300 * 1000);
        sendto(srv_fd, r, len, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

static mx_resolver_t *resolver(const char *server, int64_t timeout_ms, int64_t budget_ms,
                               util_clock_t *clk)
{
    mx_opts_t o;
    mx_opts_default(&o);
    o.dns_server = server;
    o.timeout_ms = timeout_ms;
    o.budget_ms = budget_ms;
    o.clock = clk;
    mx_resolver_t *r = NULL;
    char err[256];
    CHECK_INT(mx_resolver_new(&o, &r, err, sizeof(err)), 0);
    return r;
}

#define LOOK(r, d) mx_provider_lookup((r), SLICE_LIT(d))

int main(void)
{
    /* The host map alone. */
    const char *h1[] = {"aspmx.l.google.com"};
    CHECK_INT(mx_provider_from_hosts(h1, 1), TOKEN_PROVIDER_GOOGLE_WORKSPACE);
    const char *h2[] = {"mail.example.net", "x.pphosted.com"};
    CHECK_INT(mx_provider_from_hosts(h2, 2), TOKEN_PROVIDER_PROOFPOINT);
    const char *h3[] = {"notpphosted.com"}; /* a suffix must end on a label boundary */
    CHECK_INT(mx_provider_from_hosts(h3, 1), TOKEN_PROVIDER_OTHER);
    CHECK_INT(mx_provider_from_hosts(NULL, 0), TOKEN_PROVIDER_OTHER);
    CHECK_INT(mx_provider_from_domain(SLICE_LIT("GMail.com")), TOKEN_PROVIDER_GMAIL);
    CHECK_INT(mx_provider_from_domain(SLICE_LIT("example.com")), TOKEN_PROVIDER_UNKNOWN);

    /* The wire format round trip through the parser's checks. */
    uint8_t q[512];
    size_t ql = mx_build_query("example.com", 0x1234, q, sizeof(q));
    CHECK(ql == 12 + 13 + 4);
    mx_answer_t ans;
    CHECK_INT(mx_parse_response(q, ql, 0x1234, "example.com", &ans), TO_EPARSE); /* not QR */
    q[2] |= 0x80;
    CHECK_INT(mx_parse_response(q, ql, 0x1234, "example.com", &ans), 0);
    CHECK_INT(ans.n, 0);
    CHECK_INT(mx_parse_response(q, ql, 0x1235, "example.com", &ans), TO_EPARSE); /* id */
    CHECK_INT(mx_parse_response(q, ql, 0x1234, "example.org", &ans), TO_EPARSE); /* name */
    CHECK_INT(mx_parse_response(q, ql - 1, 0x1234, "example.com", &ans), TO_EPARSE);
    CHECK_INT(mx_build_query("a..b", 1, q, sizeof(q)), 0);
    /* A compression loop. */
    uint8_t loop[] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 15, 0, 1};
    CHECK_INT(mx_parse_response(loop, sizeof(loop), 0x1234, "x", &ans), TO_EPARSE);

    /* The server. */
    srv_fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_INT(bind(srv_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    getsockname(srv_fd, (struct sockaddr *)&a, &al);
    char server[64];
    snprintf(server, sizeof(server), "127.0.0.1:%u", ntohs(a.sin_port));
    pthread_t th;
    pthread_create(&th, NULL, serve, NULL);

    util_clock_t clk = clock_fixed(1700000000LL * 1000000);
    mx_resolver_t *r = resolver(server, 200, 600, &clk);
    CHECK_INT(LOOK(r, "gmail.com"), TOKEN_PROVIDER_GMAIL);
    CHECK_INT(LOOK(r, "me.com"), TOKEN_PROVIDER_ICLOUD);
    CHECK_INT(LOOK(r, "hotmail.com"), TOKEN_PROVIDER_OUTLOOK_COM);
    CHECK_INT(atomic_load(&srv_queries), 0); /* consumer domains need no DNS */
    CHECK_INT(LOOK(r, "example-workspace.org"), TOKEN_PROVIDER_GOOGLE_WORKSPACE);
    CHECK_INT(LOOK(r, "Contoso.COM."), TOKEN_PROVIDER_MICROSOFT365);
    CHECK_INT(LOOK(r, "hotmail.co.uk"), TOKEN_PROVIDER_OUTLOOK_COM);
    CHECK_INT(LOOK(r, "fabrikam.com"), TOKEN_PROVIDER_PROOFPOINT);
    CHECK_INT(LOOK(r, "ppe.example"), TOKEN_PROVIDER_PROOFPOINT);
    CHECK_INT(LOOK(r, "mimecast.example"), TOKEN_PROVIDER_MIMECAST);
    CHECK_INT(LOOK(r, "cuda.example"), TOKEN_PROVIDER_BARRACUDA);
    CHECK_INT(LOOK(r, "cisco.example"), TOKEN_PROVIDER_CISCO);
    CHECK_INT(LOOK(r, "apple-custom.example"), TOKEN_PROVIDER_ICLOUD);
    CHECK_INT(LOOK(r, "yahoo-biz.example"), TOKEN_PROVIDER_YAHOO);
    CHECK_INT(LOOK(r, "self-hosted.example"), TOKEN_PROVIDER_OTHER);
    CHECK_INT(LOOK(r, "mixed.example"), TOKEN_PROVIDER_MIMECAST);
    CHECK_INT(LOOK(r, "nosuch.example"), TOKEN_PROVIDER_OTHER);
    CHECK_INT(LOOK(r, "broken.example"), TOKEN_PROVIDER_UNKNOWN);
    CHECK_INT(LOOK(r, "spoofed.example"), TOKEN_PROVIDER_PROOFPOINT); /* forged reply ignored */
    /* Bad names never reach DNS. */
    int before = atomic_load(&srv_queries);
    CHECK_INT(LOOK(r, "bad domain.com"), TOKEN_PROVIDER_UNKNOWN);
    CHECK_INT(LOOK(r, ""), TOKEN_PROVIDER_UNKNOWN);
    CHECK_INT(LOOK(r, "a..b"), TOKEN_PROVIDER_UNKNOWN);
    CHECK_INT(atomic_load(&srv_queries), before);

    /* Cached: the second lookup sends nothing; after the TTL it asks again. */
    before = atomic_load(&srv_queries);
    CHECK_INT(LOOK(r, "fabrikam.com"), TOKEN_PROVIDER_PROOFPOINT);
    CHECK_INT(atomic_load(&srv_queries), before);
    clk.fixed_us += 61 * 1000000LL; /* fabrikam's TTL is 60 s */
    CHECK_INT(LOOK(r, "fabrikam.com"), TOKEN_PROVIDER_PROOFPOINT);
    CHECK_INT(atomic_load(&srv_queries), before + 1);
    CHECK_INT(LOOK(r, "contoso.com"), TOKEN_PROVIDER_MICROSOFT365); /* TTL 3600: still cached */
    CHECK_INT(atomic_load(&srv_queries), before + 1);

    /* A server that never answers: UNKNOWN within the budget (several attempts), and
     * the failure is cached so the next message is not delayed again. */
    int64_t t0 = mono_ms();
    CHECK_INT(LOOK(r, "blackhole.example"), TOKEN_PROVIDER_UNKNOWN);
    int64_t took = mono_ms() - t0;
    printf("blackhole lookup took %lld ms (budget 600)\n", (long long)took);
    CHECK(took >= 590);
    before = atomic_load(&srv_queries);
    t0 = mono_ms();
    CHECK_INT(LOOK(r, "blackhole.example"), TOKEN_PROVIDER_UNKNOWN);
    CHECK_INT(atomic_load(&srv_queries), before);
    mx_stats_t st;
    mx_stats(r, &st);
    CHECK(st.lookups > 20 && st.cache_hits >= 3 && st.failures >= 2);
    mx_resolver_free(r);

    /* A budget smaller than the server's delay: give up in time. */
    r = resolver(server, 100, 150, &clk);
    t0 = mono_ms();
    CHECK_INT(LOOK(r, "slow.example"), TOKEN_PROVIDER_UNKNOWN);
    CHECK(mono_ms() - t0 >= 140);
    mx_resolver_free(r);
    /* With time enough, the slow answer arrives. */
    r = resolver(server, 1000, 2000, &clk);
    CHECK_INT(LOOK(r, "slow.example"), TOKEN_PROVIDER_PROOFPOINT);
    mx_resolver_free(r);

    /* Settings. */
    mx_opts_t o;
    mx_opts_default(&o);
    char err[256];
    o.dns_server = "not-an-ip";
    CHECK_INT(mx_resolver_new(&o, &r, err, sizeof(err)), TO_EINVAL);
    CHECK(strstr(err, "dns_server") != NULL);
    o.dns_server = "[::1]:5353";
    CHECK_INT(mx_resolver_new(&o, &r, err, sizeof(err)), 0);
    mx_resolver_free(r);
    /* The default comes from resolv.conf. */
    char rc[] = "/tmp/mx_test_resolv.XXXXXX";
    int fd = mkstemp(rc);
    const char *text = "# test\nsearch example\nnameserver 127.0.0.1\nnameserver 10.0.0.1\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    mx_opts_default(&o);
    o.resolv_conf = rc;
    o.budget_ms = 100;
    CHECK_INT(mx_resolver_new(&o, &r, err, sizeof(err)), 0);
    mx_resolver_free(r);
    unlink(rc);
    CHECK_INT(LOOK(NULL, "x.com"), TOKEN_PROVIDER_UNKNOWN);

    atomic_store(&srv_stop, 1);
    pthread_join(th, NULL);
    close(srv_fd);
    return test_done();
}
