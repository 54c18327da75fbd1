/* out_name.h: the output file name a tool writes for an input image: DIR/<parent
 * folder>_<file stem><ext>, so that studies' views (study/view.dcm) and data set films
 * (mias/mdb001.pgm) keep distinct, recognisable names in one output folder. */
#ifndef MAMA_TOOLS_OUT_NAME_H
#define MAMA_TOOLS_OUT_NAME_H

#include <stddef.h>

void out_name(char *out, size_t cap, const char *dir, const char *path, const char *ext);

#endif
