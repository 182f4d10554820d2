/* Refreshing range files from their feeds (classify.h, classify_rules_update). */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sys/file.h>
#include <unistd.h>

#include "classify/classify_int.h"

#define FEED_MAX (64u << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct {
    buf_t *b;
    bool too_big;
} sink_t;

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    sink_t *s = ctx;
    size_t len = size * n;
    if (s->b->len + len > FEED_MAX) {
        s->too_big = true;
        return 0;
    }
    buf_append(s->b, p, len);
    return len;
}

static int fetch(const char *url, buf_t *out, char *err, size_t errlen)
{
    pthread_once(&curl_once, curl_init);
    buf_reset(out);
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, errlen, "cannot start a transfer");
        return TO_EIO;
    }
    sink_t s = {out, false};
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "file,http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "trueopen-rules-update/1");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (s.too_big) {
        snprintf(err, errlen, "%s: larger than %u MiB", url, FEED_MAX >> 20);
        return TO_ETOOBIG;
    }
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(rc));
        return TO_EIO;
    }
    return 0;
}

typedef struct {
    char file[256], set[256], fmt[64], url[1024], feed[128];
} feed_t;

/* ---- vendor feed formats ---------------------------------------------------------------
 *
 * A rules.conf range line may name the vendor feed's format after the URL when the file
 * on disk is derived from it (one CIDR per line): FEED is KIND[:ARG][/v4|/v6], KIND one
 * of cidr (lines or CSV rows, first column), google_json, aws_json, m365_json (the
 * Microsoft 365 endpoints list: the "ips" of the Exchange service area) and
 * azure_tags_json:TAG (Azure service tags: the addressPrefixes of TAG); /v4 or /v6
 * keeps one family. The feed is parsed, checked and written out as CIDR lines. */

typedef struct {
    buf_t *out;
    int family; /* 0 both, 4, 6 */
    size_t count;
    const char *where;
    char *err;
    size_t errlen;
} emit_t;

static int emit(emit_t *e, slice_t text)
{
    bool v6;
    classify__u128 lo, hi;
    unsigned plen;
    text = slice_trim(text);
    if (!classify__cidr_parse(text, &v6, &lo, &hi, &plen)) {
        snprintf(e->err, e->errlen, "%s: entry %zu: not an address range", e->where, e->count + 1);
        return TO_EPARSE;
    }
    if (v6 ? plen < 16 : plen < 8) {
        snprintf(e->err, e->errlen, "%s: entry %zu: implausibly wide range /%u", e->where,
                 e->count + 1, plen);
        return TO_EPARSE;
    }
    if ((e->family == 4 && v6) || (e->family == 6 && !v6)) return 0;
    buf_append_slice(e->out, text);
    buf_putc(e->out, '\n');
    e->count++;
    return 0;
}

static int emit_json_str(emit_t *e, json_t *v)
{
    if (!json_is_string(v)) {
        snprintf(e->err, e->errlen, "%s: a prefix is not a string", e->where);
        return TO_EPARSE;
    }
    return emit(e, slice_make(json_string_value(v), json_string_length(v)));
}

