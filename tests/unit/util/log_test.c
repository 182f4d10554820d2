/* The logging ladder: levels below the threshold are dropped, and a rate-limited line
 * passes at most per_sec times a second, then reports how many it held back. */
#include <fcntl.h>
#include <unistd.h>

#include "test.h"
#include "util/util.h"

static char logbuf[65536];

static size_t read_log(int fd)
{
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, logbuf, sizeof(logbuf) - 1);
    logbuf[n > 0 ? n : 0] = 0;
    return n > 0 ? (size_t)n : 0;
}

static int count(const char *needle)
{
    int n = 0;
    for (const char *p = logbuf; (p = strstr(p, needle)); p++) n++;
    return n;
}

int main(void)
{
    char path[] = "/tmp/trueopen-log-test-XXXXXX";
    int fd = mkstemp(path);
    log_set_output(fd, "logtest");
    log_set_level(LOG_WARN);
    log_info("dropped %d", 1);
    log_warn("kept %d", 2);
    log_error("kept %s", "three");
    read_log(fd);
    CHECK(strstr(logbuf, "dropped") == NULL);
    CHECK(strstr(logbuf, "logtest[") != NULL);
    CHECK(strstr(logbuf, "warn: kept 2\n") != NULL);
    CHECK(strstr(logbuf, "error: kept three\n") != NULL);
    log_set_level(LOG_INFO);
    if (ftruncate(fd, 0) != 0) return 1;
    lseek(fd, 0, SEEK_SET);
    /* 50 lines in a burst through a limit of 5 a second. The burst may straddle a
     * second boundary, so at most twice the limit gets through. */
    log_limit_t lim = {0};
    for (int i = 0; i < 50; i++) log_limited(&lim, 5, LOG_WARN, "hostile %d", i);
    read_log(fd);
    int passed = count("hostile");
    CHECK(passed >= 5 && passed <= 10);
    /* A line after the window reports what was held back. */
    lim.window_start_s -= 2;
    log_limited(&lim, 5, LOG_WARN, "later");
    read_log(fd);
    CHECK(strstr(logbuf, "similar lines suppressed") != NULL);
    /* Long lines are cut, never overflow. */
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    log_warn("%s", big);
    size_t n = read_log(fd);
    CHECK(n > 0 && logbuf[n - 1] == '\n');
    close(fd);
    unlink(path);
    return test_done();
}
