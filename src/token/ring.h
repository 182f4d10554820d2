/* Internal to token/: the key ring's in-memory form. */
#ifndef TO_TOKEN_RING_H
#define TO_TOKEN_RING_H

#include "token/token.h"

typedef struct {
    unsigned id;
    int64_t created;
    bool retired;
    uint8_t key[32];
} token__key_t;

struct token_ring {
    token__key_t *keys;
    size_t n;
};

/* The active key with the highest id, or NULL. */
const token__key_t *token__newest(const token_ring_t *r);
/* The active key with this id, or NULL. */
const token__key_t *token__find(const token_ring_t *r, unsigned id);

#endif
