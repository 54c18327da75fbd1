/* cmd_prompts.c: `mama prompts MODEL --tokenizer T ...`: computes the zero-shot class
 * prompt embeddings of every task with the text tower and stores them in the model file
 * (tensors task.<task>.prompts (K, E), L2-normalised rows, class order of
 * report_class_name), so that scoring needs only the image tower (MAMA_METHOD.md
 * section 9). The model file is rewritten atomically with everything it held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <jansson.h>

#include "engine/text/bert.h"
#include "engine/text/gpt2.h"
#include "engine/core/hf_config.h"
#include "engine/text/prompts.h"
#include "engine/core/safetensors.h"
#include "engine/text/text_tower.h"
#include "tools/mama.h"

int cmd_prompts(int argc, char **argv);

static void usage(FILE *out) {
    fprintf(out,
        "usage: mama prompts MODEL --tokenizer T [--text-weights W] [--text-config C]\n"
        "                    [--tower gpt2|bert] [--pool mean|cls] [--max-len N]\n"
        "                    [--no-projection] [--out PATH]\n"
        "Computes the class-prompt embeddings of the tasks density (A-D), birads (0-6) and\n"
        "malignancy (benign, malignant) and stores them in MODEL as task.<task>.prompts (K, E).\n"
        "With a mama_config (engine/model.h), its zero_shot tasks are done (their classes\n"
        "checked, embed_dim == E); without one, all three, with task.<task>.classes metadata.\n"
        "  --tokenizer T    tokenizer.json (byte-level BPE, GPT-2 tower) or vocab.txt\n"
        "                   (WordPiece, BERT tower); the tower follows unless --tower is given\n"
        "  --text-weights W Hugging Face model.safetensors of the text tower (default: the\n"
        "                   text.* tensors of MODEL, with its metadata text.config)\n"
        "  --text-config C  its config.json (default: beside W)\n"
        "  --pool           mean over real tokens (default, as in training) or cls\n"
        "  --max-len N      tokens per prompt (default 144)\n"
        "  --no-projection  no text_proj.weight in MODEL: store the pooled features, L2-normalised\n"
        "  --out PATH       write there instead of replacing MODEL\n"
        "MODEL provides text_proj.weight (E, C) [+ text_proj.bias (E)], and for GPT-2 the\n"
        "trainables text.lora.h.N.<target>.A/B (with metadata text.lora_rank, text.lora_alpha,\n"
        "text.lora_targets) and text.wte_added when present (docs/text_towers.md).\n");
}

enum { MAX_JOBS = 16 };

static int fail(const char *what) {
    fprintf(stderr, "mama prompts: %s: %s\n", what, mama_last_error());
    return 1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* One prompt tensor to write: report template `task` stored as task.<name>.prompts. */
typedef struct job {
    report_task task;
    char name[64];
} job;

/* The zero_shot tasks of MODEL's mama_config (engine/model.h) that have a prompt
 * template, checked against it; all three templates when MODEL has no mama_config.
 * *out_embed: the config's embed_dim, 0 when none. */
