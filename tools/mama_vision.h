/* mama_vision.h: the image-tower subcommands of the `mama` tool. */
#ifndef MAMA_TOOL_VISION_H
#define MAMA_TOOL_VISION_H

int mama_cmd_model_init(int argc, char **argv);   /* tools/cmd_model_init.c */
int mama_cmd_score(int argc, char **argv);        /* tools/cmd_score.c */

#endif
