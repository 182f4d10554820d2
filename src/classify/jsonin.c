/* JSON lines in and out for `trueopen classify` (classify.h). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "classify/classify_int.h"
#include "token/token.h"

#define LINE_MAX_BYTES (1u << 20)

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return TO_EPARSE;
}

static bool get_str(json_t *o, const char *key, arena_t *a, slice_t *out, bool *bad)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return false;
    if (!json_is_string(v)) {
        *bad = true;
        return false;
    }
    *out = arena_slice_dup(a, slice_make(json_string_value(v), json_string_length(v)));
    return true;
}

int classify_json_parse(slice_t line, arena_t *a, classify_json_event_t *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->in.seconds_since_send = -1;
    if (line.len > LINE_MAX_BYTES) return fail(err, errlen, "line too long");
    json_error_t je;
    json_t *o = json_loadb(line.p, line.len, JSON_REJECT_DUPLICATES, &je);
    if (!o) return fail(err, errlen, "not JSON");
    int rc = 0;
    bool bad = false;
    if (!json_is_object(o)) {
        rc = fail(err, errlen, "not a JSON object");
        goto out;
    }
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!type) {
        rc = fail(err, errlen, "missing \"type\" (open, click or honeypot)");
        goto out;
    }
    if (!strcmp(type, "open") || !strcmp(type, "o"))
        out->in.route = 'o';
    else if (!strcmp(type, "click") || !strcmp(type, "c"))
        out->in.route = 'c';
    else if (!strcmp(type, "honeypot") || !strcmp(type, "h"))
        out->in.route = 'h';
    else {
        rc = fail(err, errlen, "\"type\" must be open, click or honeypot");
        goto out;
    }
    get_str(o, "ip", a, &out->in.ip, &bad);
    get_str(o, "ua", a, &out->in.ua, &bad);
    slice_t method = SLICE_NULL;
    get_str(o, "method", a, &method, &bad);
    if (bad) {
        rc = fail(err, errlen, "\"ip\", \"ua\" and \"method\" must be strings");
        goto out;
    }
    out->in.head = slice_caseeq_cstr(method, "HEAD");

    json_t *h = json_object_get(o, "headers");
    if (h && !json_is_null(h)) {
        if (!json_is_object(h)) {
            rc = fail(err, errlen, "\"headers\" must be an object");
            goto out;
        }
        const char *k;
        json_t *v;
        json_object_foreach(h, k, v)
        {
            if (!json_is_string(v)) {
                rc = fail(err, errlen, "header values must be strings");
                goto out;
            }
            slice_t val =
                arena_slice_dup(a, slice_make(json_string_value(v), json_string_length(v)));
            static const struct {
                const char *name;
                size_t off;
            } map[] = {
                {"sec-purpose", offsetof(classify_input_t, sec_purpose)},
                {"purpose", offsetof(classify_input_t, purpose)},
                {"x-purpose", offsetof(classify_input_t, x_purpose)},
                {"x-moz", offsetof(classify_input_t, x_moz)},
                {"accept", offsetof(classify_input_t, accept)},
                {"accept-language", offsetof(classify_input_t, accept_language)},
                {"referer", offsetof(classify_input_t, referer)},
                {"via", offsetof(classify_input_t, via)},
                {"from", offsetof(classify_input_t, from)},
                {"user-agent", offsetof(classify_input_t, ua)},
            };
            for (size_t i = 0; i < TO_ARRAY_LEN(map); i++) {
                if (strcasecmp(k, map[i].name)) continue;
                slice_t *dst = (slice_t *)((char *)&out->in + map[i].off);
                /* An explicit "ua" wins over a User-Agent header. */
                if (map[i].off != offsetof(classify_input_t, ua) || !json_object_get(o, "ua"))
                    *dst = val;
            }
        }
    }
    json_t *s = json_object_get(o, "seconds_since_send");
    if (s && !json_is_null(s)) {
        if (!json_is_number(s) || json_number_value(s) < -1e12 || json_number_value(s) > 1e12) {
            rc = fail(err, errlen, "\"seconds_since_send\" must be a number");
            goto out;
        }
        double d = json_number_value(s);
        out->in.seconds_since_send = d < 0 ? -1 : (int64_t)d;
    }
    json_t *m = json_object_get(o, "message");
    if (m && !json_is_null(m)) {
        char tmp[32];
        if (json_is_string(m)) {
            out->message =
                arena_slice_dup(a, slice_make(json_string_value(m), json_string_length(m)));
        } else if (json_is_integer(m)) {
            snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(m));
            out->message = arena_slice_dup(a, slice_cstr(tmp));
        } else {
            rc = fail(err, errlen, "\"message\" must be a string or an integer");
            goto out;
        }
    }
    json_t *p = json_object_get(o, "provider");
    if (p && !json_is_null(p)) {
        int code = json_is_string(p) ? token_provider_code(json_string_value(p)) : -1;
        if (code < 0) {
            rc = fail(err, errlen, "unknown \"provider\" (gmail, proofpoint, ...)");
            goto out;
        }
        out->in.provider = (uint8_t)code;
    }
    json_t *t = json_object_get(o, "ts");
    if (t && !json_is_null(t)) {
        char tmp[64];
        slice_t ts;
        if (json_is_string(t)) {
            ts = slice_make(json_string_value(t), json_string_length(t));
        } else if (json_is_number(t)) {
            snprintf(tmp, sizeof(tmp), "%.6f", json_number_value(t));
            ts = slice_cstr(tmp);
        } else {
            ts = SLICE_NULL;
        }
        if (!ts.len || !time_parse_us(ts, &out->ts_us)) {
            rc = fail(err, errlen, "\"ts\" must be RFC 3339 or a UNIX time");
            goto out;
        }
        out->has_ts = true;
    }
    json_t *l = json_object_get(o, "link");
    if (l && !json_is_null(l)) {
        if (!json_is_integer(l) || json_integer_value(l) < 0 || json_integer_value(l) > 65535) {
            rc = fail(err, errlen, "\"link\" must be an integer 0..65535");
            goto out;
        }
        out->link = (uint32_t)json_integer_value(l);
    }
