/*
 * The rewriter through its library interface: every golden case in tests/golden/rewrite/
 * (<case>.eml in, <case>.out.eml expected, optional <case>.conf settings), under a fixed
 * key, clock and random source, each also checked against the rewrite property; then
 * the envelope, privacy and fail-open rules one by one.
 *
 * TO_GOLDEN_UPDATE=1 rewrites the expected files (review the diff before committing).
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../../fuzz/rewrite_check.h"
#include "rw_fixture.h"
#include "test.h"

static const rewrite__mime_limits_t limits = {16, 1 << 20, "X-Campaign-ID"};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void golden_case(const char *dir, const char *name)
{
    char in_path[8200], out_path[8200], conf_path[8200];
    snprintf(in_path, sizeof(in_path), "%s/%s.eml", dir, name);
    snprintf(out_path, sizeof(out_path), "%s/%s.out.eml", dir, name);
    snprintf(conf_path, sizeof(conf_path), "%s/%s.conf", dir, name);
    struct stat st;
    bool has_conf = stat(conf_path, &st) == 0;
    rwf_t f;
    if (rwf_init(&f, has_conf ? conf_path : NULL, NULL) != 0) {
        CHECK(!"fixture");
        return;
    }
    buf_t in = BUF_INIT, want = BUF_INIT, out = BUF_INIT;
    CHECK_INT(buf_read_file(&in, in_path, 1 << 24), 0);
    slice_t rcpt = SLICE_LIT("<Patient@Example.ORG>");
    rewrite_env_t env = {.rcpt = &rcpt, .nrcpt = 1, .sent_at = 1764756000};
    rewrite_result_t res;
    CHECK_INT(rewrite_message(f.rw, buf_slice(&in), &env, &out, &res), 0);
    slice_t got = res.changed ? buf_slice(&out) : buf_slice(&in);
    if (getenv("TO_GOLDEN_UPDATE")) {
        CHECK_INT(write_file_atomic(out_path, got.p, got.len, 0644), 0);
    } else if (buf_read_file(&want, out_path, 1 << 24) != 0) {
        fprintf(stderr, "golden %s: missing %s\n", name, out_path);
        CHECK(!"expected output present");
    } else if (!slice_eq(got, buf_slice(&want))) {
        fprintf(stderr, "golden %s: output differs from %s.out.eml (%s)\n", name, name,
                rewrite_status_str(res.status));
        CHECK(!"golden output matches");
    } else {
        CHECK(true);
    }
    rw_check_t c = {.ring = f.ring, .tracking_url = RWF_TRACKING};
    if (!rewrite_check(&c, &limits, buf_slice(&in), got)) {
        fprintf(stderr, "golden %s: property fails: %s\n", name, c.why);
        CHECK(!"rewrite property");
    } else {
        CHECK_INT(c.clicks, res.links);
        if (res.changed) CHECK_INT(c.message, res.message_id);
    }
    /* The case name says what must happen. */
    bool unchanged = strstr(name, "unchanged") != NULL;
    if (unchanged != !res.changed)
        fprintf(stderr, "golden %s: changed=%d status=%s\n", name, res.changed,
                rewrite_status_str(res.status));
    CHECK_INT(res.changed, !unchanged);
    /* Rewriting the output again adds nothing (tokens, pixel and honeypot are seen),
     * unless a link was left alone for the line limit (planning bounds token lengths). */
    if (res.changed && res.links_long == 0) {
        buf_t again = BUF_INIT;
        rewrite_result_t r2;
        CHECK_INT(rewrite_message(f.rw, got, &env, &again, &r2), 0);
        if (r2.changed) fprintf(stderr, "golden %s: second rewrite changed it\n", name);
        CHECK(!r2.changed);
        buf_clear(&again);
    }
    buf_clear(&in);
    buf_clear(&want);
    buf_clear(&out);
    rwf_clear(&f);
}

static void test_golden(void)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", test_src_path("tests/golden/rewrite"));
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return;
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".eml") &&
            !(l > 8 && !strcmp(e->d_name + l - 8, ".out.eml")))
            names[n++] = strndup(e->d_name, l - 4);
    }
    closedir(d);
    qsort(names, n, sizeof(char *), cmp_str);
    CHECK(n >= 15);
    for (size_t i = 0; i < n; i++) {
        golden_case(dir, names[i]);
        free(names[i]);
    }
}

