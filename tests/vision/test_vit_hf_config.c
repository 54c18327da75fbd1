/* test_vit_hf_config.c: vit_config_from_checkpoint on small Dinov2Model (no registers, a
 * width that is not a multiple of 64, so the head count can only come from config.json)
 * and Dinov2WithRegistersModel files written here, with a config.json beside them that
 * fits or does not. Catches: sizes taken from the shapes when the config says otherwise
 * (heads), a config that disagrees with the file accepted silently (depth, registers, grid,
 * width, MLP), unsupported variants (SwiGLU, another model_type) loaded as if they fit,
 * and a no-register file refused. A file that fits must then load and run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/vision/vit.h"
#include "tests/check.h"

static char dir[64], weights[128];

static void write_config(const char *json) {
    char path[160];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!json) { unlink(path); return; }
    FILE *f = fopen(path, "w");
    fputs(json, f);
    fclose(f);
}

/* A random tower of this shape saved in HF hub naming at `weights`. */
static void write_tower(int width, int heads, int depth, int regs) {
    vit_config c = {.width = width, .depth = depth, .heads = heads, .patch = 4, .image_size = 16,
                    .n_registers = regs, .mlp_ratio = 4.0f, .ln_eps = 1e-6f, .layerscale = 1,
                    .in_chans = 3};
    vit_model *m = NULL;
    st_writer *w = NULL;
    CHECK(vit_create(&c, &m) == MAMA_OK);
    vit_init_random(m, 7);
    CHECK(st_writer_create(&w) == MAMA_OK);
    CHECK(vit_save(m, w, "", NULL) == MAMA_OK);
    CHECK(st_writer_save(w, weights) == MAMA_OK);
    st_writer_destroy(w);
    vit_free(m);
}

/* Runs the reader; checks the status and that the message names `needle`. */
static void expect(const char *json, mama_status want, const char *needle, vit_config *out) {
    write_config(json);
    st_file *f = NULL;
    CHECK(st_open(weights, &f) == MAMA_OK);
    vit_config c;
    mama_status rc = vit_config_from_checkpoint(f, weights, "", &c);
    CHECK_MSG(rc == want, "config %s: status %s, expected %s (%s)", json ? json : "(none)",
              mama_status_name(rc), mama_status_name(want), rc ? mama_last_error() : "");
    if (rc != MAMA_OK && needle)
        CHECK_MSG(strstr(mama_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                  mama_last_error(), needle);
    if (out && rc == MAMA_OK) *out = c;
    st_close(f);
}

#define DINOV2 "\"model_type\": \"dinov2\", \"hidden_size\": 48, \"num_hidden_layers\": 2, " \
               "\"patch_size\": 4, \"image_size\": 16, \"mlp_ratio\": 4, \"layer_norm_eps\": 1e-5"

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/vit_hf_config.XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(weights, sizeof weights, "%s/model.safetensors", dir);

    /* Dinov2Model, width 48 with 3 heads (16 wide: not width/64), no registers */
    write_tower(48, 3, 2, 0);
    expect(NULL, MAMA_EINVAL, "num_attention_heads", NULL);
    vit_config c = {0};
    expect("{" DINOV2 ", \"num_attention_heads\": 3}", MAMA_OK, NULL, &c);
    CHECK(c.width == 48 && c.heads == 3 && c.depth == 2 && c.n_registers == 0);
    CHECK(c.patch == 4 && c.image_size == 16 && c.layerscale == 1 && c.in_chans == 3);
    CHECK(c.ln_eps == 1e-5f && (int)(c.width * c.mlp_ratio) == 192);
    {   /* it loads and runs */
        vit_model *m = NULL;
        st_file *f = NULL;
        CHECK(vit_create(&c, &m) == MAMA_OK && st_open(weights, &f) == MAMA_OK);
        CHECK(vit_load(m, f, "", NULL) == MAMA_OK);
        float x[3 * 16 * 16];
        unsigned long long s = 3;
        test_fill(x, sizeof x / sizeof *x, &s, 1.0f);
        CHECK(vit_forward(m, x, 1, 16, 16, 0) == MAMA_OK);
        CHECK(m->T == 1 + 16);
        st_close(f);
        vit_free(m);
    }
    expect("{" DINOV2 ", \"num_attention_heads\": 5}", MAMA_EINVAL, "num_attention_heads 5", NULL);
    expect("{\"model_type\": \"dinov2\", \"hidden_size\": 48, \"num_hidden_layers\": 3, "
           "\"num_attention_heads\": 3}", MAMA_ESHAPE, "num_hidden_layers 3", NULL);
    expect("{\"hidden_size\": 64, \"num_attention_heads\": 4}", MAMA_ESHAPE, "hidden_size 64", NULL);
    expect("{\"num_attention_heads\": 3, \"image_size\": 32}", MAMA_ESHAPE, "image_size 32", NULL);
    expect("{\"num_attention_heads\": 3, \"patch_size\": 8}", MAMA_ESHAPE, "patch_size 8", NULL);
    expect("{\"num_attention_heads\": 3, \"mlp_ratio\": 2}", MAMA_ESHAPE, "mlp_ratio 2", NULL);
    expect("{\"num_attention_heads\": 3, \"num_register_tokens\": 4}", MAMA_ESHAPE,
           "num_register_tokens 4", NULL);
    expect("{\"num_attention_heads\": 3, \"use_swiglu_ffn\": true}", MAMA_EUNSUPPORTED, "SwiGLU", NULL);
    expect("{\"model_type\": \"vit\", \"num_attention_heads\": 3}", MAMA_EUNSUPPORTED, "model_type", NULL);
    expect("{\"num_attention_heads\": 3, \"hidden_act\": \"relu\"}", MAMA_EUNSUPPORTED, "hidden_act", NULL);
    expect("[1, 2]", MAMA_EFORMAT, "not a JSON object", NULL);

    /* Dinov2WithRegistersModel: 2 registers; a config claiming none is refused */
    write_tower(64, 2, 1, 2);
    expect(NULL, MAMA_OK, NULL, &c);                 /* shapes only: heads 64/64 = 1 */
    CHECK(c.heads == 1 && c.n_registers == 2 && c.depth == 1);
    expect("{\"model_type\": \"dinov2_with_registers\", \"num_attention_heads\": 2, "
           "\"num_register_tokens\": 2}", MAMA_OK, NULL, &c);
    CHECK(c.heads == 2 && c.n_registers == 2);
    expect("{\"model_type\": \"dinov2\", \"num_attention_heads\": 2}", MAMA_ESHAPE,
           "2 register tokens", NULL);

    write_config(NULL);
    unlink(weights);
    rmdir(dir);
    return check_done("vit_hf_config");
}