out:
    json_decref(o);
    return rc;
}

void classify_json_result(buf_t *b, const classify_result_t *res, uint8_t final_verdict,
                          uint64_t final_reasons, uint32_t rules_version)
{
    bool first = true;
    buf_putc(b, '{');
    json_key(b, &first, "verdict");
    json_cstr(b, final_verdict == CLASSIFY_AUTOMATED ? "automated" : "human");
    json_key(b, &first, "agent");
    json_cstr(b, res->agent ? res->agent : "unknown_client");
    json_key(b, &first, "via_proxy");
    buf_puts(b, res->via_proxy ? "true" : "false");
    json_key(b, &first, "certainty");
    uint8_t certainty = res->certainty;
    if (final_verdict != res->verdict)
        certainty = (final_reasons & ~CLASSIFY_BIT(CLASSIFY_R_MSG_GATEWAY_BEFORE_OPEN))
                        ? CLASSIFY_CERTAIN
                        : CLASSIFY_PROBABLE;
    json_cstr(b, certainty == CLASSIFY_PROBABLE ? "probable" : "certain");
    json_key(b, &first, "reasons");
    buf_putc(b, '[');
    uint64_t all = res->reasons | final_reasons;
    bool f2 = true;
    for (unsigned i = 0; i < CLASSIFY_R__COUNT; i++) {
        if (!(all & CLASSIFY_BIT(i))) continue;
        if (!f2) buf_putc(b, ',');
        json_cstr(b, classify_reason_name(i));
        f2 = false;
    }
    buf_putc(b, ']');
    json_key(b, &first, "rules_version");
    buf_printf(b, "\"%08x\"", rules_version);
    if (final_verdict != res->verdict) {
        json_key(b, &first, "event_verdict");
        json_cstr(b, res->verdict == CLASSIFY_AUTOMATED ? "automated" : "human");
    }
    buf_putc(b, '}');
}
