/* eval_features.c: per image, the model's probabilities and pooled feature (see
 * eval_features.h). */
#include "tools/eval_features.h"

#include <stdlib.h>
#include <string.h>

#include "engine/score.h"
#include "engine/vision/preprocess.h"
#include "engine/vision/vit.h"
#include "tools/image_source.h"

/* The model input of one image; 0, or -1 with the reason in err. */
static int load_input(const mama_model *m, const char *path, float *input, char *err, size_t errlen) {
    float *img = NULL;
    int H = 0, W = 0;
    if (image_source_load(path, &img, &H, &W, NULL, NULL) != MAMA_OK) {
        snprintf(err, errlen, "%s", mama_last_error());
        return -1;
    }
    prep_config pc;
    prep_config_default(&pc);
    pc.size = m->pre.image_size;
    memcpy(pc.mean, m->pre.mean, sizeof pc.mean);
    memcpy(pc.std, m->pre.std, sizeof pc.std);
    mama_status rc = prep_image_eval(input, img, H, W, &pc, NULL);
    free(img);
    if (rc != MAMA_OK) {
        snprintf(err, errlen, "preprocessing: %s", mama_last_error());
        return -1;
    }
    return 0;
}

static int grow(eval_features *f, int *cap) {
    if (f->n < *cap) return 0;
    int nc = *cap ? *cap * 2 : 256;
    int *item = realloc(f->item, (size_t)nc * sizeof *item);
    if (item) f->item = item;
    float *pooled = realloc(f->pooled, (size_t)nc * f->C * sizeof *pooled);
    if (pooled) f->pooled = pooled;
    float *probs = realloc(f->probs, (size_t)nc * f->P * sizeof *probs);
    if (probs) f->probs = probs;
    if (!item || !pooled || !probs) return -1;
    *cap = nc;
    return 0;
}

int eval_features_compute(mama_model *m, const train_data *d, const int want[3], int max_images,
                          FILE *log, eval_features *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->C = m->vit->cfg.width;
    for (int t = 0; t < m->n_tasks; t++) out->task_offset[t + 1] = out->task_offset[t] + m->tasks[t].n_classes;
    out->P = out->task_offset[m->n_tasks];
    int S = m->pre.image_size, cap = 0, taken[3] = {0, 0, 0};
    float *input = malloc((size_t)3 * S * S * sizeof *input);
    if (!input) {
        snprintf(err, errlen, "out of memory for a %dx%d input", S, S);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < d->n && rc == 0; i++) {
        int s = d->split[i];
        if (!want[s] || (max_images > 0 && taken[s] >= max_images)) continue;
        char why[1024];
        if (load_input(m, d->items[i].path, input, why, sizeof why) != 0) {
            if (log) fprintf(log, "mama eval: skipped %s: %s\n", d->items[i].path, why);
            out->n_bad++;
            continue;
        }
        score_view_in v = {.pixels = input, .laterality = d->items[i].laterality, .id = d->items[i].path};
        score_result *r = NULL;
        if (score_study(m, &v, 1, &r) != MAMA_OK) {
            snprintf(err, errlen, "%s: %s", d->items[i].path, mama_last_error());
            rc = -1;
            break;
        }
        if (grow(out, &cap) != 0) {
            score_result_free(r);
            snprintf(err, errlen, "out of memory after %d images", out->n);
            rc = -1;
            break;
        }
        /* score_study ran the tower on this one view: its pooled feature is row 0 */
        memcpy(out->pooled + (size_t)out->n * out->C, vit_pooled(m->vit), (size_t)out->C * sizeof(float));
        memcpy(out->probs + (size_t)out->n * out->P, r->views[0].probs, (size_t)out->P * sizeof(float));
        score_result_free(r);
        out->item[out->n++] = i;
        taken[s]++;
        if (log && out->n % 100 == 0) fprintf(log, "mama eval: %d images\n", out->n);
    }
    free(input);
    if (rc) eval_features_free(out);
    return rc;
}

void eval_features_free(eval_features *f) {
    free(f->item), free(f->pooled), free(f->probs);
    memset(f, 0, sizeof *f);
}
