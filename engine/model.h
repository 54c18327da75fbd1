/* model.h: a scoring model file: the image tower, its global projection, the logit scale
 * and the tasks (class-prompt embeddings or linear heads), in one safetensors file.
 *
 * Legend: C tower width, E embed dim, K classes of a task.
 *
 * File layout (ARCHITECTURE.md "Model files"):
 *   __metadata__["mama_config"] = JSON {
 *     "format": "mama-model", "version": 1,
 *     "vision": {"width", "depth", "heads", "patch", "image_size", "n_registers",
 *                "mlp_ratio", "ln_eps", "layerscale", "in_chans", "pos_resize" (optional:
 *                "bicubic_aa" (default, Dinov2WithRegistersModel) or "bicubic" (Dinov2Model))},
 *     "preprocess": {"image_size", "mean": [3], "std": [3], "resize": "bilinear_aa"},
 *     "embed_dim": E,
 *     "tasks": [{"name", "classes": [...], "kind": "zero_shot"|"linear",
 *                "study_rule": "mean"|"max_suspicion", "suspicious": [class indices]}],
 *     "provenance": {"untrained": bool, "source": str, "created": ISO-8601 str,
 *                    "status": str (optional: "untrained", "pretrained-backbone, heads
 *                    untrained", "trained"), "sources": [{"role", "path", "sha256"}]
 *                    (optional: the weight files the model was built from)}}
 *   tensors: "vision.<HF Dinov2WithRegistersModel names>", "vision_proj.weight" (E, C),
 *     "logit_scale" (1) (s = exp(logit_scale)), optional "text_proj.weight" (E, Ct) (the
 *     text tower's projection, for `mama prompts`),
 *     zero_shot: "task.<name>.prompts" (K, E); linear: "task.<name>.head.weight" (K, C)
 *     and "task.<name>.head.bias" (K).
 * "study_rule" and "suspicious" are optional: the defaults are "mean" for a task named
 * "density" and "max_suspicion" with the last class suspicious otherwise (docs/scoring.md).
 * Every field is validated at load; an error names the field or tensor. */
#ifndef MAMA_MODEL_H
#define MAMA_MODEL_H

#include <stdint.h>

#include "engine/core/precision.h"
#include "engine/core/status.h"
#include "engine/vision/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MODEL_NAME_MAX 64
#define MODEL_MAX_CLASSES 64
#define MODEL_MAX_TASKS 16

typedef enum model_task_kind { MODEL_TASK_ZERO_SHOT, MODEL_TASK_LINEAR } model_task_kind;
typedef enum model_study_rule { MODEL_RULE_MEAN, MODEL_RULE_MAX_SUSPICION } model_study_rule;

typedef struct model_task {
    char name[MODEL_NAME_MAX];
    int n_classes;                                   /* K */
    char classes[MODEL_MAX_CLASSES][MODEL_NAME_MAX];
    model_task_kind kind;
    model_study_rule rule;
    unsigned char suspicious[MODEL_MAX_CLASSES];     /* 1: class counts towards suspicion */
    float *prompts;   /* (K, E), L2-normalised at load; zero_shot only */
    float *head_w;    /* (K, C); linear only */
    float *head_b;    /* (K); linear only */
} model_task;

typedef struct model_preprocess {
    int image_size;        /* S: the model input is (3, S, S) */
    float mean[3], std[3]; /* x = (v - mean) / std per channel, v in [0, 1] */
    char resize[32];       /* "bilinear_aa": antialiased bilinear (engine/preprocess.h) */
} model_preprocess;

typedef struct mama_model {
    vit_model *vit;
    model_preprocess pre;
    int embed;             /* E */
    float logit_scale;     /* ln s */
    int n_tasks;
    model_task tasks[MODEL_MAX_TASKS];
    int untrained;
    char source[1024];
    char created[64];
    char status[64];       /* provenance.status */
    char *sources_json;    /* provenance.sources as JSON array text (owned), or NULL */
    int text_width;        /* Ct of text_proj, 0 when absent */
    float *text_proj;      /* (E, Ct) or NULL */
    char id[32];           /* 16 hex digits: FNV-1a of the config JSON and tensor bytes */
    char *config_json;     /* the mama_config text as loaded or built (owned) */
} mama_model;

/* Loads and validates a model file. Free with model_free. */
mama_status model_load(const char *path, mama_model **out_model);
void model_free(mama_model *m);

/* Writes the model (tensors + mama_config) atomically. */
mama_status model_save(mama_model *m, const char *path);

typedef struct model_init_opts {
    const char *config;     /* "tiny" (width 192, depth 4, 224 px: the CPU demo), "small"
                               (384/12/518, no registers: DINOv2-S's shapes), "base"
                               (768/12/518, the paper's), "micro" (32/2/28 px, tests) or
                               "auto" (from_hf only: sizes from the checkpoint's shapes, heads
                               from config.json beside it or width/64);
                               NULL: auto with from_hf, else tiny */
    const char *from_hf;    /* HF Dinov2(WithRegisters)Model safetensors or NULL (random tower) */
    const char *image_tower;/* a DINOv2 directory (model.safetensors, config.json, optional
                               preprocessor_config.json for mean/std); wins over from_hf */
    const char *text_tower; /* a BERT directory (model.safetensors, config.json): a seeded
                               random text projection (E, hidden_size) is added and the
                               source recorded; prompts are then made by `mama prompts` */
    uint64_t seed;
    const char *created;    /* ISO-8601 time to record, or NULL for now */
} model_init_opts;

/* Builds a model: the tower from HF weights when given (else seeded random), seeded random
 * projection, prompts and heads, the default tasks (density A-D, BI-RADS 0-6 zero-shot;
 * malignancy linear), marked untrained in provenance (status "pretrained-backbone, heads
 * untrained" with real towers, whose paths and SHA-256 go into provenance.sources).
 * Free with model_free. */
mama_status model_init(const model_init_opts *opts, mama_model **out_model);

/* Runs the tower in the precision asked for, as this machine can (precision.h, gemm.h's
 * gemm_precision_resolve): *got (may be NULL) is what it runs in now; note (when not NULL)
 * explains a bf16 request that had to become fp32 ("" otherwise), for the caller to log.
 * MAMA_ENOMEM when the bf16 copies cannot be allocated (the model stays fp32). */
mama_status model_set_precision(mama_model *m, mama_precision want, mama_precision *got,
                                char *note, size_t n);

/* Finds a task by name, or NULL. */
const model_task *model_find_task(const mama_model *m, const char *name);

#ifdef __cplusplus
}
#endif
#endif
