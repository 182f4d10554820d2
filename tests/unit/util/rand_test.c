#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "util/util.h"

/* 16-byte draws from rand_system (the size of a token nonce). */
static void draw(uint8_t out[16])
{
    rand_fill(&rand_system, out, 16);
}

int main(void)
{
    /* Small draws come from a per-thread pool: many of them, across refills, never repeat
     * and are never all zero. */
    enum { N = 1000 };
    static uint8_t seen[N][16];
    for (int i = 0; i < N; i++) draw(seen[i]);
    int repeats = 0, zero = 0;
    static const uint8_t z[16];
    for (int i = 0; i < N; i++) {
        if (!memcmp(seen[i], z, 16)) zero++;
        for (int j = 0; j < i; j++)
            if (!memcmp(seen[i], seen[j], 16)) repeats++;
    }
    CHECK_INT(repeats, 0);
    CHECK_INT(zero, 0);

    /* Large draws bypass the pool. */
    uint8_t big[200] = {0}, big2[200] = {0};
    rand_fill(&rand_system, big, sizeof(big));
    rand_fill(&rand_system, big2, sizeof(big2));
    CHECK(memcmp(big, big2, sizeof(big)) != 0);

    /* After a fork, parent and child hand out different bytes even though the child
     * inherits the parent's pool. */
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        uint8_t c[16];
        draw(c);
        ssize_t w = write(fds[1], c, sizeof(c));
        _exit(w == (ssize_t)sizeof(c) ? 0 : 1);
    }
    CHECK(pid > 0);
    uint8_t parent[16], child[16] = {0};
    draw(parent);
    CHECK(read(fds[0], child, sizeof(child)) == (ssize_t)sizeof(child));
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(memcmp(parent, child, 16) != 0);
    close(fds[0]);
    close(fds[1]);

    /* rand_fixed is deterministic. */
    util_rand_t a = rand_fixed(7), b = rand_fixed(7);
    uint8_t x[16], y[16];
    rand_fill(&a, x, 16);
    rand_fill(&b, y, 16);
    CHECK(memcmp(x, y, 16) == 0);
    return test_done();
}
