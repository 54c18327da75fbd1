/* score.c: per-view, per-breast and per-study task probabilities (rules in score.h and
 * docs/scoring.md). Legend: V views, S input side, K classes, C width, E embed. */
#include "engine/score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/ops/ops.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int group_of(char lat) { return lat == 'L' ? 0 : lat == 'R' ? 1 : 2; }
static const char GROUP_NAME[SCORE_GROUPS] = {'L', 'R', 'U'};

void score_result_free(score_result *r) {
    if (!r) return;
    free(r->memory);
    free(r->views);
    free(r);
}

int score_argmax(const score_result *r, const float *probs_row, int t) {
    int K = r->task_offset[t + 1] - r->task_offset[t];
    const float *p = probs_row + r->task_offset[t];
    int best = 0;
    for (int k = 1; k < K; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

/* logits (K) of task t for view b of the last forward, then softmax in place. */
static void view_probs(float *out, const mama_model *m, const model_task *t, int b) {
    const vit_model *v = m->vit;
    int K = t->n_classes;
    if (t->kind == MODEL_TASK_ZERO_SHOT) {
        int E = m->embed;
        const float *f = vit_projected(v) + (size_t)b * E;   /* already L2-normalised */
        float s = expf(m->logit_scale);
        for (int k = 0; k < K; k++) {
            double d = 0;
            for (int e = 0; e < E; e++) d += (double)f[e] * t->prompts[(size_t)k * E + e];
            out[k] = (float)(s * d);
        }
    } else {
        int C = v->cfg.width;
        linear_forward(out, vit_pooled(v) + (size_t)b * C, t->head_w, t->head_b, 1, C, K);
    }
    softmax_rows(out, 1, K);
}

mama_status score_study(mama_model *m, const score_view_in *views, int n_views,
                        score_result **out_result) {
    *out_result = NULL;
    if (!m || !views || n_views <= 0 || n_views > 4096)
        return mama_errorf(MAMA_EINVAL, "score_study: needs 1..4096 views (got %d)", n_views);
    for (int i = 0; i < n_views; i++)
        if (!views[i].pixels)
            return mama_errorf(MAMA_EINVAL, "score_study: view %d has no pixels", i);
    double t0 = now_ms();
    score_result *r = calloc(1, sizeof *r);
    if (!r) return mama_errorf(MAMA_ENOMEM, "score_study: out of memory");
    r->n_tasks = m->n_tasks;
    for (int t = 0; t < m->n_tasks; t++) r->task_offset[t + 1] = r->task_offset[t] + m->tasks[t].n_classes;
    int P = r->task_offset[m->n_tasks];
    r->n_views = n_views;
    r->views = calloc((size_t)n_views, sizeof *r->views);
    r->memory = calloc((size_t)(n_views + SCORE_GROUPS + 1) * (P > 0 ? P : 1), sizeof(float));
    if (!r->views || !r->memory) {
        score_result_free(r);
        return mama_errorf(MAMA_ENOMEM, "score_study: out of memory");
    }
    r->breast_probs = r->memory + (size_t)n_views * P;
    r->study_probs = r->breast_probs + (size_t)SCORE_GROUPS * P;
    snprintf(r->model_id, sizeof r->model_id, "%s", m->id);
    r->model_untrained = m->untrained;

    int S = m->pre.image_size;
    double fwd = 0;
    for (int i = 0; i < n_views; i++) {
        score_view_out *vo = &r->views[i];
        vo->probs = r->memory + (size_t)i * P;
        vo->laterality = GROUP_NAME[group_of(views[i].laterality)];
        snprintf(vo->id, sizeof vo->id, "%s", views[i].id ? views[i].id : "");
        snprintf(vo->view, sizeof vo->view, "%s", views[i].view ? views[i].view : "");
        /* one view per forward: the arena stays at B = 1 for any study size */
        double f0 = now_ms();
        mama_status rc = vit_forward(m->vit, views[i].pixels, 1, S, S, 0);
        fwd += now_ms() - f0;
        if (rc != MAMA_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", mama_last_error());
            rc = mama_errorf(rc, "view %d (%s): %s", i, vo->id[0] ? vo->id : "no id", why);
            score_result_free(r);
            return rc;
        }
        for (int t = 0; t < m->n_tasks; t++)
            view_probs(vo->probs + r->task_offset[t], m, &m->tasks[t], 0);
        for (int k = 0; k < P; k++)
            if (!isfinite(vo->probs[k])) {
                rc = mama_errorf(MAMA_ENUMERIC, "view %d (%s): the model produced non-finite "
                                 "scores; the model file's weights are corrupt", i,
                                 vo->id[0] ? vo->id : "no id");
                score_result_free(r);
                return rc;
            }
        int g = group_of(vo->laterality);
        r->breast_views[g]++;
        for (int k = 0; k < P; k++) r->breast_probs[(size_t)g * P + k] += vo->probs[k];
    }
    int n_groups = 0;
    for (int g = 0; g < SCORE_GROUPS; g++) {
        if (!r->breast_views[g]) continue;
        n_groups++;
        for (int k = 0; k < P; k++) r->breast_probs[(size_t)g * P + k] /= r->breast_views[g];
    }
    for (int t = 0; t < m->n_tasks; t++) {
        const model_task *task = &m->tasks[t];
        int off = r->task_offset[t], K = task->n_classes;
        float *sp = r->study_probs + off;
        if (task->rule == MODEL_RULE_MEAN) {
            r->study_from[t] = -1;
            for (int g = 0; g < SCORE_GROUPS; g++) {
                if (!r->breast_views[g]) continue;
                for (int k = 0; k < K; k++) sp[k] += r->breast_probs[(size_t)g * P + off + k] / n_groups;
            }
        } else {
            int best = -1;
            double best_s = -1;
            for (int g = 0; g < SCORE_GROUPS; g++) {
                if (!r->breast_views[g]) continue;
                double s = 0;
                for (int k = 0; k < K; k++)
                    if (task->suspicious[k]) s += r->breast_probs[(size_t)g * P + off + k];
                if (s > best_s) { best_s = s; best = g; }
            }
            r->study_from[t] = best;
            memcpy(sp, r->breast_probs + (size_t)best * P + off, sizeof(float) * K);
        }
    }
    r->forward_ms = fwd;
    r->total_ms = now_ms() - t0;
    *out_result = r;
    return MAMA_OK;
}

static json_t *probs_json(const score_result *r, const mama_model *m, const float *row) {
    json_t *o = json_object();
    if (!o) return NULL;
    for (int t = 0; t < m->n_tasks; t++) {
        const model_task *task = &m->tasks[t];
        json_t *p = json_object();
        for (int k = 0; k < task->n_classes; k++)
            json_object_set_new(p, task->classes[k], json_real(row[r->task_offset[t] + k]));
        json_object_set_new(o, task->name, json_pack("{s:o, s:s}", "probs", p, "prediction",
                            task->classes[score_argmax(r, row, t)]));
    }
    return o;
}

json_t *score_result_json(const score_result *r, const mama_model *m) {
    if (!r || !m || r->n_tasks != m->n_tasks) return NULL;
    int P = r->task_offset[r->n_tasks];
    json_t *views = json_array();
    for (int i = 0; i < r->n_views; i++) {
        const score_view_out *v = &r->views[i];
        char lat[2] = {v->laterality, 0};
        json_array_append_new(views, json_pack("{s:s, s:s, s:s, s:o}", "id", v->id,
                              "laterality", lat, "view", v->view, "tasks", probs_json(r, m, v->probs)));
    }
    json_t *breasts = json_object();
    for (int g = 0; g < SCORE_GROUPS; g++) {
        if (!r->breast_views[g]) continue;
        char name[2] = {GROUP_NAME[g], 0};
        json_object_set_new(breasts, name, json_pack("{s:i, s:o}", "n_views", r->breast_views[g],
                            "tasks", probs_json(r, m, r->breast_probs + (size_t)g * P)));
    }
    json_t *study = probs_json(r, m, r->study_probs);
    for (int t = 0; study && t < m->n_tasks; t++) {
        json_t *tj = json_object_get(study, m->tasks[t].name);
        if (r->study_from[t] < 0) {
            json_object_set_new(tj, "rule", json_string("mean"));
        } else {
            char name[2] = {GROUP_NAME[r->study_from[t]], 0};
            json_object_set_new(tj, "rule", json_string("max_suspicion"));
            json_object_set_new(tj, "from_breast", json_string(name));
        }
    }
    json_t *warnings = json_array();
    if (r->model_untrained) {
        char w[160];
        snprintf(w, sizeof w, "untrained model (%s): the scores are not clinically meaningful",
                 m->status[0] ? m->status : "untrained");
        json_array_append_new(warnings, json_string(w));
    }
    json_t *root = json_pack("{s:{s:s, s:b, s:s, s:s, s:s}, s:o, s:o, s:{s:o}, s:{s:f, s:f}, s:o}",
        "model", "id", m->id, "untrained", m->untrained, "status", m->status, "source", m->source,
        "created", m->created,
        "views", views, "breasts", breasts, "study", "tasks", study,
        "timing_ms", "forward", r->forward_ms, "total", r->total_ms, "warnings", warnings);
    return root;
}
