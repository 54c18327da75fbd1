/* dcm_preparse.h: a bounded walk over a DICOM Part 10 file before DCMTK parses it.
 *
 * Why: DCMTK's parser recurses once per nested sequence level and holds every element in
 * memory, so one dataset of ~7,000 nested sequences (270 KB) overflows the stack of the
 * thread that parses it, and a few MB of empty elements cost a GB of heap. This walk
 * reads only element headers, without recursion deeper than the limit and without
 * allocating per element, and refuses a file that
 *   - nests sequences deeper than DCM_PREPARSE_MAX_DEPTH,
 *   - holds more than DCM_PREPARSE_MAX_ELEMENTS elements, items and fragments,
 *   - declares a length larger than what is left of its file, item or sequence,
 *   - or is not Part 10 (preamble, "DICM", group 0002) or ends inside an element.
 * Every reader of a DICOM file calls it first (dcm_read_instance_info: the SCP's ingest
 * check and the daemon; dcm_image_load: scoring and the CLI), so no path parses an
 * unbounded file. Deflated datasets are inflated (at most DCM_PREPARSE_MAX_INFLATED
 * bytes) and walked the same way. */
#ifndef MAMA_DCM_PREPARSE_H
#define MAMA_DCM_PREPARSE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Mammography needs 3 levels (View Code -> View Modifier Code); 64 is far above any real
 * image and three orders of magnitude below what overflows an 8 MiB stack. */
#define DCM_PREPARSE_MAX_DEPTH 64
/* A mammogram carries a few hundred elements, vendor private blocks a few thousand. */
#define DCM_PREPARSE_MAX_ELEMENTS 200000ul
#define DCM_PREPARSE_MAX_INFLATED (1ul << 30)

/* Walks the Part 10 file in p[0..n). 0, or -1 with the reason (and the byte offset where
 * it was found) in err. Never reads outside p; thread-safe. */
int dcm_preparse_buffer(const unsigned char *p, size_t n, char *err, size_t errlen);

/* The same on a file (mapped read-only). 0, or -1 with the reason in err. */
int dcm_preparse_file(const char *path, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
