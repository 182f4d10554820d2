/*
 * Per-event classification (classify.h). The order of the checks below is the
 * policy; docs/reasons.md explains each reason code.
 */
#include <string.h>

#include "classify/classify_int.h"
#include "token/token.h"

static const char *const reason_names[] = {
#define CLASSIFY_X(name, str) str,
    CLASSIFY_REASON_MAP(CLASSIFY_X)
#undef CLASSIFY_X
};

void classify_reasons_text(uint64_t reasons, buf_t *out)
{
    bool first = true;
    for (unsigned i = 0; i < CLASSIFY_R__COUNT; i++) {
        if (!(reasons & CLASSIFY_BIT(i))) continue;
        if (!first) buf_putc(out, ',');
        buf_puts(out, reason_names[i]);
        first = false;
    }
}

uint64_t classify_reasons_parse(slice_t text)
{
    uint64_t m = 0;
    size_t i = 0;
    while (i <= text.len) {
        size_t j = i;
        while (j < text.len && text.p[j] != ',') j++;
        slice_t code = slice_trim(slice_make(text.p + i, j - i));
        for (unsigned k = 0; k < CLASSIFY_R__COUNT; k++)
            if (slice_eq_cstr(code, reason_names[k])) m |= CLASSIFY_BIT(k);
        i = j + 1;
    }
    return m;
}

const char *classify_reason_name(unsigned r)
{
    return r < CLASSIFY_R__COUNT ? reason_names[r] : NULL;
}

/* Speculative loads announce themselves: Sec-Purpose: prefetch;prerender, Purpose:
 * prefetch, X-Purpose: preview, X-Moz: prefetch. */
static bool speculative(slice_t v)
{
    return v.len && (slice_casefind(v, "prefetch") >= 0 || slice_casefind(v, "preview") >= 0 ||
                     slice_casefind(v, "prerender") >= 0);
}

static bool gateway_provider(uint8_t p)
{
    return p == TOKEN_PROVIDER_PROOFPOINT || p == TOKEN_PROVIDER_MIMECAST ||
           p == TOKEN_PROVIDER_BARRACUDA || p == TOKEN_PROVIDER_CISCO ||
           p == TOKEN_PROVIDER_MICROSOFT365;
}

static const char *gateway_agent(uint8_t p)
{
    switch (p) {
    case TOKEN_PROVIDER_PROOFPOINT: return "proofpoint";
    case TOKEN_PROVIDER_MIMECAST: return "mimecast";
    case TOKEN_PROVIDER_BARRACUDA: return "barracuda";
    case TOKEN_PROVIDER_CISCO: return "cisco";
    default: return "safe_links";
    }
}

static const classify__op_range_t *operator_range(const classify_rules_t *r,
                                                  const classify__ip_t *ip)
{
    /* Operator ranges are few; the longest covering prefix wins. */
    const classify__op_range_t *best = NULL;
    classify__u128 a = ip->v6 ? ip->a6 : ip->v4;
    for (size_t i = 0; i < r->nops; i++) {
        const classify__op_range_t *o = &r->ops[i];
        if (o->v6 == ip->v6 && a >= o->lo && a <= o->hi && (!best || o->plen > best->plen))
            best = o;
    }
    return best;
}

static void set(classify_result_t *out, uint8_t verdict, uint8_t certainty, const char *agent)
{
    out->verdict = verdict;
    out->certainty = certainty;
    out->agent = agent;
}

#define R(x) CLASSIFY_BIT(CLASSIFY_R_##x)
#define S(x) CLASSIFY__SETBIT(CLASSIFY__SET_##x)

