/* trueopen classify input lines: parse, classify, print. Property: whatever parses
 * yields an output line that is itself valid JSON with the contract's fields. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static classify_rules_t *rules;

static void at_exit(void)
{
    classify_rules_free(rules);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!rules) {
        char err[512];
        if (classify_rules_load(classify_default_rules_dir(), &rules, err, sizeof(err))) {
            fprintf(stderr, "%s\n", err);
            abort();
        }
        atexit(at_exit);
    }
    arena_t a;
    arena_init(&a, 4096);
    classify_json_event_t ev;
    char err[256] = "";
    if (classify_json_parse(slice_make((const char *)data, size), &a, &ev, err, sizeof(err)) == 0) {
        classify_result_t res;
        classify_event(rules, &ev.in, &res);
        buf_t out = BUF_INIT;
        classify_json_result(&out, &res, res.verdict, 0, classify_rules_version(rules));
        json_error_t je;
        json_t *o = json_loadb(out.p, out.len, 0, &je);
        if (!o || !json_is_string(json_object_get(o, "verdict")) ||
            !json_is_array(json_object_get(o, "reasons")))
            abort();
        json_decref(o);
        buf_clear(&out);
    } else if (!err[0]) {
        abort();
    }
    arena_clear(&a);
    return 0;
}
