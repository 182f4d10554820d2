#include <stdlib.h>

#include "test.h"
#include "util/util.h"

int main(void)
{
    buf_t b = BUF_INIT;
    CHECK_STR(buf_cstr(&b), "");
    buf_puts(&b, "abc");
    buf_putc(&b, 'd');
    buf_printf(&b, "%d-%s", 42, "x");
    CHECK_STR(buf_cstr(&b), "abcd42-x");
    CHECK_INT(b.len, 8);
    /* Growth past the first allocation keeps the contents. */
    for (int i = 0; i < 1000; i++) buf_printf(&b, "%04d", i);
    CHECK_INT(b.len, 8 + 4000);
    CHECK(memcmp(b.p + 8, "00000001", 8) == 0);
    CHECK(memcmp(b.p + b.len - 4, "0999", 4) == 0);
    buf_reset(&b);
    CHECK_INT(b.len, 0);
    CHECK_STR(buf_cstr(&b), "");
    /* A long printf takes the second vsnprintf path. */
    char big[5000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    buf_printf(&b, "<%s>", big);
    CHECK_INT(b.len, 5001);
    CHECK(b.p[0] == '<' && b.p[5000] == '>');
    buf_clear(&b);
    CHECK(b.p == NULL);
    CHECK_INT(buf_read_file(&b, "/nonexistent/file", 10), TO_ENOTFOUND);
    buf_clear(&b);
    /* xgrow: room for element n, doubling from the first size. */
    int *v = NULL;
    size_t cap = 0;
    for (size_t n = 0; n < 1000; n++) {
        xgrow(v, cap, n, 4);
        CHECK(cap > n);
        v[n] = (int)n;
    }
    CHECK_INT(cap, 1024);
    CHECK_INT(v[999], 999);
    free(v);
    CHECK_STR(err_str(TO_EFORGED), "token does not open");
    CHECK_STR(err_str(0), "ok");
    CHECK_STR(err_str(12345), "unknown error");
    return test_done();
}
