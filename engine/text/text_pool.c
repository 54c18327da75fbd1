/* text_pool.c: masked mean / CLS pooling, sep-token gathering and the text projection
 * (see text_pool.h). Padding never contributes: the mean divides by the real-token count. */
#include "engine/text/text_pool.h"

#include <string.h>

#include "engine/ops/ops.h"

mama_status text_mean_pool_forward(float *out, const float *inp, const float *mask,
                                   int B, int T, int C) {
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * C;
        double n = 0.0;
        memset(o, 0, sizeof(float) * (size_t)C);
        for (int t = 0; t < T; t++) {
            float m = mask ? mask[(size_t)b * T + t] : 1.0f;
            if (m == 0.0f) continue;
            const float *x = inp + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++) o[c] += m * x[c];
            n += m;
        }
        if (n <= 0.0)
            return mama_errorf(MAMA_EINVAL, "mean pooling: sequence %d of the batch has no "
                               "real token (all padding); give every caption at least one "
                               "token", b);
        float inv = (float)(1.0 / n);
        for (int c = 0; c < C; c++) o[c] *= inv;
    }
    return MAMA_OK;
}

void text_mean_pool_backward(float *dinp, const float *dout, const float *mask,
                             int B, int T, int C) {
    for (int b = 0; b < B; b++) {
        double n = 0.0;
        for (int t = 0; t < T; t++) n += mask ? mask[(size_t)b * T + t] : 1.0f;
        if (n <= 0.0) continue;
        const float *d = dout + (size_t)b * C;
        for (int t = 0; t < T; t++) {
            float w = (float)((mask ? mask[(size_t)b * T + t] : 1.0f) / n);
            if (w == 0.0f) continue;
            float *g = dinp + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++) g[c] += w * d[c];
        }
    }
}

void text_cls_pool_forward(float *out, const float *inp, int B, int T, int C) {
    for (int b = 0; b < B; b++)
        memcpy(out + (size_t)b * C, inp + (size_t)b * T * C, sizeof(float) * (size_t)C);
}

int text_sep_positions(int *out_pos, const int *ids, const float *mask, int sep_id,
                       int B, int T) {
    int s = 0;
    for (int i = 0; i < B * T; i++)
        if (ids[i] == sep_id && (!mask || mask[i] != 0.0f)) out_pos[s++] = i;
    return s;
}

void text_gather_rows_forward(float *out, const float *inp, const int *pos, int S, int C) {
    for (int s = 0; s < S; s++)
        memcpy(out + (size_t)s * C, inp + (size_t)pos[s] * C, sizeof(float) * (size_t)C);
}

void text_gather_rows_backward(float *dinp, const float *dout, const int *pos, int S, int C) {
    for (int s = 0; s < S; s++) {
        float *g = dinp + (size_t)pos[s] * C;
        const float *d = dout + (size_t)s * C;
        for (int c = 0; c < C; c++) g[c] += d[c];
    }
}

void text_projection_forward(float *out, float *norms, const float *inp, const float *w,
                             const float *b, int B, int C, int E) {
    linear_forward(out, inp, w, b, B, C, E);
    l2norm_rows(out, norms, B, E);
}

void text_projection_backward(float *dinp, float *dw, float *db, float *dlin_scratch,
                              const float *dout, const float *inp, const float *w,
                              const float *out, const float *norms, int B, int C, int E) {
    memset(dlin_scratch, 0, sizeof(float) * (size_t)B * E);
    l2norm_rows_backward(dlin_scratch, dout, out, norms, B, E);
    linear_backward(dinp, dw, db, dlin_scratch, inp, w, B, C, E);
}
