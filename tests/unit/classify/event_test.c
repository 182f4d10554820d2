/* Per-event signals over the shipped rule data, with real published addresses. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "classify/classify.h"
#include "test.h"
#include "token/token.h"

static classify_rules_t *R;

#define CHROME                                                                                     \
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "            \
    "Chrome/124.0.0.0 Safari/537.36"
#define SAFARI_IOS                                                                                 \
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "         \
    "like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
#define GMAIL_PROXY                                                                                \
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
#define GMAIL_PREFETCH                                                                             \
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "            \
    "Chrome/42.0.2311.135 Safari/537.36 Edge/12.246 Mozilla/5.0"
#define APPLE_MAIL                                                                                 \
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"

typedef struct {
    char route;
    const char *ip, *ua;
    int64_t since;
    uint8_t provider;
    const char *method, *sec_purpose, *purpose, *x_purpose, *x_moz;
} ev_t;

static classify_result_t run(ev_t e)
{
    classify_input_t in = {0};
    in.route = e.route;
    in.ip = slice_cstr(e.ip);
    in.ua = slice_cstr(e.ua ? e.ua : "");
    in.seconds_since_send = e.since;
    in.provider = e.provider;
    in.head = e.method && !strcmp(e.method, "HEAD");
    in.sec_purpose = e.sec_purpose ? slice_cstr(e.sec_purpose) : SLICE_NULL;
    in.purpose = e.purpose ? slice_cstr(e.purpose) : SLICE_NULL;
    in.x_purpose = e.x_purpose ? slice_cstr(e.x_purpose) : SLICE_NULL;
    in.x_moz = e.x_moz ? slice_cstr(e.x_moz) : SLICE_NULL;
    classify_result_t out;
    classify_event(R, &in, &out);
    return out;
}

#define HAS(o, r) (((o).reasons & CLASSIFY_BIT(CLASSIFY_R_##r)) != 0)

static void expect(int line, ev_t e, int verdict, int certainty, const char *agent,
                   uint64_t must_reasons)
{
    classify_result_t o = run(e);
    buf_t why = BUF_INIT;
    classify_reasons_text(o.reasons, &why);
    bool ok = o.verdict == verdict && (certainty < 0 || o.certainty == certainty) &&
              (!agent || (o.agent && !strcmp(o.agent, agent))) &&
              (o.reasons & must_reasons) == must_reasons;
    if (!ok)
        fprintf(stderr, "line %d: got %s %s %s [%s]\n", line, o.verdict ? "automated" : "human",
                o.certainty ? "probable" : "certain", o.agent ? o.agent : "(null)", buf_cstr(&why));
    CHECK(ok);
    buf_clear(&why);
}

#define B(x)                  CLASSIFY_BIT(CLASSIFY_R_##x)
#define EXPECT(e, v, c, a, r) expect(__LINE__, e, v, c, a, r)
enum { H = CLASSIFY_HUMAN, A = CLASSIFY_AUTOMATED, C = CLASSIFY_CERTAIN, P = CLASSIFY_PROBABLE };

int main(void)
{
    char err[512];
    int rc = classify_rules_load(test_src_path("data/rules"), &R, err, sizeof(err));
    CHECK_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "%s\n", err);
        return test_done();
    }
    const char *APPLE4 = "104.28.28.1", *APPLE6 = "2606:54c0::1234", *GMAILPX = "66.249.84.1",
               *SAFETY = "108.177.2.5", *EOP = "40.107.1.1", *EOP6 = "2a01:111:f400::5",
               *AWS = "3.5.140.1", *GCP = "34.1.208.1", *BING = "157.55.39.1",
               *HOME = "198.51.100.7", *GOOGLEBOT = "66.249.64.5";

    /* Apple MPP: an Apple relay address and exactly "Mozilla/5.0" on an open. */
    EXPECT(((ev_t){'o', APPLE4, "Mozilla/5.0", 5}), A, C, "apple_mpp",
           B(UA_MPP) | B(IP_APPLE_RELAY));
    EXPECT(((ev_t){'o', APPLE6, "Mozilla/5.0", 86400}), A, C, "apple_mpp", B(UA_MPP));
    /* On a click, an Apple address is a Safari user with Private Relay. */
    EXPECT(((ev_t){'c', APPLE4, SAFARI_IOS, 3600}), H, C, "safari", B(IP_APPLE_RELAY));
    EXPECT(((ev_t){'c', APPLE6, SAFARI_IOS, 3600}), H, C, "safari", B(UA_HUMAN_CLIENT));
    EXPECT(((ev_t){'o', APPLE4, APPLE_MAIL, 3600}), H, C, "apple_mail", 0);
    /* The bare UA from elsewhere is not MPP, but a client that says nothing. */
    EXPECT(((ev_t){'o', HOME, "Mozilla/5.0", 3600}), A, P, "bare_client", B(UA_MPP));

    /* Gmail's image proxy: a person's open, via a proxy. */
    classify_result_t o = run((ev_t){'o', GMAILPX, GMAIL_PROXY, 3600});
    CHECK_INT(o.verdict, H);
    CHECK(o.via_proxy);
    CHECK_STR(o.agent, "gmail_proxy");
    CHECK_INT(o.certainty, C);
    CHECK(!o.datacenter);
    /* Even soon after sending: the proxy fetches when the mail is opened. */
    EXPECT(((ev_t){'o', GMAILPX, GMAIL_PROXY, 20}), H, C, "gmail_proxy", B(UA_GOOGLE_IMAGE_PROXY));
    EXPECT(((ev_t){'o', HOME, GMAIL_PROXY, 3600}), H, P, "gmail_proxy", 0);

    /* Gmail's prefetcher. */
    EXPECT(((ev_t){'o', GMAILPX, GMAIL_PREFETCH, 4}), A, C, "gmail_prefetch",
           B(UA_GMAIL_PREFETCH) | B(EARLY_AFTER_SEND) | B(IP_GOOGLE));
    EXPECT(((ev_t){'o', HOME, GMAIL_PREFETCH, 3600}), A, P, "gmail_prefetch", 0);
    /* An open from Google space seconds after sending, whatever the UA. */
    EXPECT(((ev_t){'o', GMAILPX, CHROME, 30}), A, P, "gmail_prefetch", B(EARLY_AFTER_SEND));

    /* Google-Safety and the crawler ranges. */
    EXPECT(((ev_t){'c', SAFETY, CHROME, 3600}), A, C, "google_safety", B(IP_GOOGLE_CRAWLER));
    EXPECT(((ev_t){'c', HOME, "Google-Safety [ip:64.233.172.14]", 3600}), A, C, "google_safety",
           B(UA_SCANNER));
    EXPECT(((ev_t){'c', GOOGLEBOT, CHROME, 3600}), A, C, "googlebot", B(IP_GOOGLE_CRAWLER));

    /* Exchange Online Protection / Safe Links, with a Chrome UA or none. */
    EXPECT(((ev_t){'c', EOP, CHROME, 3600}), A, C, "safe_links", B(IP_MICROSOFT_EOP));
    EXPECT(((ev_t){'c', "104.47.20.9", "", 3600}), A, C, "safe_links", B(IP_MICROSOFT_EOP));
    EXPECT(((ev_t){'c', "52.100.4.4", CHROME, 3600}), A, C, "safe_links", 0);
    EXPECT(((ev_t){'c', EOP6, CHROME, 3600}), A, C, "safe_links", 0);
    EXPECT(((ev_t){'o', EOP, CHROME, 3600}), A, P, "safe_links", 0);
    EXPECT(((ev_t){'c', BING, CHROME, 3600}), A, C, "bingbot", B(IP_BING));

    /* Cloud space: weaker evidence for clicks. */
    o = run((ev_t){'c', AWS, CHROME, 3600});
    CHECK_INT(o.verdict, A);
    CHECK_INT(o.certainty, P);
    CHECK(o.datacenter);
    CHECK(HAS(o, IP_CLOUD));
    EXPECT(((ev_t){'c', GCP, CHROME, 3600}), A, P, "cloud", B(IP_CLOUD));
    EXPECT(((ev_t){'o', AWS, CHROME, 3600}), H, P, "chrome", B(IP_CLOUD));

    /* UA families. */
    EXPECT(((ev_t){'c', HOME, "Barracuda Sentinel (EE)", 3600}), A, C, "barracuda", B(UA_SCANNER));
    EXPECT(((ev_t){'c', HOME, "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", 3600}),
           A, C, "slack", B(UA_PREVIEW));
    EXPECT(((ev_t){'c', HOME, "WhatsApp/2.23.20.0", 3600}), A, C, "whatsapp", B(UA_PREVIEW));
    EXPECT(((ev_t){'c', HOME, "facebookexternalhit/1.1", 3600}), A, C, "facebook", B(UA_PREVIEW));
    EXPECT(((ev_t){'c', HOME, "LinkedInBot/1.0 (compatible; Mozilla/5.0)", 3600}), A, C, "linkedin",
           B(UA_PREVIEW));
    EXPECT(((ev_t){'c', HOME, "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
                   3600}),
           A, C, "discord", B(UA_PREVIEW));
    EXPECT(((ev_t){'c', HOME, "TelegramBot (like TwitterBot)", 3600}), A, C, "telegram", 0);
    EXPECT(((ev_t){'c', HOME, "Twitterbot/1.0", 3600}), A, C, "twitter", 0);
    EXPECT(((ev_t){'c', HOME,
                   "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) "
                   "BingPreview/1.0b",
                   3600}),
           A, C, "bingpreview", 0);
    EXPECT(
        ((ev_t){'c', HOME,
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/124.0 Safari/537.36 SkypeUriPreview Preview/0.5",
                3600}),
        A, C, NULL, B(UA_PREVIEW));
    EXPECT(((ev_t){'c', HOME, "curl/8.4.0", 3600}), A, C, "curl", B(UA_LIBRARY));
    EXPECT(((ev_t){'c', HOME, "python-requests/2.31.0", 3600}), A, C, "python", B(UA_LIBRARY));
    EXPECT(((ev_t){'c', HOME, "Go-http-client/1.1", 3600}), A, C, "go", B(UA_LIBRARY));
    EXPECT(((ev_t){'c', HOME, "Wget/1.21.4", 3600}), A, C, "wget", B(UA_LIBRARY));
    EXPECT(((ev_t){'c', HOME,
                   "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "HeadlessChrome/120.0.0.0 Safari/537.36",
                   3600}),
           A, C, "headless_chrome", B(UA_HEADLESS));
    EXPECT(
        ((ev_t){'c', HOME,
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 3600}),
        A, C, "googlebot", B(UA_BOT));
    EXPECT(((ev_t){'c', HOME, "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
                   3600}),
           A, C, NULL, B(UA_BOT));

    /* People: browsers and mail clients. */
    EXPECT(((ev_t){'c', HOME, CHROME, 3600}), H, C, "chrome", B(UA_HUMAN_CLIENT));
    EXPECT(((ev_t){'o', HOME,
                   "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 "
                   "Thunderbird/115.6.0",
                   3600}),
           H, C, "thunderbird", 0);
    EXPECT(((ev_t){'o', HOME,
                   "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17126; Pro)",
                   3600}),
           H, C, "outlook", 0);
    EXPECT(((ev_t){'o', HOME,
                   "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                   "Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
                   3600}),
           H, C, "edge", 0);
    /* An unknown client is probably a machine. */
    EXPECT(((ev_t){'c', HOME, "Zorblax/3.2", 3600}), A, P, "unknown_client", B(UA_UNKNOWN));

    /* Method, empty UA, speculative-load headers. */
    EXPECT(((ev_t){'c', HOME, CHROME, 3600, 0, "HEAD"}), A, C, "head_request", B(METHOD_HEAD));
    EXPECT(((ev_t){'c', HOME, "", 3600}), A, C, "empty_ua", B(UA_EMPTY));
    EXPECT(((ev_t){'c', HOME, CHROME, 3600, 0, "GET", "prefetch;prerender"}), A, C,
           "speculative_load", B(HDR_PREFETCH));
    EXPECT(((ev_t){'c', HOME, CHROME, 3600, 0, "GET", NULL, "prefetch"}), A, C, NULL,
           B(HDR_PREFETCH));
    EXPECT(((ev_t){'o', HOME, CHROME, 3600, 0, "GET", NULL, NULL, "preview"}), A, C, NULL,
           B(HDR_PREFETCH));
    EXPECT(((ev_t){'o', HOME, CHROME, 3600, 0, "GET", NULL, NULL, NULL, "prefetch"}), A, C, NULL,
           B(HDR_PREFETCH));
    EXPECT(((ev_t){'c', HOME, CHROME, 3600, 0, "GET", "", "", "", ""}), H, C, "chrome", 0);

    /* Timing: seconds after sending. */
    EXPECT(((ev_t){'c', HOME, CHROME, 3}), A, P, "chrome", B(EARLY_AFTER_SEND));
    EXPECT(((ev_t){'c', HOME, CHROME, -1}), H, C, "chrome", 0); /* unknown send time */

    /* The provider as evidence: behind Proofpoint, a cloud click soon after sending is
     * Proofpoint's scanner; an hour later from a home address it is a person. */
    EXPECT(((ev_t){'c', AWS, CHROME, 40, TOKEN_PROVIDER_PROOFPOINT}), A, C, "proofpoint",
           B(PROVIDER_GATEWAY));
    EXPECT(((ev_t){'c', HOME, CHROME, 5, TOKEN_PROVIDER_MIMECAST}), A, P, "mimecast",
           B(PROVIDER_GATEWAY) | B(EARLY_AFTER_SEND));
    EXPECT(((ev_t){'c', HOME, CHROME, 3600, TOKEN_PROVIDER_PROOFPOINT}), H, C, "chrome", 0);
    EXPECT(((ev_t){'c', AWS, CHROME, 40, TOKEN_PROVIDER_GMAIL}), A, P, "cloud", 0);

    /* Honeypot route. */
    EXPECT(((ev_t){'h', HOME, CHROME, 3600}), A, C, "link_follower", B(HONEYPOT));
    EXPECT(((ev_t){'h', HOME, "curl/8", 3600}), A, C, "curl", B(HONEYPOT) | B(UA_LIBRARY));

    /* A bad address is no evidence either way. */
    EXPECT(((ev_t){'c', "not-an-ip", CHROME, 3600}), H, C, "chrome", 0);

    /* Reason codes round-trip through text. */
    buf_t t = BUF_INIT;
    classify_reasons_text(B(UA_MPP) | B(IP_APPLE_RELAY) | B(IP_GOOGLE_FETCHER), &t);
    CHECK_STR(buf_cstr(&t), "ua_mpp,ip_apple_relay,ip_google_fetcher");
    CHECK(classify_reasons_parse(buf_slice(&t)) ==
          (B(UA_MPP) | B(IP_APPLE_RELAY) | B(IP_GOOGLE_FETCHER)));
    CHECK(classify_reasons_parse(SLICE_LIT("nope, ua_mpp ,")) == B(UA_MPP));
    buf_clear(&t);

    classify_rules_free(R);
    return test_done();
}
