/* mama.c: entry point of the offline tool; dispatches to the subcommand table. */
#include <stdio.h>
#include <string.h>

#include "tools/mama.h"

/* One declaration and one table row per subcommand, grouped by area. */
/* --- core */
/* --- vision */
/* --- text */
/* --- data */
int cmd_phantom(int argc, char **argv);

static const mama_cmd commands[] = {
    /* --- core */
    /* --- vision */
    /* --- text */
    /* --- data */
    {"phantom", cmd_phantom, "generate screening studies as DICOM MG with ground truth"},
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
