/* image_io.c: gray PNG (libpng) and PGM reading, gray PNG writing. See image_io.h. */
#define _POSIX_C_SOURCE 200809L
#include "engine/vision/image_io.h"

#include <ctype.h>
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGE_MAX_SIDE 65536
/* 64 Mi pixels (256 MiB as float): four times the largest FFDM detector (about 4096 x
 * 5600), so no real mammogram is refused while a forged header cannot ask for 16 GiB. */
#define IMAGE_MAX_PIXELS ((size_t)1 << 26)
/* zlib's deflate cannot compress better than about 1032:1; a PNG whose header promises
 * more pixel bytes than that from its file size is a bomb or truncated. */
#define DEFLATE_MAX_RATIO 1032

/* Bytes from the current position to the end of f; SIZE_MAX when it cannot be told
 * (a pipe), in which case the per-row reads still end at EOF. */
static size_t bytes_left(FILE *f) {
    struct stat st;
    long pos = ftell(f);
    if (pos < 0 || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) return SIZE_MAX;
    return st.st_size > pos ? (size_t)(st.st_size - pos) : 0;
}

/* ---- PNG ---- */

typedef struct png_err_ctx {
    char msg[200];
} png_err_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_err_ctx *ctx = png_get_error_ptr(png);
    if (ctx) snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static mama_status load_png(FILE *f, const char *path, float **out_pixels, int *out_h,
                            int *out_w) {
    png_err_ctx ctx = {""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error,
                                             png_on_warning);
    if (!png) return mama_errorf(MAMA_ENOMEM, "%s: cannot create a PNG reader", path);
    png_infop info = png_create_info_struct(png);
    float *volatile pixels = NULL;
    uint8_t *volatile row = NULL;
    mama_status rc = MAMA_OK;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return mama_errorf(MAMA_ENOMEM, "%s: cannot create a PNG reader", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: bad PNG (%s)", path, ctx.msg[0] ? ctx.msg : "libpng error");
        goto done;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
    if (type != PNG_COLOR_TYPE_GRAY && type != PNG_COLOR_TYPE_GRAY_ALPHA) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: PNG colour type %d is not grayscale; convert it to "
                         "8- or 16-bit gray first", path, type);
        goto done;
    }
    if (w == 0 || h == 0 || w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE ||
        (size_t)w * h > IMAGE_MAX_PIXELS) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: PNG size %ux%u out of range (at most %zu pixels)", path,
                         (unsigned)w, (unsigned)h, IMAGE_MAX_PIXELS);
        goto done;
    }
    if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_strip_alpha(png);
    png_read_update_info(png, info);
    int out_depth = depth == 16 ? 16 : 8;
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes < (size_t)w * (out_depth / 8)) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: unexpected PNG row size", path);
        goto done;
    }
    size_t left = bytes_left(f);
    if (left != SIZE_MAX && (rowbytes + 1) * h / DEFLATE_MAX_RATIO > left + 1024) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: PNG header says %ux%u but the file has only %zu more "
                         "bytes: truncated or forged", path, (unsigned)w, (unsigned)h, left);
        goto done;
    }
    pixels = malloc(sizeof(float) * (size_t)w * h);
    row = malloc(rowbytes);
    if (!pixels || !row) {
        rc = mama_errorf(MAMA_ENOMEM, "%s: no memory for %ux%u", path, (unsigned)w, (unsigned)h);
        goto done;
    }
    for (png_uint_32 y = 0; y < h; y++) {
        png_read_row(png, row, NULL);
        float *dst = pixels + (size_t)y * w;
        if (out_depth == 16)
            for (png_uint_32 x = 0; x < w; x++)
                dst[x] = (float)((row[2 * x] << 8) | row[2 * x + 1]) / 65535.0f;
        else
            for (png_uint_32 x = 0; x < w; x++) dst[x] = (float)row[x] / 255.0f;
    }
    *out_pixels = pixels;
    *out_h = (int)h;
    *out_w = (int)w;
    pixels = NULL;
done:
    png_destroy_read_struct(&png, &info, NULL);
    free(pixels);
    free(row);
    return rc;
}

/* ---- PGM ---- */

/* Reads one header integer, skipping whitespace and # comments; -1 on failure. */
static long pgm_int(FILE *f) {
    int c;
    for (;;) {
        c = fgetc(f);
        if (c == '#') {
            while (c != '\n' && c != EOF) c = fgetc(f);
        } else if (!isspace(c)) {
            break;
        }
    }
    if (c == EOF || !isdigit(c)) return -1;
    long v = 0;
    while (c != EOF && isdigit(c)) {
        v = v * 10 + (c - '0');
        if (v > 1000000) return -1;
        c = fgetc(f);
    }
    return v; /* the single whitespace after the number was consumed */
}

