/* model.c: loading, validating, building and saving scoring model files (format in
 * model.h). Legend: C tower width, E embed dim, K classes. */
#include "engine/model.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/core/file_sha256.h"
#include "engine/core/hf_config.h"
#include "engine/core/safetensors.h"
#include "engine/ops/gemm.h"

#define MODEL_FORMAT "mama-model"
#define MODEL_VERSION 1

#define TRY(expr) do { rc = (expr); if (rc != MAMA_OK) goto fail; } while (0)

mama_status model_set_precision(mama_model *m, mama_precision want, mama_precision *got,
                                char *note, size_t n) {
    if (got) *got = MAMA_PREC_FP32;
    if (!m || !m->vit) return mama_errorf(MAMA_EINVAL, "model_set_precision: no model");
    mama_precision p = gemm_precision_resolve(want, note, n);
    mama_status rc = vit_set_precision(m->vit, p);
    if (rc == MAMA_OK && got) *got = p;
    return rc;
}

const model_task *model_find_task(const mama_model *m, const char *name) {
    for (int i = 0; i < m->n_tasks; i++)
        if (strcmp(m->tasks[i].name, name) == 0) return &m->tasks[i];
    return NULL;
}

void model_free(mama_model *m) {
    if (!m) return;
    vit_free(m->vit);
    for (int i = 0; i < m->n_tasks; i++) {
        free(m->tasks[i].prompts);
        free(m->tasks[i].head_w);
        free(m->tasks[i].head_b);
    }
    free(m->config_json);
    free(m->sources_json);
    free(m->text_proj);
    free(m);
}

/* ---- config JSON ---------------------------------------------------------------- */

static mama_status get_int(json_t *o, const char *where, const char *key, int *out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return mama_errorf(MAMA_EFORMAT, "model config: %s.%s must be an integer", where, key);
    json_int_t x = json_integer_value(v);
    if (x < -1000000000 || x > 1000000000)
        return mama_errorf(MAMA_EFORMAT, "model config: %s.%s = %lld out of range", where, key,
                           (long long)x);
    *out = (int)x;
    return MAMA_OK;
}

static mama_status get_num(json_t *o, const char *where, const char *key, float *out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        return mama_errorf(MAMA_EFORMAT, "model config: %s.%s must be a number", where, key);
    double x = json_number_value(v);
    if (!isfinite(x))
        return mama_errorf(MAMA_EFORMAT, "model config: %s.%s is not finite", where, key);
    *out = (float)x;
    return MAMA_OK;
}

static mama_status get_str(json_t *o, const char *where, const char *key, char *out, size_t n) {
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return mama_errorf(MAMA_EFORMAT, "model config: %s.%s must be a string", where, key);
    const char *s = json_string_value(v);
    if (strlen(s) >= n)
        return mama_errorf(MAMA_EFORMAT, "model config: %s.%s longer than %zu characters", where,
                           key, n - 1);
    memcpy(out, s, strlen(s) + 1);
    return MAMA_OK;
}

static mama_status parse_vision(json_t *v, vit_config *c) {
    mama_status rc;
    if (!json_is_object(v)) return mama_errorf(MAMA_EFORMAT, "model config: \"vision\" object missing");
    if ((rc = get_int(v, "vision", "width", &c->width)) ||
        (rc = get_int(v, "vision", "depth", &c->depth)) ||
        (rc = get_int(v, "vision", "heads", &c->heads)) ||
        (rc = get_int(v, "vision", "patch", &c->patch)) ||
        (rc = get_int(v, "vision", "image_size", &c->image_size)) ||
        (rc = get_int(v, "vision", "n_registers", &c->n_registers)) ||
        (rc = get_num(v, "vision", "mlp_ratio", &c->mlp_ratio)) ||
        (rc = get_num(v, "vision", "ln_eps", &c->ln_eps)) ||
        (rc = get_int(v, "vision", "layerscale", &c->layerscale)))
        return rc;
    c->in_chans = 3;
    if (json_object_get(v, "in_chans") && (rc = get_int(v, "vision", "in_chans", &c->in_chans)))
        return rc;
    json_t *pr = json_object_get(v, "pos_resize");   /* optional: files before it were antialiased */
    c->pos_plain = 0;
    if (pr) {
        const char *s = json_string_value(pr);
        if (!s || (strcmp(s, "bicubic_aa") && strcmp(s, "bicubic")))
            return mama_errorf(MAMA_EFORMAT, "model config: vision.pos_resize must be \"bicubic_aa\" "
                               "(Dinov2WithRegistersModel) or \"bicubic\" (Dinov2Model)");
        c->pos_plain = !strcmp(s, "bicubic");
    }
    return vit_config_validate(c);
}

