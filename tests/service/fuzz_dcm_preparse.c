/* fuzz_dcm_preparse.c: libFuzzer target for the bounded pre-parse (dicom/dcm_preparse.h)
 * and, on what it accepts, the one tag reader behind it (dcm_read_instance_info: the
 * SCP's ingest check, DCMTK's parser included). Built with clang only:
 *   CC=clang CXX=clang++ meson setup build-fuzz -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C build-fuzz tests/service/fuzz_dcm_preparse
 *   build-fuzz/tests/service/fuzz_dcm_preparse -max_total_time=60 CORPUS tests/service/fuzz_seeds
 * The property: no input crashes, overflows the stack or reads out of bounds; every
 * refusal comes with a reason. The reader needs a path: accepted inputs go to a memfd.
 * scripts/fuzz.sh runs it in CI. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dicom/dcm_instance_read.h"
#include "dicom/dcm_preparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512] = "";
    if (dcm_preparse_buffer(data, size, err, sizeof err) != 0) {
        if (!err[0]) abort();   /* a refusal always says why */
        return 0;
    }
    /* the reader takes a path: an in-memory file (as fuzz_pixel_inputs does) */
    int fd = memfd_create("fuzz", 0);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    dcm_instance_info info;
    err[0] = '\0';
    if (dcm_read_instance_info(path, &info, err, sizeof err) != 0 && !err[0]) abort();
    close(fd);
    return 0;
}
