/* mama.c: entry point of the offline tool; dispatches to the subcommand table. */
#include <stdio.h>
#include <string.h>

#include "tools/mama.h"

/* One declaration and one table row per subcommand, grouped by area. */
/* --- core */
int cmd_inspect(int argc, char **argv);
int mama_cmd_bench(int argc, char **argv);
/* --- vision */
int mama_cmd_model_init(int argc, char **argv);
int mama_cmd_score(int argc, char **argv);
int cmd_features(int argc, char **argv);
/* --- text */
int cmd_prompts(int argc, char **argv);
/* --- data */
int cmd_preprocess(int argc, char **argv);
int cmd_contact_sheet(int argc, char **argv);
int cmd_phantom(int argc, char **argv);
int cmd_import(int argc, char **argv);
/* --- train */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_export(int argc, char **argv);

static const mama_cmd commands[] = {
    /* --- core */
    {"inspect", cmd_inspect, "print a model file's metadata and tensor table"},
    {"bench", mama_cmd_bench, "this CPU, the kernels the engine picks on it, GEMM and tower speed"},
    /* --- vision */
    {"model-init", mama_cmd_model_init, "write a scoring model file (real DINOv2/BERT towers or a random demo)"},
    {"score", mama_cmd_score, "score the DICOM images of one study and print JSON"},
    {"features", cmd_features, "image-tower features of views (pooled, projected, patches) as safetensors/.npy"},
    /* --- text */
    {"prompts", cmd_prompts, "store the class-prompt embeddings of every task in a model file"},
    /* --- data */
    {"preprocess", cmd_preprocess, "DICOM/PNG -> preprocessed model view as PNG (crop, resize)"},
    {"contact-sheet", cmd_contact_sheet, "PNG sheet of a study's four views and MIAS films, preprocessed"},
    {"phantom", cmd_phantom, "generate screening studies as DICOM MG with ground truth"},
    {"import", cmd_import, "write images as MG DICOM studies (mias, images: PNG/TIFF/JPEG/DICOM + CSV, cbis)"},
    /* --- train */
    {"train", cmd_train, "train a model from train.conf (docs/training.md)"},
    {"eval", cmd_eval, "evaluate a model on a data set's test split: metrics, report folder"},
    {"export", cmd_export, "write the scoring model of a training run (for mamad)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out) {
    fprintf(out, "usage: mama <command> [options]\n\ncommands:\n");
    for (const mama_cmd *c = commands; c->name; c++) fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\n`mama <command> --help` describes each command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("mama %s\n", MAMA_VERSION);
        return 0;
    }
    for (const mama_cmd *c = commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "mama: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