static const char simple[] = "From: a@example.com\r\n"
                             "To: b@example.org\r\n"
                             "Message-ID: <m1@example.com>\r\n"
                             "X-Campaign-ID: spring-checkup\r\n"
                             "Content-Type: text/html; charset=utf-8\r\n"
                             "\r\n"
                             "<html><body><a href=\"https://example.com/a?x=1&amp;y=2\">A</a>"
                             "</body></html>\r\n";

static void test_envelope(void)
{
    rwf_t f;
    CHECK_INT(rwf_init(&f, NULL, NULL), 0);
    buf_t out = BUF_INIT, url = BUF_INIT;
    rewrite_result_t res;
    /* one recipient: recipient id = the message row id; hash, no address */
    slice_t one = SLICE_LIT("<Jane.Doe@GMail.com>");
    rewrite_env_t env = {.rcpt = &one, .nrcpt = 1};
    CHECK_INT(rewrite_message(f.rw, slice_make(simple, strlen(simple)), &env, &out, &res), 0);
    CHECK(res.changed);
    CHECK_INT(res.links, 1);
    CHECK_STR(f.sink.last_domain, "gmail.com");
    CHECK_INT(strlen(f.sink.last_hash), 64);
    CHECK_STR(f.sink.last_addr, "");
    CHECK_STR(f.sink.last_mid, "<m1@example.com>");
    CHECK_STR(f.sink.last_campaign, "spring-checkup");
    CHECK_INT(f.sink.last.recipient_count, 1);
    CHECK_INT(f.sink.last.link_count, 1);
    CHECK_INT(f.sink.last.account, 7);
    CHECK_INT(f.sink.last.provider, TOKEN_PROVIDER_GMAIL);
    CHECK_INT(f.sink.last.sent_at, 1764756000);
    CHECK(strstr(buf_cstr(&out), "Jane") == NULL);
    const char *c = strstr(buf_cstr(&out), RWF_TRACKING "/c/");
    CHECK(c != NULL);
    if (c) {
        c += strlen(RWF_TRACKING "/c/");
        const char *e = strchr(c, '"');
        token_fields_t tf;
        CHECK_INT(token_open(f.ring, slice_make(c, (size_t)(e - c)), &tf, &url), 0);
        CHECK_INT(tf.recipient, res.message_id);
        CHECK_INT(tf.message, res.message_id);
        CHECK_INT(tf.account, 7);
        CHECK_INT(tf.link, 1);
        CHECK_INT(tf.provider, TOKEN_PROVIDER_GMAIL);
        CHECK(slice_eq_cstr(tf.url, "https://example.com/a?x=1&y=2"));
    }
    char hash1[80];
    snprintf(hash1, sizeof(hash1), "%s", f.sink.last_hash);
    /* same address, other case: same keyed hash */
    slice_t one_b = SLICE_LIT("jane.doe@gmail.com");
    env.rcpt = &one_b;
    buf_reset(&out);
    CHECK_INT(rewrite_message(f.rw, slice_make(simple, strlen(simple)), &env, &out, &res), 0);
    CHECK_STR(f.sink.last_hash, hash1);

    /* several recipients: recipient 0, count recorded, no hash; shared domain kept */
    slice_t many[] = {SLICE_LIT("a@example.org"), SLICE_LIT("b@EXAMPLE.org")};
    env.rcpt = many;
    env.nrcpt = 2;
    env.campaign = SLICE_LIT("override");
    buf_reset(&out);
    CHECK_INT(rewrite_message(f.rw, slice_make(simple, strlen(simple)), &env, &out, &res), 0);
    CHECK(res.changed);
    CHECK_INT(f.sink.last.recipient_count, 2);
    CHECK_STR(f.sink.last_hash, "");
    CHECK_STR(f.sink.last_domain, "example.org");
    CHECK_STR(f.sink.last_campaign, "override");
    c = strstr(buf_cstr(&out), RWF_TRACKING "/o/");
    CHECK(c != NULL);
    if (c) {
        c += strlen(RWF_TRACKING "/o/");
        const char *e = strchr(c, '"');
        token_fields_t tf;
        CHECK_INT(token_open(f.ring, slice_make(c, (size_t)(e - c)), &tf, &url), 0);
        CHECK_INT(tf.recipient, 0);
        CHECK_INT(tf.link, 0);
        CHECK_INT(tf.message, res.message_id);
    }
    slice_t mixed[] = {SLICE_LIT("a@example.org"), SLICE_LIT("b@example.com")};
    env.rcpt = mixed;
    buf_reset(&out);
    CHECK_INT(rewrite_message(f.rw, slice_make(simple, strlen(simple)), &env, &out, &res), 0);
    CHECK_STR(f.sink.last_domain, "");
    buf_clear(&out);
    buf_clear(&url);
    rwf_clear(&f);

    /* keep_recipient_address on: the lowercased address is recorded */
    const char *const keep[] = {"keep_recipient_address", "on", NULL};
    CHECK_INT(rwf_init(&f, NULL, keep), 0);
    env.rcpt = &one;
    env.nrcpt = 1;
    CHECK_INT(rewrite_message(f.rw, slice_make(simple, strlen(simple)), &env, &out, &res), 0);
    CHECK_STR(f.sink.last_addr, "jane.doe@gmail.com");
    buf_clear(&out);
    rwf_clear(&f);
}

