/* test_prompts_model.c: `mama prompts` on a file written by `mama model-init` (the vision
 * helper's model format, engine/model.h) plus a GPT-2 text side, in place; the scoring
 * loader (model_load) must accept the result and see our prompts, the random model-init
 * prompts replaced, the linear task untouched. Built only when engine/model.h exists
 * (tests/text/meson.build), i.e. once the vision branch is merged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/model.h"
#include "engine/core/rng.h"
#include "engine/core/safetensors.h"
#include "tests/check.h"

static char src[4096], bld[4096];

/* The vision helper's model file, given a GPT-2 text side, gets prompts it can load. */
static void test_model_file(const char *gpt2_model) {
    char path[512], cmd[20480];
    snprintf(path, sizeof path, "/tmp/test_prompts_model_%d.safetensors", (int)getpid());
    snprintf(cmd, sizeof cmd, "'%s/tools/mama' model-init --config micro --seed 3 --out '%s' >/dev/null", bld, path);
    CHECK_MSG(system(cmd) == 0, "model-init failed: %s", cmd);
    st_file *m = NULL, *g = NULL;
    st_writer *w = NULL;
    if (st_open(path, &m) || st_open(gpt2_model, &g) || st_writer_create(&w)) {
        CHECK_MSG(0, "open: %s", mama_last_error());
        return;
    }
    float before[4 * 16];
    int64_t ps[2] = {4, 16};
    CHECK_MSG(st_read_f32(m, "task.density.prompts", before, 2, ps) == MAMA_OK, "model-init wrote density prompts");
    for (int i = 0; i < st_count(m); i++) {
        const st_tensor *t = st_at(m, i);
        st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data);
    }
    st_writer_set_metadata(w, "mama_config", st_metadata(m, "mama_config"));
    for (int i = 0; i < st_count(g); i++) {
        const st_tensor *t = st_at(g, i);
        if (!strncmp(t->name, "text.", 5)) st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data);
    }
    for (int i = 0; i < st_metadata_count(g); i++) /* text.config, text.lora_* */
        if (!strncmp(st_metadata_key(g, i), "text.", 5))
            st_writer_set_metadata(w, st_metadata_key(g, i), st_metadata(g, st_metadata_key(g, i)));
    float proj[16 * 16], bias[16] = {0};
    mama_rng r;
    mama_rng_seed(&r, 11);
    for (int i = 0; i < 16 * 16; i++) proj[i] = (float)(0.3 * mama_rng_normal(&r));
    int64_t s2[2] = {16, 16}, s1[1] = {16};
    st_writer_add_f32(w, "text_proj.weight", 2, s2, proj);
    st_writer_add_f32(w, "text_proj.bias", 1, s1, bias);
    st_close(m);
    st_close(g);
    CHECK_MSG(st_writer_save(w, path) == MAMA_OK, "save: %s", mama_last_error());
    st_writer_destroy(w);
    /* in place */
    snprintf(cmd, sizeof cmd, "'%s/tools/mama' prompts '%s' --tokenizer '%s/tests/text/ref/bpe_tokenizer.json'",
             bld, path, src);
    CHECK_MSG(system(cmd) == 0, "prompts failed: %s", cmd);
    mama_model *mm = NULL;
    mama_status rc = model_load(path, &mm);
    CHECK_MSG(rc == MAMA_OK, "model_load after mama prompts: %s", mama_last_error());
    st_file *o = NULL;
    if (!rc && st_open(path, &o) == MAMA_OK) {
        const model_task *t = model_find_task(mm, "density");
        float after[4 * 16];
        CHECK_MSG(t && t->n_classes == 4 && st_read_f32(o, "task.density.prompts", after, 2, ps) == MAMA_OK, "density task");
        double diff_loaded = 0, diff_init = 0;
        for (int i = 0; t && i < 4 * 16; i++) {
            diff_loaded = fmax(diff_loaded, fabs((double)t->prompts[i] - after[i]));
            diff_init = fmax(diff_init, fabs((double)before[i] - after[i]));
        }
        CHECK_MSG(diff_loaded < 1e-6, "the loader sees our (unit) prompts: %g", diff_loaded);
        CHECK_MSG(diff_init > 1e-3, "the random model-init prompts were replaced");
        CHECK_MSG(model_find_task(mm, "malignancy") && st_find(o, "task.malignancy.prompts") == NULL,
                  "the linear malignancy task gets no prompts");
        st_close(o);
    }
    model_free(mm);
    unlink(path);
}

int main(void) {
    snprintf(src, sizeof src, "%s", getenv("MAMA_SOURCE_ROOT") ? getenv("MAMA_SOURCE_ROOT") : ".");
    snprintf(bld, sizeof bld, "%s", getenv("MAMA_BUILD_ROOT") ? getenv("MAMA_BUILD_ROOT") : "build");
    char model[4200];
    snprintf(model, sizeof model, "%s/tests/text/ref/prompts_gpt2_model.safetensors", src);
    test_model_file(model);
    return check_done("prompts model file");
}
