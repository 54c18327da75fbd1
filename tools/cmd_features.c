/* cmd_features.c: `mama features FILE... --model M --out DIR`: the image tower's features
 * of each view (DICOM, PNG or PGM), preprocessed exactly as scoring does (the model's
 * size, mean and std; Otsu breast crop), for research users (probes, retrieval) and for
 * the parity test against onnxruntime (tests/vision/dinov2_onnx_parity.py).
 * Per view, named DIR/<parent>_<stem>.safetensors (or .<name>.npy with --format npy):
 *   pooled (C)                     mean of all tokens before the final LayerNorm (vit.h)
 *   projected (E)                  l2norm(pooled @ vision_proj^T), when the model has E > 0
 *   patch (Gh*Gw, C)               --patches: patch tokens after the final LayerNorm
 *   last_hidden_state (T, C)       --tokens: every token after the final LayerNorm (HF's name)
 *   input (3, S, S)                --input: the preprocessed model input itself */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/core/parallel.h"
#include "engine/core/safetensors.h"
#include "engine/model.h"
#include "engine/vision/preprocess.h"
#include "tools/image_source.h"
#include "tools/npy_write.h"
#include "tools/out_name.h"

int cmd_features(int argc, char **argv);

static void usage(FILE *out) {
    fprintf(out,
        "usage: mama features FILE... --model MODEL --out DIR [--format safetensors|npy]\n"
        "                     [--patches] [--tokens] [--input] [--image-size S] [--threads N]\n"
        "Writes the image tower's features of each view: pooled (C) and projected (E) always,\n"
        "patch tokens (Np, C) with --patches, last_hidden_state (T, C) with --tokens, the\n"
        "preprocessed input (3, S, S) with --input; one DIR/<parent>_<stem>.safetensors per\n"
        "view, or DIR/<parent>_<stem>.<name>.npy with --format npy.\n"
        "--image-size S overrides the model's input side (a multiple of the patch size is\n"
        "best; the position embeddings are interpolated as in scoring).\n");
}

typedef struct feat_opts {
    int npy, patches, tokens, input, size;
    const char *out;
} feat_opts;

typedef struct feat_item {
    const char *name;
    const float *data;
    int ndim;
    int64_t shape[3];
} feat_item;

static mama_status write_items(const feat_opts *o, const char *file, const feat_item *it, int n,
                               const mama_model *m, char *where, size_t where_n) {
    mama_status rc = MAMA_OK;
    if (o->npy) {
        for (int i = 0; i < n && rc == MAMA_OK; i++) {
            char ext[64];
            snprintf(ext, sizeof ext, ".%s.npy", it[i].name);
            out_name(where, where_n, o->out, file, ext);
            rc = npy_write_f32(where, it[i].data, it[i].ndim, it[i].shape);
        }
        out_name(where, where_n, o->out, file, ".*.npy");
        return rc;
    }
    st_writer *w = NULL;
    if ((rc = st_writer_create(&w)) != MAMA_OK) return rc;
    for (int i = 0; i < n && rc == MAMA_OK; i++)
        rc = st_writer_add_f32(w, it[i].name, it[i].ndim, it[i].shape, it[i].data);
    char size[16];
    snprintf(size, sizeof size, "%d", o->size);
    if (rc == MAMA_OK) rc = st_writer_set_metadata(w, "source", file);
    if (rc == MAMA_OK) rc = st_writer_set_metadata(w, "model_id", m->id);
    if (rc == MAMA_OK) rc = st_writer_set_metadata(w, "image_size", size);
    out_name(where, where_n, o->out, file, ".safetensors");
    if (rc == MAMA_OK) rc = st_writer_save(w, where);
    st_writer_destroy(w);
    return rc;
}

