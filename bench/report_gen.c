/*
 * Generates a benchmark campaign straight into a trueopen SQLite store whose schema
 * `trueopen` has already created: MESSAGES messages and exactly EVENTS events with
 * realistic agent and verdict mixes per mailbox provider, and the derived tables
 * (event_outcomes, the messages status columns) filled consistently with them by the
 * documented rules (docs/schema.md).
 *
 * Secondary indexes are dropped during the load and re-created afterwards (faster
 * than maintaining them row by row); the schema is otherwise untouched.
 *
 * usage: report_gen DB MESSAGES EVENTS
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAMPAIGN 1
#define ACCOUNT  1
#define HOUR_S   3600LL

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static unsigned pick(unsigned n)
{
    return (unsigned)(next() % n);
}

static void die(sqlite3 *db, const char *what)
{
    fprintf(stderr, "report_gen: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
    char *e = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK) {
        fprintf(stderr, "report_gen: %s: %s\n", sql, e);
        exit(1);
    }
}

/* Agents, with their verdict, route and a User-Agent and address like the real ones. */
typedef struct {
    const char *agent;
    int automated;
    char route; /* 'o', 'c', or '*' (people: opens mostly, some clicks) */
    const char *ua;
    const char *ip;
} agent_t;

static const agent_t agents[] = {
    {"apple_mpp", 1, 'o', "Mozilla/5.0", "104.28.28.1"},
    {"apple_mail", 0, '*',
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
     "198.51.100.23"},
    {"gmail_prefetch", 1, 'o',
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/42.0.2311.135 Safari/537.36 Edge/12.246 Mozilla/5.0",
     "66.249.84.10"},
    {"gmail_proxy", 0, 'o',
     "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
     "66.102.8.20"},
    {"safe_links", 1, 'c',
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36",
     "40.107.22.10"},
    {"outlook", 0, '*', "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328)",
     "203.0.113.40"},
    {"proofpoint", 1, 'c', "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
     "148.163.128.5"},
    {"chrome", 0, 'c',
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36",
     "198.51.100.77"},
    {"preview:slack", 1, 'c', "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
     "54.209.1.1"},
    {"yahoo_proxy", 0, 'o',
     "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", "98.136.1.1"},
    {"thunderbird", 0, '*',
     "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0", "192.0.2.90"},
};
enum {
    A_MPP,
    A_AMAIL,
    A_GPRE,
    A_GPROXY,
    A_SAFE,
    A_OUTLOOK,
    A_PP,
    A_CHROME,
    A_PREVIEW,
    A_YAHOO,
    A_TB
};

/* Provider codes (token.h) with their share of recipients, in percent. */
static const struct {
    int code;
    int pct;
} providers[] = {{1, 35}, {3, 20}, {4, 20}, {7, 8}, {6, 7}, {11, 10}};

/* The agent of the k-th event of a message at a provider: machines first (shortly
 * after sending), people later. */
