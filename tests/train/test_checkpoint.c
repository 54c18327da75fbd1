/* test_checkpoint.c: engine/train/checkpoint.c.
 * - round trip: two ptable blocks (parameters and a moment) and two named RNG states
 *   come back bit for bit, and a restored RNG continues the same sequence;
 * - refusals: a checkpoint of another layout (a shape, a missing or an extra tensor), a
 *   safetensors file that is no checkpoint, a missing file; each naming what differs;
 * - a full disk while writing (libfiu: write() fails with ENOSPC through
 *   fiu_posix_preload.so, when the test runs under it): MAMA_EIO with a message, the
 *   previous checkpoint intact, no temporary file left. Without the preload that part is
 *   skipped and says so. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef MAMA_TEST_FIU
#include <fiu-control.h>
#include <fiu.h>
#endif

#include "engine/core/safetensors.h"
#include "engine/train/checkpoint.h"
#include "tests/check.h"

static char tmpdir[] = "/tmp/mama-ckpt-XXXXXX";

typedef struct toy { float *a, *b, *c, *empty; } toy;

static void make_table(ptable *t, int64_t bdim) {
    ptable_init(t);
    ptable_add(t, "layer.w", MAMA_F32, PTABLE_SLOT(toy, a), PTABLE_SHAPE(3, 5));
    ptable_add(t, "layer.b", MAMA_F32, PTABLE_SLOT(toy, b), PTABLE_SHAPE(bdim));
    ptable_add(t, "norm.g", MAMA_F32, PTABLE_SLOT(toy, c), PTABLE_SHAPE(2, 2, 2));
    ptable_add(t, "unused", MAMA_F32, PTABLE_SLOT(toy, empty), PTABLE_SHAPE(0));
    CHECK(ptable_layout(t) == MAMA_OK);
}

static void fill(const ptable *t, void *block, unsigned long long seed) {
    for (int i = 0; i < t->n; i++) {
        float *p = ptable_ptr(t, block, i);
        if (p) test_fill(p, t->e[i].numel, &seed, 3.0f);
    }
}

static int count_tmp(void) {
    DIR *d = opendir(tmpdir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    ptable t;
    make_table(&t, 7);
    void *params = NULL, *moment = NULL, *p2 = NULL, *m2 = NULL;
    CHECK(ptable_alloc(&t, &params) == MAMA_OK && ptable_alloc(&t, &moment) == MAMA_OK);
    CHECK(ptable_alloc(&t, &p2) == MAMA_OK && ptable_alloc(&t, &m2) == MAMA_OK);
    fill(&t, params, 1);
    fill(&t, moment, 2);
    ckpt_state s;
    memset(&s, 0, sizeof s);
    s.step = 1234, s.data_position = 98765432109LL, s.bad_images = 3, s.nan_streak = 1;
    snprintf(s.run_id, sizeof s.run_id, "cfg-0123abcd");
    mama_rng data, aug;
    mama_rng_seed(&data, 7);
    mama_rng_seed(&aug, UINT64_MAX);
    for (int i = 0; i < 5; i++) mama_rng_u64(&data);
    CHECK(ckpt_set_rng(&s, "data", &data) == MAMA_OK && ckpt_set_rng(&s, "augment", &aug) == MAMA_OK);
    const char *path = check_path(tmpdir, "ckpt.safetensors");
    ckpt_block blocks[2] = {{"param.", &t, params}, {"adam_m.", &t, moment}};
    CHECK(ckpt_save(path, &s, blocks, 2) == MAMA_OK);

    ckpt_state r;
    ckpt_block back[2] = {{"param.", &t, p2}, {"adam_m.", &t, m2}};
    CHECK(ckpt_load(path, &r, back, 2) == MAMA_OK);
    CHECK(memcmp(params, p2, t.bytes) == 0 && memcmp(moment, m2, t.bytes) == 0);
    CHECK(r.step == 1234 && r.data_position == 98765432109LL && r.bad_images == 3 && r.nan_streak == 1);
    CHECK_STR(r.run_id, "cfg-0123abcd");
    mama_rng d2, a2;
    CHECK(ckpt_get_rng(&r, "data", &d2) == MAMA_OK && ckpt_get_rng(&r, "augment", &a2) == MAMA_OK);
    int same = 1;
    for (int i = 0; i < 100; i++) same &= mama_rng_u64(&d2) == mama_rng_u64(&data);
    CHECK(same && memcmp(&a2, &aug, sizeof aug) == 0);
    CHECK(ckpt_get_rng(&r, "dropout", &d2) == MAMA_ENOTFOUND && strstr(mama_last_error(), "dropout"));

    /* refusals */
    ptable t8;
    make_table(&t8, 8);
    void *b8 = NULL;
    CHECK(ptable_alloc(&t8, &b8) == MAMA_OK);
    ckpt_block other[2] = {{"param.", &t8, b8}, {"adam_m.", &t8, b8}};
    CHECK(ckpt_load(path, &r, other, 2) == MAMA_ESHAPE && strstr(mama_last_error(), "param.layer.b"));
    ckpt_block one[1] = {{"param.", &t, p2}};
    CHECK(ckpt_load(path, &r, one, 1) == MAMA_ESHAPE && strstr(mama_last_error(), "holds 6 tensors, the model 3"));
    ckpt_block renamed[2] = {{"param.", &t, p2}, {"adam_v.", &t, m2}};
    CHECK(ckpt_load(path, &r, renamed, 2) == MAMA_ENOTFOUND && strstr(mama_last_error(), "adam_v.layer.w"));
    st_writer *w = NULL;
    CHECK(st_writer_create(&w) == MAMA_OK);
    float x[2] = {1, 2};
    st_writer_add_f32(w, "param.layer.w", 1, (const int64_t[]){2}, x);
    const char *plain = check_path(tmpdir, "plain.safetensors");
    CHECK(st_writer_save(w, plain) == MAMA_OK);
    st_writer_destroy(w);
    CHECK(ckpt_load(plain, &r, back, 2) == MAMA_EFORMAT && strstr(mama_last_error(), "not a mama checkpoint"));
    CHECK(ckpt_load(check_path(tmpdir, "none.safetensors"), &r, back, 2) != MAMA_OK);

    /* a full disk during the next checkpoint */
