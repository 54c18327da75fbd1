/* cmd_model_init.c: `mama model-init`: writes a scoring model file (engine/model.h), from
 * Hugging Face DINOv2-with-registers weights or a seeded random tower, with seeded random
 * projection, class prompts and heads, marked untrained. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model.h"
#include "tools/mama_vision.h"

static void usage(FILE *out) {
    fprintf(out,
        "usage: mama model-init --out FILE [--config tiny|base|micro|auto]\n"
        "                       [--from-hf DINOV2.safetensors] [--seed S]\n"
        "  tiny   width 192, depth 4, 224 px (the CPU demo; default without --from-hf)\n"
        "  base   width 768, depth 12, 518 px (the paper's ViT-B/14)\n"
        "  micro  width 32, depth 2, 28 px (tests)\n"
        "  auto   sizes read from the --from-hf checkpoint (default with --from-hf); heads from\n"
        "         its config.json when beside it, else width/64 (true of every DINOv2)\n"
        "The tower comes from --from-hf (a Dinov2WithRegistersModel model.safetensors, HF or\n"
        "Meta naming) or a seeded random init; projection, prompts and heads are random and\n"
        "the file is marked untrained.\n");
}

int mama_cmd_model_init(int argc, char **argv) {
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'}, {"config", required_argument, 0, 'c'},
        {"from-hf", required_argument, 0, 'f'}, {"seed", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    model_init_opts o = {.seed = 0};
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:c:f:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'c': o.config = optarg; break;
        case 'f': o.from_hf = optarg; break;
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
    mama_model *m = NULL;
    mama_status rc = model_init(&o, &m);
    if (rc == MAMA_OK) rc = model_save(m, out);
    if (rc != MAMA_OK) {
        fprintf(stderr, "mama model-init: %s\n", mama_last_error());
        model_free(m);
        return 1;
    }
    printf("wrote %s: width %d, depth %d, %d px, %zu tower parameters, %d tasks, id %s%s\n", out,
           m->vit->cfg.width, m->vit->cfg.depth, m->pre.image_size, m->vit->num_params,
           m->n_tasks, m->id, m->untrained ? " (untrained)" : "");
    model_free(m);
    return 0;
}
