#include "util/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static log_level_t log_min = LOG_INFO;
static int log_fd = 2;
static char log_prog[32] = "trueopen";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"info", "warn", "error", "fatal", "panic"};

void log_set_level(log_level_t min)
{
    log_min = min;
}

void log_set_output(int fd, const char *prog)
{
    log_fd = fd;
    if (prog) snprintf(log_prog, sizeof(log_prog), "%s", prog);
}

__attribute__((format(printf, 3, 0))) static void log_v(log_level_t lvl, const char *prefix,
                                                        const char *fmt, va_list ap)
{
    if (lvl < log_min && lvl < LOG_FATAL) return;
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: %s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, log_prog, (int)getpid(), level_names[lvl],
                     prefix ? prefix : "");
    if (n < 0) return;
    if ((size_t)n < sizeof(line)) {
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        if (m > 0) n += m;
    }
    if ((size_t)n >= sizeof(line) - 1) n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    pthread_mutex_lock(&log_lock);
    (void)write_all(log_fd, line, (size_t)n);
    pthread_mutex_unlock(&log_lock);
}

void log_msg(log_level_t lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v(lvl, NULL, fmt, ap);
    va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v(LOG_FATAL, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}

void log_panic_at(const char *file, int line, const char *fmt, ...)
{
    char where[256];
    snprintf(where, sizeof(where), "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    log_v(LOG_PANIC, where, fmt, ap);
    va_end(ap);
    abort();
}

void log_limited(log_limit_t *lim, uint32_t per_sec, log_level_t lvl, const char *fmt, ...)
{
    int64_t now = (int64_t)time(NULL);
    uint32_t suppressed = 0;
    pthread_mutex_lock(&log_lock);
    if (now != lim->window_start_s) {
        lim->window_start_s = now;
        lim->in_window = 0;
    }
    bool pass = lim->in_window < per_sec;
    if (pass) {
        lim->in_window++;
        suppressed = lim->suppressed;
        lim->suppressed = 0;
    } else {
        lim->suppressed++;
    }
    pthread_mutex_unlock(&log_lock);
    if (!pass) return;
    va_list ap;
    va_start(ap, fmt);
    log_v(lvl, NULL, fmt, ap);
    va_end(ap);
    if (suppressed) log_msg(lvl, "(%u similar lines suppressed)", suppressed);
}
