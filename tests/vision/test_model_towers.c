/* test_model_towers.c: model_init from tower directories (`mama model-init --image-tower
 * DIR --text-tower DIR`) on small towers written here. Catches: the tower not the one in
 * the directory (weights compared), mean/std not taken from preprocessor_config.json,
 * a broken preprocessor_config.json ignored, provenance without the status or with a
 * wrong checksum (compared with the sha256sum tool, an independent implementation), a text projection of the wrong shape, status,
 * sources or text_proj lost in a save/load round trip, and a text tower without
 * config.json accepted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "engine/model.h"
#include "tests/check.h"

static char dir[64], img[96], txt[96];

static void write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    fputs(s, f);
    fclose(f);
}

static void sha256sum(const char *path, char out[65]) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    out[0] = 0;
    if (!p || fscanf(p, "%64s", out) != 1) out[0] = 0;
    if (p) pclose(p);
}

/* The sources entry with this role: its sha256, or "" */
static const char *source_sha(const mama_model *m, const char *role, char *buf) {
    buf[0] = 0;
    json_t *a = m->sources_json ? json_loads(m->sources_json, 0, NULL) : NULL;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        if (!strcmp(json_string_value(json_object_get(e, "role")) ?: "", role))
            snprintf(buf, 65, "%s", json_string_value(json_object_get(e, "sha256")) ?: "");
    }
    json_decref(a);
    return buf;
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/model_towers.XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(img, sizeof img, "%s/img", dir);
    snprintf(txt, sizeof txt, "%s/txt", dir);
    mkdir(img, 0700);
    mkdir(txt, 0700);
    char path[160], wimg[160], wtxt[160];
    snprintf(wimg, sizeof wimg, "%s/model.safetensors", img);
    snprintf(wtxt, sizeof wtxt, "%s/model.safetensors", txt);

    /* image tower: Dinov2Model, width 48, 3 heads, no registers */
    vit_config vc = {.width = 48, .depth = 2, .heads = 3, .patch = 4, .image_size = 16,
                     .mlp_ratio = 4.0f, .ln_eps = 1e-6f, .layerscale = 1, .in_chans = 3};
    vit_model *ref = NULL;
    st_writer *w = NULL;
    CHECK(vit_create(&vc, &ref) == MAMA_OK && st_writer_create(&w) == MAMA_OK);
    vit_init_random(ref, 11);
    CHECK(vit_save(ref, w, "", NULL) == MAMA_OK && st_writer_save(w, wimg) == MAMA_OK);
    st_writer_destroy(w);
    snprintf(path, sizeof path, "%s/config.json", img);
    write_text(path, "{\"model_type\": \"dinov2\", \"hidden_size\": 48, \"num_hidden_layers\": 2, "
               "\"num_attention_heads\": 3, \"patch_size\": 14, \"image_size\": 16}");
    snprintf(path, sizeof path, "%s/preprocessor_config.json", img);
    write_text(path, "{\"image_mean\": [0.485, 0.456, 0.406], \"image_std\": [0.229, 0.224, 0.225]}");

    /* a config.json whose patch_size does not fit is refused, naming it */
    model_init_opts o = {.image_tower = img, .seed = 5, .created = "2026-01-01T00:00:00Z"};
    mama_model *m = NULL;
    CHECK(model_init(&o, &m) == MAMA_ESHAPE && strstr(mama_last_error(), "patch_size 14"));
    snprintf(path, sizeof path, "%s/config.json", img);
    write_text(path, "{\"model_type\": \"dinov2\", \"hidden_size\": 48, \"num_hidden_layers\": 2, "
               "\"num_attention_heads\": 3, \"patch_size\": 4, \"image_size\": 16}");

    /* a preprocessor_config.json that is not JSON is refused, not ignored */
    snprintf(path, sizeof path, "%s/preprocessor_config.json", img);
    write_text(path, "{\"image_mean\": [0.4");
    CHECK(model_init(&o, &m) == MAMA_EFORMAT && strstr(mama_last_error(), "preprocessor_config.json"));
    write_text(path, "{\"image_mean\": [0.485, 0.456, 0.406], \"image_std\": [0.229, 0.224, 0.225]}");

    /* text tower: only its config.json (hidden_size) and file checksum matter here */
    st_writer *tw = NULL;
    float dummy[32 * 4] = {0};
    CHECK(st_writer_create(&tw) == MAMA_OK);
    CHECK(st_writer_add_f32(tw, "embeddings.word_embeddings.weight", 2, (int64_t[]){4, 32}, dummy) == MAMA_OK);
    CHECK(st_writer_save(tw, wtxt) == MAMA_OK);
    st_writer_destroy(tw);
    o.text_tower = txt;
    CHECK(model_init(&o, &m) == MAMA_EIO && strstr(mama_last_error(), "config.json"));
    snprintf(path, sizeof path, "%s/config.json", txt);
    write_text(path, "{\"model_type\": \"bert\", \"hidden_size\": 32}");

    CHECK_MSG(model_init(&o, &m) == MAMA_OK, "model_init: %s", mama_last_error());
    if (!m) return check_done("model_towers");
    CHECK_STR(m->status, "pretrained-backbone, heads untrained");
    CHECK(m->untrained == 1);
    CHECK(m->vit->cfg.width == 48 && m->vit->cfg.heads == 3 && m->vit->cfg.n_registers == 0);
    CHECK(m->pre.image_size == 16);
    CHECK(m->pre.mean[0] == 0.485f && m->pre.mean[2] == 0.406f && m->pre.std[1] == 0.224f);
    CHECK(m->text_width == 32 && m->text_proj != NULL);
    CHECK(memcmp(m->vit->params.qkvw, ref->params.qkvw, sizeof(float) * 3 * 48 * 48 * 2) == 0);
    CHECK(memcmp(m->vit->params.pos, ref->params.pos, sizeof(float) * 17 * 48) == 0);
    char want[65], got[65];
    sha256sum(wimg, want);
    CHECK(strlen(want) == 64);
    CHECK_STR(source_sha(m, "image_tower", got), want);
    sha256sum(wtxt, want);
    CHECK_STR(source_sha(m, "text_tower", got), want);

    /* save -> load keeps status, sources and the text projection */
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    CHECK(model_save(m, path) == MAMA_OK);
    mama_model *r = NULL;
    CHECK_MSG(model_load(path, &r) == MAMA_OK, "model_load: %s", mama_last_error());
    if (r) {
        CHECK_STR(r->status, m->status);
        CHECK_STR(r->sources_json ? r->sources_json : "", m->sources_json);
        CHECK(r->text_width == 32 &&
              memcmp(r->text_proj, m->text_proj, sizeof(float) * 32 * (size_t)m->embed) == 0);
        CHECK_STR(r->id, m->id);
        model_free(r);
    }
    unlink(path);
    model_free(m);

    /* a random tower says so */
    model_init_opts o2 = {.config = "micro", .seed = 1};
    CHECK(model_init(&o2, &m) == MAMA_OK);
    CHECK_STR(m->status, "untrained");
    CHECK(m->sources_json == NULL && m->text_proj == NULL);
    model_free(m);
    vit_free(ref);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("model_towers");
}