/* Recipients beyond those listed (the milter keeps a bounded number): the count is all
 * of them, and the tokens name the message. */
static void test_unlisted_recipients(void)
{
    rwf_t f;
    CHECK_INT(rwf_init(&f, NULL, NULL), 0);
    buf_t out = BUF_INIT, url = BUF_INIT;
    rewrite_result_t res;
    slice_t some[] = {SLICE_LIT("a@example.org"), SLICE_LIT("b@example.org")};
    rewrite_env_t env = {.rcpt = some, .nrcpt = 2, .nrcpt_total = 1500};
    CHECK_INT(rewrite_message(f.rw, slice_make(simple, strlen(simple)), &env, &out, &res), 0);
    CHECK(res.changed);
    CHECK_INT(f.sink.last.recipient_count, 1500);
    CHECK_STR(f.sink.last_domain, "example.org");
    CHECK_STR(f.sink.last_hash, "");
    const char *c = strstr(buf_cstr(&out), RWF_TRACKING "/c/");
    CHECK(c != NULL);
    if (c) {
        c += strlen(RWF_TRACKING "/c/");
        token_fields_t tf;
        CHECK_INT(token_open(f.ring, slice_make(c, strcspn(c, "\"")), &tf, &url), 0);
        CHECK_INT(tf.recipient, 0);
        CHECK_INT(tf.message, res.message_id);
    }
    /* one listed of several: no recipient hash, no recipient id */
    env.nrcpt = 1;
    env.nrcpt_total = 5;
    buf_reset(&out);
    CHECK_INT(rewrite_message(f.rw, slice_make(simple, strlen(simple)), &env, &out, &res), 0);
    CHECK_INT(f.sink.last.recipient_count, 5);
    CHECK_STR(f.sink.last_hash, "");
    /* nrcpt_total below nrcpt changes nothing */
    env.nrcpt = 2;
    env.nrcpt_total = 1;
    buf_reset(&out);
    CHECK_INT(rewrite_message(f.rw, slice_make(simple, strlen(simple)), &env, &out, &res), 0);
    CHECK_INT(f.sink.last.recipient_count, 2);
    buf_clear(&out);
    buf_clear(&url);
    rwf_clear(&f);
}

/* The sink's account_settings decide the honeypot and address keeping per message, for
 * the message's own account. */
static void test_account_settings(void)
{
    rwf_t f;
    CHECK_INT(rwf_init(&f, NULL, NULL), 0); /* options: honeypot on, addresses not kept */
    f.sink.settings_account = 9;
    f.sink.settings =
        (rewrite_account_settings_t){.honeypot = false, .keep_recipient_address = true};
    buf_t out = BUF_INIT;
    rewrite_result_t res;
    slice_t one = SLICE_LIT("<Jane@Example.org>");
    rewrite_env_t env = {.rcpt = &one, .nrcpt = 1};
    CHECK_INT(rewrite_message(f.rw, slice_make(simple, strlen(simple)), &env, &out, &res), 0);
    CHECK(strstr(buf_cstr(&out), RWF_TRACKING "/h/") != NULL); /* account 7: the options */
    CHECK_STR(f.sink.last_addr, "");
    CHECK_INT(f.sink.settings_calls, 1);
    env.account = 9;
    buf_reset(&out);
    CHECK_INT(rewrite_message(f.rw, slice_make(simple, strlen(simple)), &env, &out, &res), 0);
    CHECK(res.changed);
    CHECK(strstr(buf_cstr(&out), RWF_TRACKING "/h/") == NULL);
    CHECK(strstr(buf_cstr(&out), RWF_TRACKING "/o/") != NULL);
    CHECK_STR(f.sink.last_addr, "jane@example.org");
    CHECK_INT(f.sink.last.account, 9);
    CHECK_INT(f.sink.settings_calls, 2);
    buf_clear(&out);
    rwf_clear(&f);
}

