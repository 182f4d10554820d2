#include "test.h"
#include "util/util.h"

static int cleared[3], order_pos, order[3];

static void on_clear(void *arg)
{
    int i = (int)(intptr_t)arg;
    cleared[i]++;
    order[order_pos++] = i;
}

int main(void)
{
    arena_t a;
    arena_init(&a, 128);
    char *p = arena_alloc(&a, 10);
    CHECK(((uintptr_t)p & 15) == 0);
    memset(p, 'x', 10);
    char *big = arena_alloc(&a, 1000); /* larger than a chunk */
    memset(big, 'y', 1000);
    CHECK(p[9] == 'x');
    char *z = arena_zalloc(&a, 64);
    CHECK(z[0] == 0 && z[63] == 0);
    slice_t s = arena_slice_dup(&a, SLICE_LIT("hello"));
    CHECK(slice_eq_cstr(s, "hello") && s.p[5] == 0);
    for (int i = 0; i < 3; i++) arena_on_clear(&a, on_clear, (void *)(intptr_t)i);
    arena_clear(&a);
    CHECK(cleared[0] == 1 && cleared[1] == 1 && cleared[2] == 1);
    CHECK(order[0] == 2 && order[2] == 0); /* last registered first */
    arena_clear(&a);                       /* twice is harmless */
    CHECK_INT(cleared[0], 1);
    return test_done();
}
