/* pos_embed.c: bicubic resize of the position-embedding grid, antialiased (HF
 * Dinov2WithRegistersModel) or not (HF Dinov2Model); the conventions are in pos_embed.h. Legend: C width, G0 source side, Gh Gw target grid. */
#include "engine/ops/pos_embed.h"

#include <math.h>
#include <string.h>

int pos_embed_needs_resize(int G0, int Gh, int Gw, int H, int W) {
    return !(Gh * Gw == G0 * G0 && H == W);
}

/* PIL/PyTorch antialias cubic filter, a = -0.5. */
static double aa_cubic(double x) {
    const double a = -0.5;
    if (x < 0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

static int window_size(int in, int out) {
    double scale = (double)in / (double)out;
    double support = (scale >= 1.0) ? 2.0 * scale : 2.0;   /* interp_size/2 = 2 for cubic */
    return (int)ceil(support) * 2 + 1;
}

/* Weights for resizing in -> out along one axis: output i reads taps lo[i] ..
 * lo[i] + n[i] - 1 with weights w[i * ksize + j], renormalised to sum 1. */
static void aa_weights(int in, int out, int ksize, float *lo_f, float *n_f, float *w) {
    double scale = (double)in / (double)out;
    double support = (scale >= 1.0) ? 2.0 * scale : 2.0;
    double invscale = (scale >= 1.0) ? 1.0 / scale : 1.0;
    for (int i = 0; i < out; i++) {
        double center = scale * (i + 0.5);
        long lo = (long)(center - support + 0.5);   /* truncation, as PyTorch's int64 cast */
        if (lo < 0) lo = 0;
        long hi = (long)(center + support + 0.5);
        if (hi > in) hi = in;
        int n = (int)(hi - lo);
        if (n > ksize) n = ksize;
        double total = 0.0;
        for (int j = 0; j < n; j++) total += aa_cubic((j + lo - center + 0.5) * invscale);
        for (int j = 0; j < n; j++) {
            double v = aa_cubic((j + lo - center + 0.5) * invscale);
            w[(size_t)i * ksize + j] = (float)(total != 0.0 ? v / total : v);
        }
        lo_f[i] = (float)lo;
        n_f[i] = (float)n;
    }
}

size_t pos_embed_scratch_floats(int G0, int Gh, int Gw, int C) {
    int kx = window_size(G0, Gw), ky = window_size(G0, Gh);
    return (size_t)2 * Gw + (size_t)2 * Gh + (size_t)Gw * kx + (size_t)Gh * ky
         + (size_t)G0 * Gw * C;
}

void pos_embed_resize(float *out, float *scratch, const float *pos, int G0, int Gh, int Gw,
                      int H, int W, int C) {
    if (!pos_embed_needs_resize(G0, Gh, Gw, H, W)) {
        memcpy(out, pos, (size_t)(1 + G0 * G0) * C * sizeof(float));
        return;
    }
    memcpy(out, pos, (size_t)C * sizeof(float));   /* CLS keeps its embedding */
    const float *grid = pos + C;                    /* (G0, G0, C) */
    int kx = window_size(G0, Gw), ky = window_size(G0, Gh);
    float *xlo = scratch, *xn = xlo + Gw, *ylo = xn + Gw, *yn = ylo + Gh;
    float *wx = yn + Gh, *wy = wx + (size_t)Gw * kx;
    float *tmp = wy + (size_t)Gh * ky;   /* (G0, Gw, C) after the horizontal pass */
    aa_weights(G0, Gw, kx, xlo, xn, wx);
    aa_weights(G0, Gh, ky, ylo, yn, wy);
    #pragma omp parallel for
    for (int y = 0; y < G0; y++)
        for (int xo = 0; xo < Gw; xo++) {
            float *t = tmp + ((size_t)y * Gw + xo) * C;
            for (int c = 0; c < C; c++) t[c] = 0.0f;
            for (int j = 0; j < (int)xn[xo]; j++) {
                float wj = wx[(size_t)xo * kx + j];
                const float *s = grid + ((size_t)y * G0 + (int)xlo[xo] + j) * C;
                for (int c = 0; c < C; c++) t[c] += wj * s[c];
            }
        }
    #pragma omp parallel for
    for (int yo = 0; yo < Gh; yo++)
        for (int xo = 0; xo < Gw; xo++) {
            float *o = out + (1 + (size_t)yo * Gw + xo) * C;
            for (int c = 0; c < C; c++) o[c] = 0.0f;
            for (int i = 0; i < (int)yn[yo]; i++) {
                float wi = wy[(size_t)yo * ky + i];
                const float *t = tmp + ((size_t)((int)ylo[yo] + i) * Gw + xo) * C;
                for (int c = 0; c < C; c++) o[c] += wi * t[c];
            }
        }
}

/* Keys cubic convolution, a = -0.75 (PyTorch's upsample_bicubic2d, ONNX Resize default). */
static void keys_weights(double t, float w[4]) {
    const double a = -0.75;
    double x;
    x = t + 1.0; w[0] = (float)(((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a);
    x = t;       w[1] = (float)(((a + 2.0) * x - (a + 3.0)) * x * x + 1.0);
    x = 1.0 - t; w[2] = (float)(((a + 2.0) * x - (a + 3.0)) * x * x + 1.0);
    x = 2.0 - t; w[3] = (float)(((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a);
}

/* Taps and weights of output i when resizing in -> out. */
static void bicubic_taps(int i, int in, int out, int idx[4], float w[4]) {
    double src = ((double)i + 0.5) * ((double)in / (double)out) - 0.5;
    double f = floor(src);
    keys_weights(src - f, w);
    for (int k = 0; k < 4; k++) {
        long j = (long)f - 1 + k;
        idx[k] = (int)(j < 0 ? 0 : j >= in ? in - 1 : j);
    }
}

void pos_embed_resize_bicubic(float *out, float *scratch, const float *pos, int G0, int Gh,
                              int Gw, int H, int W, int C) {
    if (!pos_embed_needs_resize(G0, Gh, Gw, H, W)) {
        memcpy(out, pos, (size_t)(1 + G0 * G0) * C * sizeof(float));
        return;
    }
    memcpy(out, pos, (size_t)C * sizeof(float));   /* CLS keeps its embedding */
    const float *grid = pos + C;                    /* (G0, G0, C) */
    float *tmp = scratch;                           /* (G0, Gw, C) after the horizontal pass */
    #pragma omp parallel for
    for (int y = 0; y < G0; y++)
        for (int xo = 0; xo < Gw; xo++) {
            int ix[4];
            float wx[4];
            bicubic_taps(xo, G0, Gw, ix, wx);
            float *t = tmp + ((size_t)y * Gw + xo) * C;
            for (int c = 0; c < C; c++) t[c] = 0.0f;
            for (int k = 0; k < 4; k++) {
                const float *s = grid + ((size_t)y * G0 + ix[k]) * C;
                for (int c = 0; c < C; c++) t[c] += wx[k] * s[c];
            }
        }
    #pragma omp parallel for
    for (int yo = 0; yo < Gh; yo++) {
        int iy[4];
        float wy[4];
        bicubic_taps(yo, G0, Gh, iy, wy);
        for (int xo = 0; xo < Gw; xo++) {
            float *o = out + (1 + (size_t)yo * Gw + xo) * C;
            for (int c = 0; c < C; c++) o[c] = 0.0f;
            for (int k = 0; k < 4; k++) {
                const float *t = tmp + ((size_t)iy[k] * Gw + xo) * C;
                for (int c = 0; c < C; c++) o[c] += wy[k] * t[c];
            }
        }
    }
}

/* The resize is linear and separable, out = Wy (Wx grid), so its backward applies the
 * transposed passes in reverse order: dtmp = Wy^T dout, then dgrid += Wx^T dtmp. Both are
 * scatters (several outputs read one tap); each pass is parallel over the rows it writes
 * by gathering instead: for each source row, sum the outputs whose window holds it. */
void pos_embed_resize_backward(float *dpos, float *scratch, const float *dout, int G0, int Gh,
                               int Gw, int H, int W, int C) {
    if (!pos_embed_needs_resize(G0, Gh, Gw, H, W)) {
        size_t n = (size_t)(1 + G0 * G0) * C;
        for (size_t i = 0; i < n; i++) dpos[i] += dout[i];
        return;
    }
    for (int c = 0; c < C; c++) dpos[c] += dout[c];   /* CLS row: identity */
    float *dgrid = dpos + C;
    int kx = window_size(G0, Gw), ky = window_size(G0, Gh);
    float *xlo = scratch, *xn = xlo + Gw, *ylo = xn + Gw, *yn = ylo + Gh;
    float *wx = yn + Gh, *wy = wx + (size_t)Gw * kx;
    float *dtmp = wy + (size_t)Gh * ky;   /* (G0, Gw, C) */
    aa_weights(G0, Gw, kx, xlo, xn, wx);
    aa_weights(G0, Gh, ky, ylo, yn, wy);
    #pragma omp parallel for
    for (int y = 0; y < G0; y++) {
        for (int xo = 0; xo < Gw; xo++) {
            float *t = dtmp + ((size_t)y * Gw + xo) * C;
            for (int c = 0; c < C; c++) t[c] = 0.0f;
        }
        for (int yo = 0; yo < Gh; yo++) {
            int i = y - (int)ylo[yo];
            if (i < 0 || i >= (int)yn[yo]) continue;
            float wi = wy[(size_t)yo * ky + i];
            for (int xo = 0; xo < Gw; xo++) {
                float *t = dtmp + ((size_t)y * Gw + xo) * C;
                const float *g = dout + (1 + (size_t)yo * Gw + xo) * C;
                for (int c = 0; c < C; c++) t[c] += wi * g[c];
            }
        }
    }
    #pragma omp parallel for
    for (int y = 0; y < G0; y++)
        for (int x = 0; x < G0; x++) {
            float *d = dgrid + ((size_t)y * G0 + x) * C;
            for (int xo = 0; xo < Gw; xo++) {
                int j = x - (int)xlo[xo];
                if (j < 0 || j >= (int)xn[xo]) continue;
                float wj = wx[(size_t)xo * kx + j];
                const float *t = dtmp + ((size_t)y * Gw + xo) * C;
                for (int c = 0; c < C; c++) d[c] += wj * t[c];
            }
        }
}