static void test_fail_open(void)
{
    rwf_t f;
    CHECK_INT(rwf_init(&f, NULL, NULL), 0);
    buf_t out = BUF_INIT;
    rewrite_result_t res;
    slice_t msg = slice_make(simple, strlen(simple));
    /* the sink fails: unchanged */
    f.sink.fail = 1;
    CHECK_INT(rewrite_message(f.rw, msg, NULL, &out, &res), 0);
    CHECK(!res.changed);
    CHECK_INT(res.status, REWRITE_STORE);
    CHECK_INT(out.len, 0);
    f.sink.fail = 0;
    /* DKIM-signed: unchanged and not recorded */
    buf_t signed_msg = BUF_INIT;
    buf_puts(&signed_msg, "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=x; b=abc\r\n");
    buf_append_slice(&signed_msg, msg);
    unsigned calls = f.sink.calls;
    CHECK_INT(rewrite_message(f.rw, buf_slice(&signed_msg), NULL, &out, &res), 0);
    CHECK_INT(res.status, REWRITE_SIGNED);
    CHECK(!res.changed);
    CHECK_INT(f.sink.calls, calls);
    rewrite_stats_t st;
    rewrite_stats(f.rw, &st);
    CHECK_INT(st.by_status[REWRITE_SIGNED], 1);
    CHECK_INT(st.by_status[REWRITE_STORE], 1);
    rwf_clear(&f);
    /* ... unless rewrite_signed */
    const char *const sig[] = {"rewrite_signed", "on", NULL};
    CHECK_INT(rwf_init(&f, NULL, sig), 0);
    CHECK_INT(rewrite_message(f.rw, buf_slice(&signed_msg), NULL, &out, &res), 0);
    CHECK(res.changed);
    rwf_clear(&f);
    /* over the size limit: unchanged */
    const char *const small[] = {"max_message_size", "1k", NULL};
    CHECK_INT(rwf_init(&f, NULL, small), 0);
    buf_t big = BUF_INIT;
    buf_append_slice(&big, msg);
    for (int i = 0; i < 100; i++) buf_puts(&big, "<p>filler filler filler</p>\r\n");
    buf_reset(&out);
    CHECK_INT(rewrite_message(f.rw, buf_slice(&big), NULL, &out, &res), 0);
    CHECK_INT(res.status, REWRITE_TOO_BIG);
    CHECK_INT(out.len, 0);
    rwf_clear(&f);
    /* no account: unchanged */
    const char *const noacc[] = {"account", "0", NULL};
    CHECK_INT(rwf_init(&f, NULL, noacc), 0);
    CHECK_INT(rewrite_message(f.rw, msg, NULL, &out, &res), 0);
    CHECK_INT(res.status, REWRITE_NO_ACCOUNT);
    rwf_clear(&f);
    /* deep nesting: unchanged */
    const char *const shallow[] = {"max_mime_depth", "2", NULL};
    CHECK_INT(rwf_init(&f, NULL, shallow), 0);
    buf_t deep = BUF_INIT;
    buf_puts(&deep, "Content-Type: multipart/mixed; boundary=b0\r\n\r\n");
    for (int i = 1; i < 4; i++)
        buf_printf(&deep, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i - 1, i);
    buf_puts(&deep, "--b3\r\nContent-Type: text/html\r\n\r\n<a href=\"http://x.example/\">x</a>"
                    "\r\n--b3--\r\n--b2--\r\n--b1--\r\n--b0--\r\n");
    CHECK_INT(rewrite_message(f.rw, buf_slice(&deep), NULL, &out, &res), 0);
    CHECK_INT(res.status, REWRITE_PARSE);
    rwf_clear(&f);
    CHECK_INT(rwf_init(&f, NULL, NULL), 0);
    CHECK_INT(rewrite_message(f.rw, buf_slice(&deep), NULL, &out, &res), 0);
    CHECK_INT(res.status, REWRITE_DONE);
    CHECK_INT(res.links, 1);
    rwf_clear(&f);
    buf_clear(&deep);
    buf_clear(&big);
    buf_clear(&signed_msg);
    buf_clear(&out);
}

