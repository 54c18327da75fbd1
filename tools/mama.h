/* mama.h: the subcommands of the `mama` tool. Each lives in tools/cmd_<name>.c and
 * returns the process exit status (0 ok, 1 failure, 2 usage). */
#ifndef MAMA_TOOL_H
#define MAMA_TOOL_H

typedef int (*mama_cmd_fn)(int argc, char **argv);

typedef struct mama_cmd {
    const char *name;
    mama_cmd_fn run;
    const char *summary;
} mama_cmd;

#endif
