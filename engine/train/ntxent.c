/* ntxent.c: NT-Xent, SimCLR's loss on two views (loss.h).
 * Legend: B pairs, n = 2B rows, E width, tau temperature.
 * scratch: z (n,E) normalised rows, norms (n), P (n,n) softmax of z z^T / tau with the
 * diagonal excluded, G (n,n) its gradient, dz (n,E). */
#include <math.h>
#include <string.h>

#include "engine/ops/gemm.h"
#include "engine/ops/ops.h"
#include "engine/train/loss.h"

size_t ntxent_scratch_floats(int B, int E) {
    size_t n = 2 * (size_t)B;
    return n * E + n + 2 * n * n + n * E;
}

float ntxent_forward(float *scratch, const float *z1, const float *z2, int B, int E, float tau) {
    int n = 2 * B;
    float *z = scratch, *norms = z + (size_t)n * E, *P = norms + n;
    memcpy(z, z1, (size_t)B * E * sizeof(float));
    memcpy(z + (size_t)B * E, z2, (size_t)B * E * sizeof(float));
    l2norm_rows(z, norms, n, E);
    gemm_forward(0, 1, n, n, E, 1.0f / tau, z, E, z, E, 0.0f, P, n);
    double loss = 0.0;
    for (int i = 0; i < n; i++) {
        float *r = P + (size_t)i * n;
        int pos = (i + B) % n;
        double m = -INFINITY;
        for (int j = 0; j < n; j++)
            if (j != i && r[j] > m) m = r[j];
        double sum = 0.0;
        for (int j = 0; j < n; j++)
            if (j != i) sum += exp(r[j] - m);
        double lse = m + log(sum);
        loss += lse - r[pos];
        for (int j = 0; j < n; j++) r[j] = j == i ? 0.0f : (float)exp(r[j] - lse);
    }
    return (float)(loss / n);
}

void ntxent_backward(float *dz1, float *dz2, float *scratch, int B, int E, float tau, float w) {
    if (w == 0.0f) return;
    int n = 2 * B;
    float *z = scratch, *norms = z + (size_t)n * E, *P = norms + n, *G = P + (size_t)n * n;
    float *dz = G + (size_t)n * n;
    /* sim = z z^T / tau: dsim[i][j] = w (P[i][j] - [j == pos(i)]) / n, and both factors of
     * sim are z: dz = (dsim + dsim^T) z / tau. G holds dsim + dsim^T. */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double a = P[(size_t)i * n + j] - (j == (i + B) % n ? 1.0 : 0.0);
            double b = P[(size_t)j * n + i] - (i == (j + B) % n ? 1.0 : 0.0);
            G[(size_t)i * n + j] = (float)((double)w * (a + b) / n);
        }
    gemm_forward(0, 0, n, E, n, 1.0f / tau, G, n, z, E, 0.0f, dz, E);
    if (dz1) l2norm_rows_backward(dz1, dz, z, norms, B, E);
    if (dz2) l2norm_rows_backward(dz2, dz + (size_t)B * E, z + (size_t)B * E, norms + B, B, E);
}
