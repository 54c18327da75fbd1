/* raster_read.c: see raster_read.h. */
#include "tools/raster_read.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <tiffio.h>

#include "engine/vision/image_io.h"

const char *raster_kind(const char *path) {
    unsigned char b[132] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n >= 132 && !memcmp(b + 128, "DICM", 4)) return "dicom";
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return "png";
    if (n >= 2 && b[0] == 'P' && (b[1] == '2' || b[1] == '5')) return "pgm";
    if (n >= 4 && (!memcmp(b, "II*\0", 4) || !memcmp(b, "MM\0*", 4))) return "tiff";
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return "jpeg";
    return NULL;
}

/* PNG/PGM through image_io (values v / maxval): 8-bit when every value is a multiple
 * of 1/255, which an 8-bit file always gives and a 16-bit one almost never. */
static mama_status read_png_pgm(const char *path, uint16_t **out_px, int *out_w, int *out_h, int *out_bits) {
    float *img = NULL;
    int H, W;
    mama_status rc = image_io_load_gray(path, &img, &H, &W);
    if (rc != MAMA_OK) return rc;
    size_t n = (size_t)H * W;
    int eight = 1;
    for (size_t i = 0; i < n && eight; i++) {
        float v = img[i] * 255.0f;
        eight = fabsf(v - roundf(v)) < 1e-3f;
    }
    uint16_t *px = malloc(n * sizeof *px);
    if (!px) {
        free(img);
        return mama_errorf(MAMA_ENOMEM, "%s: no memory for %dx%d", path, W, H);
    }
    for (size_t i = 0; i < n; i++) px[i] = (uint16_t)lroundf(img[i] * (eight ? 255.0f : 65535.0f));
    free(img);
    *out_px = px;
    *out_w = W;
    *out_h = H;
    *out_bits = eight ? 8 : 16;
    return MAMA_OK;
}

static mama_status read_tiff(const char *path, uint16_t **out_px, int *out_w, int *out_h, int *out_bits) {
    TIFFSetWarningHandler(NULL);
    TIFF *t = TIFFOpen(path, "r");
    if (!t) return mama_errorf(MAMA_EIO, "%s: not a readable TIFF file", path);
    uint32_t w = 0, h = 0;
    uint16_t bps = 0, spp = 1, photo = PHOTOMETRIC_MINISBLACK, fmt = SAMPLEFORMAT_UINT;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
    if (w == 0 || h == 0 || w > 65535 || h > 65535 || spp != 1 || (bps != 8 && bps != 16) || fmt != SAMPLEFORMAT_UINT ||
        (photo != PHOTOMETRIC_MINISBLACK && photo != PHOTOMETRIC_MINISWHITE)) {
        TIFFClose(t);
        return mama_errorf(MAMA_EINVAL,
                           "%s: TIFF %ux%u with %u samples of %u bits (photometric %u): only one unsigned "
                           "8 or 16-bit gray sample is read (convert colour with `convert -colorspace Gray`)",
                           path, w, h, spp, bps, photo);
    }
    size_t n = (size_t)w * h;
    uint16_t *px = malloc(n * sizeof *px);
    tdata_t line = _TIFFmalloc(TIFFScanlineSize(t));
    if (!px || !line) {
        free(px);
        if (line) _TIFFfree(line);
        TIFFClose(t);
        return mama_errorf(MAMA_ENOMEM, "%s: no memory for %ux%u", path, w, h);
    }
    const uint16_t maxv = bps == 8 ? 255 : 65535;
    for (uint32_t y = 0; y < h; y++) {
        if (TIFFReadScanline(t, line, y, 0) < 0) {
            free(px);
            _TIFFfree(line);
            TIFFClose(t);
            return mama_errorf(MAMA_EIO, "%s: TIFF row %u cannot be read (truncated or tiled?)", path, y);
        }
        for (uint32_t x = 0; x < w; x++) {
            uint16_t v = bps == 8 ? ((uint8_t *)line)[x] : ((uint16_t *)line)[x];
            px[(size_t)y * w + x] = photo == PHOTOMETRIC_MINISWHITE ? (uint16_t)(maxv - v) : v;
        }
    }
    _TIFFfree(line);
    TIFFClose(t);
    *out_px = px;
    *out_w = (int)w;
    *out_h = (int)h;
    *out_bits = bps;
    return MAMA_OK;
}

typedef struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_fail(j_common_ptr c) {
    jpeg_err *e = (jpeg_err *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jump, 1);
}

static mama_status read_jpeg(const char *path, uint16_t **out_px, int *out_w, int *out_h, int *out_bits) {
    FILE *f = fopen(path, "rb");
    if (!f) return mama_errorf(MAMA_EIO, "%s: cannot open", path);
    struct jpeg_decompress_struct c;
    jpeg_err e;
    uint16_t *volatile px = NULL;
    JSAMPLE *volatile row = NULL;
    c.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jpeg_fail;
    if (setjmp(e.jump)) {
        jpeg_destroy_decompress(&c);
        fclose(f);
        free(px);
        free(row);
        return mama_errorf(MAMA_EIO, "%s: JPEG: %s", path, e.msg);
    }
    jpeg_create_decompress(&c);
    jpeg_stdio_src(&c, f);
    jpeg_read_header(&c, TRUE);
    c.out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(&c);
    int w = (int)c.output_width, h = (int)c.output_height;
    if (w > 65535 || h > 65535) longjmp(e.jump, 1);
    px = malloc((size_t)w * h * sizeof *px);
    row = malloc((size_t)w);
    if (!px || !row) {
        snprintf(e.msg, sizeof e.msg, "no memory for %dx%d", w, h);
        longjmp(e.jump, 1);
    }
    while (c.output_scanline < c.output_height) {
        JSAMPLE *rows[1] = {row};
        int y = (int)c.output_scanline;
        jpeg_read_scanlines(&c, rows, 1);
        for (int x = 0; x < w; x++) px[(size_t)y * w + x] = row[x];
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
    fclose(f);
    free(row);
    *out_px = px;
    *out_w = w;
    *out_h = h;
    *out_bits = 8;
    return MAMA_OK;
}

mama_status raster_read(const char *path, uint16_t **out_px, int *out_w, int *out_h, int *out_bits) {
    const char *kind = raster_kind(path);
    if (!kind) return mama_errorf(MAMA_EINVAL, "%s: not a PNG, PGM, TIFF, JPEG or DICOM file (or unreadable)", path);
    if (!strcmp(kind, "png") || !strcmp(kind, "pgm")) return read_png_pgm(path, out_px, out_w, out_h, out_bits);
    if (!strcmp(kind, "tiff")) return read_tiff(path, out_px, out_w, out_h, out_bits);
    if (!strcmp(kind, "jpeg")) return read_jpeg(path, out_px, out_w, out_h, out_bits);
    return mama_errorf(MAMA_EINVAL, "%s: a DICOM file: read it with dcm_image_load", path);
}
