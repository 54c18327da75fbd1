/* pos_embed.h: position embeddings of the image tower at input sizes other than the one
 * they were trained for.
 *
 * Legend: C width, G0 trained grid side, Gh Gw target grid (H/P, W/P), H W input pixels.
 *
 * Convention (matches Hugging Face Dinov2WithRegistersEmbeddings.interpolate_pos_encoding,
 * transformers 4.48 .. 5.x, read from its source):
 *   - the CLS position (row 0) is kept; registers have no position embedding;
 *   - nothing is interpolated when Np == G0*G0 AND H == W (input pixels), even if a
 *     non-square grid had the same count: HF's condition, kept exactly;
 *   - otherwise the G0 x G0 grid (row-major, y then x) is resized to (Gh, Gw) = (H//P, W//P)
 *     by torch.nn.functional.interpolate(mode="bicubic", align_corners=False,
 *     antialias=True) in fp32, given an explicit size (so scale = in/out per axis).
 *     With antialias=True PyTorch uses the separable PIL-style filter: Keys cubic with
 *     a = -0.5 (not the -0.75 of the non-antialiased path), support 2*max(scale,1), the
 *     window clipped at the borders and the weights renormalised to sum 1.
 *   (HF's plain Dinov2Model differs: no antialias; pos_embed_resize_bicubic below.) */
#ifndef MAMA_POS_EMBED_H
#define MAMA_POS_EMBED_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when HF would interpolate for this input (see above), else 0. */
int pos_embed_needs_resize(int G0, int Gh, int Gw, int H, int W);

/* The same resize without antialiasing, as Hugging Face Dinov2Model (transformers 5.x,
 * read from its source) and the ONNX graphs exported from it (Resize cubic, half_pixel,
 * cubic_coeff_a -0.75): torch.nn.functional.interpolate(mode="bicubic",
 * align_corners=False) with an explicit size: source x = (i + 0.5) * in/out - 0.5, the four
 * taps floor(x)-1 .. floor(x)+2 clamped to the grid, Keys cubic a = -0.75, no
 * renormalisation. Same skip rule, same scratch (pos_embed_scratch_floats). */
void pos_embed_resize_bicubic(float *out, float *scratch, const float *pos, int G0, int Gh,
                              int Gw, int H, int W, int C);

/* Floats of scratch that pos_embed_resize needs for these sizes. */
size_t pos_embed_scratch_floats(int G0, int Gh, int Gw, int C);

/* out (1 + Gh*Gw, C) from pos (1 + G0*G0, C); copies when no resize is needed.
 * scratch: pos_embed_scratch_floats(...) floats (no allocation here). */
void pos_embed_resize(float *out, float *scratch, const float *pos, int G0, int Gh, int Gw,
                      int H, int W, int C);

/* Backward of pos_embed_resize: dpos (1 + G0*G0, C) += the transpose of the resize applied
 * to dout (1 + Gh*Gw, C) (a plain add when no resize is needed). scratch as for the
 * forward. */
void pos_embed_resize_backward(float *dpos, float *scratch, const float *dout, int G0, int Gh,
                               int Gw, int H, int W, int C);

#ifdef __cplusplus
}
#endif
#endif