static mama_status parse_preprocess(json_t *p, model_preprocess *pre) {
    mama_status rc;
    if (!json_is_object(p)) return mama_errorf(MAMA_EFORMAT, "model config: \"preprocess\" object missing");
    if ((rc = get_int(p, "preprocess", "image_size", &pre->image_size))) return rc;
    if ((rc = get_str(p, "preprocess", "resize", pre->resize, sizeof pre->resize))) return rc;
    if (strcmp(pre->resize, "bilinear_aa") != 0)
        return mama_errorf(MAMA_EFORMAT, "model config: preprocess.resize \"%s\" is not supported "
                           "(this build has \"bilinear_aa\")", pre->resize);
    static const char *keys[2] = {"mean", "std"};
    for (int k = 0; k < 2; k++) {
        json_t *a = json_object_get(p, keys[k]);
        float *dst = k ? pre->std : pre->mean;
        if (!json_is_array(a) || json_array_size(a) != 3)
            return mama_errorf(MAMA_EFORMAT, "model config: preprocess.%s must be 3 numbers", keys[k]);
        for (int i = 0; i < 3; i++) {
            json_t *x = json_array_get(a, i);
            if (!json_is_number(x) || !isfinite(json_number_value(x)))
                return mama_errorf(MAMA_EFORMAT, "model config: preprocess.%s[%d] is not a number",
                                   keys[k], i);
            dst[i] = (float)json_number_value(x);
        }
    }
    for (int i = 0; i < 3; i++)
        if (!(pre->std[i] > 0.0f))
            return mama_errorf(MAMA_EFORMAT, "model config: preprocess.std[%d] must be > 0", i);
    return MAMA_OK;
}

static int name_ok(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static mama_status parse_task(json_t *t, int idx, model_task *task) {
    mama_status rc;
    char where[32], kind[32];
    snprintf(where, sizeof where, "tasks[%d]", idx);
    if (!json_is_object(t)) return mama_errorf(MAMA_EFORMAT, "model config: %s is not an object", where);
    if ((rc = get_str(t, where, "name", task->name, sizeof task->name))) return rc;
    if (!name_ok(task->name))
        return mama_errorf(MAMA_EFORMAT, "model config: %s.name '%s' must be letters, digits, "
                           "'_' or '-'", where, task->name);
    if ((rc = get_str(t, where, "kind", kind, sizeof kind))) return rc;
    if (strcmp(kind, "zero_shot") == 0) task->kind = MODEL_TASK_ZERO_SHOT;
    else if (strcmp(kind, "linear") == 0) task->kind = MODEL_TASK_LINEAR;
    else return mama_errorf(MAMA_EFORMAT, "model config: %s.kind '%s' must be \"zero_shot\" or "
                            "\"linear\"", where, kind);
    json_t *cl = json_object_get(t, "classes");
    size_t K = json_is_array(cl) ? json_array_size(cl) : 0;
    if (K < 2 || K > MODEL_MAX_CLASSES)
        return mama_errorf(MAMA_EFORMAT, "model config: %s.classes must list 2..%d class names",
                           where, MODEL_MAX_CLASSES);
    task->n_classes = (int)K;
    for (size_t k = 0; k < K; k++) {
        json_t *c = json_array_get(cl, k);
        if (!json_is_string(c) || !*json_string_value(c) ||
            strlen(json_string_value(c)) >= MODEL_NAME_MAX)
            return mama_errorf(MAMA_EFORMAT, "model config: %s.classes[%zu] must be a non-empty "
                               "string under %d characters", where, k, MODEL_NAME_MAX);
        strcpy(task->classes[k], json_string_value(c));
    }
    /* study rule: default mean for density, else the more suspicious breast */
    int is_density = strstr(task->name, "density") != NULL;
    task->rule = is_density ? MODEL_RULE_MEAN : MODEL_RULE_MAX_SUSPICION;
    memset(task->suspicious, 0, sizeof task->suspicious);
    task->suspicious[K - 1] = 1;
    json_t *r = json_object_get(t, "study_rule");
    if (r) {
        const char *rs = json_string_value(r);
        if (rs && strcmp(rs, "mean") == 0) task->rule = MODEL_RULE_MEAN;
        else if (rs && strcmp(rs, "max_suspicion") == 0) task->rule = MODEL_RULE_MAX_SUSPICION;
        else return mama_errorf(MAMA_EFORMAT, "model config: %s.study_rule must be \"mean\" or "
                                "\"max_suspicion\"", where);
    }
    json_t *s = json_object_get(t, "suspicious");
    if (s) {
        if (!json_is_array(s) || json_array_size(s) == 0)
            return mama_errorf(MAMA_EFORMAT, "model config: %s.suspicious must be a non-empty "
                               "array of class indices", where);
        memset(task->suspicious, 0, sizeof task->suspicious);
        for (size_t i = 0; i < json_array_size(s); i++) {
            json_t *x = json_array_get(s, i);
            if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= (json_int_t)K)
                return mama_errorf(MAMA_EFORMAT, "model config: %s.suspicious[%zu] must be a class "
                                   "index 0..%zu", where, i, K - 1);
            task->suspicious[json_integer_value(x)] = 1;
        }
    }
    return MAMA_OK;
}

