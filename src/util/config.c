#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char *s;
    int64_t i;
    bool b;
    char **list;
    size_t nlist;
    bool set;
} cfg_val_t;

struct config {
    const cfg_def_t **defs;
    cfg_val_t *vals;
    size_t n;
};

const cfg_def_t util_cfg[] = {
    {"log_level", CFG_STR, "info", 0, 0, CFG_RELOADABLE, "lowest level logged: info, warn, error"},
    CFG_END,
};

bool parse_duration_ms(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0) return false;
    double mul = 1;
    if (!strcmp(end, "") || !strcmp(end, "ms"))
        mul = 1;
    else if (!strcmp(end, "s"))
        mul = 1000;
    else if (!strcmp(end, "m"))
        mul = 60000;
    else if (!strcmp(end, "h"))
        mul = 3600000;
    else if (!strcmp(end, "d"))
        mul = 86400000;
    else
        return false;
    if (v * mul > 9e15) return false;
    *out = (int64_t)(v * mul);
    return true;
}

bool parse_size(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || v < 0) return false;
    int64_t mul = 1;
    if (!strcmp(end, ""))
        mul = 1;
    else if (!strcasecmp(end, "k"))
        mul = 1024;
    else if (!strcasecmp(end, "m"))
        mul = 1024 * 1024;
    else if (!strcasecmp(end, "g"))
        mul = 1024 * 1024 * 1024;
    else
        return false;
    if (v > INT64_MAX / mul) return false;
    *out = v * mul;
    return true;
}

static long find(const config_t *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->defs[i]->name, name)) return (long)i;
    return -1;
}

static void val_free(cfg_val_t *v)
{
    free(v->s);
    for (size_t i = 0; i < v->nlist; i++) free(v->list[i]);
    free(v->list);
    memset(v, 0, sizeof(*v));
}

/* Parses text into v for def d; on error writes a message to err. */
static bool parse_value(const cfg_def_t *d, const char *text, cfg_val_t *v, char *err,
                        size_t errlen)
{
    switch (d->type) {
    case CFG_STR:
        free(v->s);
        v->s = xstrdup(text);
        return true;
    case CFG_LIST:
        v->list = xrealloc(v->list, xmul(v->nlist + 1, sizeof(char *)));
        v->list[v->nlist++] = xstrdup(text);
        return true;
    case CFG_BOOL:
        if (!strcmp(text, "on") || !strcmp(text, "yes") || !strcmp(text, "true") ||
            !strcmp(text, "1")) {
            v->b = true;
            return true;
        }
        if (!strcmp(text, "off") || !strcmp(text, "no") || !strcmp(text, "false") ||
            !strcmp(text, "0")) {
            v->b = false;
            return true;
        }
        snprintf(err, errlen, "%s: expected on or off", d->name);
        return false;
    case CFG_INT:
    case CFG_SIZE:
    case CFG_MS: {
        int64_t x;
        bool ok;
        if (d->type == CFG_MS) {
            ok = parse_duration_ms(text, &x);
        } else if (d->type == CFG_SIZE) {
            ok = parse_size(text, &x);
        } else {
            ok = slice_to_i64(slice_cstr(text), &x);
        }
        if (!ok) {
            snprintf(err, errlen, "%s: '%.64s' is not a valid %s", d->name, text,
                     d->type == CFG_MS     ? "duration"
                     : d->type == CFG_SIZE ? "size"
                                           : "integer");
            return false;
        }
        if ((d->min || d->max) && (x < d->min || x > d->max)) {
            snprintf(err, errlen, "%s: %lld is out of range [%lld, %lld]", d->name, (long long)x,
                     (long long)d->min, (long long)d->max);
            return false;
        }
        v->i = x;
        return true;
    }
    }
    return false;
}

