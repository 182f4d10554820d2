#include "token/ring.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const token__key_t *token__newest(const token_ring_t *r)
{
    const token__key_t *best = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (!r->keys[i].retired && (!best || r->keys[i].id > best->id)) best = &r->keys[i];
    return best;
}

const token__key_t *token__find(const token_ring_t *r, unsigned id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->keys[i].id == id && !r->keys[i].retired) return &r->keys[i];
    return NULL;
}

void token_ring_free(token_ring_t *r)
{
    if (!r) return;
    if (r->keys) sodium_memzero(r->keys, r->n * sizeof(*r->keys));
    free(r->keys);
    free(r);
}

token_ring_t *token_ring_from_key(unsigned id, const uint8_t key[32])
{
    token_ring_t *r = xcalloc(1, sizeof(*r));
    r->keys = xcalloc(1, sizeof(*r->keys));
    r->n = 1;
    r->keys[0].id = id;
    memcpy(r->keys[0].key, key, 32);
    return r;
}

size_t token_ring_count(const token_ring_t *r)
{
    return r->n;
}

token_key_info_t token_ring_key(const token_ring_t *r, size_t i)
{
    return (token_key_info_t){r->keys[i].id, r->keys[i].created, r->keys[i].retired};
}

bool token_ring_derive(const token_ring_t *r, const char *purpose, uint8_t out[32])
{
    const token__key_t *k = token__newest(r);
    if (!k) return false;
    crypto_generichash(out, 32, (const unsigned char *)purpose, strlen(purpose), k->key, 32);
    return true;
}

/* Parses ring text; path only names errors. */
static int parse_ring(const char *path, char *text, token_ring_t **out, char *err, size_t errlen)
{
    token_ring_t *r = xcalloc(1, sizeof(*r));
    int lineno = 0;
    char *save = NULL;
    for (char *line = text; line; line = save) {
        lineno++;
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl) *nl = 0;
        slice_t l = slice_trim(slice_cstr(line));
        if (l.len == 0 || l.p[0] == '#') continue;
        unsigned id;
        long long created;
        char status[16], key[128];
        char extra;
        if (sscanf(line, "%u %lld %15s %127s %c", &id, &created, status, key, &extra) != 4 ||
            id == 0 || id > 0xffff || (strcmp(status, "active") && strcmp(status, "retired"))) {
            snprintf(err, errlen, "%s:%d: expected 'id created active|retired key'", path, lineno);
            token_ring_free(r);
            return TO_EPARSE;
        }
        uint8_t raw[128];
        size_t rawlen;
        if (!b64url_decode(slice_cstr(key), raw, &rawlen) || rawlen != 32) {
            snprintf(err, errlen, "%s:%d: the key is not 32 bytes of base64url", path, lineno);
            token_ring_free(r);
            return TO_EPARSE;
        }
        if (token__find(r, id) || (r->n && r->keys[r->n - 1].id == id)) {
            snprintf(err, errlen, "%s:%d: key id %u appears twice", path, lineno, id);
            token_ring_free(r);
            return TO_EPARSE;
        }
        r->keys = xrealloc(r->keys, xmul(r->n + 1, sizeof(*r->keys)));
        token__key_t *k = &r->keys[r->n++];
        k->id = id;
        k->created = created;
        k->retired = !strcmp(status, "retired");
        memcpy(k->key, raw, 32);
        sodium_memzero(raw, sizeof(raw));
    }
    *out = r;
    return TO_OK;
}

int token_ring_load(const char *path, token_ring_t **out, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? TO_ENOTFOUND : TO_EIO;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "%s: mode %03o is too open; the key ring must be 0600", path,
                 (unsigned)(st.st_mode & 0777));
        return TO_EPERM;
    }
    buf_t b = BUF_INIT;
    int rc = buf_read_file(&b, path, 1 << 20);
    if (rc != TO_OK) {
        snprintf(err, errlen, "%s: cannot read: %s", path, err_str(rc));
        buf_clear(&b);
        return rc;
    }
    char empty[1] = "";
    rc = parse_ring(path, b.p ? b.p : empty, out, err, errlen);
    sodium_memzero(b.p, b.cap);
    buf_clear(&b);
    return rc;
}

static void ring_text(const token_ring_t *r, buf_t *out)
{
    buf_puts(out, "# trueopen key ring: id created active|retired key (keep this file 0600)\n");
    for (size_t i = 0; i < r->n; i++) {
        const token__key_t *k = &r->keys[i];
        buf_printf(out, "%u %lld %s ", k->id, (long long)k->created,
                   k->retired ? "retired" : "active");
        b64url_encode(out, k->key, 32);
        buf_putc(out, '\n');
    }
}

static int save_ring(const char *path, const token_ring_t *r, char *err, size_t errlen)
{
    buf_t b = BUF_INIT;
    ring_text(r, &b);
    int rc = write_file_atomic(path, b.p, b.len, 0600);
    sodium_memzero(b.p, b.cap);
    buf_clear(&b);
    if (rc) snprintf(err, errlen, "%s: cannot write: %s", path, err_str(rc));
    return rc;
}

int token_ring_add_key(const char *path, util_rand_t *rnd, int64_t now_s, unsigned *out_id,
                       char *err, size_t errlen)
{
    token_ring_t *r = NULL;
    int rc = token_ring_load(path, &r, err, errlen);
    if (rc == TO_ENOTFOUND) {
        r = xcalloc(1, sizeof(*r));
    } else if (rc) {
        return rc;
    }
    unsigned max = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->keys[i].id > max) max = r->keys[i].id;
    if (max >= 0xffff) {
        snprintf(err, errlen, "%s: no key ids left", path);
        token_ring_free(r);
        return TO_EINVAL;
    }
    r->keys = xrealloc(r->keys, xmul(r->n + 1, sizeof(*r->keys)));
    token__key_t *k = &r->keys[r->n++];
    k->id = max + 1;
    k->created = now_s;
    k->retired = false;
    rand_fill(rnd, k->key, 32);
    *out_id = k->id;
    rc = save_ring(path, r, err, errlen);
    token_ring_free(r);
    return rc;
}

int token_ring_retire(const char *path, unsigned id, char *err, size_t errlen)
{
    token_ring_t *r = NULL;
    int rc = token_ring_load(path, &r, err, errlen);
    if (rc) return rc;
    bool found = false;
    for (size_t i = 0; i < r->n; i++)
        if (r->keys[i].id == id) {
            r->keys[i].retired = true;
            found = true;
        }
    if (!found) {
        snprintf(err, errlen, "%s: no key with id %u", path, id);
        token_ring_free(r);
        return TO_ENOTFOUND;
    }
    rc = save_ring(path, r, err, errlen);
    token_ring_free(r);
    return rc;
}
