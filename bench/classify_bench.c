/*
 * Per-event classification over a realistic mix of opens and clicks: Apple MPP
 * prefetches, Gmail proxy opens, browser and mail-client events from ordinary
 * addresses, Safe Links and cloud clicks, bots, libraries, previews, v6 addresses,
 * HEAD and speculative loads. Usage: classify_bench RULES_DIR N [anchor]
 * Prints events per second; with "anchor" it runs the anchor loop instead (an address
 * parse and a User-Agent scan per event, the least any classifier must do).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify/classify.h"
#include "token/token.h"

static const char *const uas[] = {
    "Mozilla/5.0",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17126; Pro)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/42.0.2311.135 Safari/537.36 Edge/12.246 Mozilla/5.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "python-requests/2.31.0",
    "curl/8.4.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Barracuda Sentinel (EE)",
    "",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36",
};

typedef struct {
    char route;
    const char *ip;
    int ua;
    int64_t since;
    bool head;
    const char *sec_purpose;
    uint8_t provider;
} mix_t;

/* Weights add to 100. */
static const struct {
    int weight;
    mix_t m;
} mix[] = {
    {25, {'o', "104.28.28.%d", 0, 5, false, NULL, TOKEN_PROVIDER_ICLOUD}},
    {5, {'o', "2606:54c0::%x", 0, 30, false, NULL, TOKEN_PROVIDER_ICLOUD}},
    {12, {'o', "66.249.84.%d", 1, 4000, false, NULL, TOKEN_PROVIDER_GMAIL}},
    {3, {'o', "66.249.84.%d", 8, 3, false, NULL, TOKEN_PROVIDER_GMAIL}},
    {12, {'c', "198.51.%d.7", 2, 5000, false, NULL, TOKEN_PROVIDER_OTHER}},
    {8, {'o', "203.0.%d.9", 4, 7200, false, NULL, TOKEN_PROVIDER_OTHER}},
    {6, {'o', "192.0.2.%d", 5, 9000, false, NULL, TOKEN_PROVIDER_MICROSOFT365}},
    {3, {'o', "192.0.2.%d", 6, 9000, false, NULL, TOKEN_PROVIDER_OTHER}},
    {5, {'c', "2001:db8::%x", 7, 3600, false, NULL, TOKEN_PROVIDER_GMAIL}},
    {8, {'c', "40.107.%d.1", 2, 20, false, NULL, TOKEN_PROVIDER_MICROSOFT365}},
    {4, {'c', "3.5.140.%d", 2, 40, false, NULL, TOKEN_PROVIDER_PROOFPOINT}},
    {2, {'c', "66.249.64.%d", 9, 86400, false, NULL, TOKEN_PROVIDER_OTHER}},
    {2, {'c', "198.51.100.%d", 10, 600, false, NULL, TOKEN_PROVIDER_OTHER}},
    {1, {'c', "198.51.100.%d", 11, 600, true, NULL, TOKEN_PROVIDER_OTHER}},
    {1, {'c', "34.1.208.%d", 12, 900, false, NULL, TOKEN_PROVIDER_OTHER}},
    {1, {'c', "198.51.100.%d", 13, 30, false, NULL, TOKEN_PROVIDER_BARRACUDA}},
    {1, {'c', "40.92.%d.3", 14, 10, false, NULL, TOKEN_PROVIDER_MICROSOFT365}},
    {1, {'c', "198.51.100.%d", 3, 3600, false, "prefetch", TOKEN_PROVIDER_OTHER}},
};