config_t *config_new(const cfg_def_t *const *tables)
{
    config_t *c = xcalloc(1, sizeof(*c));
    size_t n = 0;
    for (size_t t = 0; tables[t]; t++)
        for (const cfg_def_t *d = tables[t]; d->name; d++) n++;
    c->defs = xcalloc(n ? n : 1, sizeof(*c->defs));
    c->vals = xcalloc(n ? n : 1, sizeof(*c->vals));
    for (size_t t = 0; tables[t]; t++)
        for (const cfg_def_t *d = tables[t]; d->name; d++) {
            if (find(c, d->name) >= 0) continue; /* shared settings appear once */
            c->defs[c->n] = d;
            if (d->def && d->type != CFG_LIST) {
                char err[128];
                if (!parse_value(d, d->def, &c->vals[c->n], err, sizeof(err)))
                    log_panic("bad default for %s: %s", d->name, err);
            }
            c->n++;
        }
    return c;
}

void config_free(config_t *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) val_free(&c->vals[i]);
    free(c->vals);
    free(c->defs);
    free(c);
}

int config_set(config_t *c, const char *name, const char *value, char *err, size_t errlen)
{
    long i = find(c, name);
    if (i < 0) {
        snprintf(err, errlen, "unknown setting '%.64s'", name);
        return TO_EINVAL;
    }
    cfg_val_t *v = &c->vals[i];
    /* A flag replaces a list from the file rather than adding to it. */
    if (!parse_value(c->defs[i], value, v, err, errlen)) return TO_EINVAL;
    v->set = true;
    return TO_OK;
}

int config_load_file(config_t *c, const char *path, char *err, size_t errlen)
{
    buf_t b = BUF_INIT;
    int rc = buf_read_file(&b, path, 1 << 20);
    if (rc != TO_OK) {
        snprintf(err, errlen, "%s: cannot read: %s", path, err_str(rc));
        buf_clear(&b);
        return rc;
    }
    /* Parse into a copy so a file with any error changes nothing. */
    cfg_val_t *nv = xcalloc(c->n ? c->n : 1, sizeof(*nv));
    bool *seen_list = xcalloc(c->n ? c->n : 1, sizeof(bool));
    rc = TO_OK;
    buf_cstr(&b);
    char *line = b.p;
    int lineno = 0;
    char msg[200];
    while (line && *line) {
        lineno++;
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        slice_t l = slice_trim(slice_cstr(line));
        line = nl ? nl + 1 : NULL;
        if (l.len == 0 || l.p[0] == '#') continue;
        const char *eq = memchr(l.p, '=', l.len);
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'name = value'", path, lineno);
            rc = TO_EPARSE;
            break;
        }
        slice_t k = slice_trim(slice_make(l.p, (size_t)(eq - l.p)));
        slice_t v = slice_trim(slice_make(eq + 1, (size_t)(l.p + l.len - eq - 1)));
        if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"')
            v = slice_make(v.p + 1, v.len - 2);
        char key[96];
        snprintf(key, sizeof(key), "%.*s", (int)TO_MIN(k.len, 95), k.p);
        long i = find(c, key);
        if (i < 0 || (c->defs[i]->flags & CFG_FLAG_ONLY)) {
            snprintf(err, errlen, "%s:%d: unknown setting '%s'", path, lineno, key);
            rc = TO_EPARSE;
            break;
        }
        if (!nv[i].set) {
            /* Start from the current value so a partial file keeps the rest. */
            cfg_val_t *cur = &c->vals[i];
            nv[i].i = cur->i;
            nv[i].b = cur->b;
        }
        if (c->defs[i]->type != CFG_LIST && nv[i].set) {
            snprintf(err, errlen, "%s:%d: '%s' is set twice", path, lineno, key);
            rc = TO_EPARSE;
            break;
        }
        char *text = xstrndup(v.p, v.len);
        bool ok = parse_value(c->defs[i], text, &nv[i], msg, sizeof(msg));
        free(text);
        if (!ok) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
            rc = TO_EPARSE;
            break;
        }
        nv[i].set = true;
        seen_list[i] = true;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (rc == TO_OK && nv[i].set) {
            val_free(&c->vals[i]);
            c->vals[i] = nv[i];
        } else {
            val_free(&nv[i]);
        }
    }
    free(nv);
    free(seen_list);
    buf_clear(&b);
    return rc;
}

