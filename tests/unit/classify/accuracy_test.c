/*
 * Accuracy over the labelled User-Agent corpus ($TO_SHARED/data/ua-dev.tsv): every row
 * is classified as a click from an ordinary address an hour after sending. Targets: at
 * most 0.5% of human rows called automated, at least 99% of automated rows caught.
 * Prints the confusion matrix per agent family.
 */
#include "classify/classify.h"
#include "test.h"

typedef struct {
    char name[32];
    int label; /* 0 human, 1 automated */
    long called[2];
} fam_t;

static fam_t fams[64];
static size_t nfams;

static fam_t *family(const char *agent, int label)
{
    char name[32];
    const char *colon = strchr(agent, ':');
    if (colon)
        snprintf(name, sizeof(name), "%.*s", (int)(colon - agent), agent);
    else
        snprintf(name, sizeof(name), "%s", label ? "other" : "browser");
    if (!strcmp(agent, "google_image_proxy")) snprintf(name, sizeof(name), "image_proxy");
    for (size_t i = 0; i < nfams; i++)
        if (fams[i].label == label && !strcmp(fams[i].name, name)) return &fams[i];
    if (nfams == TO_ARRAY_LEN(fams)) return &fams[nfams - 1];
    fam_t *f = &fams[nfams++];
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->label = label;
    return f;
}

int main(void)
{
    const char *shared = getenv("TO_SHARED");
    CHECK(shared != NULL);
    if (!shared) return test_done();
    char path[4096];
    snprintf(path, sizeof(path), "%s/data/ua-dev.tsv", shared);
    buf_t data = BUF_INIT;
    int rc = buf_read_file(&data, path, 64u << 20);
    CHECK_INT(rc, 0);
    classify_rules_t *r = NULL;
    char err[512];
    CHECK_INT(classify_rules_load(test_src_path("data/rules"), &r, err, sizeof(err)), 0);
    if (rc || !r) {
        fprintf(stderr, "%s: %s / %s\n", path, err_str(rc), err);
        buf_clear(&data);
        classify_rules_free(r);
        return test_done();
    }
    long total[2] = {0}, wrong[2] = {0};
    char *save = NULL;
    bool header = true;
    FILE *miss = getenv("TO_ACCURACY_DUMP") ? fopen(getenv("TO_ACCURACY_DUMP"), "w") : NULL;
    for (char *line = strtok_r(data.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (header) {
            header = false;
            continue;
        }
        char *label = line, *agent = strchr(label, '\t');
        if (!agent) continue;
        *agent++ = 0;
        char *ua = strchr(agent, '\t');
        if (!ua) continue;
        *ua++ = 0;
        char *end = strchr(ua, '\t');
        if (end) *end = 0;
        int lab = !strcmp(label, "automated");
        classify_input_t in = {0};
        in.route = 'c';
        in.ip = SLICE_LIT("198.51.100.7");
        in.ua = slice_cstr(ua);
        in.seconds_since_send = 3600;
        classify_result_t out;
        classify_event(r, &in, &out);
        fam_t *f = family(agent, lab);
        f->called[out.verdict]++;
        total[lab]++;
        if (out.verdict != lab) {
            wrong[lab]++;
            if (miss) fprintf(miss, "%s\t%s\t%s\t%s\n", label, agent, out.agent, ua);
        }
    }
    if (miss) fclose(miss);
    printf("%-12s %-9s %8s %10s %10s\n", "family", "label", "rows", "->human", "->automated");
    for (size_t i = 0; i < nfams; i++)
        printf("%-12s %-9s %8ld %10ld %10ld\n", fams[i].name, fams[i].label ? "automated" : "human",
               fams[i].called[0] + fams[i].called[1], fams[i].called[0], fams[i].called[1]);
    double fp = total[0] ? 100.0 * (double)wrong[0] / (double)total[0] : 100;
    double caught = total[1] ? 100.0 * (double)(total[1] - wrong[1]) / (double)total[1] : 0;
    printf("human rows called automated: %ld of %ld (%.3f%%, target <= 0.5%%)\n", wrong[0],
           total[0], fp);
    printf("automated rows caught: %ld of %ld (%.3f%%, target >= 99%%)\n", total[1] - wrong[1],
           total[1], caught);
    CHECK(total[0] > 10000 && total[1] > 5000);
    /* The targets: at most 0.5% of human rows called automated, at least 99% of
     * automated rows caught. */
    CHECK(fp <= 0.5);
    CHECK(caught >= 99.0);
    classify_rules_free(r);
    buf_clear(&data);
    return test_done();
}