static int agent_for(int provider, int k, int human_share)
{
    bool person = k > 0 && (int)pick(100) < human_share;
    switch (provider) {
    case 3: return person ? (pick(4) ? A_AMAIL : A_CHROME) : A_MPP;
    case 1: return person ? (pick(5) ? A_GPROXY : A_CHROME) : A_GPRE;
    case 4: return person ? (pick(2) ? A_OUTLOOK : A_CHROME) : A_SAFE;
    case 7: return person ? (pick(2) ? A_OUTLOOK : A_CHROME) : A_PP;
    case 6: return person ? (pick(4) ? A_YAHOO : A_CHROME) : A_YAHOO;
    default: return person ? (pick(3) ? A_TB : A_CHROME) : (pick(10) ? A_TB : A_PREVIEW);
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: report_gen DB MESSAGES EVENTS\n");
        return 2;
    }
    long long n_msg = atoll(argv[2]), n_ev = atoll(argv[3]);
    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) die(db, "open");
    exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;");
    /* keep the definitions of the secondary indexes, drop them for the load */
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT "
                           "NULL AND tbl_name IN ('messages','events','event_outcomes')",
                           -1, &q, NULL))
        die(db, "indexes");
    char *isql[32], *iname[32];
    int ni = 0;
    while (sqlite3_step(q) == SQLITE_ROW && ni < 32) {
        iname[ni] = strdup((const char *)sqlite3_column_text(q, 0));
        isql[ni++] = strdup((const char *)sqlite3_column_text(q, 1));
    }
    sqlite3_finalize(q);
    for (int i = 0; i < ni; i++) {
        char d[256];
        snprintf(d, sizeof(d), "DROP INDEX \"%s\"", iname[i]);
        exec(db, d);
    }
    exec(db, "BEGIN");
    exec(db, "INSERT OR IGNORE INTO accounts(id, name, created_us) VALUES(1, 'bench', 1)");
    exec(db, "INSERT OR IGNORE INTO campaigns(id, account, name, created_us) VALUES(1, 1, "
             "'bench', 1)");
    sqlite3_stmt *im, *ie, *io;
    if (sqlite3_prepare_v2(
            db,
            "INSERT INTO messages(id, account, campaign, message_id_hdr, recipient_domain,"
            " recipient_hash, sent_at, link_count, provider, all_opened, all_clicked,"
            " all_first_open_us, all_first_click_us, all_opens, all_clicks, hum_opened,"
            " hum_clicked, hum_first_open_us, hum_first_click_us, hum_opens, hum_clicks)"
            " VALUES(?1, 1, 1, ?2, ?3, ?4, ?5, 5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
            " ?16, ?17, ?18)",
            -1, &im, NULL))
        die(db, "prepare messages");
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO events(id, ts_us, route, method, account, campaign,"
                           " message, recipient, link, sent_at, provider, url, ip, ua, verdict,"
                           " agent, reasons, rules_version) VALUES(?1, ?2, ?3, 'GET', 1, 1, ?4,"
                           " ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 1)",
                           -1, &ie, NULL))
        die(db, "prepare events");
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO event_outcomes(event, campaign, message, route, link,"
                           " ts_us, agent, final_verdict, final_reasons) VALUES(?1, 1, ?2, ?3,"
                           " ?4, ?5, ?6, ?7, ?8)",
                           -1, &io, NULL))
        die(db, "prepare outcomes");
    static const char *const urls[] = {"",
                                       "https://clinic.example/portal",
                                       "https://clinic.example/appointments",
                                       "https://clinic.example/results",
                                       "https://clinic.example/billing",
                                       "https://clinic.example/contact"};
    static const char *const domains[] = {"gmail.com",    "icloud.com", "contoso.com",
                                          "fabrikam.com", "yahoo.com",  "example.net"};
    const long long sent0 = 1796292000LL;
    long long ev_id = 0, emitted = 0;
    char hdr[64], hash[24];
    for (long long m = 1; m <= n_msg; m++) {
        /* events of this message: 0 for a quarter, else 1..24; the last messages take
         * up the difference so the total is exact */
        long long left_msgs = n_msg - m + 1, left_ev = n_ev - emitted;
        long long n;
        if (left_msgs <= 1000)
            n = left_ev / left_msgs + (left_ev % left_msgs ? 1 : 0);
        else
            n = pick(4) == 0 ? 0 : 1 + pick(24);
        if (n > left_ev) n = left_ev;
        int pr = pick(100), acc = 0, provider = 11, di = 5;
        for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++) {
            acc += providers[i].pct;
            if (pr < acc) {
                provider = providers[i].code;
                di = (int)i;
                break;
            }
        }
        int human_share = pick(100) < 35 ? 85 : 0; /* does a person ever look? */
        long long sent = sent0 + m / 2000;         /* sending takes about 8 minutes */
        long long st[2][6] = {{0}}; /* [hum/all]: opens, clicks, first_open, first_click */
        for (long long k = 0; k < n; k++) {
            int a = agent_for(provider, (int)k, human_share);
            const agent_t *ag = &agents[a];
            char route = ag->route;
            if (route == '*') route = pick(4) ? 'o' : 'c';
            int link = route == 'c' ? 1 + (int)pick(5) : 0;
            if (ag->automated && route == 'c' && pick(12) == 0) route = 'h', link = 65535;
            long long ts_s = ag->automated ? sent + 2 + (long long)pick(240)
                                           : sent + 60 + (long long)pick(72 * HOUR_S);
            long long ts_us = ts_s * 1000000LL + (long long)pick(1000000);
            ev_id++;
            sqlite3_bind_int64(ie, 1, ev_id);
            sqlite3_bind_int64(ie, 2, ts_us);
            char r[2] = {route, 0};
            sqlite3_bind_text(ie, 3, r, 1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(ie, 4, m);
            sqlite3_bind_int(ie, 5, link);
            sqlite3_bind_int64(ie, 6, sent);
            sqlite3_bind_int(ie, 7, provider);
            if (route == 'c')
                sqlite3_bind_text(ie, 8, urls[link], -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(ie, 8);
            sqlite3_bind_text(ie, 9, ag->ip, -1, SQLITE_STATIC);
            sqlite3_bind_text(ie, 10, ag->ua, -1, SQLITE_STATIC);
            sqlite3_bind_int(ie, 11, ag->automated);
            sqlite3_bind_text(ie, 12, ag->agent, -1, SQLITE_STATIC);
            sqlite3_bind_text(ie, 13, ag->automated ? "ip_cloud" : "ua_human_client", -1,
                              SQLITE_STATIC);
            if (sqlite3_step(ie) != SQLITE_DONE) die(db, "insert event");
            sqlite3_reset(ie);
            sqlite3_bind_int64(io, 1, ev_id);
            sqlite3_bind_int64(io, 2, m);
            sqlite3_bind_text(io, 3, r, 1, SQLITE_TRANSIENT);
            sqlite3_bind_int(io, 4, link);
            sqlite3_bind_int64(io, 5, ts_us);
            sqlite3_bind_text(io, 6, ag->agent, -1, SQLITE_STATIC);
            sqlite3_bind_int(io, 7, ag->automated);
            sqlite3_bind_text(io, 8, ag->automated ? "ip_cloud" : "ua_human_client", -1,
                              SQLITE_STATIC);
            if (sqlite3_step(io) != SQLITE_DONE) die(db, "insert outcome");
            sqlite3_reset(io);
            for (int v = 0; v < 2; v++) {
                if (v == 0 && ag->automated) continue;
                if (route == 'o' || route == 'c') {
                    if (route == 'o')
                        st[v][0]++;
                    else
                        st[v][1]++;
                    if (!st[v][2] || ts_us < st[v][2]) st[v][2] = ts_us; /* click opens too */
                    if (route == 'c' && (!st[v][3] || ts_us < st[v][3])) st[v][3] = ts_us;
                }
            }
        }
        emitted += n;
        snprintf(hdr, sizeof(hdr), "<%lld.bench@clinic.example>", m);
        snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)(m * 0x9e3779b97f4a7c15ULL));
        sqlite3_bind_int64(im, 1, m);
        sqlite3_bind_text(im, 2, hdr, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(im, 3, domains[di], -1, SQLITE_STATIC);
        sqlite3_bind_text(im, 4, hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(im, 5, sent);
        sqlite3_bind_int(im, 6, provider);
        /* all_* bind at ?7.., hum_* at ?13..; st[1] is the all view, st[0] people */
        for (int v = 0; v < 2; v++) {
            long long *x = st[v == 0 ? 1 : 0];
            int base = v == 0 ? 7 : 13;
            sqlite3_bind_int(im, base, (x[0] + x[1]) > 0);
            sqlite3_bind_int(im, base + 1, x[1] > 0);
            sqlite3_bind_int64(im, base + 2, x[2]);
            sqlite3_bind_int64(im, base + 3, x[3]);
            sqlite3_bind_int64(im, base + 4, x[0]);
            sqlite3_bind_int64(im, base + 5, x[1]);
        }
        if (sqlite3_step(im) != SQLITE_DONE) die(db, "insert message");
        sqlite3_reset(im);
        if (m % 100000 == 0) {
            exec(db, "COMMIT");
            exec(db, "BEGIN");
        }
    }
    exec(db, "COMMIT");
    sqlite3_finalize(im);
    sqlite3_finalize(ie);
    sqlite3_finalize(io);
    for (int i = 0; i < ni; i++) {
        exec(db, isql[i]);
        free(isql[i]);
        free(iname[i]);
    }
    exec(db, "ANALYZE; PRAGMA journal_mode=WAL;");
    sqlite3_close(db);
    printf("generated %lld messages and %lld events\n", n_msg, emitted);
    return 0;
}