static void flag_to_name(const char *flag, char *out, size_t n)
{
    size_t i = 0;
    for (; flag[i] && flag[i] != '=' && i + 1 < n; i++) out[i] = flag[i] == '-' ? '_' : flag[i];
    out[i] = 0;
}

int config_parse_args(config_t *c, int argc, char **argv, const char **out_pos, int max_pos,
                      int *out_npos, char *err, size_t errlen)
{
    *out_npos = 0;
    /* The config file first, so flags override it. */
    for (int i = 0; i < argc; i++) {
        const char *path = NULL;
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            path = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            path = argv[i] + 9;
        if (path) {
            int rc = config_load_file(c, path, err, errlen);
            if (rc) return TO_EINVAL;
        }
    }
    /* A list given by flag replaces the file's list. */
    bool *flagged = xcalloc(c->n ? c->n : 1, sizeof(bool));
    int rc = TO_OK;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
            if (*out_npos >= max_pos) {
                snprintf(err, errlen, "unexpected argument '%.64s'", a);
                rc = TO_EINVAL;
                break;
            }
            out_pos[(*out_npos)++] = a;
            continue;
        }
        char name[96];
        flag_to_name(a + 2, name, sizeof(name));
        const char *eq = strchr(a, '=');
        if (!strcmp(name, "config")) {
            if (!eq) i++;
            continue;
        }
        long k = find(c, name);
        if (k < 0) {
            snprintf(err, errlen, "unknown flag '--%.64s'", a + 2);
            rc = TO_EINVAL;
            break;
        }
        const char *val;
        if (eq) {
            val = eq + 1;
        } else if (c->defs[k]->type == CFG_BOOL &&
                   (i + 1 >= argc || (strcmp(argv[i + 1], "on") && strcmp(argv[i + 1], "off")))) {
            val = "on";
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            snprintf(err, errlen, "flag '--%.64s' needs a value", a + 2);
            rc = TO_EINVAL;
            break;
        }
        if (c->defs[k]->type == CFG_LIST && !flagged[k]) {
            val_free(&c->vals[k]);
            flagged[k] = true;
        }
        char msg[200];
        if (config_set(c, name, val, msg, sizeof(msg)) != 0) {
            snprintf(err, errlen, "--%s", msg);
            for (char *p = err + 2; *p && *p != ':'; p++)
                if (*p == '_') *p = '-';
            rc = TO_EINVAL;
            break;
        }
    }
    free(flagged);
    return rc;
}

int config_check_required(const config_t *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->n; i++) {
        const cfg_def_t *d = c->defs[i];
        if ((d->flags & CFG_REQUIRED) && !c->vals[i].set && !d->def) {
            char flag[96];
            snprintf(flag, sizeof(flag), "%s", d->name);
            for (char *p = flag; *p; p++)
                if (*p == '_') *p = '-';
            snprintf(err, errlen, "missing --%s (or '%s' in the config file)", flag, d->name);
            return TO_EINVAL;
        }
    }
    return TO_OK;
}

static const cfg_val_t *get(const config_t *c, const char *name, cfg_type_t t1, cfg_type_t t2,
                            cfg_type_t t3)
{
    long i = find(c, name);
    if (i < 0) log_panic("config: no setting '%s'", name);
    cfg_type_t t = c->defs[i]->type;
    if (t != t1 && t != t2 && t != t3) log_panic("config: '%s' read with the wrong type", name);
    return &c->vals[i];
}

const char *config_str(const config_t *c, const char *name)
{
    return get(c, name, CFG_STR, CFG_STR, CFG_STR)->s;
}