#define POOL 1000

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: classify_bench RULES_DIR N [anchor]\n");
        return 2;
    }
    long n = atol(argv[2]);
    bool anchor = argc > 3 && !strcmp(argv[3], "anchor");
    classify_rules_t *r = NULL;
    char err[512];
    if (classify_rules_load(argv[1], &r, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    static char ips[POOL][48];
    static classify_input_t in[POOL];
    int k = 0;
    for (size_t i = 0; i < TO_ARRAY_LEN(mix); i++) {
        for (int w = 0; w < mix[i].weight * POOL / 100; w++, k++) {
            const mix_t *m = &mix[i].m;
            /* The template's last field varies: "%d" (v4 octet) or "%x" (v6 group). */
            const char *pct = strchr(m->ip, '%');
            int v = 1 + (w * 37) % 250;
            if (pct[1] == 'x')
                snprintf(ips[k], sizeof(ips[k]), "%.*s%x", (int)(pct - m->ip), m->ip, v);
            else
                snprintf(ips[k], sizeof(ips[k]), "%.*s%d", (int)(pct - m->ip), m->ip, v);
            if (strchr(pct + 2, '%')) abort();
            /* Templates with the varying field inside ("198.51.%d.7") keep their tail. */
            if (pct[2]) strncat(ips[k], pct + 2, sizeof(ips[k]) - strlen(ips[k]) - 1);
            memset(&in[k], 0, sizeof(in[k]));
            in[k].route = m->route;
            in[k].ip = slice_cstr(ips[k]);
            in[k].ua = slice_cstr(uas[m->ua]);
            in[k].seconds_since_send = m->since;
            in[k].head = m->head;
            in[k].sec_purpose = m->sec_purpose ? slice_cstr(m->sec_purpose) : SLICE_NULL;
            in[k].provider = m->provider;
        }
    }
    /* The long tail: one event in ten carries a User-Agent seldom seen (distinct strings
     * from the labelled corpus when TAIL_FILE is given, cycling through more of them than
     * any cache holds). */
    static char *tail[4096];
    size_t ntail = 0;
    const char *tf = getenv("TAIL_FILE");
    FILE *f = tf ? fopen(tf, "r") : NULL;
    char line[8192];
    while (f && ntail < TO_ARRAY_LEN(tail) && fgets(line, sizeof(line), f)) {
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        char *t3 = t2 ? strchr(t2 + 1, '\t') : NULL;
        if (!t3 || !strncmp(line, "label", 5)) continue;
        *t3 = 0;
        tail[ntail++] = strdup(t2 + 1);
    }
    if (f) fclose(f);
    /* Interleave deterministically so branch history is realistic. */
    for (int i = k - 1; i > 0; i--) {
        int j = (int)(((unsigned)i * 2654435761u) % (unsigned)(i + 1));
        classify_input_t t = in[i];
        in[i] = in[j];
        in[j] = t;
    }
    long every = getenv("TAIL_EVERY") ? atol(getenv("TAIL_EVERY")) : 10;
    if (every < 1) every = 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long automated = 0, sink = 0;
    for (long i = 0; i < n; i++) {
        const classify_input_t *e = &in[i % k];
        classify_input_t te;
        if (ntail && i % every == every - 1) {
            te = *e;
            te.ua = slice_cstr(tail[(size_t)(i / every) % ntail]);
            e = &te;
        }
        if (anchor) {
            /* Parse the address and scan the UA once: a floor for any classifier. */
            char tmp[48];
            unsigned char a[16];
            memcpy(tmp, e->ip.p, e->ip.len);
            tmp[e->ip.len] = 0;
            sink += (unsigned)inet_pton(memchr(tmp, ':', e->ip.len) ? AF_INET6 : AF_INET, tmp, a);
            sink += (unsigned long)slice_casefind(e->ua, "bot");
        } else {
            classify_result_t out;
            classify_event(r, e, &out);
            automated += out.verdict;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%s tail_uas=%zu events=%ld seconds=%.3f events_per_second=%.0f automated_share=%.2f "
           "sink=%lu\n",
           anchor ? "anchor" : "classify", ntail, n, s, s > 0 ? (double)n / s : 0,
           anchor ? 0.0 : (double)automated / (double)n, sink);
    classify_rules_free(r);
    for (size_t i = 0; i < ntail; i++) free(tail[i]);
    return 0;
}