static mama_status load_pgm(FILE *f, const char *path, int binary, float **out_pixels,
                            int *out_h, int *out_w) {
    long w = pgm_int(f), h = pgm_int(f), maxval = pgm_int(f);
    if (w <= 0 || h <= 0 || w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE || maxval <= 0 || maxval > 65535)
        return mama_errorf(MAMA_EFORMAT, "%s: bad PGM header (size %ldx%ld, maxval %ld)", path, w, h, maxval);
    size_t n = (size_t)w * (size_t)h;
    if (n > IMAGE_MAX_PIXELS)
        return mama_errorf(MAMA_EFORMAT, "%s: PGM size %ldx%ld out of range (at most %zu pixels)",
                           path, w, h, IMAGE_MAX_PIXELS);
    /* each sample takes 1 or 2 bytes (P5) or a digit and a separator (P2, the last one may
     * end the file): refuse before allocating what the file cannot fill */
    size_t left = bytes_left(f), need = binary ? n * (maxval > 255 ? 2 : 1) : 2 * n - 1;
    if (left != SIZE_MAX && need > left)
        return mama_errorf(MAMA_EFORMAT, "%s: PGM header says %ldx%ld but the file has only %zu "
                           "more bytes (%zu needed): truncated", path, w, h, left, need);
    float *pixels = malloc(sizeof(float) * n);
    if (!pixels) return mama_errorf(MAMA_ENOMEM, "%s: no memory for %ldx%ld", path, w, h);
    float scale = 1.0f / (float)maxval;
    for (size_t i = 0; i < n; i++) {
        long v;
        if (binary) {
            int hi = fgetc(f);
            if (hi == EOF) goto truncated;
            v = hi;
            if (maxval > 255) {
                int lo = fgetc(f);
                if (lo == EOF) goto truncated;
                v = (hi << 8) | lo;
            }
        } else {
            v = pgm_int(f);
            if (v < 0) goto truncated;
        }
        if (v > maxval) v = maxval;
        pixels[i] = (float)v * scale;
    }
    *out_pixels = pixels;
    *out_h = (int)h;
    *out_w = (int)w;
    return MAMA_OK;
truncated:
    free(pixels);
    return mama_errorf(MAMA_EFORMAT, "%s: PGM pixel data truncated or malformed", path);
}

mama_status image_io_load_gray(const char *path, float **out_pixels, int *out_h, int *out_w) {
    *out_pixels = NULL;
    *out_h = *out_w = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return mama_errorf(MAMA_EIO, "%s: cannot open (%s)", path, strerror(errno));
    unsigned char magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, f);
    mama_status rc;
    if (got == 8 && png_sig_cmp(magic, 0, 8) == 0) {
        rewind(f);
        rc = load_png(f, path, out_pixels, out_h, out_w);
    } else if (got >= 3 && magic[0] == 'P' && (magic[1] == '5' || magic[1] == '2') && isspace(magic[2])) {
        fseek(f, 2, SEEK_SET);
        rc = load_pgm(f, path, magic[1] == '5', out_pixels, out_h, out_w);
    } else {
        rc = mama_errorf(MAMA_EFORMAT, "%s: neither PNG nor PGM (P2/P5)", path);
    }
    fclose(f);
    return rc;
}

mama_status image_io_save_png(const char *path, const float *img, int H, int W, int bits) {
    if (bits != 8 && bits != 16) return mama_errorf(MAMA_EINVAL, "%s: PNG depth %d must be 8 or 16", path, bits);
    if (H <= 0 || W <= 0) return mama_errorf(MAMA_EINVAL, "%s: empty image %dx%d", path, H, W);
    size_t len = strlen(path);
    char *tmp = malloc(len + 32);
    if (!tmp) return mama_errorf(MAMA_ENOMEM, "%s: no memory", path);
    snprintf(tmp, len + 32, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        mama_status rc = mama_errorf(MAMA_EIO, "%s: cannot create (%s)", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    png_err_ctx ctx = {""};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile row = malloc((size_t)W * (bits / 8));
    mama_status rc = MAMA_OK;
    if (!png || !info || !row) {
        rc = mama_errorf(MAMA_ENOMEM, "%s: cannot create a PNG writer", path);
        goto done;
    }
    if (setjmp(png_jmpbuf(png))) {
        rc = mama_errorf(MAMA_EIO, "%s: PNG write failed (%s)", path, ctx.msg);
        goto done;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, bits, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    float maxv = bits == 16 ? 65535.0f : 255.0f;
    for (int y = 0; y < H; y++) {
        const float *src = img + (size_t)y * W;
        for (int x = 0; x < W; x++) {
            float v = src[x];
            if (v != v) v = 0.0f; /* NaN */
            v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
            unsigned q = (unsigned)(v * maxv + 0.5f);
            if (bits == 16) {
                row[2 * x] = (uint8_t)(q >> 8);
                row[2 * x + 1] = (uint8_t)(q & 0xff);
            } else {
                row[x] = (uint8_t)q;
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
done:
    if (png) png_destroy_write_struct(&png, info ? &info : NULL);
    free(row);
    if (fclose(f) != 0 && rc == MAMA_OK) rc = mama_errorf(MAMA_EIO, "%s: write failed (%s)", tmp, strerror(errno));
    if (rc == MAMA_OK && rename(tmp, path) != 0)
        rc = mama_errorf(MAMA_EIO, "%s: cannot rename into place (%s)", path, strerror(errno));
    if (rc != MAMA_OK) unlink(tmp);
    free(tmp);
    return rc;
}