/* One view: load, preprocess, forward, write. */
static mama_status one_view(const feat_opts *o, mama_model *m, const char *file, float *input,
                            char *where, size_t where_n) {
    float *img = NULL;
    int H, W;
    mama_status rc = image_source_load(file, &img, &H, &W, NULL, NULL);
    if (rc != MAMA_OK) return rc;
    prep_config pc;
    prep_config_default(&pc);
    pc.size = o->size;
    memcpy(pc.mean, m->pre.mean, sizeof pc.mean);
    memcpy(pc.std, m->pre.std, sizeof pc.std);
    rc = prep_image_eval(input, img, H, W, &pc, NULL);
    free(img);
    if (rc != MAMA_OK) return rc;
    vit_model *v = m->vit;
    if ((rc = vit_forward(v, input, 1, o->size, o->size, 0)) != MAMA_OK) return rc;
    int64_t C = v->cfg.width, S = o->size;
    feat_item it[5];
    int n = 0;
    it[n++] = (feat_item){"pooled", vit_pooled(v), 1, {C}};
    if (m->embed > 0) it[n++] = (feat_item){"projected", vit_projected(v), 1, {m->embed}};
    if (o->patches) it[n++] = (feat_item){"patch", vit_patch_tokens(v, 0), 2, {v->Np, C}};
    if (o->tokens) it[n++] = (feat_item){"last_hidden_state", vit_tokens_normed(v), 2, {v->T, C}};
    if (o->input) it[n++] = (feat_item){"input", input, 3, {3, S, S}};
    return write_items(o, file, it, n, m, where, where_n);
}

int cmd_features(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"out", required_argument, 0, 'o'},
        {"format", required_argument, 0, 'f'}, {"patches", no_argument, 0, 'p'},
        {"tokens", no_argument, 0, 'k'}, {"input", no_argument, 0, 'i'},
        {"image-size", required_argument, 0, 's'}, {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    feat_opts o = {0};
    const char *model_path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:o:f:pkis:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'o': o.out = optarg; break;
        case 'f':
            if (strcmp(optarg, "npy") && strcmp(optarg, "safetensors")) {
                fprintf(stderr, "mama features: --format is safetensors or npy\n");
                return 2;
            }
            o.npy = !strcmp(optarg, "npy");
            break;
        case 'p': o.patches = 1; break;
        case 'k': o.tokens = 1; break;
        case 'i': o.input = 1; break;
        case 's': case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > (c == 's' ? 8192 : 1024)) {
                fprintf(stderr, "mama features: --%s wants 1..%d\n", c == 's' ? "image-size" : "threads",
                        c == 's' ? 8192 : 1024);
                return 2;
            }
            if (c == 's') o.size = (int)v;
            else mama_set_threads((int)v);
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model_path || !o.out || optind == argc) { usage(stderr); return 2; }
    if (mkdir(o.out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "mama features: cannot create %s: %s\n", o.out, strerror(errno));
        return 1;
    }
    mama_model *m = NULL;
    if (model_load(model_path, &m) != MAMA_OK) {
        fprintf(stderr, "mama features: %s\n", mama_last_error());
        return 1;
    }
    if (!o.size) o.size = m->pre.image_size;
    if (o.size < m->vit->cfg.patch) {
        fprintf(stderr, "mama features: --image-size %d is below the patch size %d\n", o.size,
                m->vit->cfg.patch);
        model_free(m);
        return 2;
    }
    float *input = malloc(sizeof(float) * 3 * (size_t)o.size * o.size);
    int failed = 0;
    for (int i = optind; i < argc && input; i++) {
        char where[8192];
        if (one_view(&o, m, argv[i], input, where, sizeof where) != MAMA_OK) {
            fprintf(stderr, "mama features: %s: %s\n", argv[i], mama_last_error());
            failed++;   /* one bad file does not lose the others' features */
            continue;
        }
        printf("%s -> %s\n", argv[i], where);
    }
    if (!input) fprintf(stderr, "mama features: out of memory\n");
    free(input);
    model_free(m);
    return failed || !input ? 1 : 0;
}
