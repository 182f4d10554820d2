/* Internal to rewrite/ (and its tests): the MIME walker and the transfer codecs. */
#ifndef TO_REWRITE_INT_H
#define TO_REWRITE_INT_H

#include "rewrite/rewrite.h"

typedef enum {
    REWRITE__ENC_7BIT = 0,
    REWRITE__ENC_8BIT,
    REWRITE__ENC_BINARY,
    REWRITE__ENC_QP,
    REWRITE__ENC_BASE64,
    REWRITE__ENC_OTHER,
} rewrite__enc_t;

typedef enum { REWRITE__LEAF_HTML, REWRITE__LEAF_TEXT } rewrite__kind_t;

/* A leaf part the rewriter may change: its body is [body_start, body_end) of the input. */
typedef struct {
    rewrite__kind_t kind;
    rewrite__enc_t enc;
    bool charset_ok; /* ASCII-compatible (or absent) */
    bool crlf;       /* the body's line ending */
    size_t body_start, body_end;
} rewrite__leaf_t;

/* The top-level facts the rewriter needs. Slices point into the message. */
typedef struct {
    size_t header_len; /* header block including the blank line (== msg.len when none) */
    bool has_body;
    bool dkim_signed;
    slice_t message_id, list_unsubscribe, campaign;
    rewrite__leaf_t *leaves; /* in document order; owned (free) */
    size_t nleaves, capleaves;
    const char *why; /* static reason when the parse failed */
} rewrite__mime_t;

typedef struct {
    unsigned max_depth;
    size_t max_header_size;
    const char *campaign_header;
} rewrite__mime_limits_t;

/* Parses msg. 0, or TO_EPARSE with m->why set. Free m with rewrite__mime_clear. */
int rewrite__mime_parse(slice_t msg, const rewrite__mime_limits_t *lim, rewrite__mime_t *m);
void rewrite__mime_clear(rewrite__mime_t *m);
/* True for a charset whose bytes 0x00-0x7F mean ASCII (so markup can be found as bytes). */
bool rewrite__charset_ascii_compatible(slice_t charset);

/* Transfer codecs. decode: false when the input does not decode cleanly. */
bool rewrite__qp_decode(slice_t in, buf_t *out);
/* Where the logical lines (hard line breaks) of a QP body end, in the decoded text and in
 * the encoded input (offsets past the line break; the last line may have none), so a
 * rewrite re-encodes only the lines it changes. */
typedef struct {
    size_t *dec, *enc;
    size_t n, cap;
} rewrite__qp_map_t;
bool rewrite__qp_decode_map(slice_t in, buf_t *out, rewrite__qp_map_t *map);
void rewrite__qp_map_clear(rewrite__qp_map_t *map);
void rewrite__qp_encode(slice_t in, bool crlf, buf_t *out);
bool rewrite__b64_decode(slice_t in, buf_t *out, bool *out_trailing_eol);
void rewrite__b64_encode(slice_t in, bool crlf, bool trailing_eol, buf_t *out);

#endif
