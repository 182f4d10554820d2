#include "test.h"
#include "util/util.h"

int main(void)
{
    slice_t s = SLICE_LIT("Hello World");
    CHECK(slice_eq_cstr(s, "Hello World"));
    CHECK(!slice_eq_cstr(s, "Hello"));
    CHECK(slice_caseeq_cstr(s, "hello world"));
    CHECK(slice_starts(s, "Hello"));
    CHECK(!slice_starts(s, "hello"));
    CHECK(slice_casestarts(s, "hello"));
    CHECK_INT(slice_casefind(s, "WORLD"), 6);
    CHECK_INT(slice_casefind(s, "xyz"), -1);
    CHECK_INT(slice_casefind(SLICE_LIT("ab"), "abc"), -1);
    slice_t t = slice_trim(SLICE_LIT("  \t x y \r\n"));
    CHECK(slice_eq_cstr(t, "x y"));
    CHECK_INT(slice_trim(SLICE_LIT("   ")).len, 0);
    uint64_t u;
    CHECK(slice_to_u64(SLICE_LIT("18446744073709551615"), &u) && u == UINT64_MAX);
    CHECK(!slice_to_u64(SLICE_LIT("18446744073709551616"), &u));
    CHECK(!slice_to_u64(SLICE_LIT(""), &u));
    CHECK(!slice_to_u64(SLICE_LIT("12a"), &u));
    int64_t i;
    CHECK(slice_to_i64(SLICE_LIT("-9223372036854775808"), &i) && i == INT64_MIN);
    CHECK(!slice_to_i64(SLICE_LIT("9223372036854775808"), &i));
    CHECK(slice_to_i64(SLICE_LIT("-5"), &i) && i == -5);
    return test_done();
}
