/* test_cuda_vit.c: the GPU image tower (bf16) against the CPU tower (fp32) at the paper's
 * size, ViT-B/14 with 4 registers at 518 px, seeded random weights, two images.
 * Bounds: cosine of the pooled features >= 0.9999 per image (the bound); patch
 * tokens after the final LN: cosine >= 0.999 for every token, and per element
 * |gpu - cpu| <= 0.08 + 0.05 |cpu| (bf16 through 12 blocks; LN outputs are O(1)).
 * Exits 77 with the reason where no GPU is visible. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/core/parallel.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_vit.h"
#include "engine/vision/vit.h"
#include "tests/check.h"

static double cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / (sqrt(aa * bb) + 1e-30);
}

int main(void) {
    if (cuda_device_count() == 0) {
        printf("SKIP: no CUDA device visible (no driver or GPU on this machine)\n");
        return 77;
    }
    if (cuda_device_open(0, NULL) != MAMA_OK) {
        fprintf(stderr, "%s\n", mama_last_error());
        return 1;
    }
    vit_config c = {.width = 768, .depth = 12, .heads = 12, .patch = 14, .image_size = 518,
                    .n_registers = 4, .mlp_ratio = 4.0f, .ln_eps = 1e-6f, .layerscale = 1,
                    .in_chans = 3, .embed = 512};
    vit_model *m = NULL;
    CHECK(vit_create(&c, &m) == MAMA_OK);
    vit_init_random(m, 7);
    const int B = 2, S = 518, Np = 37 * 37, C = 768;
    size_t n_in = (size_t)B * 3 * S * S;
    float *inp = malloc(n_in * sizeof *inp);
    for (size_t i = 0; i < n_in; i++) inp[i] = (float)sin(0.001 * (double)i) * 0.9f;
    CHECK(vit_forward(m, inp, B, S, S, 0) == MAMA_OK);
    cuda_vit *g = NULL;
    CHECK(cuda_vit_create(m, &g) == MAMA_OK);
    float *pooled = malloc((size_t)B * C * 4), *proj = malloc((size_t)B * 512 * 4);
    float *patches = malloc((size_t)B * Np * C * 4);
    mama_status rc = cuda_vit_forward(g, inp, B, S, S, pooled, proj, patches);
    CHECK_MSG(rc == MAMA_OK, "%s", mama_last_error());
    for (int b = 0; b < B; b++) {
        double cp = cosine(pooled + (size_t)b * C, vit_pooled(m) + (size_t)b * C, C);
        double cj = cosine(proj + (size_t)b * 512, vit_projected(m) + (size_t)b * 512, 512);
        printf("image %d: pooled cosine %.7f, projected cosine %.7f\n", b, cp, cj);
        CHECK(cp >= 0.9999);
        CHECK(cj >= 0.9999);
        double worst = 1.0;
        for (int p = 0; p < Np; p++) {
            double ct = cosine(patches + ((size_t)b * Np + p) * C,
                               vit_patch_tokens(m, b) + (size_t)p * C, C);
            if (ct < worst) worst = ct;
        }
        printf("image %d: worst patch-token cosine %.6f\n", b, worst);
        CHECK(worst >= 0.999);
        double *ref = malloc((size_t)Np * C * sizeof *ref);
        for (size_t i = 0; i < (size_t)Np * C; i++) ref[i] = vit_patch_tokens(m, b)[i];
        CHECK(check_close("patch tokens", patches + (size_t)b * Np * C, ref, (size_t)Np * C,
                          0.08, 0.05) == 0);
        free(ref);
    }
    cuda_vit_free(g);
    vit_free(m);
    free(inp); free(pooled); free(proj); free(patches);
    cuda_device_close();
    return check_done("cuda_vit");
}