int64_t config_int(const config_t *c, const char *name)
{
    return get(c, name, CFG_INT, CFG_SIZE, CFG_MS)->i;
}

bool config_bool(const config_t *c, const char *name)
{
    return get(c, name, CFG_BOOL, CFG_BOOL, CFG_BOOL)->b;
}

size_t config_list_len(const config_t *c, const char *name)
{
    return get(c, name, CFG_LIST, CFG_LIST, CFG_LIST)->nlist;
}

const char *config_list_at(const config_t *c, const char *name, size_t i)
{
    const cfg_val_t *v = get(c, name, CFG_LIST, CFG_LIST, CFG_LIST);
    return i < v->nlist ? v->list[i] : NULL;
}

bool config_is_set(const config_t *c, const char *name)
{
    long i = find(c, name);
    return i >= 0 && c->vals[i].set;
}

static void value_text(const cfg_def_t *d, const cfg_val_t *v, buf_t *out)
{
    switch (d->type) {
    case CFG_STR: buf_puts(out, v->s ? v->s : ""); break;
    case CFG_BOOL: buf_puts(out, v->b ? "on" : "off"); break;
    case CFG_INT: buf_printf(out, "%lld", (long long)v->i); break;
    case CFG_SIZE: buf_printf(out, "%lld", (long long)v->i); break;
    case CFG_MS: buf_printf(out, "%lldms", (long long)v->i); break;
    case CFG_LIST: break;
    }
}

void config_dump(const config_t *c, buf_t *out, bool with_docs)
{
    for (size_t i = 0; i < c->n; i++) {
        const cfg_def_t *d = c->defs[i];
        const cfg_val_t *v = &c->vals[i];
        if (d->flags & CFG_FLAG_ONLY) continue;
        if (with_docs) buf_printf(out, "# %s\n", d->doc);
        if (d->type == CFG_LIST) {
            if (v->nlist == 0) buf_printf(out, "# %s =\n", d->name);
            for (size_t k = 0; k < v->nlist; k++)
                buf_printf(out, "%s = %s\n", d->name,
                           (d->flags & CFG_SECRET) ? "********" : v->list[k]);
            continue;
        }
        if (d->type == CFG_STR && !v->s) {
            buf_printf(out, "# %s =\n", d->name);
            continue;
        }
        buf_printf(out, "%s = ", d->name);
        if (d->flags & CFG_SECRET)
            buf_puts(out, "********");
        else
            value_text(d, v, out);
        buf_putc(out, '\n');
    }
}

void config_doc_markdown(const cfg_def_t *const *tables, buf_t *out)
{
    static const char *const type_names[] = {"string", "integer",  "on/off",
                                             "size",   "duration", "list"};
    buf_puts(out, "| setting | flag | type | default | doc |\n|---|---|---|---|---|\n");
    for (size_t t = 0; tables[t]; t++)
        for (const cfg_def_t *d = tables[t]; d->name; d++) {
            char flag[96];
            snprintf(flag, sizeof(flag), "%s", d->name);
            for (char *p = flag; *p; p++)
                if (*p == '_') *p = '-';
            buf_printf(out, "| %s | `--%s` | %s | %s | %s%s%s |\n",
                       (d->flags & CFG_FLAG_ONLY) ? "(flag only)" : d->name, flag,
                       type_names[d->type], d->def ? d->def : "", d->doc,
                       (d->flags & CFG_SECRET) ? " (secret)" : "",
                       (d->flags & CFG_RELOADABLE) ? " (reloadable)" : "");
        }
}

void util_apply_config(const config_t *c)
{
    const char *l = config_str(c, "log_level");
    if (!l) return;
    if (!strcmp(l, "warn"))
        log_set_level(LOG_WARN);
    else if (!strcmp(l, "error"))
        log_set_level(LOG_ERROR);
    else
        log_set_level(LOG_INFO);
}
