/* pixel_fixture.h: small DICOM test files for the pixel tests, written in-process with
 * DCMTK (and OpenJPEG for JPEG 2000), and a synthetic mammogram-like image to fill them.
 * Test-only: the product's DICOM writer belongs to the data helper (mama phantom). */
#ifndef MAMA_TEST_PIXEL_FIXTURE_H
#define MAMA_TEST_PIXEL_FIXTURE_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fx_syntax {
    FX_IMPLICIT_LE, FX_EXPLICIT_LE, FX_EXPLICIT_BE, FX_DEFLATE, FX_RLE,
    FX_JPEG_LOSSLESS_SV1, FX_JPEG_BASELINE, FX_JPEG_EXTENDED, FX_JPEGLS_LOSSLESS,
    FX_JPEGLS_NEAR, FX_J2K_LOSSLESS, FX_J2K_LOSSY, FX_MPEG2 /* unsupported on purpose */,
    FX_COUNT
} fx_syntax;

typedef struct fx_spec {
    int rows, cols, bits_stored, bits_alloc; /* bits_alloc 0 -> 16 (8 when bits_stored <= 8) */
    int signed_rep;
    const uint16_t *pixels;     /* (rows, cols) stored values (two's complement if signed) */
    const char *photometric;    /* NULL -> MONOCHROME2 */
    int has_window;
    double wc, ww;
    const char *voi_function;   /* NULL: no VOI LUT Function element */
    int lut_n, lut_first, lut_bits; /* VOI LUT Sequence when lut_n > 0 */
    const uint16_t *lut;
    double slope, intercept;    /* rescale (slope 0 -> no rescale elements) */
    int frames;                 /* 0/1: single frame; > 1 writes NumberOfFrames */
    int no_pixels;              /* 1: omit Pixel Data */
    const char *laterality, *view; /* ImageLaterality, ViewPosition (NULL: L / CC) */
} fx_spec;

/* Writes spec as a DICOM Part 10 file in syntax sx; 0 on success, else -1 with a message
 * on stderr. */
int fx_write(const char *path, const fx_spec *spec, fx_syntax sx);

/* A mammogram-like 12-bit image (rows, cols) written into out: dark noisy background, a
 * half-ellipse breast against the left edge (chest wall) with texture, a small bright
 * label square in the top right corner. seed varies the noise. out_breast (may be NULL)
 * receives the breast's bounding box as y0, x0, h, w. */
void fx_mammo(uint16_t *out, int rows, int cols, int bits, uint32_t seed, int out_breast[4]);

const char *fx_syntax_name(fx_syntax sx);

#ifdef __cplusplus
}
#endif
#endif
