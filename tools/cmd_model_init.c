/* cmd_model_init.c: `mama model-init`: writes a scoring model file (engine/model.h), from
 * real towers (a DINOv2 directory, optionally a BERT text tower whose class-prompt
 * embeddings then replace the random ones, through `mama prompts`) or a seeded random
 * tower, with seeded random projections and heads, marked untrained. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model.h"
#include "tools/mama_vision.h"

static void usage(FILE *out) {
    fprintf(out,
        "usage: mama model-init --out FILE [--config tiny|small|base|micro|auto]\n"
        "                       [--image-tower DIR [--text-tower DIR] | --from-hf DINOV2.safetensors]\n"
        "                       [--seed S]\n"
        "  tiny   width 192, depth 4, 224 px (the CPU demo; default without --from-hf)\n"
        "  small  width 384, depth 12, 518 px, no registers (DINOv2-S's shapes; a random\n"
        "         baseline for the real tower)\n"
        "  base   width 768, depth 12, 518 px (the paper's ViT-B/14)\n"
        "  micro  width 32, depth 2, 28 px (tests)\n"
        "  auto   sizes read from the --from-hf checkpoint (default with --from-hf); heads from\n"
        "         its config.json when beside it, else width/64 (true of every DINOv2)\n"
        "  --image-tower DIR  a Hugging Face DINOv2 directory (model.safetensors, config.json,\n"
        "                     preprocessor_config.json for mean/std), e.g. var/weights/dinov2-small\n"
        "                     from scripts/fetch-weights.sh; sizes from its config.json\n"
        "  --text-tower DIR   a BERT directory (model.safetensors, config.json, vocab.txt), e.g.\n"
        "                     var/weights/minilm: a random text projection is added and the\n"
        "                     zero-shot prompts are that tower's embeddings of the class prompts\n"
        "The tower comes from --image-tower, --from-hf (a Dinov2Model or\n"
        "Dinov2WithRegistersModel model.safetensors, HF or Meta naming) or a seeded random init;\n"
        "projections and heads are random and the file is marked untrained (status\n"
        "\"pretrained-backbone, heads untrained\" with real towers; their paths and SHA-256 are\n"
        "in the provenance, see `mama inspect`).\n");
}

int cmd_prompts(int argc, char **argv);

/* The zero-shot prompts from the real text tower through its (random) projection: the
 * same code path as `mama prompts FILE --tower bert` on that directory. */
static int text_tower_prompts(const char *out, const char *dir) {
    char weights[2048], vocab[2048];
    snprintf(weights, sizeof weights, "%s/model.safetensors", dir);
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", dir);
    char *argv[] = {"prompts", (char *)out, "--tokenizer", vocab, "--text-weights", weights,
                    "--tower", "bert", NULL};
    int rc = cmd_prompts(8, argv);
    if (rc != 0) fprintf(stderr, "mama model-init: %s written, but its prompts from %s failed\n", out, dir);
    return rc;
}

int mama_cmd_model_init(int argc, char **argv) {
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'}, {"config", required_argument, 0, 'c'},
        {"from-hf", required_argument, 0, 'f'}, {"seed", required_argument, 0, 's'},
        {"image-tower", required_argument, 0, 'i'}, {"text-tower", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    model_init_opts o = {.seed = 0};
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:c:f:s:i:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'c': o.config = optarg; break;
        case 'f': o.from_hf = optarg; break;
        case 'i': o.image_tower = optarg; break;
        case 't': o.text_tower = optarg; break;
        case 's': {
            char *end;
            o.seed = strtoull(optarg, &end, 10);
            if (*end || !*optarg) { fprintf(stderr, "mama model-init: --seed wants an integer\n"); return 2; }
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!out || optind != argc) { usage(stderr); return 2; }
    if (o.image_tower && o.from_hf) {
        fprintf(stderr, "mama model-init: give --image-tower DIR or --from-hf FILE, not both\n");
        return 2;
    }
    mama_model *m = NULL;
    mama_status rc = model_init(&o, &m);
    if (rc == MAMA_OK) rc = model_save(m, out);
    if (rc != MAMA_OK) {
        fprintf(stderr, "mama model-init: %s\n", mama_last_error());
        model_free(m);
        return 1;
    }
    printf("wrote %s: width %d, depth %d, %d px, %zu tower parameters, %d tasks, id %s (%s)\n", out,
           m->vit->cfg.width, m->vit->cfg.depth, m->pre.image_size, m->vit->num_params,
           m->n_tasks, m->id, m->status);
    model_free(m);
    if (o.text_tower) return text_tower_prompts(out, o.text_tower);
    return 0;
}
