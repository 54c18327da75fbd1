/* lora.c: LoRA adapter forward/backward (see lora.h). The two thin GEMMs go straight to
 * CBLAS so the delta is added in place (beta = 1) without a temporary (N,OC) buffer. */
#include "engine/text/lora.h"

#include <cblas.h>
#include <string.h>

static const char *const target_names[LORA_NUM_TARGETS] = {
    "attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj",
};

lora_config lora_config_default(void) {
    lora_config c = {.rank = 8, .alpha = 32.0f, .targets = LORA_C_ATTN, .dropout = 0.1f};
    return c;
}

const char *lora_target_name(int i) {
    return (i >= 0 && i < LORA_NUM_TARGETS) ? target_names[i] : "?";
}

mama_status lora_parse_targets(const char *csv, unsigned *out_targets) {
    unsigned t = 0;
    const char *p = csv;
    if (!csv || !*csv) return mama_errorf(MAMA_EINVAL, "LoRA target list is empty");
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int found = -1;
        for (int i = 0; i < LORA_NUM_TARGETS; i++) {
            const char *full = target_names[i];
            const char *shortn = strchr(full, '.') + 1;
            if ((strlen(full) == n && !strncmp(full, p, n)) ||
                (i != 1 && i != 3 && strlen(shortn) == n && !strncmp(shortn, p, n)))
                found = i;
        }
        if (found < 0)
            return mama_errorf(MAMA_EINVAL,
                               "unknown LoRA target '%.*s' (use c_attn, attn.c_proj, c_fc, "
                               "mlp.c_proj; plain c_proj is ambiguous)", (int)n, p);
        t |= 1u << found;
        p += n;
        if (*p == ',') p++;
    }
    *out_targets = t;
    return MAMA_OK;
}

void lora_forward(float *out, float *tmp, const float *inp, const float *A, const float *B,
                  float scale, int N, int C, int OC, int R) {
    /* tmp (N,R) = inp (N,C) @ A^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, R, C, 1.0f, inp, C, A, C, 0.0f,
                tmp, R);
    /* out (N,OC) += scale * tmp @ B^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, R, scale, tmp, R, B, R, 1.0f,
                out, OC);
}

void lora_backward(float *dinp, float *dA, float *dB, float *dtmp_scratch, const float *dout,
                   const float *inp, const float *tmp, const float *A, const float *B,
                   float scale, int N, int C, int OC, int R) {
    /* dB (OC,R) += scale * dout^T (OC,N) @ tmp (N,R) */
    if (dB)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, R, N, scale, dout, OC, tmp, R,
                    1.0f, dB, R);
    if (!dA && !dinp) return;
    /* dtmp (N,R) = scale * dout (N,OC) @ B (OC,R) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, R, OC, scale, dout, OC, B, R,
                0.0f, dtmp_scratch, R);
    /* dA (R,C) += dtmp^T (R,N) @ inp (N,C) */
    if (dA)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, R, C, N, 1.0f, dtmp_scratch, R,
                    inp, C, 1.0f, dA, C);
    /* dinp (N,C) += dtmp (N,R) @ A (R,C) */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, R, 1.0f, dtmp_scratch, R,
                    A, C, 1.0f, dinp, C);
}

/* splitmix64 finaliser: a counter-based generator, one draw per (seed, site, element). */
static unsigned long long mix64(unsigned long long z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void lora_dropout_apply(float *out, const float *inp, float p, unsigned long long seed,
                        unsigned long long site, size_t n) {
    /* keep when the top 24 bits of the draw, as a uniform in [0,1), are >= p */
    const unsigned threshold = (unsigned)((double)p * 16777216.0);
    const float inv_keep = 1.0f / (1.0f - p);
    const unsigned long long base = mix64(seed ^ mix64(site));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        unsigned u = (unsigned)(mix64(base + i) >> 40);
        out[i] = u >= threshold ? inp[i] * inv_keep : 0.0f;
    }
}
