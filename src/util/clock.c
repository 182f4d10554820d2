#include "util/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t system_now(util_clock_t *c)
{
    (void)c;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t fixed_now(util_clock_t *c)
{
    return c->fixed_us;
}

util_clock_t clock_system = {system_now, 0};

util_clock_t clock_fixed(int64_t t_us)
{
    return (util_clock_t){fixed_now, t_us};
}

int64_t clock_now_us(util_clock_t *c)
{
    return c->now_us(c);
}

int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void time_format_us(int64_t t_us, char out[32])
{
    int64_t s = t_us / 1000000, us = t_us % 1000000;
    if (us < 0) {
        us += 1000000;
        s--;
    }
    time_t tt = (time_t)s;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", (tm.tm_year + 1900) % 10000,
             (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, (int)us);
    memcpy(out, tmp, 31);
    out[31] = 0;
}

static bool digits(const char *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool parse_fraction(const char **pp, const char *end, int64_t *out_us)
{
    const char *p = *pp;
    int64_t us = 0, scale = 100000;
    if (p < end && *p == '.') {
        p++;
        if (p == end || *p < '0' || *p > '9') return false;
        while (p < end && *p >= '0' && *p <= '9') {
            us += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    *pp = p;
    *out_us = us;
    return true;
}

bool time_parse_us(slice_t s, int64_t *out_us)
{
    s = slice_trim(s);
    const char *p = s.p, *end = s.p + s.len;
    if (s.len == 0) return false;
    /* UNIX seconds with an optional fraction. */
    if (memchr(s.p, '-', s.len) == NULL || s.p[0] == '-') {
        const char *q = p;
        bool neg = q < end && *q == '-';
        if (neg) q++;
        int64_t sec = 0;
        const char *ds = q;
        while (q < end && *q >= '0' && *q <= '9') {
            if (sec > INT64_MAX / 10 / 1000000) return false;
            sec = sec * 10 + (*q - '0');
            q++;
        }
        if (q == ds) return false;
        int64_t frac;
        if (!parse_fraction(&q, end, &frac) || q != end) return false;
        *out_us = neg ? -(sec * 1000000 + frac) : sec * 1000000 + frac;
        return true;
    }
    int y, mo, d, h, mi, se;
    if (s.len < 20 || !digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) || p[7] != '-' ||
        !digits(p + 8, 2, &d) || (p[10] != 'T' && p[10] != 't' && p[10] != ' ') ||
        !digits(p + 11, 2, &h) || p[13] != ':' || !digits(p + 14, 2, &mi) || p[16] != ':' ||
        !digits(p + 17, 2, &se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
    const char *q = p + 19;
    int64_t frac;
    if (!parse_fraction(&q, end, &frac)) return false;
    int64_t off = 0;
    if (q < end && (*q == 'Z' || *q == 'z')) {
        q++;
    } else if (q + 6 == end && (*q == '+' || *q == '-') && q[3] == ':') {
        int oh, om;
        if (!digits(q + 1, 2, &oh) || !digits(q + 4, 2, &om) || oh > 23 || om > 59) return false;
        off = (oh * 3600 + om * 60) * (*q == '+' ? 1 : -1);
        q += 6;
    } else {
        return false;
    }
    if (q != end) return false;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    *out_us = secs * 1000000 + frac;
    return true;
}