static json_t *config_to_json(const mama_model *m) {
    const vit_config *c = &m->vit->cfg;
    json_t *tasks = json_array();
    for (int i = 0; i < m->n_tasks; i++) {
        const model_task *t = &m->tasks[i];
        json_t *cl = json_array(), *sus = json_array();
        for (int k = 0; k < t->n_classes; k++) {
            json_array_append_new(cl, json_string(t->classes[k]));
            if (t->suspicious[k]) json_array_append_new(sus, json_integer(k));
        }
        json_array_append_new(tasks, json_pack("{s:s, s:o, s:s, s:s, s:o}", "name", t->name,
            "classes", cl, "kind", t->kind == MODEL_TASK_ZERO_SHOT ? "zero_shot" : "linear",
            "study_rule", t->rule == MODEL_RULE_MEAN ? "mean" : "max_suspicion", "suspicious", sus));
    }
    const model_preprocess *p = &m->pre;
    json_t *sources = m->sources_json ? json_loads(m->sources_json, 0, NULL) : NULL;
    json_t *prov = json_pack("{s:b, s:s, s:s, s:s}", "untrained", m->untrained, "source", m->source,
                             "created", m->created, "status", m->status);
    if (prov && sources) json_object_set_new(prov, "sources", sources);
    else json_decref(sources);
    json_t *vision = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:i, s:i, s:s}",
        "width", c->width, "depth", c->depth, "heads", c->heads, "patch", c->patch,
        "image_size", c->image_size, "n_registers", c->n_registers,
        "mlp_ratio", (double)c->mlp_ratio, "ln_eps", (double)c->ln_eps,
        "layerscale", c->layerscale, "in_chans", c->in_chans,
        "pos_resize", c->pos_plain ? "bicubic" : "bicubic_aa");
    return json_pack("{s:s, s:i, s:o, "
                     "s:{s:i, s:[f,f,f], s:[f,f,f], s:s}, s:i, s:o, s:o}",
        "format", MODEL_FORMAT, "version", MODEL_VERSION, "vision", vision,
        "preprocess", "image_size", p->image_size,
        "mean", (double)p->mean[0], (double)p->mean[1], (double)p->mean[2],
        "std", (double)p->std[0], (double)p->std[1], (double)p->std[2], "resize", p->resize,
        "embed_dim", m->embed, "tasks", tasks,
        "provenance", prov);
}

/* FNV-1a over the config text and every parameter word: a cheap identity for results. */
static void compute_id(mama_model *m) {
    uint64_t h = 1469598103934665603ull;
    for (const char *s = m->config_json; s && *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ull; }
#define MIX(ptr, n) do { const float *f_ = (ptr); \
        for (size_t i_ = 0; i_ < (size_t)(n); i_++) { uint32_t w_; memcpy(&w_, f_ + i_, 4); \
            h ^= w_; h *= 1099511628211ull; } } while (0)
    /* entry by entry: the alignment padding between them is not part of the identity */
    const ptable *pt = &m->vit->ptab;
    for (int e = 0; e < pt->n; e++)
        if (pt->e[e].numel)
            MIX(ptable_ptr(pt, m->vit->params_memory, e), pt->e[e].numel);
    MIX(&m->logit_scale, 1);
    for (int t = 0; t < m->n_tasks; t++) {
        const model_task *k = &m->tasks[t];
        if (k->prompts) MIX(k->prompts, (size_t)k->n_classes * m->embed);
        if (k->head_w) MIX(k->head_w, (size_t)k->n_classes * m->vit->cfg.width);
        if (k->head_b) MIX(k->head_b, (size_t)k->n_classes);
    }
