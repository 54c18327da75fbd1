/* ce.c: cross-entropy on the diagonal of a square score matrix (ce.h).
 * Legend: n rows, X raw scores, s scale. Row sums in double: n is small (the batch), and
 * double keeps the loss within rounding of a naive reference. */
#include "engine/train/ce.h"

#include <math.h>
#include <stddef.h>

static float at(const float *X, int n, int trans, int r, int c) {
    return trans ? X[(size_t)c * n + r] : X[(size_t)r * n + c];
}

double ce_diag_forward(float *P, const float *X, int n, int trans, float s) {
    double loss = 0.0;
    for (int r = 0; r < n; r++) {
        double m = -INFINITY;
        for (int c = 0; c < n; c++) {
            double z = (double)s * at(X, n, trans, r, c);
            if (z > m) m = z;
        }
        double sum = 0.0;
        for (int c = 0; c < n; c++) sum += exp((double)s * at(X, n, trans, r, c) - m);
        double lse = m + log(sum);
        for (int c = 0; c < n; c++)
            P[(size_t)r * n + c] = (float)exp((double)s * at(X, n, trans, r, c) - lse);
        loss += lse - (double)s * at(X, n, trans, r, r);
    }
    return loss / n;
}

/* dlogits[r][c] = w (P[r][c] - [r == c]) / n; dX = s dlogits; dls = sum dlogits * s X. */
double ce_diag_backward(float *dX, const float *P, const float *X, int n, int trans, float s,
                        float w) {
    double dls = 0.0, k = (double)w / n;
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++) {
            double dl = k * ((double)P[(size_t)r * n + c] - (r == c ? 1.0 : 0.0));
            size_t i = trans ? (size_t)c * n + r : (size_t)r * n + c;
            dX[i] += (float)(dl * s);
            dls += dl * s * X[i];
        }
    return dls;
}
