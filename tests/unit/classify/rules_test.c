/* Loading rule directories: the shipped data, errors with file and line, operator
 * files, the version. */
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "classify/classify_int.h"
#include "test.h"

static char tmpdir[] = "/tmp/to_rules_test.XXXXXX";

static void put(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static int load(classify_rules_t **r, char *err)
{
    return classify_rules_load(tmpdir, r, err, 512);
}

static classify_result_t run(const classify_rules_t *r, char route, const char *ip, const char *ua)
{
    classify_input_t in = {0};
    in.route = route;
    in.ip = slice_cstr(ip);
    in.ua = slice_cstr(ua);
    in.seconds_since_send = 3600;
    classify_result_t out;
    classify_event(r, &in, &out);
    return out;
}

int main(void)
{
    char err[512] = "";
    classify_rules_t *r = NULL;

    /* The shipped rule data loads, with tens of thousands of ranges. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = classify_rules_load(test_src_path("data/rules"), &r, err, sizeof(err));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_INT(rc, 0);
    if (rc) fprintf(stderr, "load: %s\n", err);
    if (r) {
        buf_t d = BUF_INIT;
        classify_rules_describe(r, &d);
        printf("%sloaded in %.1f ms\n", buf_cstr(&d),
               (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        CHECK(strstr(buf_cstr(&d), "apple-relay-ipv6.txt") != NULL);
        buf_clear(&d);
        CHECK(r->v6.n > 10000);
        CHECK(r->npats > 20);
        CHECK(classify_rules_version(r) != 0);
        classify_rules_free(r);
    }

    CHECK(mkdtemp(tmpdir) != NULL);
    /* Missing manifest. */
    CHECK_INT(load(&r, err), TO_ENOTFOUND);
    CHECK(r == NULL);

    put("rules.conf", "# test\nrange aws cidr a.txt\nua u.rules\noperator op.rules\n");
    put("a.txt", "# comment\n203.0.113.0/24\n\n2001:db8::/32,US,,\n");
    put("u.rules", "acme_bot bot AcmeBot\nfirefox human Firefox/\n");
    put("op.rules", "");
    CHECK_INT(load(&r, err), 0);
    uint32_t v1 = r ? classify_rules_version(r) : 0;
    if (r) {
        classify_result_t o = run(r, 'c', "203.0.113.9", "Mozilla/5.0 (X11) Firefox/120.0");
        CHECK_INT(o.verdict, CLASSIFY_AUTOMATED);
        CHECK_STR(o.agent, "cloud");
        o = run(r, 'c', "2001:db8::5", "AcmeBot/1.0");
        CHECK_STR(o.agent, "acme_bot");
        o = run(r, 'c', "198.51.100.7", "Mozilla/5.0 (X11) Firefox/120.0");
        CHECK_INT(o.verdict, CLASSIFY_HUMAN);
        CHECK_STR(o.agent, "firefox");
        classify_rules_free(r);
    }

    /* Operator rules: ranges, patterns (which win over shipped ones), overrides. */
    put("op.rules", "range 198.51.100.0/24 acme_gateway automated\n"
                    "range 198.51.100.128/25 acme_office human\n"
                    "ua acme_scanner scanner Firefox/99\n"
                    "override acme_bot human\n");
    CHECK_INT(load(&r, err), 0);
    if (r) {
        CHECK(classify_rules_version(r) != v1);
        classify_result_t o = run(r, 'c', "198.51.100.7", "Mozilla/5.0 (X11) Firefox/120.0");
        CHECK_INT(o.verdict, CLASSIFY_AUTOMATED);
        CHECK_STR(o.agent, "acme_gateway");
        CHECK(o.reasons & CLASSIFY_BIT(CLASSIFY_R_IP_OPERATOR));
        o = run(r, 'c', "198.51.100.200", "curl/8.0");
        CHECK_INT(o.verdict, CLASSIFY_HUMAN); /* the longest operator prefix wins */
        CHECK_STR(o.agent, "acme_office");
        o = run(r, 'c', "192.0.2.1", "Mozilla/5.0 (X11) Firefox/99.0");
        CHECK_STR(o.agent, "acme_scanner");
        CHECK(o.reasons & CLASSIFY_BIT(CLASSIFY_R_UA_OPERATOR));
        o = run(r, 'c', "192.0.2.1", "AcmeBot/2");
        CHECK_STR(o.agent, "acme_bot");
        CHECK_INT(o.verdict, CLASSIFY_HUMAN);
        CHECK(o.reasons & CLASSIFY_BIT(CLASSIFY_R_OVERRIDE));
        classify_rules_free(r);
    }

    /* Errors name the file and line, and load nothing. */
    static const struct {
        const char *file, *text, *want;
    } bad[] = {
        {"op.rules", "range 10.0.0.0/8 x maybe\n", "op.rules:1:"},
        {"op.rules", "\n\nfrobnicate x\n", "op.rules:3: unknown directive"},
        {"op.rules", "ua x nosuchclass foo\n", "op.rules:1: unknown class"},
        {"op.rules", "ua Bad!Agent bot foo\n", "op.rules:1: bad agent"},
        {"op.rules", "override x\n", "op.rules:1:"},
        {"u.rules", "x bot (unclosed\n", "u.rules:1: bad pattern"},
        {"u.rules", "x bot\n", "u.rules:1: missing pattern"},
        {"a.txt", "203.0.113.0/24\nnot-an-address\n", "a.txt:2: not an address range"},
        {"a.txt", "0.0.0.0/0\n", "a.txt:1: implausibly wide"},
        {"a.txt", "# nothing\n", "a.txt: no ranges"},
        {"rules.conf", "range nosuchset cidr a.txt\n", "rules.conf:1:"},
        {"rules.conf", "range aws cidr ../etc/passwd\n", "bad file name"},
        {"rules.conf", "range aws cidr missing.txt\n", "missing.txt"},
        {"rules.conf", "range aws weird a.txt\n", "unknown range format"},
        {"rules.conf", "include x\n", "rules.conf:1: unknown directive"},
    };
    for (size_t i = 0; i < TO_ARRAY_LEN(bad); i++) {
        put("rules.conf", "range aws cidr a.txt\nua u.rules\noperator op.rules\n");
        put("a.txt", "203.0.113.0/24\n");
        put("u.rules", "acme_bot bot AcmeBot\n");
        put("op.rules", "");
        put(bad[i].file, bad[i].text);
        err[0] = 0;
        r = NULL;
        rc = load(&r, err);
        CHECK(rc == TO_EPARSE || rc == TO_ENOTFOUND);
        CHECK(r == NULL);
        if (!strstr(err, bad[i].want)) {
            fprintf(stderr, "case %zu: error '%s' lacks '%s'\n", i, err, bad[i].want);
            CHECK(0);
        }
        classify_rules_free(r);
    }

    /* JSON feeds in both vendor shapes. */
    put("rules.conf", "range google google_json g.json\nrange aws aws_json aws.json\n");
    put("g.json", "{\"creationTime\":\"x\",\"prefixes\":[{\"ipv4Prefix\":\"8.8.8.0/24\"},"
                  "{\"ipv6Prefix\":\"2001:4860::/32\"}]}");
    put("aws.json", "{\"prefixes\":[{\"ip_prefix\":\"3.5.140.0/22\",\"service\":\"AMAZON\"}],"
                    "\"ipv6_prefixes\":[{\"ipv6_prefix\":\"2600:1f00::/24\"}]}");
    CHECK_INT(load(&r, err), 0);
    if (r) {
        CHECK(r->v4.n >= 4 && r->v6.n >= 4);
        classify_rules_free(r);
    }
    put("aws.json", "{\"prefixes\":[{\"region\":\"x\"}]}");
    CHECK_INT(load(&r, err), TO_EPARSE);
    CHECK(strstr(err, "aws.json: prefixes[0] has no prefix") != NULL);
    put("aws.json", "{\"prefixes\":[");
    CHECK_INT(load(&r, err), TO_EPARSE);
    CHECK(strstr(err, "aws.json:1: not JSON") != NULL);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    CHECK_INT(system(cmd), 0);
    return test_done();
}
