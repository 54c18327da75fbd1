/* prepcache.h: an on-disk cache of decoded, breast-cropped and downsized images, so that
 * training does not decode full-size DICOM (or PNG) every epoch.
 *
 * Legend: H, W rows and columns of a cached image (its longer side <= max_side).
 * One file per source image, <dir>/<key as 16 hex digits>.mpc, where key = FNV-1a 64 of
 * (format version, the source's real path, size, mtime in ns, inode, max_side, crop,
 * loader tag): editing or replacing the source, or changing the parameters, gives a new
 * key. Entry layout (little endian): 64-byte header {"MAMAPC01", u32 version, u32 header
 * size, u64 key, u32 H, u32 W, u32 source H, u32 source W, i32 crop box y0 x0 h w, u64
 * FNV-1a 64 of the payload} then H*W u16 pixels (v * 65535, rounded). Entries are written
 * to a temporary file, fsynced and renamed into place (atomic); an entry whose magic,
 * version, key, size or checksum is wrong is treated as absent and rebuilt.
 * The engine knows no DICOM: the caller passes a loader (dcm_image_load wrapped by the
 * tools, image_io_load_gray for PNG/PGM). */
#ifndef MAMA_PREPCACHE_H
#define MAMA_PREPCACHE_H

#include <stddef.h>

#include "engine/vision/preprocess.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads path into *out_pixels (H,W) in [0,1] (malloc'd, the cache frees it). */
typedef mama_status (*prepcache_loader)(void *ctx, const char *path, float **out_pixels,
                                        int *out_h, int *out_w);

typedef struct prepcache_config {
    const char *dir;        /* cache directory (created if missing) */
    int max_side;           /* longer side of a stored image; default 1036 (2 x 518) */
    int crop;               /* 1: Otsu breast crop before storing (default) */
    const char *loader_tag; /* names the loader and its settings, part of the key */
} prepcache_config;

typedef enum prepcache_result {
    PREPCACHE_HIT = 0,      /* served from a valid entry */
    PREPCACHE_MISS = 1,     /* no entry: decoded and stored */
    PREPCACHE_REBUILT = 2,  /* the entry was corrupt: decoded and stored again */
} prepcache_result;

void prepcache_config_default(prepcache_config *out_cfg, const char *dir);

/* The cached image of path: out_pixels (H,W) in [0,1], malloc'd, caller frees.
 * out_box (may be NULL) receives the crop box in source pixels, out_result (may be NULL)
 * how it was served. A failing loader's status is returned and nothing is written. */
mama_status prepcache_get(const prepcache_config *cfg, const char *path,
                          prepcache_loader load, void *ctx, float **out_pixels, int *out_h,
                          int *out_w, prep_box *out_box, prepcache_result *out_result);

/* The entry file name for path (for tools and tests); MAMA_ENOTFOUND if path is missing. */
mama_status prepcache_entry_path(const prepcache_config *cfg, const char *path, char *out,
                                 size_t cap);

#ifdef __cplusplus
}
#endif
#endif