#undef MIX
    snprintf(m->id, sizeof m->id, "%016llx", (unsigned long long)h);
}

/* ---- loading ------------------------------------------------------------------- */

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

static mama_status read_exact(const st_file *f, const char *path, const char *name, float *dst,
                              int ndim, const int64_t *shape) {
    const st_tensor *t = st_find(f, name);
    if (!t) return mama_errorf(MAMA_ENOTFOUND, "%s: tensor '%s' missing from the model file", path, name);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char got[128], want[128];
        shape_str(got, sizeof got, t->ndim, t->shape);
        shape_str(want, sizeof want, ndim, shape);
        return mama_errorf(MAMA_ESHAPE, "%s: tensor '%s' has shape %s, the config needs %s", path,
                           name, got, want);
    }
    return st_read_f32(f, name, dst, ndim, shape);
}

static mama_status load_task_tensors(const st_file *f, const char *path, mama_model *m, model_task *t) {
    char name[160];
    int64_t K = t->n_classes, E = m->embed, C = m->vit->cfg.width;
    mama_status rc;
    if (t->kind == MODEL_TASK_ZERO_SHOT) {
        if (E <= 0)
            return mama_errorf(MAMA_EFORMAT, "%s: task '%s' is zero_shot but embed_dim is 0", path, t->name);
        t->prompts = malloc(sizeof(float) * K * E);
        if (!t->prompts) return mama_errorf(MAMA_ENOMEM, "out of memory");
        snprintf(name, sizeof name, "task.%s.prompts", t->name);
        int64_t s[2] = {K, E};
        if ((rc = read_exact(f, path, name, t->prompts, 2, s))) return rc;
    } else {
        t->head_w = malloc(sizeof(float) * K * C);
        t->head_b = malloc(sizeof(float) * K);
        if (!t->head_w || !t->head_b) return mama_errorf(MAMA_ENOMEM, "out of memory");
        int64_t sw[2] = {K, C}, sb[1] = {K};
        snprintf(name, sizeof name, "task.%s.head.weight", t->name);
        if ((rc = read_exact(f, path, name, t->head_w, 2, sw))) return rc;
        snprintf(name, sizeof name, "task.%s.head.bias", t->name);
        if ((rc = read_exact(f, path, name, t->head_b, 1, sb))) return rc;
    }
    return MAMA_OK;
}

/* Prompts are L2-normalised after the id is computed (the id hashes the file's values). */
static mama_status normalise_prompts(const char *path, const mama_model *m, model_task *t) {
    int64_t K = t->n_classes, E = m->embed;
    if (t->kind == MODEL_TASK_ZERO_SHOT) {
        for (int64_t k = 0; k < K; k++) {
            double n2 = 0;
            for (int64_t e = 0; e < E; e++) n2 += (double)t->prompts[k * E + e] * t->prompts[k * E + e];
            if (!(n2 > 0) || !isfinite(n2))
                return mama_errorf(MAMA_ENUMERIC, "%s: 'task.%s.prompts' row %lld (class '%s') is "
                                   "zero or not finite", path, t->name, (long long)k, t->classes[k]);
            float inv = (float)(1.0 / sqrt(n2));
            for (int64_t e = 0; e < E; e++) t->prompts[k * E + e] *= inv;
        }
    }
    return MAMA_OK;
}

