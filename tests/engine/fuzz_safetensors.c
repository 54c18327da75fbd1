/* fuzz_safetensors.c: libFuzzer target for the safetensors parser (built with clang only).
 *   CC=clang meson setup build-fuzz -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C build-fuzz tests/engine/fuzz_safetensors
 *   build-fuzz/tests/engine/fuzz_safetensors -max_total_time=60 CORPUS_DIR
 * The input is parsed from memory; when valid, every tensor is read in full. */
#include <stdint.h>
#include <stdlib.h>

#include "engine/core/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file *f;
    if (st_open_memory(data, size, "fuzz", &f) != MAMA_OK) return 0;
    for (int i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        unsigned char acc = 0;
        const unsigned char *b = t->data;
        for (size_t k = 0; k < t->nbytes; k++) acc ^= b[k];
        volatile unsigned char sink = acc; /* keeps the reads */
        (void)sink;
        if (t->dtype == ST_F32 || t->dtype == ST_BF16 || t->dtype == ST_F16 || t->dtype == ST_F64) {
            float *dst = malloc((size_t)t->numel * sizeof(float) + 1);
            if (dst) st_read_f32(f, t->name, dst, t->ndim, t->shape);
            free(dst);
        }
    }
    for (int i = 0; i < st_metadata_count(f); i++) (void)st_metadata(f, st_metadata_key(f, i));
    st_close(f);
    return 0;
}
