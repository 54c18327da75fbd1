/* test_score.c: model files and study scoring on arrays.
 * Legend: V views, S input side, K classes, C width, E embed.
 *  1. model-init (micro) -> save -> load round trip: config, id and every tensor equal.
 *  2. score_study on 5 views (L CC, L MLO, R CC, R MLO, one without laterality) against an
 *     independent computation here: per view a separate B=1 forward, logits by naive loops
 *     (s * cos for zero-shot with the prompts renormalised here, W g + b for linear),
 *     softmax, breast means, the study rules (density: mean of groups; BI-RADS and
 *     malignancy: the group with the most mass on the suspicious classes).
 *  3. batched forward (B=4) equals four B=1 forwards.
 *  4. the JSON serialisation parses back to the same numbers.
 *  5. bad input: a NaN pixel, a model file with a tensor missing, a wrong shape, a bad
 *     config: each a clear error naming the problem, nothing crashes. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/core/dtype.h"
#include "engine/model.h"
#include "engine/core/safetensors.h"
#include "engine/score.h"
#include "tests/check.h"

static int close_enough(double a, double b) { return fabs(a - b) <= 1e-5 + 1e-4 * fabs(b); }

static uint64_t rng = 42;
static float urand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0));
}

/* copy every tensor of src into a new file, except `drop`, with `reshape` given a wrong
 * first dim, and metadata mama_config = config (or the original) */
static int rewrite(const char *src, const char *dst, const char *drop, const char *reshape,
                   const char *config) {
    st_file *f = NULL;
    st_writer *w = NULL;
    if (st_open(src, &f) != MAMA_OK || st_writer_create(&w) != MAMA_OK) return -1;
    for (int i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        if (drop && strcmp(t->name, drop) == 0) continue;
        int64_t shape[ST_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        const void *data = t->data;
        void *tmp = NULL;
        if (reshape && strcmp(t->name, reshape) == 0) {
            shape[0] += 1;
            size_t nb = t->nbytes / t->shape[0] * shape[0];
            tmp = calloc(1, nb);
            memcpy(tmp, t->data, t->nbytes);
            data = tmp;
        }
        st_writer_add(w, t->name, t->dtype, t->ndim, shape, data);
        free(tmp);
    }
    st_writer_set_metadata(w, "mama_config", config ? config : st_metadata(f, "mama_config"));
    int rc = st_writer_save(w, dst) == MAMA_OK ? 0 : -1;
    st_writer_destroy(w);
    st_close(f);
    return rc;
}

/* copy of src with transformers-5 attention names (attention.{q,k,v,o}_proj) */
static int rename_hf5(const char *src, const char *dst) {
    static const char *from[4] = {"attention.attention.query", "attention.attention.key",
                                  "attention.attention.value", "attention.output.dense"};
    static const char *to[4] = {"attention.q_proj", "attention.k_proj", "attention.v_proj",
                                "attention.o_proj"};
    st_file *f = NULL;
    st_writer *w = NULL;
    if (st_open(src, &f) != MAMA_OK || st_writer_create(&w) != MAMA_OK) return -1;
    for (int i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        char name[256];
        snprintf(name, sizeof name, "%s", t->name);
        for (int k = 0; k < 4; k++) {
            char *p = strstr(name, from[k]);
            if (p) {
                char rest[256];
                snprintf(rest, sizeof rest, "%s", p + strlen(from[k]));
                snprintf(p, sizeof name - (size_t)(p - name), "%s%s", to[k], rest);
            }
        }
        st_writer_add(w, name, t->dtype, t->ndim, t->shape, t->data);
    }
    int rc = st_writer_save(w, dst) == MAMA_OK ? 0 : -1;
    st_writer_destroy(w);
    st_close(f);
    return rc;
}

/* copy of src with every F32 tensor stored as BF16 (as many hub checkpoints are) */
static int to_bf16(const char *src, const char *dst) {
    st_file *f = NULL;
    st_writer *w = NULL;
    if (st_open(src, &f) != MAMA_OK || st_writer_create(&w) != MAMA_OK) return -1;
    for (int i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        float *x = malloc(sizeof(float) * (size_t)t->numel);
        uint16_t *h = malloc(sizeof(uint16_t) * (size_t)t->numel);
        st_read_f32(f, t->name, x, t->ndim, t->shape);
        dtype_f32_to_bf16_n(h, x, (size_t)t->numel);
        st_writer_add(w, t->name, ST_BF16, t->ndim, t->shape, h);
        free(x);
        free(h);
    }
    int rc = st_writer_save(w, dst) == MAMA_OK ? 0 : -1;
    st_writer_destroy(w);
    st_close(f);
    return rc;
}

static int copy_file(const char *src, const char *dst) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    char buf[65536];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) rc = -1;
    if (in) fclose(in);
    if (out && fclose(out) != 0) rc = -1;
    return rc;
}