mama_status model_load(const char *path, mama_model **out_model) {
    *out_model = NULL;
    st_file *f = NULL;
    json_t *j = NULL;
    mama_model *m = calloc(1, sizeof *m);
    mama_status rc = MAMA_OK;
    if (!m) return mama_errorf(MAMA_ENOMEM, "out of memory");
    TRY(st_open(path, &f));
    const char *cj = st_metadata(f, "mama_config");
    if (!cj) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: no \"mama_config\" in __metadata__: not a mama model "
                         "file (make one with `mama model-init`)", path);
        goto fail;
    }
    json_error_t je;
    j = json_loads(cj, 0, &je);
    if (!j || !json_is_object(j)) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: mama_config is not a JSON object (line %d: %s)", path,
                         je.line, je.text);
        goto fail;
    }
    const char *fmt = json_string_value(json_object_get(j, "format"));
    if (!fmt || strcmp(fmt, MODEL_FORMAT) != 0) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: mama_config.format must be \"%s\"", path, MODEL_FORMAT);
        goto fail;
    }
    int version = 0;
    TRY(get_int(j, "mama_config", "version", &version));
    if (version != MODEL_VERSION) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: model format version %d; this build reads version %d",
                         path, version, MODEL_VERSION);
        goto fail;
    }
    vit_config vc = {0};
    TRY(parse_vision(json_object_get(j, "vision"), &vc));
    TRY(parse_preprocess(json_object_get(j, "preprocess"), &m->pre));
    if (m->pre.image_size < vc.patch || m->pre.image_size > 16384) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: preprocess.image_size %d out of range", path, m->pre.image_size);
        goto fail;
    }
    TRY(get_int(j, "mama_config", "embed_dim", &m->embed));
    if (m->embed < 0 || m->embed > 65536) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: embed_dim %d out of range", path, m->embed);
        goto fail;
    }
    vc.embed = m->embed;
    json_t *prov = json_object_get(j, "provenance");
    if (!json_is_object(prov)) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: mama_config.provenance object missing", path);
        goto fail;
    }
    m->untrained = json_is_true(json_object_get(prov, "untrained"));
    if (!json_is_boolean(json_object_get(prov, "untrained"))) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: provenance.untrained must be true or false", path);
        goto fail;
    }
    TRY(get_str(prov, "provenance", "source", m->source, sizeof m->source));
    TRY(get_str(prov, "provenance", "created", m->created, sizeof m->created));
    if (json_object_get(prov, "status"))
        TRY(get_str(prov, "provenance", "status", m->status, sizeof m->status));
    else
        snprintf(m->status, sizeof m->status, "%s", m->untrained ? "untrained" : "trained");
    json_t *srcs = json_object_get(prov, "sources");
    if (srcs) {
        if (!json_is_array(srcs)) {
            rc = mama_errorf(MAMA_EFORMAT, "%s: provenance.sources must be an array", path);
            goto fail;
        }
        m->sources_json = json_dumps(srcs, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!m->sources_json) { rc = mama_errorf(MAMA_ENOMEM, "out of memory"); goto fail; }
    }
    json_t *tasks = json_object_get(j, "tasks");
    if (!json_is_array(tasks) || json_array_size(tasks) > MODEL_MAX_TASKS) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: mama_config.tasks must be an array of at most %d tasks",
                         path, MODEL_MAX_TASKS);
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(tasks); i++) {
        TRY(parse_task(json_array_get(tasks, i), (int)i, &m->tasks[i]));
        m->n_tasks = (int)i + 1;
        for (size_t k = 0; k < i; k++)
            if (strcmp(m->tasks[k].name, m->tasks[i].name) == 0) {
                rc = mama_errorf(MAMA_EFORMAT, "%s: task name '%s' appears twice", path, m->tasks[i].name);
                goto fail;
            }
    }
    TRY(vit_create(&vc, &m->vit));
    TRY(vit_load(m->vit, f, "vision.", "vision_proj.weight"));
    int64_t s1[1] = {1};
    TRY(read_exact(f, path, "logit_scale", &m->logit_scale, 1, s1));
    if (!isfinite(m->logit_scale) || m->logit_scale > 10.0f) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: logit_scale %g out of range (at most ln 100 = 4.6 is "
                         "expected)", path, (double)m->logit_scale);
        goto fail;
    }
    for (int i = 0; i < m->n_tasks; i++) TRY(load_task_tensors(f, path, m, &m->tasks[i]));
    const st_tensor *tp = st_find(f, "text_proj.weight");
    if (tp) {
        if (tp->ndim != 2 || tp->shape[0] != m->embed || tp->shape[1] <= 0 || tp->shape[1] > 65536) {
            rc = mama_errorf(MAMA_ESHAPE, "%s: text_proj.weight must be (embed_dim %d, text width)",
                             path, m->embed);
            goto fail;
        }
        m->text_width = (int)tp->shape[1];
        m->text_proj = malloc(sizeof(float) * (size_t)m->embed * m->text_width);
        if (!m->text_proj) { rc = mama_errorf(MAMA_ENOMEM, "out of memory"); goto fail; }
        int64_t ts[2] = {m->embed, m->text_width};
        TRY(read_exact(f, path, "text_proj.weight", m->text_proj, 2, ts));
    }
    m->config_json = strdup(cj);
    if (!m->config_json) { rc = mama_errorf(MAMA_ENOMEM, "out of memory"); goto fail; }
    compute_id(m);
    for (int i = 0; i < m->n_tasks; i++) TRY(normalise_prompts(path, m, &m->tasks[i]));
    json_decref(j);
    st_close(f);
    *out_model = m;
    return MAMA_OK;
fail:
    json_decref(j);
    st_close(f);
    model_free(m);
    return rc;
}