static void test_bad_options(void)
{
    const char *const bad[][3] = {
        {"tracking_url", "ftp://t.example.net", NULL},
        {"tracking_url", "https://t.example.net/a\"b", NULL},
        {"tracking_url", "t.example.net", NULL},
        {"account_map", "alice", NULL},
    };
    for (size_t i = 0; i < TO_ARRAY_LEN(bad); i++) {
        rwf_t f;
        int rc = rwf_init(&f, NULL, bad[i]);
        CHECK(rc != 0);
        if (rc == 0) rwf_clear(&f);
    }
    rwf_t f;
    const char *const map[] = {"account_map", "alice@example.com 12", NULL};
    CHECK_INT(rwf_init(&f, NULL, map), 0);
    CHECK_INT(rewrite_account_for(rewrite_opts(f.rw), SLICE_LIT("Alice@example.com")), 12);
    CHECK_INT(rewrite_account_for(rewrite_opts(f.rw), SLICE_LIT("bob@example.com")), 7);
    CHECK_INT(rewrite_account_for(rewrite_opts(f.rw), SLICE_NULL), 7);
    rwf_clear(&f);
}

/* Configured skip patterns: matched in any case, whatever case the configuration wrote,
 * and past the 64 that the one-pass search indexes by their first byte. */
static void test_skip_patterns(void)
{
    const char *sets[2 * 72 + 1];
    char fill[70][8];
    size_t k = 0;
    sets[k++] = "skip_link_pattern";
    sets[k++] = "NoTrack"; /* the first pattern */
    for (int i = 0; i < 68; i++) {
        snprintf(fill[i], sizeof(fill[i]), "zz%02d", i);
        sets[k++] = "skip_link_pattern";
        sets[k++] = fill[i];
    }
    sets[k++] = "skip_link_pattern";
    sets[k++] = "Opt-In"; /* the 70th: past the indexed ones */
    sets[k++] = "skip_link_pattern";
    sets[k++] = "~"; /* one byte */
    sets[k] = NULL;
    rwf_t f;
    CHECK_INT(rwf_init(&f, NULL, sets), 0);
    static const char msg[] = "From: a@example.com\r\nMessage-ID: <skip@example.com>\r\n"
                              "Content-Type: text/html\r\n\r\n<html><body>"
                              "<a href=\"https://clinic.example/NOTRACK/1\">a</a>"
                              "<a href=\"https://clinic.example/opt-in?id=2\">b</a>"
                              "<a href=\"https://clinic.example/~box\">c</a>"
                              "<a href=\"https://clinic.example/zz6\">d</a>"
                              "<a href=\"https://clinic.example/kept/zz67\">e</a>"
                              "</body></html>\r\n";
    buf_t out = BUF_INIT;
    rewrite_result_t res;
    slice_t one = SLICE_LIT("b@example.org");
    rewrite_env_t env = {.rcpt = &one, .nrcpt = 1};
    CHECK_INT(rewrite_message(f.rw, slice_make(msg, strlen(msg)), &env, &out, &res), 0);
    CHECK(res.changed);
    /* NOTRACK, opt-in, ~box and zz67 are skipped; only /zz6 is wrapped */
    CHECK_INT(res.links, 1);
    CHECK_INT(res.links_skipped, 4);
    CHECK(strstr(buf_cstr(&out), "href=\"https://clinic.example/NOTRACK/1\"") != NULL);
    CHECK(strstr(buf_cstr(&out), "href=\"https://clinic.example/opt-in?id=2\"") != NULL);
    CHECK(strstr(buf_cstr(&out), "https://clinic.example/zz6\"") == NULL);
    buf_clear(&out);
    rwf_clear(&f);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    test_golden();
    test_envelope();
    test_unlisted_recipients();
    test_account_settings();
    test_fail_open();
    test_bad_options();
    test_skip_patterns();
    return test_done();
}