int classify__parse_feed(const char *spec, const char *data, size_t len, buf_t *out, size_t *count,
                         const char *where, char *err, size_t errlen)
{
    char kind[128];
    snprintf(kind, sizeof(kind), "%s", spec);
    emit_t e = {out, 0, 0, where, err, errlen};
    char *slash = strrchr(kind, '/');
    if (slash && (!strcmp(slash, "/v4") || !strcmp(slash, "/v6"))) {
        e.family = slash[2] - '0';
        *slash = 0;
    }
    char *arg = strchr(kind, ':');
    if (arg) *arg++ = 0;
    int rc = 0;
    if (!strcmp(kind, "cidr")) {
        const char *p = data, *end = data + len;
        while (!rc && p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            slice_t line = slice_trim(slice_make(p, (size_t)((nl ? nl : end) - p)));
            p = nl ? nl + 1 : end;
            if (!line.len || line.p[0] == '#') continue;
            const char *comma = memchr(line.p, ',', line.len);
            if (comma) line.len = (size_t)(comma - line.p);
            rc = emit(&e, line);
        }
    } else {
        json_error_t je;
        json_t *root = json_loadb(data, len, 0, &je);
        if (!root) {
            snprintf(err, errlen, "%s: not JSON (line %d: %s)", where, je.line, je.text);
            return TO_EPARSE;
        }
        if (!strcmp(kind, "google_json") || !strcmp(kind, "aws_json")) {
            static const char *const arrays[] = {"prefixes", "ipv6_prefixes"};
            static const char *const keys[] = {"ipv4Prefix", "ipv6Prefix", "ip_prefix",
                                               "ipv6_prefix"};
            for (size_t a = 0; !rc && a < 2; a++) {
                size_t i;
                json_t *it;
                json_array_foreach(json_object_get(root, arrays[a]), i, it)
                {
                    json_t *v = NULL;
                    for (size_t k = 0; k < 4 && !v; k++) v = json_object_get(it, keys[k]);
                    if ((rc = emit_json_str(&e, v))) break;
                }
            }
        } else if (!strcmp(kind, "m365_json")) {
            size_t i, j;
            json_t *set, *ip;
            if (!json_is_array(root)) rc = TO_EPARSE;
            json_array_foreach(root, i, set)
            {
                const char *area = json_string_value(json_object_get(set, "serviceArea"));
                if (!area || strcmp(area, "Exchange")) continue;
                json_array_foreach(json_object_get(set, "ips"), j, ip)
                {
                    if ((rc = emit_json_str(&e, ip))) break;
                }
                if (rc) break;
            }
        } else if (!strcmp(kind, "azure_tags_json") && arg) {
            size_t i, j;
            json_t *tag, *pfx;
            json_array_foreach(json_object_get(root, "values"), i, tag)
            {
                const char *name = json_string_value(json_object_get(tag, "name"));
                if (!name || strcmp(name, arg)) continue;
                json_t *props = json_object_get(tag, "properties");
                json_array_foreach(json_object_get(props, "addressPrefixes"), j, pfx)
                {
                    if ((rc = emit_json_str(&e, pfx))) break;
                }
                break;
            }
        } else {
            snprintf(err, errlen, "%s: unknown feed format '%s'", where, spec);
            rc = TO_EINVAL;
        }
        json_decref(root);
    }
    if (!rc && e.count == 0) {
        snprintf(err, errlen, "%s: no ranges in the feed (format %s)", where, spec);
        rc = TO_EPARSE;
    }
    *count = e.count;
    return rc;
}

/* The files named by rules.conf (every kind), and the range feeds among them. */
static int read_manifest(const char *dir, buf_t *m, char (**files)[256], size_t *nfiles,
                         feed_t **feeds, size_t *nfeeds, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/rules.conf", dir);
    if (buf_read_file(m, path, 1u << 20)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return TO_ENOTFOUND;
    }
    char *save = NULL;
    char *copy = xstrdup(buf_cstr(m));
    size_t cf = 0, cd = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char kw[16], a[256], b[64], c[256], d[1024], e[128];
        int n = sscanf(line, " %15s %255s %63s %255s %1023s %127s", kw, a, b, c, d, e);
        if (n < 1 || kw[0] == '#') continue;
        const char *file = NULL;
        if (!strcmp(kw, "range") && n >= 4) {
            if (*nfeeds == cd) {
                cd = cd ? cd * 2 : 16;
                *feeds = xrealloc(*feeds, xmul(cd, sizeof(**feeds)));
            }
            feed_t *f = &(*feeds)[(*nfeeds)++];
            memset(f, 0, sizeof(*f));
            snprintf(f->file, sizeof(f->file), "%s", c);
            snprintf(f->set, sizeof(f->set), "%s", a);
            snprintf(f->fmt, sizeof(f->fmt), "%s", b);
            if (n >= 5) snprintf(f->url, sizeof(f->url), "%s", d);
            if (n == 6) snprintf(f->feed, sizeof(f->feed), "%s", e);
            file = c;
        } else if ((!strcmp(kw, "ua") || !strcmp(kw, "operator")) && n >= 2) {
            file = a;
        } else {
            snprintf(err, errlen, "rules.conf: cannot read line '%.40s'", line);
            free(copy);
            return TO_EPARSE;
        }
        if (strchr(file, '/') || !strcmp(file, "..") || file[0] == '.') {
            snprintf(err, errlen, "rules.conf: bad file name '%.60s'", file);
            free(copy);
            return TO_EPARSE;
        }
        if (*nfiles == cf) {
            cf = cf ? cf * 2 : 16;
            *files = xrealloc(*files, xmul(cf, sizeof(**files)));
        }
        snprintf((*files)[(*nfiles)++], 256, "%s", file);
    }
    free(copy);
    return 0;
}