static void expect_load_error(const char *path, mama_status want, const char *needle) {
    mama_model *m = NULL;
    mama_status rc = model_load(path, &m);
    CHECK_MSG(rc == want && m == NULL, "%s: status %s, wanted %s", path, mama_status_name(rc),
              mama_status_name(want));
    CHECK_MSG(strstr(mama_last_error(), needle) != NULL, "error '%s' does not name '%s'",
              mama_last_error(), needle);
    printf("  expected error: %s\n", mama_last_error());
    model_free(m);
}

int main(void) {
    char dir[] = "/tmp/mama_test_score_XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char path[256], bad[256];
    snprintf(path, sizeof path, "%s/micro.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);

    /* 1. round trip */
    model_init_opts o = {.config = "micro", .seed = 7, .created = "2026-01-01T00:00:00Z"};
    mama_model *m0 = NULL, *m = NULL;
    CHECK_MSG(model_init(&o, &m0) == MAMA_OK, "model_init: %s", mama_last_error());
    CHECK_MSG(model_save(m0, path) == MAMA_OK, "model_save: %s", mama_last_error());
    CHECK_MSG(model_load(path, &m) == MAMA_OK, "model_load: %s", mama_last_error());
    if (!m0 || !m) return 1;
    CHECK_MSG(strcmp(m->id, m0->id) == 0, "id %s != %s", m->id, m0->id);
    CHECK_MSG(m->untrained == 1 && strcmp(m->created, "2026-01-01T00:00:00Z") == 0, "provenance");
    CHECK_MSG(m->vit->num_params == m0->vit->num_params &&
              memcmp(m->vit->params_memory, m0->vit->params_memory, m->vit->num_params * 4) == 0,
              "tower parameters differ after the round trip");
    CHECK_MSG(m->n_tasks == 3 && m->tasks[2].kind == MODEL_TASK_LINEAR, "tasks");
    for (int t = 0; t < m->n_tasks; t++) {
        size_t n = (size_t)m->tasks[t].n_classes * (m->tasks[t].prompts ? m->embed : m->vit->cfg.width);
        const float *a = m->tasks[t].prompts ? m->tasks[t].prompts : m->tasks[t].head_w;
        const float *b = m0->tasks[t].prompts ? m0->tasks[t].prompts : m0->tasks[t].head_w;
        for (size_t i = 0; i < n; i++)
            if (!close_enough(a[i], b[i])) { CHECK_MSG(0, "task %d tensor differs at %zu", t, i); break; }
    }
    /* a different seed gives a different model and id */
    mama_model *m2 = NULL;
    o.seed = 8;
    CHECK_MSG(model_init(&o, &m2) == MAMA_OK && strcmp(m2->id, m0->id) != 0, "seed does not matter");
    model_free(m2);

    /* 1b. --from-hf: the micro config is the shape of the parity reference; the tower from
     * Meta naming equals the tower from HF naming, and the wrong file is refused */
    const char *src = getenv("MAMA_SOURCE_ROOT");
    if (src) {
        char hf[512], meta[512], io[512];
        snprintf(hf, sizeof hf, "%s/tests/vision/ref/tiny_hf.safetensors", src);
        snprintf(meta, sizeof meta, "%s/tests/vision/ref/tiny_meta.safetensors", src);
        snprintf(io, sizeof io, "%s/tests/vision/ref/tiny_io.safetensors", src);
        mama_model *a = NULL, *b = NULL;
        model_init_opts oh = {.config = "micro", .from_hf = hf, .seed = 1};
        model_init_opts om = {.config = "micro", .from_hf = meta, .seed = 1};
        CHECK_MSG(model_init(&oh, &a) == MAMA_OK, "from-hf HF: %s", mama_last_error());
        CHECK_MSG(model_init(&om, &b) == MAMA_OK, "from-hf Meta: %s", mama_last_error());
        size_t tower = a ? (a->vit->num_params - (size_t)a->embed * a->vit->cfg.width) * 4 : 0;
        if (a && b)
            CHECK_MSG(memcmp(a->vit->params_memory, b->vit->params_memory, tower) == 0,
                      "HF and Meta naming load different towers");
        CHECK_MSG(rename_hf5(hf, bad) == 0, "rename");
        mama_model *c5 = NULL;
        model_init_opts o5 = {.config = "micro", .from_hf = bad, .seed = 1};
        CHECK_MSG(model_init(&o5, &c5) == MAMA_OK, "from-hf transformers-5 names: %s", mama_last_error());
        if (a && c5)
            CHECK_MSG(memcmp(a->vit->params_memory, c5->vit->params_memory, tower) == 0,
                      "HF hub and transformers-5 naming load different towers");
        model_free(c5);
        /* a BF16 checkpoint loads as the BF16-rounded tower */
        CHECK_MSG(to_bf16(hf, bad) == 0, "bf16 copy");
        model_init_opts o16 = {.config = "micro", .from_hf = bad, .seed = 1};
        CHECK_MSG(model_init(&o16, &c5) == MAMA_OK, "from-hf BF16: %s", mama_last_error());
        if (a && c5) {
            size_t n = tower / 4, off = 0;
            for (size_t i = 0; i < n; i++) {
                float want = dtype_bf16_to_f32(dtype_f32_to_bf16(a->vit->params_memory[i]));
                if (c5->vit->params_memory[i] != want) { off++; }
            }
            CHECK_MSG(off == 0, "BF16 tower: %zu of %zu values differ from the rounded F32 ones", off, n);
        }
        model_free(c5);
        /* config "auto": inferred from the shapes; heads from config.json beside the file */
        model_init_opts oa = {.from_hf = hf, .seed = 1};
        CHECK_MSG(model_init(&oa, &c5) == MAMA_EINVAL && c5 == NULL, "auto without heads accepted");
        printf("  expected error: %s\n", mama_last_error());
        char cj[300], cp[300];
        snprintf(cj, sizeof cj, "%s/config.json", dir);
        snprintf(cp, sizeof cp, "%s/meta_copy.safetensors", dir);
        FILE *fc = fopen(cj, "w");
        if (fc) { fputs("{\"num_attention_heads\": 4, \"layer_norm_eps\": 1e-06}\n", fc); fclose(fc); }
        CHECK_MSG(copy_file(meta, cp) == 0, "copy");
        model_init_opts oa2 = {.from_hf = cp, .seed = 1};
        CHECK_MSG(model_init(&oa2, &c5) == MAMA_OK, "auto config: %s", mama_last_error());
        if (c5 && a) {
            const vit_config *x = &c5->vit->cfg, *y = &a->vit->cfg;
            CHECK_MSG(x->width == y->width && x->depth == y->depth && x->heads == y->heads &&
                      x->patch == y->patch && x->image_size == y->image_size &&
                      x->n_registers == y->n_registers && x->mlp_ratio == y->mlp_ratio &&
                      x->layerscale == 1 && x->ln_eps == y->ln_eps,
                      "auto config %d/%d/%d/%d/%d/%d differs from micro", x->width, x->depth,
                      x->heads, x->patch, x->image_size, x->n_registers);
            CHECK_MSG(memcmp(c5->vit->params_memory, a->vit->params_memory, tower) == 0,
                      "auto-config tower differs");
        }
        model_free(c5);
        unlink(cj);
        unlink(cp);
        if (a && b) {
            CHECK_MSG(strstr(a->source, "tiny_hf") != NULL && a->untrained, "from-hf provenance");
            CHECK_MSG(memcmp(a->vit->params_memory, m0->vit->params_memory, 64) != 0,
                      "from-hf tower equals the random one");
        }
        model_free(a);
        model_free(b);
        model_init_opts ob = {.config = "micro", .from_hf = io, .seed = 1};
        CHECK_MSG(model_init(&ob, &a) == MAMA_ENOTFOUND && a == NULL, "a non-DINOv2 file accepted");
        printf("  expected error: %s\n", mama_last_error());
        model_init_opts ow = {.config = "tiny", .from_hf = hf, .seed = 1};
        CHECK_MSG(model_init(&ow, &a) == MAMA_ESHAPE && a == NULL, "a tower of the wrong size accepted");
        printf("  expected error: %s\n", mama_last_error());
    }

    /* 2. scoring against a naive computation */
    int S = m->pre.image_size, V = 5, C = m->vit->cfg.width, E = m->embed;
    size_t per = (size_t)3 * S * S;
    float *pix = malloc(sizeof(float) * per * V);
    for (size_t i = 0; i < per * V; i++) pix[i] = urand() * 2 - 1;
    static const char lat[5] = {'L', 'L', 'R', 'R', 0};
    static const char *vname[5] = {"CC", "MLO", "CC", "MLO", "CC"};
    static const char *vid[5] = {"1.2.3.1", "1.2.3.2", "1.2.3.3", "1.2.3.4", "1.2.3.5"};
    score_view_in views[5];
    for (int i = 0; i < V; i++)
        views[i] = (score_view_in){pix + per * i, lat[i], vname[i], vid[i]};
    score_result *r = NULL;
    CHECK_MSG(score_study(m, views, V, &r) == MAMA_OK, "score_study: %s", mama_last_error());
    if (!r) return 1;
    int P = r->task_offset[m->n_tasks];
    float *want = calloc((size_t)V * P, sizeof(float));
    float *pooled = malloc(sizeof(float) * V * C), *proj = malloc(sizeof(float) * V * E);
    for (int i = 0; i < V; i++) {
        CHECK_MSG(vit_forward(m->vit, pix + per * i, 1, S, S, 0) == MAMA_OK, "forward");
        memcpy(pooled + (size_t)i * C, vit_pooled(m->vit), sizeof(float) * C);
        memcpy(proj + (size_t)i * E, vit_projected(m->vit), sizeof(float) * E);
        double pn = 0;
        for (int e = 0; e < E; e++) pn += (double)proj[i * E + e] * proj[i * E + e];
        CHECK_MSG(fabs(pn - 1.0) < 1e-4, "projected feature not unit norm: %g", pn);
        for (int t = 0; t < m->n_tasks; t++) {
            const model_task *task = &m->tasks[t];
            int K = task->n_classes;
            double logit[MODEL_MAX_CLASSES], mx = -1e30, z = 0;
            for (int k = 0; k < K; k++) {
                double d = 0;
                if (task->kind == MODEL_TASK_ZERO_SHOT) {
                    double pn2 = 0, dot = 0;
                    for (int e = 0; e < E; e++) {
                        pn2 += (double)task->prompts[k * E + e] * task->prompts[k * E + e];
                        dot += (double)proj[i * E + e] * task->prompts[k * E + e];
                    }
                    d = exp(m->logit_scale) * dot / sqrt(pn2);
                } else {
                    for (int c = 0; c < C; c++) d += (double)task->head_w[k * C + c] * pooled[i * C + c];
                    d += task->head_b[k];
                }
                logit[k] = d;
                if (d > mx) mx = d;
            }
            for (int k = 0; k < K; k++) z += exp(logit[k] - mx);
            for (int k = 0; k < K; k++) want[i * P + r->task_offset[t] + k] = (float)(exp(logit[k] - mx) / z);
        }
    }
    for (int i = 0; i < V; i++)
        for (int k = 0; k < P; k++)
            CHECK_MSG(close_enough(r->views[i].probs[k], want[i * P + k]), "view %d prob %d: %g vs %g",
                      i, k, r->views[i].probs[k], want[i * P + k]);
    CHECK_MSG(r->views[4].laterality == 'U' && r->views[0].laterality == 'L', "laterality groups");
    CHECK_MSG(strcmp(r->views[1].view, "MLO") == 0 && strcmp(r->views[3].id, "1.2.3.4") == 0, "ids");
    /* breasts: L = views 0,1; R = 2,3; U = 4 */
    static const int groups[3][2] = {{0, 1}, {2, 3}, {4, -1}};
    float gp[3][MODEL_MAX_TASKS * MODEL_MAX_CLASSES];
    for (int g = 0; g < 3; g++) {
        int n = groups[g][1] < 0 ? 1 : 2;
        CHECK_MSG(r->breast_views[g] == n, "group %d has %d views", g, r->breast_views[g]);
        for (int k = 0; k < P; k++) {
            gp[g][k] = (want[groups[g][0] * P + k] + (n == 2 ? want[groups[g][1] * P + k] : 0)) / n;
            CHECK_MSG(close_enough(r->breast_probs[g * P + k], gp[g][k]), "breast %d prob %d", g, k);
        }
    }
    for (int t = 0; t < m->n_tasks; t++) {
        const model_task *task = &m->tasks[t];
        int off = r->task_offset[t], K = task->n_classes;
        double sum = 0;
        for (int k = 0; k < K; k++) sum += r->study_probs[off + k];
        CHECK_MSG(fabs(sum - 1) < 1e-5, "study probs of %s sum to %g", task->name, sum);
        if (strcmp(task->name, "density") == 0) {
            CHECK_MSG(task->rule == MODEL_RULE_MEAN && r->study_from[t] == -1, "density rule");
            for (int k = 0; k < K; k++)
                CHECK_MSG(close_enough(r->study_probs[off + k], (gp[0][off + k] + gp[1][off + k] + gp[2][off + k]) / 3),
                          "density study prob %d", k);
        } else {
            int best = 0;
            double bs = -1;
            for (int g = 0; g < 3; g++) {
                double s = 0;
                for (int k = 0; k < K; k++)
                    if ((strcmp(task->name, "birads") == 0 && k >= 4) ||
                        (strcmp(task->name, "malignancy") == 0 && k == 1))
                        s += gp[g][off + k];
                if (s > bs) { bs = s; best = g; }
            }
            CHECK_MSG(r->study_from[t] == best, "%s: study from group %d, expected %d", task->name,
                      r->study_from[t], best);
            for (int k = 0; k < K; k++)
                CHECK_MSG(close_enough(r->study_probs[off + k], gp[best][off + k]), "%s study prob", task->name);
        }
    }

    /* 3. batch of 4 == four single forwards */
    CHECK_MSG(vit_forward(m->vit, pix, 4, S, S, 0) == MAMA_OK, "batched forward");
    for (int i = 0; i < 4 * C; i++)
        if (!close_enough(vit_pooled(m->vit)[i], pooled[i])) {
            CHECK_MSG(0, "batched pooled differs at %d: %g vs %g", i, vit_pooled(m->vit)[i], pooled[i]);
            break;
        }

    /* 4. JSON */
    json_t *j = score_result_json(r, m);
    char *text = j ? json_dumps(j, JSON_REAL_PRECISION(9)) : NULL;
    json_decref(j);
    json_error_t je;
    json_t *back = text ? json_loads(text, 0, &je) : NULL;
    CHECK_MSG(back != NULL, "JSON does not parse back");
    if (back) {
        json_t *views_j = json_object_get(back, "views");
        CHECK_MSG(json_array_size(views_j) == (size_t)V, "JSON views");
        json_t *v1 = json_array_get(views_j, 1);
        CHECK_MSG(strcmp(json_string_value(json_object_get(v1, "id")), "1.2.3.2") == 0, "JSON view id");
        double p = json_real_value(json_object_get(json_object_get(json_object_get(
            json_object_get(v1, "tasks"), "birads"), "probs"), "4"));
        CHECK_MSG(close_enough(p, r->views[1].probs[r->task_offset[1] + 4]), "JSON prob %g", p);
        json_t *st = json_object_get(json_object_get(json_object_get(back, "study"), "tasks"), "birads");
        CHECK_MSG(strcmp(json_string_value(json_object_get(st, "rule")), "max_suspicion") == 0, "JSON rule");
        CHECK_MSG(json_object_get(json_object_get(back, "breasts"), "R") != NULL, "JSON breasts");
        CHECK_MSG(json_is_true(json_object_get(json_object_get(back, "model"), "untrained")), "JSON untrained");
        CHECK_MSG(json_array_size(json_object_get(back, "warnings")) == 1, "JSON warning");
    }
    json_decref(back);
    free(text);

    /* 5. bad input */
    pix[17] = NAN;
    score_result *r2 = NULL;
    CHECK_MSG(score_study(m, views, V, &r2) == MAMA_ENUMERIC && r2 == NULL, "NaN pixel accepted");
    CHECK_MSG(strstr(mama_last_error(), "1.2.3.1") != NULL, "NaN error does not name the view: %s",
              mama_last_error());
    pix[17] = 0.5f;
    float keep = m->tasks[2].head_w[0];
    m->tasks[2].head_w[0] = NAN;   /* a corrupt weight: non-finite scores are an error */
    CHECK_MSG(score_study(m, views, V, &r2) == MAMA_ENUMERIC && r2 == NULL, "NaN scores accepted");
    printf("  expected error: %s\n", mama_last_error());
    m->tasks[2].head_w[0] = keep;
    CHECK_MSG(vit_forward(m->vit, pix, 0, S, S, 0) == MAMA_EINVAL, "batch 0 accepted");
    CHECK_MSG(vit_forward(m->vit, pix, 1, 3, S, 0) == MAMA_EINVAL, "3-pixel image accepted");
    CHECK_MSG(score_study(m, views, 0, &r2) == MAMA_EINVAL, "0 views accepted");
    CHECK_MSG(rewrite(path, bad, "task.birads.prompts", NULL, NULL) == 0, "rewrite");
    expect_load_error(bad, MAMA_ENOTFOUND, "task.birads.prompts");
    CHECK_MSG(rewrite(path, bad, "vision.encoder.layer.1.mlp.fc2.bias", NULL, NULL) == 0, "rewrite");
    expect_load_error(bad, MAMA_ENOTFOUND, "vision.encoder.layer.1.mlp.fc2.bias");
    CHECK_MSG(rewrite(path, bad, NULL, "vision.encoder.layer.0.attention.attention.key.weight", NULL) == 0, "rewrite");
    expect_load_error(bad, MAMA_ESHAPE, "vision.encoder.layer.0.attention.attention.key.weight");
    CHECK_MSG(rewrite(path, bad, NULL, "task.malignancy.head.weight", NULL) == 0, "rewrite");
    expect_load_error(bad, MAMA_ESHAPE, "task.malignancy.head.weight");
    /* configs: depth too large, unknown kind, not JSON, no config */
    char *cfg = strdup(m->config_json), *p;
    if ((p = strstr(cfg, "\"depth\":2"))) p[8] = '3';
    CHECK_MSG(rewrite(path, bad, NULL, NULL, cfg) == 0, "rewrite");
    expect_load_error(bad, MAMA_ENOTFOUND, "vision.encoder.layer.2.");
    free(cfg);
    cfg = strdup(m->config_json);
    if ((p = strstr(cfg, "\"depth\":2"))) p[8] = '1';
    CHECK_MSG(rewrite(path, bad, NULL, NULL, cfg) == 0, "rewrite");
    expect_load_error(bad, MAMA_ESHAPE, "more layers");
    free(cfg);
    cfg = strdup(m->config_json);
    if ((p = strstr(cfg, "\"linear\""))) memcpy(p, "\"lineal\"", 8);
    CHECK_MSG(rewrite(path, bad, NULL, NULL, cfg) == 0, "rewrite");
    expect_load_error(bad, MAMA_EFORMAT, "kind");
    free(cfg);
    CHECK_MSG(rewrite(path, bad, NULL, NULL, "{\"format\": \"mama-model\", \"version\": 1") == 0, "rewrite");
    expect_load_error(bad, MAMA_EFORMAT, "not a JSON object");
    CHECK_MSG(rewrite(path, bad, NULL, NULL, "{\"format\": \"mama-model\", \"version\": 1, \"vision\": {\"width\": 32}}") == 0, "rewrite");
    expect_load_error(bad, MAMA_EFORMAT, "vision.depth");

    unlink(bad);
    unlink(path);
    rmdir(dir);
    score_result_free(r);
    free(want); free(pooled); free(proj); free(pix);
    model_free(m);
    model_free(m0);
    return check_done("score");
}