void classify_event(const classify_rules_t *r, const classify_input_t *in, classify_result_t *out)
{
    memset(out, 0, sizeof(*out));
    const classify_opts_t *o = &r->opts;
    const bool open = in->route == 'o', click = in->route == 'c';
    const int64_t since = in->seconds_since_send;

    /* The address: which published sets contain it. */
    classify__ip_t ip;
    uint32_t sets = 0;
    bool have_ip = classify__ip_parse(in->ip, &ip);
    if (have_ip)
        sets =
            ip.v6 ? classify__iptab_lookup(&r->v6, ip.a6) : classify__iptab_lookup(&r->v4, ip.v4);
    const bool apple = sets & S(APPLE_RELAY);
    const bool google =
        sets & (S(GOOGLE) | S(GOOGLE_CRAWLER) | S(GOOGLE_SPECIAL) | S(GOOGLE_USER_FETCHER));
    const bool gcloud = sets & S(GOOGLE_CLOUD);
    const bool cloud = gcloud || (sets & (S(AWS) | S(AZURE)));
    const bool eop = sets & (S(MICROSOFT_EXCHANGE) | S(MICROSOFT_EOP));
    uint64_t why = 0;
    if (apple) why |= R(IP_APPLE_RELAY);
    if (google && !gcloud) why |= R(IP_GOOGLE);
    if (cloud) why |= R(IP_CLOUD);
    if (eop) why |= R(IP_MICROSOFT_EOP);
    if (sets & S(BING)) why |= R(IP_BING);
    out->datacenter = cloud || eop || (sets & (S(GOOGLE_SPECIAL) | S(GOOGLE_CRAWLER) | S(BING)));
    const bool early = since >= 0 && since <= o->early_after_send_s;

    /* The User-Agent: the first matching pattern, in priority order. */
    long pi = in->ua.len ? classify__ua_match(r->ua, in->ua) : -1;
    const classify__ua_pat_t *pat = pi >= 0 ? &r->pats[pi] : NULL;
    int cls = pat ? pat->cls : -1;
    if (pat && pat->operator_rule) why |= R(UA_OPERATOR);

    const classify__op_range_t *opr = (sets & S(OPERATOR)) ? operator_range(r, &ip) : NULL;
    if (opr) {
        why |= R(IP_OPERATOR);
        set(out, opr->verdict, CLASSIFY_CERTAIN, opr->agent);
        goto done;
    }

    switch (cls) {
    case CLASSIFY__UA_MPP:
        /* A bare "Mozilla/5.0": Apple's MPP proxy on an open from Private Relay space;
         * anywhere else a client that says nothing about itself. */
        why |= R(UA_MPP);
        if (open && apple)
            set(out, CLASSIFY_AUTOMATED, CLASSIFY_CERTAIN, pat->agent);
        else
            set(out, CLASSIFY_AUTOMATED, CLASSIFY_PROBABLE, "bare_client");
        goto done;
    case CLASSIFY__UA_IMAGE_PROXY:
        /* A person opened the mail; the proxy fetched the pixel for them. */
        why |= R(UA_GOOGLE_IMAGE_PROXY);
        out->via_proxy = true;
        out->datacenter = false;
        set(out, CLASSIFY_HUMAN, google || !have_ip ? CLASSIFY_CERTAIN : CLASSIFY_PROBABLE,
            pat->agent);
        goto done;
    case CLASSIFY__UA_PREFETCH:
        why |= R(UA_GMAIL_PREFETCH);
        if (early) why |= R(EARLY_AFTER_SEND);
        set(out, CLASSIFY_AUTOMATED, google ? CLASSIFY_CERTAIN : CLASSIFY_PROBABLE, pat->agent);
        goto done;
    case CLASSIFY__UA_SCANNER:
        why |= R(UA_SCANNER);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_CERTAIN, pat->agent);
        goto done;
    case CLASSIFY__UA_PREVIEW:
        why |= R(UA_PREVIEW);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_CERTAIN, pat->agent);
        goto done;
    case CLASSIFY__UA_LIBRARY:
        why |= R(UA_LIBRARY);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_CERTAIN, pat->agent);
        goto done;
    case CLASSIFY__UA_HEADLESS:
        why |= R(UA_HEADLESS);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_CERTAIN, pat->agent);
        goto done;
    case CLASSIFY__UA_BOT:
        why |= R(UA_BOT);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_CERTAIN, pat->agent);
        goto done;
    default: break;
    }

    /* A person's client by its User-Agent, or none we know. What follows can still
     * show a machine behind it: the address, the method, the headers, the timing. */
    if (in->route == 'h') {
        why |= R(HONEYPOT);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_CERTAIN, "link_follower");
        goto done;
    }
    if (sets & S(GOOGLE_SPECIAL)) {
        why |= R(IP_GOOGLE_CRAWLER);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_CERTAIN, "google_safety");
        goto done;
    }
    if (sets & S(GOOGLE_CRAWLER)) {
        why |= R(IP_GOOGLE_CRAWLER);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_CERTAIN, "googlebot");
        goto done;
    }
    if (sets & S(BING)) {
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_CERTAIN, "bingbot");
        goto done;
    }
    if (eop) {
        /* Safe Links detonates links from Exchange space, often with a browser's UA. */
        set(out, CLASSIFY_AUTOMATED, click ? CLASSIFY_CERTAIN : CLASSIFY_PROBABLE, "safe_links");
        goto done;
    }
    if (in->head) {
        why |= R(METHOD_HEAD);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_CERTAIN, "head_request");
        goto done;
    }
    if (speculative(in->sec_purpose) || speculative(in->purpose) || speculative(in->x_purpose) ||
        speculative(in->x_moz)) {
        why |= R(HDR_PREFETCH);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_CERTAIN, "speculative_load");
        goto done;
    }
    if (in->ua.len == 0) {
        why |= R(UA_EMPTY);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_CERTAIN, "empty_ua");
        goto done;
    }
    if (sets & S(GOOGLE_USER_FETCHER)) {
        why |= R(IP_GOOGLE_FETCHER);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_PROBABLE, "google_fetcher");
        goto done;
    }
    if (click && gateway_provider(in->provider) && since >= 0 && since <= o->gateway_window_s &&
        (cloud || early)) {
        /* The recipient's gateway follows every link on arrival. */
        why |= R(PROVIDER_GATEWAY);
        if (early) why |= R(EARLY_AFTER_SEND);
        set(out, CLASSIFY_AUTOMATED, cloud ? CLASSIFY_CERTAIN : CLASSIFY_PROBABLE,
            gateway_agent(in->provider));
        goto done;
    }
    if (open && google && !gcloud && since >= 0 && since <= o->google_prefetch_window_s) {
        why |= R(EARLY_AFTER_SEND);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_PROBABLE, "gmail_prefetch");
        goto done;
    }
    if (click && (cloud || (google && !apple))) {
        /* Nobody browses from a data centre: weaker evidence, but evidence. */
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_PROBABLE,
            google && !gcloud ? "google_fetcher" : "cloud");
        goto done;
    }
    if (early) {
        why |= R(EARLY_AFTER_SEND);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_PROBABLE, pat ? pat->agent : "unknown_client");
        goto done;
    }
    if (!pat) {
        why |= R(UA_UNKNOWN);
        set(out, CLASSIFY_AUTOMATED, CLASSIFY_PROBABLE, "unknown_client");
        goto done;
    }
    why |= R(UA_HUMAN_CLIENT);
    set(out, CLASSIFY_HUMAN, cloud ? CLASSIFY_PROBABLE : CLASSIFY_CERTAIN, pat->agent);

done:
    if (in->route == 'h') why |= R(HONEYPOT), out->verdict = CLASSIFY_AUTOMATED;
    for (size_t i = 0; i < r->noverrides; i++) {
        if (!strcmp(r->overrides[i].agent, out->agent)) {
            out->verdict = r->overrides[i].verdict;
            out->certainty = CLASSIFY_CERTAIN;
            why |= R(OVERRIDE);
            break;
        }
    }
    if (!why) why = R(NO_SIGNAL);
    out->reasons = why;
}