static int count_ranges(const feed_t *f, const char *data, size_t len, size_t *count, char *err,
                        size_t errlen)
{
    classify__ranges_t r4 = {0}, r6 = {0};
    int rc = classify__parse_ranges(f->fmt, data, len, 1, &r4, &r6, count, f->file, err, errlen);
    free(r4.v);
    free(r6.v);
    return rc;
}

static int copy_file(const char *from, const char *to)
{
    buf_t b = BUF_INIT;
    int rc = buf_read_file(&b, from, FEED_MAX);
    if (!rc) rc = write_file_atomic(to, b.p, b.len, 0644);
    buf_clear(&b);
    return rc;
}

static void remove_stage(const char *stage)
{
    DIR *d = opendir(stage);
    if (!d) return;
    struct dirent *e;
    char p[4096 + 2 + sizeof(e->d_name)];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof(p), "%s/%s", stage, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(stage);
}

int classify_rules_update(const char *dir, const char *from, bool force, buf_t *report, char *err,
                          size_t errlen)
{
    buf_t manifest = BUF_INIT, data = BUF_INIT, cur = BUF_INIT;
    char(*files)[256] = NULL;
    feed_t *feeds = NULL;
    size_t nfiles = 0, nfeeds = 0;
    bool *changed = NULL;
    char stage[4096] = "";
    int lockfd = -1;
    int rc = read_manifest(dir, &manifest, &files, &nfiles, &feeds, &nfeeds, err, errlen);
    if (rc) goto out;
    if (nfeeds == 0) {
        snprintf(err, errlen, "%s/rules.conf lists no range files", dir);
        rc = TO_EINVAL;
        goto out;
    }
    snprintf(stage, sizeof(stage), "%s/.update.XXXXXX", dir);
    if (!mkdtemp(stage)) {
        snprintf(err, errlen, "%s: cannot create a staging directory: %s", dir, strerror(errno));
        stage[0] = 0;
        rc = TO_EIO;
        goto out;
    }
    /* Room for a directory path, a slash and a file name (the manifest's limit). */
    char src[sizeof(stage) + 2 + sizeof(files[0])], dst[sizeof(stage) + 2 + sizeof(files[0])];
    /* Stage the current set, then the new feeds over it. */
    for (size_t i = 0; i <= nfiles; i++) {
        const char *name = i < nfiles ? files[i] : "rules.conf";
        snprintf(src, sizeof(src), "%s/%s", dir, name);
        snprintf(dst, sizeof(dst), "%s/%s", stage, name);
        if (link(src, dst) != 0 && copy_file(src, dst) != 0 && i == nfiles) {
            snprintf(err, errlen, "%s: cannot stage: %s", src, strerror(errno));
            rc = TO_EIO;
            goto out;
        }
    }
    changed = xcalloc(nfeeds + 1, sizeof(*changed));
    for (size_t i = 0; i < nfeeds; i++) {
        feed_t *f = &feeds[i];
        char url[2048];
        if (from) {
            snprintf(url, sizeof(url), "%s/%s", from, f->file);
        } else if (f->url[0]) {
            snprintf(url, sizeof(url), "%s", f->url);
        } else {
            snprintf(err, errlen, "%s: no feed URL in rules.conf (use --from)", f->file);
            rc = TO_EINVAL;
            goto out;
        }
        if (from && !strstr(from, "://")) {
            buf_reset(&data);
            if (buf_read_file(&data, url, FEED_MAX)) {
                snprintf(err, errlen, "%s: %s", url, strerror(errno));
                rc = TO_EIO;
                goto out;
            }
        } else if ((rc = fetch(url, &data, err, errlen))) {
            goto out;
        }
        size_t n = 0, old = 0;
        if (f->feed[0]) {
            /* The vendor's format first; a mirror of the derived file parses as the file. */
            buf_t conv = BUF_INIT;
            char ferr[512];
            buf_printf(&conv, "# %s: derived by trueopen rules update from a feed in format %s\n",
                       f->file, f->feed);
            int frc = classify__parse_feed(f->feed, data.p, data.len, &conv, &n, f->file, ferr,
                                           sizeof(ferr));
            if (frc == 0) {
                buf_reset(&data);
                buf_append(&data, conv.p, conv.len);
            }
            buf_clear(&conv);
            char derr[512];
            if (frc != 0 && count_ranges(f, data.p, data.len, &n, derr, sizeof(derr)) != 0) {
                snprintf(err, errlen, "as %s: %s; as %s: %s", f->feed, ferr, f->fmt, derr);
                rc = TO_EPARSE;
                goto out;
            }
        } else if ((rc = count_ranges(f, data.p, data.len, &n, err, errlen))) {
            goto out;
        }
        snprintf(src, sizeof(src), "%s/%s", dir, f->file);
        buf_reset(&cur);
        bool have_old = buf_read_file(&cur, src, FEED_MAX) == 0;
        char ignore[256];
        if (have_old && count_ranges(f, cur.p, cur.len, &old, ignore, sizeof(ignore))) old = 0;
        if (!force && old && n * 2 < old) {
            snprintf(err, errlen, "%s: %zu ranges where there were %zu: refusing (use --force)",
                     f->file, n, old);
            rc = TO_EPARSE;
            goto out;
        }
        changed[i] = !have_old || cur.len != data.len || memcmp(cur.p, data.p, data.len) != 0;
        if (changed[i]) {
            snprintf(dst, sizeof(dst), "%s/%s", stage, f->file);
            unlink(dst);
            if ((rc = write_file_atomic(dst, data.p, data.len, 0644))) {
                snprintf(err, errlen, "%s: cannot write: %s", dst, err_str(rc));
                goto out;
            }
        }
        buf_printf(report, "%-40s %-20s %zu ranges (was %zu)%s\n", f->file, f->set, n, old,
                   changed[i] ? "" : ", unchanged");
    }
    /* The staged set must load as a whole before anything is swapped in. */
    classify_rules_t *r = NULL;
    char lerr[512];
    if ((rc = classify_rules_load(stage, &r, lerr, sizeof(lerr)))) {
        snprintf(err, errlen, "the new rule set does not load: %s", lerr);
        rc = TO_EPARSE;
        goto out;
    }
    buf_printf(report, "rules_version: %08x\n", classify_rules_version(r));
    classify_rules_free(r);

    snprintf(src, sizeof(src), "%s/.lock", dir);
    lockfd = open(src, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockfd < 0 || flock(lockfd, LOCK_EX) != 0) {
        snprintf(err, errlen, "%s: cannot lock: %s", src, strerror(errno));
        rc = TO_EIO;
        goto out;
    }
    size_t nchanged = 0;
    for (size_t i = 0; i < nfeeds; i++) {
        if (!changed[i]) continue;
        snprintf(src, sizeof(src), "%s/%s", stage, feeds[i].file);
        snprintf(dst, sizeof(dst), "%s/%s", dir, feeds[i].file);
        if (rename(src, dst) != 0) {
            /* Cannot happen within one directory short of a full disk or a race with
             * another updater, which the lock excludes. */
            snprintf(err, errlen, "%s: rename failed: %s", dst, strerror(errno));
            rc = TO_EIO;
            goto out;
        }
        nchanged++;
    }
    buf_printf(report, "%zu file(s) updated\n", nchanged);
out:
    if (lockfd >= 0) close(lockfd);
    if (stage[0]) remove_stage(stage);
    free(changed);
    free(files);
    free(feeds);
    buf_clear(&manifest);
    buf_clear(&data);
    buf_clear(&cur);
    return rc;
}
