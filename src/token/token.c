#include "token/token.h"

#include <sodium.h>
#include <string.h>

#include "token/ring.h"

static const char *const provider_names[] = {
#define TOKEN_X(name, code, str) [code] = str,
    TOKEN_PROVIDER_MAP(TOKEN_X)
#undef TOKEN_X
};

const char *token_provider_name(unsigned code)
{
    return code < TOKEN_PROVIDER__COUNT ? provider_names[code] : "unknown";
}

int token_provider_code(const char *name)
{
    for (unsigned i = 0; i < TOKEN_PROVIDER__COUNT; i++)
        if (!strcmp(provider_names[i], name)) return (int)i;
    return -1;
}

/* Largest plaintext: 6 varints of 10 bytes, the provider byte and the URL. */
#define PLAIN_MAX (6 * 10 + 1 + TOKEN_URL_MAX)
#define RAW_MAX   (TOKEN_HEADER_LEN + PLAIN_MAX + TOKEN_TAG_LEN)

int token_seal(const token_ring_t *r, const token_fields_t *f, util_rand_t *rnd, buf_t *out)
{
    const token__key_t *k = token__newest(r);
    if (!k || f->url.len > TOKEN_URL_MAX) return TO_EINVAL;
    uint8_t raw[RAW_MAX];
    uint8_t plain[PLAIN_MAX];
    size_t n = 0;
    n += varint_put(plain + n, f->account);
    n += varint_put(plain + n, f->campaign);
    n += varint_put(plain + n, f->message);
    n += varint_put(plain + n, f->recipient);
    n += varint_put(plain + n, f->link);
    n += varint_put(plain + n, f->sent_at < 0 ? 0 : (uint64_t)f->sent_at);
    plain[n++] = f->provider;
    if (f->url.len) memcpy(plain + n, f->url.p, f->url.len);
    n += f->url.len;

    raw[0] = TOKEN_VERSION;
    raw[1] = (uint8_t)(k->id >> 8);
    raw[2] = (uint8_t)k->id;
    rand_fill(rnd, raw + 3, 16);
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = {0};
    memcpy(nonce, raw + 3, 16);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(raw + TOKEN_HEADER_LEN, &clen, plain, n, raw, 3,
                                               NULL, nonce, k->key);
    sodium_memzero(plain, n);
    b64url_encode(out, raw, TOKEN_HEADER_LEN + (size_t)clen);
    return TO_OK;
}

int token_open(const token_ring_t *r, slice_t text, token_fields_t *out, buf_t *urlbuf)
{
    if (text.len > TOKEN_TEXT_MAX) return TO_EFORGED;
    uint8_t raw[TOKEN_TEXT_MAX / 4 * 3 + 3];
    size_t rawlen;
    if (!b64url_decode(text, raw, &rawlen)) return TO_EFORGED;
    if (rawlen < TOKEN_HEADER_LEN + TOKEN_TAG_LEN + 7 || raw[0] != TOKEN_VERSION) return TO_EFORGED;
    unsigned id = (unsigned)raw[1] << 8 | raw[2];
    const token__key_t *k = token__find(r, id);
    if (!k) return TO_EFORGED;
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = {0};
    memcpy(nonce, raw + 3, 16);
    uint8_t plain[RAW_MAX];
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, raw + TOKEN_HEADER_LEN,
                                                   rawlen - TOKEN_HEADER_LEN, raw, 3, nonce,
                                                   k->key) != 0)
        return TO_EFORGED;
    /* Authentic, so only our own encoder wrote it; still parse defensively. */
    uint64_t v[6];
    size_t off = 0;
    for (int i = 0; i < 6; i++) {
        size_t used = varint_get(plain + off, (size_t)plen - off, &v[i]);
        if (!used) return TO_EFORGED;
        off += used;
    }
    if (off >= plen || v[4] > UINT32_MAX || v[5] > INT64_MAX) return TO_EFORGED;
    memset(out, 0, sizeof(*out));
    out->version = raw[0];
    out->key_id = (uint16_t)id;
    out->account = v[0];
    out->campaign = v[1];
    out->message = v[2];
    out->recipient = v[3];
    out->link = (uint32_t)v[4];
    out->sent_at = (int64_t)v[5];
    out->provider = plain[off++];
    buf_reset(urlbuf);
    buf_append(urlbuf, plain + off, (size_t)plen - off);
    out->url = buf_slice(urlbuf);
    return TO_OK;
}

void token_fields_json(const token_fields_t *f, buf_t *out)
{
    buf_printf(out,
               "{\"version\":%u,\"key_id\":%u,\"account\":%llu,\"campaign\":%llu,"
               "\"message\":%llu,\"recipient\":%llu,\"link\":%u,\"sent_at\":%lld,"
               "\"provider\":%u,\"provider_name\":",
               f->version, f->key_id, (unsigned long long)f->account,
               (unsigned long long)f->campaign, (unsigned long long)f->message,
               (unsigned long long)f->recipient, f->link, (long long)f->sent_at, f->provider);
    json_cstr(out, token_provider_name(f->provider));
    buf_puts(out, ",\"url\":");
    if (f->url.len)
        json_str(out, f->url);
    else
        buf_puts(out, "null");
    buf_putc(out, '}');
}