/* ---- saving and building ------------------------------------------------------- */

mama_status model_save(mama_model *m, const char *path) {
    st_writer *w = NULL;
    mama_status rc = MAMA_OK;
    json_t *j = config_to_json(m);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) return mama_errorf(MAMA_ENOMEM, "model_save: cannot build the config JSON");
    free(m->config_json);
    m->config_json = text;
    TRY(st_writer_create(&w));
    TRY(st_writer_set_metadata(w, "mama_config", text));
    TRY(vit_save(m->vit, w, "vision.", "vision_proj.weight"));
    int64_t s1[1] = {1};
    TRY(st_writer_add_f32(w, "logit_scale", 1, s1, &m->logit_scale));
    if (m->text_proj) {
        int64_t ts[2] = {m->embed, m->text_width};
        TRY(st_writer_add_f32(w, "text_proj.weight", 2, ts, m->text_proj));
    }
    for (int i = 0; i < m->n_tasks; i++) {
        const model_task *t = &m->tasks[i];
        char name[160];
        if (t->kind == MODEL_TASK_ZERO_SHOT) {
            int64_t s[2] = {t->n_classes, m->embed};
            snprintf(name, sizeof name, "task.%s.prompts", t->name);
            TRY(st_writer_add_f32(w, name, 2, s, t->prompts));
        } else {
            int64_t sw[2] = {t->n_classes, m->vit->cfg.width}, sb[1] = {t->n_classes};
            snprintf(name, sizeof name, "task.%s.head.weight", t->name);
            TRY(st_writer_add_f32(w, name, 2, sw, t->head_w));
            snprintf(name, sizeof name, "task.%s.head.bias", t->name);
            TRY(st_writer_add_f32(w, name, 1, sb, t->head_b));
        }
    }
    TRY(st_writer_save(w, path));
    compute_id(m);
