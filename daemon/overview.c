/* overview.c: see overview.h. cairo draws; the tiles are the preprocessed views scaled
 * to TILE pixels with cairo's bilinear filter. */
#include "daemon/overview.h"

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TILE = 320, PAD = 12, HEADER = 96, LABEL = 26, FOOTER = 34 };

/* Hanging order: the right breast on the viewer's left, CC above MLO. */
static const char *const slot_keys[4] = {"R-CC", "L-CC", "R-MLO", "L-MLO"};

static cairo_surface_t *gray_surface(const uint8_t *gray, int w, int h) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) return s;
    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < h; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * stride);
        for (int x = 0; x < w; x++) {
            uint32_t g = gray[(size_t)y * w + x];
            row[x] = (g << 16) | (g << 8) | g;
        }
    }
    cairo_surface_mark_dirty(s);
    return s;
}

static void text(cairo_t *cr, double x, double y, double size, const char *s) {
    cairo_set_font_size(cr, size);
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s);
}

static void draw_tile(cairo_t *cr, const overview_view *v, double x, double y) {
    cairo_surface_t *img = gray_surface(v->gray, v->side, v->side);
    if (cairo_surface_status(img) == CAIRO_STATUS_SUCCESS) {
        cairo_save(cr);
        cairo_translate(cr, x, y);
        cairo_scale(cr, (double)TILE / v->side, (double)TILE / v->side);
        cairo_set_source_surface(cr, img, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_BILINEAR);
        cairo_paint(cr);
        cairo_restore(cr);
    }
    cairo_surface_destroy(img);
    cairo_set_source_rgb(cr, 1, 1, 0.6);
    text(cr, x + 6, y + 20, 16, v->key);
    cairo_set_source_rgb(cr, 1, 1, 1);
    text(cr, x, y + TILE + 19, 14, v->label);
}

int overview_render(const overview_page *p, uint8_t **out_rgb, int *out_rows, int *out_cols, char *err,
                    size_t errlen) {
    *out_rgb = NULL;
    const int W = 2 * TILE + 3 * PAD, H = HEADER + 2 * (TILE + LABEL + PAD) + FOOTER;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        snprintf(err, errlen, "overview: cairo: %s", cairo_status_to_string(cairo_surface_status(s)));
        cairo_surface_destroy(s);
        return -1;
    }
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_source_rgb(cr, 1, 1, 1);
    for (int i = 0; i < OVERVIEW_MAX_LINES && p->lines[i]; i++)
        text(cr, PAD, 24 + 22 * i, i == 0 ? 13 : 15, p->lines[i]);
    for (int slot = 0; slot < 4; slot++) {
        double x = PAD + (slot % 2) * (TILE + PAD), y = HEADER + (slot / 2) * (TILE + LABEL + PAD);
        const overview_view *v = NULL;
        for (int i = 0; i < p->n_views; i++)
            if (strcmp(p->views[i].key, slot_keys[slot]) == 0 && p->views[i].gray && p->views[i].side > 0)
                v = &p->views[i];
        if (v) {
            draw_tile(cr, v, x, y);
        } else {
            cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
            text(cr, x + 6, y + 20, 16, slot_keys[slot]);
            text(cr, x + 6, y + TILE / 2.0, 15, "view missing");
        }
    }
    if (p->footer) {
        cairo_set_source_rgb(cr, 1, 0.25, 0.25);
        cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
        text(cr, PAD, H - 12, 17, p->footer);
    }
    cairo_destroy(cr);
    cairo_surface_flush(s);
    uint8_t *rgb = malloc((size_t)W * H * 3);
    if (!rgb) {
        cairo_surface_destroy(s);
        snprintf(err, errlen, "overview: out of memory");
        return -1;
    }
    const unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < H; y++) {
        const uint32_t *row = (const uint32_t *)(const void *)(data + (size_t)y * stride);
        for (int x = 0; x < W; x++) {
            uint8_t *o = rgb + ((size_t)y * W + x) * 3;
            o[0] = (uint8_t)(row[x] >> 16);
            o[1] = (uint8_t)(row[x] >> 8);
            o[2] = (uint8_t)row[x];
        }
    }
    cairo_surface_destroy(s);
    *out_rgb = rgb;
    *out_rows = H;
    *out_cols = W;
    return 0;
}

typedef struct png_buf {
    unsigned char *data;
    size_t len, cap;
} png_buf;

static cairo_status_t png_write(void *closure, const unsigned char *data, unsigned int length) {
    png_buf *b = closure;
    if (b->len + length > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->len + length) cap *= 2;
        unsigned char *n = realloc(b->data, cap);
        if (!n) return CAIRO_STATUS_NO_MEMORY;
        b->data = n;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, length);
    b->len += length;
    return CAIRO_STATUS_SUCCESS;
}

int overview_png(const uint8_t *pixels, int rows, int cols, int channels, unsigned char **out_png,
                 size_t *out_len) {
    *out_png = NULL;
    *out_len = 0;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, cols, rows);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return -1;
    }
    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < rows; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * stride);
        for (int x = 0; x < cols; x++) {
            const uint8_t *px = pixels + ((size_t)y * cols + x) * (size_t)channels;
            uint32_t r = px[0], g = channels == 3 ? px[1] : px[0], b = channels == 3 ? px[2] : px[0];
            row[x] = (r << 16) | (g << 8) | b;
        }
    }
    cairo_surface_mark_dirty(s);
    png_buf b = {0};
    cairo_status_t st = cairo_surface_write_to_png_stream(s, png_write, &b);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS) {
        free(b.data);
        return -1;
    }
    *out_png = b.data;
    *out_len = b.len;
    return 0;
}

void overview_shutdown(void) {
    cairo_debug_reset_static_data();
    FcFini();
}
