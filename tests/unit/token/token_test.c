#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "token/token.h"

static token_fields_t fields(const char *url)
{
    token_fields_t f = {0};
    f.account = 7;
    f.campaign = 123456;
    f.message = 9876543210ULL;
    f.recipient = 42;
    f.link = url ? 3 : 0;
    f.sent_at = 1796292000;
    f.provider = TOKEN_PROVIDER_PROOFPOINT;
    f.url = url ? slice_cstr(url) : SLICE_NULL;
    return f;
}

int main(void)
{
    uint8_t key[32], key2[32];
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)i, key2[i] = (uint8_t)(255 - i);
    token_ring_t *r = token_ring_from_key(1, key), *other = token_ring_from_key(1, key2);
    util_rand_t rnd = rand_fixed(1);
    buf_t t = BUF_INIT, url = BUF_INIT;
    token_fields_t f = fields(NULL), g;
    CHECK_INT(token_seal(r, &f, &rnd, &t), 0);
    CHECK(t.len <= 72); /* a pixel token stays short, even with large ids */
    CHECK_INT(token_open(r, buf_slice(&t), &g, &url), 0);
    CHECK_INT(g.version, TOKEN_VERSION);
    CHECK_INT(g.key_id, 1);
    CHECK(g.account == 7 && g.campaign == 123456 && g.message == 9876543210ULL);
    CHECK(g.recipient == 42 && g.link == 0 && g.sent_at == 1796292000);
    CHECK_INT(g.provider, TOKEN_PROVIDER_PROOFPOINT);
    CHECK_INT(g.url.len, 0);
    /* Nothing readable: the URL and ids are not in the text. */
    buf_t c = BUF_INIT;
    f = fields("https://clinic.example/portal?patient=1234");
    CHECK_INT(token_seal(r, &f, &rnd, &c), 0);
    CHECK(strstr(buf_cstr(&c), "clinic") == NULL);
    CHECK_INT(token_open(r, buf_slice(&c), &g, &url), 0);
    CHECK(slice_eq_cstr(g.url, "https://clinic.example/portal?patient=1234"));
    CHECK_INT(g.link, 3);
    /* Forged, altered, truncated, extended, foreign: none opens. */
    CHECK_INT(token_open(other, buf_slice(&t), &g, &url), TO_EFORGED);
    for (size_t i = 0; i < t.len; i++) {
        buf_t a = BUF_INIT;
        buf_append(&a, t.p, t.len);
        a.p[i] = a.p[i] == 'A' ? 'B' : 'A';
        CHECK_INT(token_open(r, buf_slice(&a), &g, &url), TO_EFORGED);
        buf_clear(&a);
    }
    for (size_t n = 0; n < t.len; n++)
        CHECK_INT(token_open(r, slice_make(t.p, n), &g, &url), TO_EFORGED);
    buf_t ext = BUF_INIT;
    buf_printf(&ext, "%sAA", buf_cstr(&t));
    CHECK_INT(token_open(r, buf_slice(&ext), &g, &url), TO_EFORGED);
    CHECK_INT(token_open(r, SLICE_LIT("not-a-token!"), &g, &url), TO_EFORGED);
    /* A URL over the limit is refused at sealing. */
    char *longurl = xmalloc(TOKEN_URL_MAX + 2);
    memset(longurl, 'a', TOKEN_URL_MAX + 1);
    longurl[TOKEN_URL_MAX + 1] = 0;
    f = fields(longurl);
    buf_t lt = BUF_INIT;
    CHECK_INT(token_seal(r, &f, &rnd, &lt), TO_EINVAL);
    longurl[TOKEN_URL_MAX] = 0;
    f = fields(longurl);
    CHECK_INT(token_seal(r, &f, &rnd, &lt), 0);
    CHECK(lt.len <= TOKEN_TEXT_MAX);
    CHECK_INT(token_open(r, buf_slice(&lt), &g, &url), 0);
    CHECK_INT(g.url.len, TOKEN_URL_MAX);
    free(longurl);
    /* JSON */
    buf_t j = BUF_INIT;
    token_open(r, buf_slice(&c), &g, &url);
    token_fields_json(&g, &j);
    CHECK(strstr(buf_cstr(&j), "\"message\":9876543210") != NULL);
    CHECK(strstr(buf_cstr(&j), "\"provider_name\":\"proofpoint\"") != NULL);
    CHECK_STR(token_provider_name(TOKEN_PROVIDER_MICROSOFT365), "microsoft365");
    CHECK_INT(token_provider_code("gmail"), TOKEN_PROVIDER_GMAIL);
    CHECK_INT(token_provider_code("nope"), -1);

    /* Ring files: new keys, rotation, retirement, mode. */
    char path[] = "/tmp/trueopen-ring-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    char err[256];
    unsigned id;
    CHECK_INT(token_ring_add_key(path, &rnd, 100, &id, err, sizeof(err)), 0);
    CHECK_INT(id, 1);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    token_ring_t *fr;
    CHECK_INT(token_ring_load(path, &fr, err, sizeof(err)), 0);
    buf_t old = BUF_INIT;
    f = fields(NULL);
    CHECK_INT(token_seal(fr, &f, &rnd, &old), 0);
    token_ring_free(fr);
    CHECK_INT(token_ring_add_key(path, &rnd, 200, &id, err, sizeof(err)), 0);
    CHECK_INT(id, 2);
    CHECK_INT(token_ring_load(path, &fr, err, sizeof(err)), 0);
    CHECK_INT(token_ring_count(fr), 2);
    buf_t fresh = BUF_INIT;
    CHECK_INT(token_seal(fr, &f, &rnd, &fresh), 0);
    CHECK_INT(token_open(fr, buf_slice(&fresh), &g, &url), 0);
    CHECK_INT(g.key_id, 2); /* the newest key seals */
    CHECK_INT(token_open(fr, buf_slice(&old), &g, &url), 0);
    CHECK_INT(g.key_id, 1); /* an older active key still opens */
    token_ring_free(fr);
    CHECK_INT(token_ring_retire(path, 1, err, sizeof(err)), 0);
    CHECK_INT(token_ring_retire(path, 9, err, sizeof(err)), TO_ENOTFOUND);
    CHECK_INT(token_ring_load(path, &fr, err, sizeof(err)), 0);
    CHECK_INT(token_open(fr, buf_slice(&old), &g, &url), TO_EFORGED);
    CHECK_INT(token_open(fr, buf_slice(&fresh), &g, &url), 0);
    uint8_t d1[32], d2[32];
    CHECK(token_ring_derive(fr, "recipient-hash", d1));
    CHECK(token_ring_derive(fr, "other", d2));
    CHECK(memcmp(d1, d2, 32) != 0);
    token_ring_free(fr);
    chmod(path, 0644);
    CHECK_INT(token_ring_load(path, &fr, err, sizeof(err)), TO_EPERM);
    CHECK(strstr(err, "0600") != NULL);
    chmod(path, 0600);
    FILE *fp = fopen(path, "a");
    fputs("3 300 active not-base64!\n", fp);
    fclose(fp);
    CHECK_INT(token_ring_load(path, &fr, err, sizeof(err)), TO_EPARSE);
    CHECK(strstr(err, ":4:") != NULL);
    unlink(path);
    buf_clear(&t);
    buf_clear(&c);
    buf_clear(&url);
    buf_clear(&ext);
    buf_clear(&lt);
    buf_clear(&j);
    buf_clear(&old);
    buf_clear(&fresh);
    token_ring_free(r);
    token_ring_free(other);
    return test_done();
}