fail:
    st_writer_destroy(w);
    return rc;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float rng_normal(uint64_t *s) {
    double u1 = ((rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = ((rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static void add_task(mama_model *m, const char *name, model_task_kind kind, model_study_rule rule,
                     int n, const char *const *classes, const int *suspicious, int n_susp) {
    model_task *t = &m->tasks[m->n_tasks++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->rule = rule;
    t->n_classes = n;
    for (int k = 0; k < n; k++) snprintf(t->classes[k], MODEL_NAME_MAX, "%s", classes[k]);
    for (int k = 0; k < n_susp; k++) t->suspicious[suspicious[k]] = 1;
}

static const char *const DENSITY[] = {"A", "B", "C", "D"};
static const char *const BIRADS[] = {"0", "1", "2", "3", "4", "5", "6"};
static const char *const MALIGNANCY[] = {"no_cancer", "cancer"};

/* Finds the tower's name prefix in a checkpoint: "" / "dinov2_with_registers." / ... */
static const char *find_prefix(const st_file *f) {
    static const char *prefixes[] = {"", "dinov2_with_registers.", "vision.", "model."};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        char probe[128];
        snprintf(probe, sizeof probe, "%sembeddings.cls_token", prefixes[i]);
        if (st_find(f, probe)) return prefixes[i];
        snprintf(probe, sizeof probe, "%scls_token", prefixes[i]);
        if (st_find(f, probe)) return prefixes[i];
    }
    return NULL;
}

/* One provenance.sources entry: the file, its SHA-256. */
static mama_status add_source(json_t *arr, const char *role, const char *path) {
    char hex[65];
    mama_status rc = file_sha256_hex(path, hex);
    if (rc != MAMA_OK) return rc;
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "role", role, "path", path, "sha256", hex));
    return MAMA_OK;
}

/* mean/std from a preprocessor_config.json beside the tower (image_mean, image_std);
 * absent file: the defaults stay. */
static mama_status read_preprocessor(const char *dir, model_preprocess *pre) {
    char path[2048];
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    FILE *probe = fopen(path, "rb");
    if (!probe) return MAMA_OK;
    fclose(probe);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return mama_errorf(MAMA_EFORMAT, "%s: not a JSON object (line %d: %s)", path, je.line, je.text);
    }
    static const char *keys[2] = {"image_mean", "image_std"};
    for (int k = 0; k < 2; k++) {
        json_t *a = json_object_get(j, keys[k]);
        float *dst = k ? pre->std : pre->mean;
        for (int i = 0; i < 3; i++) {
            json_t *x = json_array_get(a, (size_t)i);
            if (json_array_size(a) != 3 || !json_is_number(x) || (k && !(json_number_value(x) > 0))) {
                json_decref(j);
                return mama_errorf(MAMA_EFORMAT, "%s: %s must be 3 numbers%s", path, keys[k],
                                   k ? " > 0" : "");
            }
            dst[i] = (float)json_number_value(x);
        }
    }
    json_decref(j);
    return MAMA_OK;
}

/* The text tower's width (config.json hidden_size) for its projection. */
static mama_status text_tower_width_of(const char *dir, int *out) {
    char path[2048], *text = NULL;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    mama_status rc = hf_config_read(path, NULL, &text);
    json_t *root = NULL;
    if (rc == MAMA_OK) rc = hf_config_parse(text, "text tower", &root);
    free(text);
    if (rc != MAMA_OK) return rc;
    *out = hf_config_int(root, "hidden_size", -1);
    json_decref(root);
    if (*out <= 0 || *out > 65536)
        return mama_errorf(MAMA_EFORMAT, "%s/config.json: hidden_size missing or out of range", dir);
    return MAMA_OK;
}

mama_status model_init(const model_init_opts *o, mama_model **out_model) {
    *out_model = NULL;
    mama_status rc = MAMA_OK;
    st_file *f = NULL;
    const char *prefix = NULL;
    mama_model *m = calloc(1, sizeof *m);
    if (!m) return mama_errorf(MAMA_ENOMEM, "out of memory");
    char tower_path[2048];
    const char *from = o->from_hf;
    if (o->image_tower) {
        snprintf(tower_path, sizeof tower_path, "%s/model.safetensors", o->image_tower);
        from = tower_path;
    }
    const char *cfgname = o->config ? o->config : (from ? "auto" : "tiny");
    if (from) {
        TRY(st_open(from, &f));
        prefix = find_prefix(f);
        if (!prefix) {
            rc = mama_errorf(MAMA_ENOTFOUND, "%s: no DINOv2 cls token (embeddings.cls_token or "
                             "cls_token) found: not a Dinov2Model / Dinov2WithRegistersModel "
                             "checkpoint", from);
            goto fail;
        }
    }
    vit_config vc = {.mlp_ratio = 4.0f, .ln_eps = 1e-6f, .layerscale = 1, .in_chans = 3,
                     .n_registers = 4};
    if (strcmp(cfgname, "tiny") == 0) {
        vc.width = 192; vc.depth = 4; vc.heads = 3; vc.patch = 14; vc.image_size = 224;
        m->embed = 128;
    } else if (strcmp(cfgname, "micro") == 0) {   /* tests: milliseconds per view */
        vc.width = 32; vc.depth = 2; vc.heads = 4; vc.patch = 4; vc.image_size = 28;
        m->embed = 16;
    } else if (strcmp(cfgname, "small") == 0) {   /* DINOv2-S shapes (Dinov2Model, no registers) */
        vc.width = 384; vc.depth = 12; vc.heads = 6; vc.patch = 14; vc.image_size = 518;
        vc.n_registers = 0; vc.pos_plain = 1;
        m->embed = 512;
    } else if (strcmp(cfgname, "base") == 0) {
        vc.width = 768; vc.depth = 12; vc.heads = 12; vc.patch = 14; vc.image_size = 518;
        m->embed = 512;
    } else if (strcmp(cfgname, "auto") == 0 && from) {
        TRY(vit_config_from_checkpoint(f, from, prefix, &vc));
        m->embed = 512;
    } else {
        rc = mama_errorf(MAMA_EINVAL, "model-init: unknown config '%s' (use tiny, small, base, micro, "
                         "or auto with a checkpoint)", cfgname);
        goto fail;
    }
    vc.embed = m->embed;
    m->pre.image_size = vc.image_size;
    for (int i = 0; i < 3; i++) { m->pre.mean[i] = 0.5f; m->pre.std[i] = 0.5f; }
    snprintf(m->pre.resize, sizeof m->pre.resize, "bilinear_aa");
    if (o->image_tower) TRY(read_preprocessor(o->image_tower, &m->pre));
    snprintf(m->status, sizeof m->status, "%s",
             from || o->text_tower ? "pretrained-backbone, heads untrained" : "untrained");
    json_t *sources = json_array();
    if (!sources) { rc = mama_errorf(MAMA_ENOMEM, "out of memory"); goto fail; }
    if (from) rc = add_source(sources, "image_tower", from);
    char text_path[2048];
    if (rc == MAMA_OK && o->text_tower) {
        snprintf(text_path, sizeof text_path, "%s/model.safetensors", o->text_tower);
        rc = text_tower_width_of(o->text_tower, &m->text_width);
        if (rc == MAMA_OK) rc = add_source(sources, "text_tower", text_path);
    }
    if (rc == MAMA_OK && json_array_size(sources) > 0) {
        m->sources_json = json_dumps(sources, JSON_COMPACT);
        if (!m->sources_json) rc = mama_errorf(MAMA_ENOMEM, "out of memory");
    }
    json_decref(sources);
    if (rc != MAMA_OK) goto fail;
    m->logit_scale = logf(1.0f / 0.07f);
    m->untrained = 1;
    TRY(vit_create(&vc, &m->vit));
    vit_init_random(m->vit, o->seed);
    if (from) {
        TRY(vit_load(m->vit, f, prefix, NULL));   /* projection stays random: not in DINOv2 */
        if (o->text_tower)
            snprintf(m->source, sizeof m->source, "image tower %.400s, text tower %.400s; "
                     "projections and heads random (seed %llu), zero-shot prompts = the text "
                     "tower's class-prompt embeddings through the random text projection", from,
                     o->text_tower, (unsigned long long)o->seed);
        else
            snprintf(m->source, sizeof m->source, "tower from %.400s; projections, prompts and "
                     "heads random (seed %llu)", from, (unsigned long long)o->seed);
    } else {
        snprintf(m->source, sizeof m->source, "random init (config %s, seed %llu)", cfgname,
                 (unsigned long long)o->seed);
    }
    if (o->created) {
        snprintf(m->created, sizeof m->created, "%s", o->created);
    } else {
        time_t now = time(NULL);
        struct tm tmv;
        gmtime_r(&now, &tmv);
        strftime(m->created, sizeof m->created, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    }
    static const int sus_birads[] = {4, 5, 6}, sus_malig[] = {1}, sus_density[] = {3};
    add_task(m, "density", MODEL_TASK_ZERO_SHOT, MODEL_RULE_MEAN, 4, DENSITY, sus_density, 1);
    add_task(m, "birads", MODEL_TASK_ZERO_SHOT, MODEL_RULE_MAX_SUSPICION, 7, BIRADS, sus_birads, 3);
    add_task(m, "malignancy", MODEL_TASK_LINEAR, MODEL_RULE_MAX_SUSPICION, 2, MALIGNANCY, sus_malig, 1);
    uint64_t s = o->seed * 0x2545F4914F6CDD1Dull + 17;
    if (m->text_width > 0) {   /* like vision_proj: N(0, 1/Ct), so unit-scale inputs stay unit-scale */
        size_t n = (size_t)m->embed * m->text_width;
        m->text_proj = malloc(sizeof(float) * n);
        if (!m->text_proj) { rc = mama_errorf(MAMA_ENOMEM, "out of memory"); goto fail; }
        for (size_t k = 0; k < n; k++) m->text_proj[k] = rng_normal(&s) / sqrtf((float)m->text_width);
    }
    for (int i = 0; i < m->n_tasks; i++) {
        model_task *t = &m->tasks[i];
        size_t K = (size_t)t->n_classes, E = (size_t)m->embed, C = (size_t)vc.width;
        if (t->kind == MODEL_TASK_ZERO_SHOT) {
            t->prompts = malloc(sizeof(float) * K * E);
            if (!t->prompts) { rc = mama_errorf(MAMA_ENOMEM, "out of memory"); goto fail; }
            for (size_t k = 0; k < K; k++) {
                double n2 = 0;
                for (size_t e = 0; e < E; e++) {
                    float v = rng_normal(&s);
                    t->prompts[k * E + e] = v;
                    n2 += (double)v * v;
                }
                for (size_t e = 0; e < E; e++) t->prompts[k * E + e] /= (float)sqrt(n2);
            }
        } else {
            t->head_w = malloc(sizeof(float) * K * C);
            t->head_b = calloc(K, sizeof(float));
            if (!t->head_w || !t->head_b) { rc = mama_errorf(MAMA_ENOMEM, "out of memory"); goto fail; }
            for (size_t k = 0; k < K * C; k++) t->head_w[k] = 0.02f * rng_normal(&s);
        }
    }
    json_t *j = config_to_json(m);
    m->config_json = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!m->config_json) { rc = mama_errorf(MAMA_ENOMEM, "out of memory"); goto fail; }
    compute_id(m);
    st_close(f);
    *out_model = m;
    return MAMA_OK;
fail:
    st_close(f);
    model_free(m);
    return rc;
}