static int plan_jobs(const st_file *model, job *jobs, int *out_n, int *out_embed) {
    *out_n = 0;
    *out_embed = 0;
    const char *cfg = st_metadata(model, "mama_config");
    if (!cfg) {
        for (int t = 0; t < REPORT_TASK_COUNT; t++) {
            jobs[t].task = (report_task)t;
            snprintf(jobs[t].name, sizeof jobs[t].name, "%s", report_task_name((report_task)t));
        }
        *out_n = REPORT_TASK_COUNT;
        return 0;
    }
    json_error_t err;
    json_t *j = json_loads(cfg, 0, &err);
    json_t *tasks = json_object_get(j, "tasks");
    if (!j || !json_is_array(tasks)) {
        fprintf(stderr, "mama prompts: mama_config is not JSON with a \"tasks\" array (%s)\n", err.text);
        json_decref(j);
        return 1;
    }
    *out_embed = (int)json_integer_value(json_object_get(j, "embed_dim"));
    size_t i;
    json_t *t;
    int status = 0;
    json_array_foreach(tasks, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *kind = json_string_value(json_object_get(t, "kind"));
        json_t *classes = json_object_get(t, "classes");
        if (!name || !kind || strcmp(kind, "zero_shot") != 0) continue;
        int rt = -1;
        for (int k = 0; k < REPORT_TASK_COUNT; k++)
            if (!strcmp(name, report_task_name((report_task)k))) rt = k;
        if (rt < 0) {
            fprintf(stderr, "mama prompts: warning: no prompt template for zero_shot task '%s'; "
                    "its prompts are left as they are\n", name);
            continue;
        }
        int K = report_task_classes((report_task)rt);
        int ok = (int)json_array_size(classes) == K && *out_n < MAX_JOBS;
        /* density and birads classes must be the template's; malignancy: any two names,
         * the first benign, the second malignant */
        for (int k = 0; ok && rt != REPORT_TASK_MALIGNANCY && k < K; k++) {
            const char *c = json_string_value(json_array_get(classes, (size_t)k));
            ok = c && !strcmp(c, report_class_name((report_task)rt, k));
        }
        if (!ok) {
            fprintf(stderr, "mama prompts: task '%s' in mama_config must have %d classes%s\n", name, K,
                    rt == REPORT_TASK_DENSITY ? " A, B, C, D" : rt == REPORT_TASK_BIRADS ? " 0 .. 6"
                                                                    : " (benign first, malignant second)");
            status = 1;
            break;
        }
        jobs[*out_n].task = (report_task)rt;
        snprintf(jobs[*out_n].name, sizeof jobs[*out_n].name, "%s", name);
        (*out_n)++;
    }
    json_decref(j);
    return status;
}

/* The GPT-2 tower: base weights from weights_path (HF) or MODEL's text.* tensors (HF
 * config JSON in metadata text.config), vocabulary grown to the tokenizer's, LoRA per
 * MODEL's text.lora_* metadata, trainables (text.lora.*, text.wte_added) from MODEL. */
static mama_status load_gpt2(gpt2_model **out, const st_file *model, const char *weights_path,
                             const char *config_path, const bpe_tokenizer *tok) {
    lora_config lc;
    mama_status rc = gpt2_read_lora_config(model, &lc);
    if (rc) return rc;
    if (lc.rank == 0 && st_find(model, "text.lora.h.0.attn.c_attn.A"))
        return mama_errorf(MAMA_EFORMAT, "the model file has LoRA tensors but no text.lora_rank / "
                           "text.lora_alpha / text.lora_targets metadata (gpt2_save_trainable writes them)");
    int vocab = bpe_vocab_size(tok), first = bpe_first_added_id(tok);
    if (weights_path) {
        rc = gpt2_load_hf(weights_path, config_path, vocab, first, lc.rank ? &lc : NULL, out);
    } else {
        const char *meta = st_metadata(model, "text.config");
        if (!meta)
            return mama_errorf(MAMA_ENOTFOUND, "the model file has no text.config metadata: give the "
                               "text tower with --text-weights model.safetensors (and its config.json)");
        gpt2_config cfg;
        if ((rc = gpt2_config_from_hf_json(meta, &cfg))) return rc;
        if (vocab > cfg.vocab_size) cfg.vocab_size = vocab;
        if (first >= 0 && first < cfg.added_from) cfg.added_from = first;
        rc = gpt2_create(&cfg, lc.rank ? &lc : NULL, 0, out);
        if (!rc) rc = gpt2_load_weights(*out, model);
    }
    if (!rc && (lc.rank || st_find(model, "text.wte_added"))) rc = gpt2_load_trainable(*out, model);
    return rc;
}

