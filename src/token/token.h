/*
 * token: sealing and opening tracking tokens, and the key ring.
 *
 * A token is an AEAD-sealed binary record (libsodium XChaCha20-Poly1305-IETF),
 * base64url without padding. A forged, altered, truncated or foreign token does
 * not open (TO_EFORGED), so a click token can only ever redirect to a URL that we
 * sealed, and no identifier or URL is readable in the mail.
 *
 * Wire layout (before base64url):
 *
 *   offset  size  meaning
 *   0       1     format version (TOKEN_VERSION = 1); authenticated (AD)
 *   1       2     key id, big endian; authenticated (AD)
 *   3       16    nonce material; the XChaCha20 nonce is these 16 bytes then 8 zero bytes
 *                 (random 128-bit nonces: a collision needs ~2^64 tokens under one key)
 *   19      n     ciphertext of the plaintext below
 *   19+n    16    Poly1305 tag
 *
 * Plaintext (n bytes), fields in this order:
 *
 *   size     meaning
 *   varint   account id
 *   varint   campaign id
 *   varint   message id
 *   varint   recipient id (0: the message had several envelope recipients)
 *   varint   link index (0: the open pixel; 1..: links in document order;
 *            TOKEN_LINK_HONEYPOT: the hidden honeypot link)
 *   varint   sent-at, UNIX seconds
 *   1        mailbox provider code (token_provider_t; 0 = unknown)
 *   rest     destination URL for click tokens (empty otherwise), at most TOKEN_URL_MAX
 *
 * A pixel token is about 60 characters. Ownership: token_seal appends to a buffer
 * the caller owns; token_open points out->url into a buffer the caller owns.
 * A ring is read-only after loading and safe to share between threads.
 */
#ifndef TO_TOKEN_H
#define TO_TOKEN_H

#include "util/util.h"

#define TOKEN_VERSION       1
#define TOKEN_URL_MAX       4096
#define TOKEN_HEADER_LEN    19
#define TOKEN_TAG_LEN       16
#define TOKEN_LINK_HONEYPOT 0xffffu
/* Longest token text token_open accepts (a click token with the longest URL). */
#define TOKEN_TEXT_MAX 5600

/* The one-byte mailbox provider code carried by tokens and stored with messages. */
#define TOKEN_PROVIDER_MAP(X)                                                                      \
    X(UNKNOWN, 0, "unknown")                                                                       \
    X(GMAIL, 1, "gmail")                                                                           \
    X(GOOGLE_WORKSPACE, 2, "google_workspace")                                                     \
    X(ICLOUD, 3, "icloud")                                                                         \
    X(MICROSOFT365, 4, "microsoft365")                                                             \
    X(OUTLOOK_COM, 5, "outlook_com")                                                               \
    X(YAHOO, 6, "yahoo")                                                                           \
    X(PROOFPOINT, 7, "proofpoint")                                                                 \
    X(MIMECAST, 8, "mimecast")                                                                     \
    X(BARRACUDA, 9, "barracuda")                                                                   \
    X(CISCO, 10, "cisco_ironport")                                                                 \
    X(OTHER, 11, "other")

typedef enum {
#define TOKEN_X(name, code, str) TOKEN_PROVIDER_##name = code,
    TOKEN_PROVIDER_MAP(TOKEN_X)
#undef TOKEN_X
        TOKEN_PROVIDER__COUNT
} token_provider_t;

/* "gmail", ...; "unknown" for codes out of range. */
const char *token_provider_name(unsigned code);
/* The code for a name, or -1. */
int token_provider_code(const char *name);

typedef struct {
    uint8_t version;
    uint16_t key_id;
    uint64_t account;
    uint64_t campaign;
    uint64_t message;
    uint64_t recipient;
    uint32_t link;
    int64_t sent_at;
    uint8_t provider;
    slice_t url; /* empty for the pixel and the honeypot */
} token_fields_t;

/* ---- key ring --------------------------------------------------------------------- */

/*
 * The ring file holds one key per line: `id created_unix active|retired base64url-key`,
 * `#` comments allowed. It must be mode 0600 or stricter (refused otherwise, since the
 * keys make tokens). New tokens use the newest active key; tokens under any active key
 * open; a retired key opens nothing.
 */
typedef struct token_ring token_ring_t;

/* Loads a ring; on error fills err (naming the file and line) and returns
 * TO_ENOTFOUND, TO_EPERM (mode too loose) or TO_EPARSE. */
int token_ring_load(const char *path, token_ring_t **out, char *err, size_t errlen);
void token_ring_free(token_ring_t *r);
/* Adds a fresh key (random from rnd) with the next id, creating the file (0600) if
 * needed; writes atomically. *out_id gets the new id. */
int token_ring_add_key(const char *path, util_rand_t *rnd, int64_t now_s, unsigned *out_id,
                       char *err, size_t errlen);
/* Marks key id retired. TO_ENOTFOUND when there is no such key. */
int token_ring_retire(const char *path, unsigned id, char *err, size_t errlen);
/* A ring held in memory (tests, fuzzing): one active key with the given id and bytes. */
token_ring_t *token_ring_from_key(unsigned id, const uint8_t key[32]);

typedef struct {
    unsigned id;
    int64_t created;
    bool retired;
} token_key_info_t;
size_t token_ring_count(const token_ring_t *r);
token_key_info_t token_ring_key(const token_ring_t *r, size_t i);

/* A 32-byte secret derived from the ring's newest key for a purpose (e.g. the keyed
 * hash of recipient addresses); stable while that key is the newest. Returns false
 * when the ring has no active key. */
bool token_ring_derive(const token_ring_t *r, const char *purpose, uint8_t out[32]);

/* ---- seal and open ---------------------------------------------------------------- */

/* Seals f (its version and key_id are ignored: the newest active key is used) and
 * appends the base64url text to out. TO_EINVAL if the URL is too long or the ring has
 * no active key. */
int token_seal(const token_ring_t *r, const token_fields_t *f, util_rand_t *rnd, buf_t *out);

/* Opens text. On success fills out (out->url points into urlbuf, which is reset).
 * TO_EFORGED for anything that does not authenticate under an active key. */
int token_open(const token_ring_t *r, slice_t text, token_fields_t *out, buf_t *urlbuf);

/* Appends the fields as one JSON object (version, key_id, account, campaign, message,
 * recipient, link, sent_at, provider, url). */
void token_fields_json(const token_fields_t *f, buf_t *out);

#endif
