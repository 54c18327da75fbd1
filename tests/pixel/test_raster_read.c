/* test_raster_read.c: the raster readers of `mama import images` (tools/raster_read.h)
 * against files written by an independent encoder (ImageMagick's convert) from PGMs this
 * test writes itself: 16-bit PNG and TIFF (LZW), a MinIsWhite TIFF (read back inverted),
 * 8-bit PNG and TIFF: every value exact; 8-bit JPEG at quality 100: |a - b| <= 6 per
 * pixel and mean <= 1 (in 0..255; lossy). Also a text file and a colour TIFF refused with
 * a message. Skipped (77) without convert. Catches: a byte-order or depth mix-up, a lost
 * MinIsWhite inversion, a row stride error, an 8-bit file read as 16. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "tools/raster_read.h"

enum { W = 37, H = 23 }; /* odd sizes: row padding and strides show */

static char dir[256];

static const char *path_of(const char *name) {
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static uint16_t ref_value(int y, int x, int bits) {
    uint32_t v = (uint32_t)(x * 1733 + y * 2741 + (x * y) % 97 * 311);
    return (uint16_t)(bits == 8 ? v % 256 : v % 65536);
}

static void write_pgm(const char *path, int bits) {
    FILE *f = fopen(path, "wb");
    fprintf(f, "P5\n%d %d\n%d\n", W, H, bits == 8 ? 255 : 65535);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint16_t v = ref_value(y, x, bits);
            if (bits == 8) fputc(v, f);
            else {
                fputc(v >> 8, f); /* PGM is big-endian */
                fputc(v & 0xff, f);
            }
        }
    fclose(f);
}

static int convert(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "convert %s", args);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "%s failed", cmd);
    return rc;
}

static void check_file(const char *name, const char *kind, int bits, int invert, int tol, double mean_tol) {
    const char *p = path_of(name);
    CHECK_MSG(raster_kind(p) && !strcmp(raster_kind(p), kind), "%s: kind %s", name, raster_kind(p) ? raster_kind(p) : "?");
    uint16_t *px = NULL;
    int w, h, b;
    if (raster_read(p, &px, &w, &h, &b) != MAMA_OK) {
        CHECK_MSG(0, "%s: %s", name, mama_last_error());
        return;
    }
    CHECK_MSG(w == W && h == H && b == bits, "%s: %dx%d bits %d", name, w, h, b);
    int worst = 0;
    double sum = 0;
    uint16_t maxv = bits == 8 ? 255 : 65535;
    for (int y = 0; y < H && w == W && h == H; y++)
        for (int x = 0; x < W; x++) {
            int want = invert ? maxv - ref_value(y, x, bits) : ref_value(y, x, bits);
            int d = abs((int)px[(size_t)y * W + x] - want);
            worst = d > worst ? d : worst;
            sum += d;
        }
    double mean = sum / (W * H);
    printf("%-10s %-5s %2d bits: max |diff| %d, mean %.3f\n", name, kind, b, worst, mean);
    CHECK_MSG(worst <= tol && mean <= mean_tol, "%s: max diff %d (tol %d), mean %.3f (tol %.3f)", name, worst, tol,
              mean, mean_tol);
    free(px);
}

int main(void) {
    if (system("convert -version > /dev/null 2>&1") != 0) {
        printf("ImageMagick convert not found: skipped\n");
        return 77;
    }
    snprintf(dir, sizeof dir, "/tmp/mama_raster_%d", (int)getpid());
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) return 1;
    write_pgm(path_of("ref16.pgm"), 16);
    write_pgm(path_of("ref8.pgm"), 8);
    char a[1024];
    snprintf(a, sizeof a, "'%s' -define png:bit-depth=16 -define png:color-type=0 '%s'", path_of("ref16.pgm"),
             path_of("g16.png"));
    convert(a);
    snprintf(a, sizeof a, "'%s' -depth 16 -compress lzw '%s'", path_of("ref16.pgm"), path_of("g16.tif"));
    convert(a);
    snprintf(a, sizeof a, "'%s' -depth 16 -define quantum:polarity=min-is-white '%s'", path_of("ref16.pgm"),
             path_of("w16.tif"));
    convert(a);
    snprintf(a, sizeof a, "'%s' -define png:bit-depth=8 -define png:color-type=0 '%s'", path_of("ref8.pgm"),
             path_of("g8.png"));
    convert(a);
    snprintf(a, sizeof a, "'%s' -depth 8 '%s'", path_of("ref8.pgm"), path_of("g8.tif"));
    convert(a);
    snprintf(a, sizeof a, "'%s' -quality 100 '%s'", path_of("ref8.pgm"), path_of("g8.jpg"));
    convert(a);
    snprintf(a, sizeof a, "'%s' -type TrueColor -depth 8 '%s'", path_of("ref8.pgm"), path_of("rgb.tif"));
    convert(a);

    check_file("ref16.pgm", "pgm", 16, 0, 0, 0);
    check_file("g16.png", "png", 16, 0, 0, 0);
    check_file("g16.tif", "tiff", 16, 0, 0, 0);
    /* quantum:polarity=min-is-white makes ImageMagick store the samples as they are and
     * label them MinIsWhite (0 = white; checked: the tag is 0, the samples the reference):
     * read as bright = dense, that is the reference inverted */
    check_file("w16.tif", "tiff", 16, 1, 0, 0);
    check_file("g8.png", "png", 8, 0, 0, 0);
    check_file("g8.tif", "tiff", 8, 0, 0, 0);
    check_file("g8.jpg", "jpeg", 8, 0, 6, 1.0);

    uint16_t *px = NULL;
    int w, h, b;
    FILE *f = fopen(path_of("text.png"), "w");
    fputs("not an image\n", f);
    fclose(f);
    CHECK_MSG(raster_kind(path_of("text.png")) == NULL, "a text file has no kind");
    CHECK_MSG(raster_read(path_of("text.png"), &px, &w, &h, &b) == MAMA_EINVAL &&
                  strstr(mama_last_error(), "not a PNG, PGM, TIFF, JPEG or DICOM"),
              "text file refused: %s", mama_last_error());
    CHECK_MSG(raster_read(path_of("rgb.tif"), &px, &w, &h, &b) == MAMA_EINVAL && strstr(mama_last_error(), "3 samples"),
              "colour TIFF refused: %s", mama_last_error());
    CHECK_MSG(raster_read(path_of("missing.png"), &px, &w, &h, &b) != MAMA_OK, "missing file refused");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return check_done("test_raster_read");
}