int cmd_prompts(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *weights_path = NULL, *config_path = NULL;
    const char *tower_name = NULL, *pool = "mean", *out_path = NULL;
    int max_len = BPE_MAMA_MAX_LEN, no_proj = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (!strcmp(a, "--no-projection")) { no_proj = 1; continue; }
        if (!strcmp(a, "--tokenizer")) dst = &tok_path;
        else if (!strcmp(a, "--text-weights")) dst = &weights_path;
        else if (!strcmp(a, "--text-config")) dst = &config_path;
        else if (!strcmp(a, "--tower")) dst = &tower_name;
        else if (!strcmp(a, "--pool")) dst = &pool;
        else if (!strcmp(a, "--out")) dst = &out_path;
        else if (!strcmp(a, "--max-len")) {
            if (i + 1 >= argc || (max_len = atoi(argv[++i])) < 2 || max_len > 4096) {
                fprintf(stderr, "mama prompts: --max-len needs a number from 2 to 4096\n");
                return 2;
            }
            continue;
        } else if (a[0] == '-') {
            fprintf(stderr, "mama prompts: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (!model_path) { model_path = a; continue; }
        else { fprintf(stderr, "mama prompts: one MODEL only (got %s)\n", a); return 2; }
        if (i + 1 >= argc) { fprintf(stderr, "mama prompts: %s needs a value\n", a); return 2; }
        *dst = argv[++i];
    }
    if (!model_path || !tok_path) { usage(stderr); return 2; }
    int use_bert = tower_name ? !strcmp(tower_name, "bert") : ends_with(tok_path, ".txt");
    if (tower_name && strcmp(tower_name, "bert") && strcmp(tower_name, "gpt2")) {
        fprintf(stderr, "mama prompts: --tower is gpt2 or bert\n");
        return 2;
    }
    if (strcmp(pool, "mean") && strcmp(pool, "cls")) {
        fprintf(stderr, "mama prompts: --pool is mean or cls\n");
        return 2;
    }

    int status = 1;
    mama_status rc;
    bpe_tokenizer *bpe = NULL;
    wordpiece_tokenizer *wp = NULL;
    st_file *model = NULL;
    st_writer *w = NULL;
    gpt2_model *gpt2 = NULL;
    bert_model *bert = NULL;
    float *emb = NULL, *pw = NULL, *pb = NULL;
    prompt_set ps[MAX_JOBS] = {{0}};
    job jobs[MAX_JOBS];
    int n_jobs = 0, cfg_embed = 0;
    json_t *texts = json_object();

    rc = use_bert ? wordpiece_load(tok_path, NULL, &wp) : bpe_load_json(tok_path, &bpe);
    if (rc) { status = fail(tok_path); goto done; }
    if ((rc = st_open(model_path, &model))) { status = fail(model_path); goto done; }
    if (plan_jobs(model, jobs, &n_jobs, &cfg_embed)) goto done;
    if (n_jobs == 0) {
        fprintf(stderr, "mama prompts: %s has no zero_shot task with a prompt template: nothing to do\n", model_path);
        goto done;
    }
    if (use_bert) {
        if (!weights_path) {
            fprintf(stderr, "mama prompts: the BERT tower needs --text-weights model.safetensors\n");
            status = 2;
            goto done;
        }
        if ((rc = bert_load_hf(weights_path, config_path, &bert))) { status = fail(weights_path); goto done; }
    } else {
        rc = load_gpt2(&gpt2, model, weights_path, config_path, bpe);
        if (rc) { status = fail(weights_path ? weights_path : model_path); goto done; }
    }
    text_tower tw = {gpt2, bert, strcmp(pool, "cls") ? TEXT_POOL_MEAN : TEXT_POOL_CLS};
    int C = text_tower_width(&tw), E = C;
    const st_tensor *pwt = st_find(model, "text_proj.weight");
    if (!no_proj) {
        if (!pwt || pwt->ndim != 2 || pwt->shape[1] != C) {
            fprintf(stderr, "mama prompts: %s: no text_proj.weight of shape (E, %d): a trained model "
                    "holds the text projection; use --no-projection to store the pooled features\n",
                    model_path, C);
            goto done;
        }
        E = (int)pwt->shape[0];
        pw = malloc((size_t)E * C * sizeof *pw);
        pb = calloc((size_t)E, sizeof *pb);
        if (!pw || !pb) { mama_errorf(MAMA_ENOMEM, "out of memory"); status = fail("projection"); goto done; }
        int64_t ws[2] = {E, C}, bs[1] = {E};
        if ((rc = st_read_f32(model, "text_proj.weight", pw, 2, ws)) ||
            (st_find(model, "text_proj.bias") && (rc = st_read_f32(model, "text_proj.bias", pb, 1, bs)))) {
            status = fail(model_path);
            goto done;
        }
    }

    if (cfg_embed > 0 && cfg_embed != E) {
        fprintf(stderr, "mama prompts: %s: mama_config embed_dim is %d but the text side gives %d-dimensional "
                "embeddings (%s)\n", model_path, cfg_embed, E,
                no_proj ? "--no-projection keeps the tower width" : "text_proj.weight rows");
        goto done;
    }
    if ((rc = st_writer_create(&w))) { status = fail("writer"); goto done; }
    for (int ji = 0; ji < n_jobs; ji++) {
        report_task task = jobs[ji].task;
        prompt_set *p = &ps[ji];
        if ((rc = prompts_build(p, task, bpe, wp, max_len))) { status = fail("prompts"); goto done; }
        emb = realloc(emb, (size_t)p->K * E * sizeof *emb);
        if (!emb) { mama_errorf(MAMA_ENOMEM, "out of memory"); status = fail("prompts"); goto done; }
        if (no_proj) {
            rc = text_tower_pooled(&tw, emb, p->ids, p->mask, p->K, p->T);
            for (int k = 0; !rc && k < p->K; k++) {
                double ss = 0;
                for (int c = 0; c < C; c++) ss += (double)emb[k * C + c] * emb[k * C + c];
                float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
                for (int c = 0; c < C; c++) emb[k * C + c] *= inv;
            }
        } else {
            rc = text_tower_embed(&tw, emb, p->ids, p->mask, p->K, p->T, pw, pb, E);
        }
        if (rc) { status = fail("text tower"); goto done; }
        char name[128];
        snprintf(name, sizeof name, "task.%s.prompts", jobs[ji].name);
        int64_t shape[2] = {p->K, E};
        if ((rc = st_writer_add_f32(w, name, 2, shape, emb))) { status = fail(name); goto done; }
        json_t *classes = json_array(), *tt = json_array();
        for (int k = 0; k < p->K; k++) {
            json_array_append_new(classes, json_string(report_class_name(task, k)));
            json_array_append_new(tt, json_string(p->texts[k]));
        }
        json_object_set_new(texts, jobs[ji].name, tt);
        if (!st_metadata(model, "mama_config")) { /* else the config names the classes */
            char *cj = json_dumps(classes, JSON_COMPACT);
            snprintf(name, sizeof name, "task.%s.classes", jobs[ji].name);
            rc = cj ? st_writer_set_metadata(w, name, cj) : mama_errorf(MAMA_ENOMEM, "out of memory");
            free(cj);
        }
        json_decref(classes);
        if (rc) { status = fail(name); goto done; }
        printf("task %-10s %d prompts x %d, %d-%d tokens\n", jobs[ji].name, p->K, E,
               p->n_tokens[0], p->n_tokens[p->K - 1]);
    }
    /* Everything else MODEL held, unchanged (earlier prompts are replaced). */
    for (int i = 0; i < st_count(model); i++) {
        const st_tensor *t = st_at(model, i);
        if (!strncmp(t->name, "task.", 5) && ends_with(t->name, ".prompts")) {
            int ours = 0;
            for (int k = 0; k < n_jobs; k++) {
                char name[128];
                snprintf(name, sizeof name, "task.%s.prompts", jobs[k].name);
                ours |= !strcmp(name, t->name);
            }
            if (ours) continue;
        }
        if ((rc = st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data))) { status = fail(t->name); goto done; }
    }
    for (int i = 0; i < st_metadata_count(model); i++) {
        const char *k = st_metadata_key(model, i);
        if (!strncmp(k, "task.", 5) && ends_with(k, ".classes")) continue;
        if (!strcmp(k, "prompts.texts") || !strcmp(k, "prompts.pool")) continue;
        if ((rc = st_writer_set_metadata(w, k, st_metadata(model, k)))) { status = fail(k); goto done; }
    }
    char *tj = json_dumps(texts, JSON_COMPACT);
    rc = tj ? st_writer_set_metadata(w, "prompts.texts", tj) : mama_errorf(MAMA_ENOMEM, "out of memory");
    free(tj);
    if (!rc) rc = st_writer_set_metadata(w, "prompts.pool", pool);
    if (rc) { status = fail("metadata"); goto done; }
    st_close(model);
    model = NULL;
    if ((rc = st_writer_save(w, out_path ? out_path : model_path))) { status = fail(out_path ? out_path : model_path); goto done; }
    printf("wrote %s\n", out_path ? out_path : model_path);
    status = 0;

done:
    for (int t = 0; t < MAX_JOBS; t++) prompts_free(&ps[t]);
    json_decref(texts);
    free(emb); free(pw); free(pb);
    st_writer_destroy(w);
    if (gpt2) gpt2_destroy(gpt2);
    if (bert) bert_destroy(bert);
    if (model) st_close(model);
    bpe_free(bpe);
    wordpiece_free(wp);
    return status;
}