#ifdef MAMA_TEST_FIU
    if (getenv("LD_PRELOAD") && strstr(getenv("LD_PRELOAD"), "fiu_posix_preload")) {
        fiu_init(0);
        fill(&t, params, 99);
        s.step = 2000;
        fiu_enable("posix/io/rw/write", 1, (void *)(intptr_t)ENOSPC, 0);
        mama_status rc = ckpt_save(path, &s, blocks, 2);
        fiu_disable("posix/io/rw/write");
        CHECK_MSG(rc == MAMA_EIO && strstr(mama_last_error(), "ckpt.safetensors"), "save under ENOSPC: %s",
                  mama_status_name(rc));
        CHECK(ckpt_load(path, &r, back, 2) == MAMA_OK && r.step == 1234 && memcmp(moment, m2, t.bytes) == 0);
        CHECK_MSG(count_tmp() == 0, "a temporary file was left behind");
        /* and the disk back: the new checkpoint replaces the old */
        CHECK(ckpt_save(path, &s, blocks, 2) == MAMA_OK);
        CHECK(ckpt_load(path, &r, back, 2) == MAMA_OK && r.step == 2000 && memcmp(params, p2, t.bytes) == 0);
    } else {
        fprintf(stderr, "skip: full-disk injection needs LD_PRELOAD=fiu_posix_preload.so\n");
    }
#else
    fprintf(stderr, "skip: built without libfiu, no full-disk injection\n");
#endif
    CHECK(count_tmp() == 0);
    ptable_block_free(params), ptable_block_free(moment), ptable_block_free(p2), ptable_block_free(m2);
    ptable_block_free(b8);
    ptable_free(&t), ptable_free(&t8);
    check_remove_dir(tmpdir);
    CHECK_DONE();
}
