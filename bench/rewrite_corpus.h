/*
 * The generated corpus of the rewrite benchmarks: marketing messages of 50-200 KB of
 * HTML with 20-100 links, multipart/alternative with a text part, the HTML part
 * quoted-printable (6 in 10), base64 (2 in 10) or 7bit (2 in 10), CRLF line ends.
 * One seed gives a byte-identical corpus in every program that uses it, so the figures
 * of bench/rewrite.sh and bench/mime.sh describe the same messages.
 *
 * Not thread-safe: one generator state per process. The caller owns the buffers of an
 * item and releases them with buf_clear().
 */
#ifndef TO_BENCH_REWRITE_CORPUS_H
#define TO_BENCH_REWRITE_CORPUS_H

#include <stdint.h>

#include "util/util.h"

typedef struct {
    buf_t msg;  /* the whole message */
    buf_t html; /* its HTML, decoded (CRLF line ends) */
    int kind;   /* 0 QP, 1 base64, 2 7bit */
} corpus_item_t;

/* Restarts the generator; the messages that follow depend only on seed and their order. */
void corpus_seed(uint64_t seed);

/* Appends message number idx (its Message-ID, recipient and boundary carry idx) to the
 * empty buffers of *it. */
void corpus_gen_message(corpus_item_t *it, int idx);

#endif
