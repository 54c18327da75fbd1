/* cmd_score.c: `mama score`: scores DICOM mammograms with a model file and prints the
 * result JSON (engine/score.h). The files are one study: either listed, or every DICOM
 * file directly inside --study DIR. */
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scoring/view_input.h"
#include "engine/model.h"
#include "engine/core/parallel.h"
#include "engine/score.h"
#include "tools/mama_vision.h"

#define SCORE_MAX_FILES 128   /* a screening study has 4 views; leaves room for extras */

static void usage(FILE *out) {
    fprintf(out,
        "usage: mama score --model MODEL.safetensors [--threads N] [--precision P] FILE.dcm...\n"
        "       mama score --model MODEL.safetensors [--threads N] [--precision P] --study DIR\n"
        "Scores the images of one study (every DICOM file directly inside DIR with --study)\n"
        "and prints JSON: per view, per breast and per study probabilities for each task of\n"
        "the model. Make a demo model with `mama model-init --out MODEL.safetensors`.\n"
        "--threads N: compute threads (default: every CPU).\n"
        "--precision fp32|bf16|auto: the image tower's arithmetic (default fp32, the\n"
        "  reference; bf16 needs AVX512-BF16 or AMX and otherwise runs fp32, saying so).\n");
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files directly in dir, sorted. *out_n paths, malloc'd. */
static char **list_dir(const char *dir, int *out_n) {
    DIR *d = opendir(dir);
    *out_n = 0;
    if (!d) return NULL;
    char **v = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        if (!p) break;
        snprintf(p, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) { free(p); continue; }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, sizeof *v * cap);
            if (!nv) { free(p); break; }
            v = nv;
        }
        v[n++] = p;
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out_n = n;
    return v;
}

int mama_cmd_score(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"study", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'}, {"precision", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    mama_precision precision = MAMA_PREC_FP32;
    const char *model_path = NULL, *study_dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:s:t:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (mama_precision_parse(optarg, &precision) != MAMA_OK) {
                fprintf(stderr, "mama score: --precision: %s\n", mama_last_error());
                return 2;
            }
            break;
        case 't': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 1024) {
                fprintf(stderr, "mama score: --threads wants 1..1024\n");
                return 2;
            }
            mama_set_threads((int)n);
            break;
        }
        case 'm': model_path = optarg; break;
        case 's': study_dir = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model_path || (study_dir && optind != argc) || (!study_dir && optind == argc)) {
        usage(stderr);
        return 2;
    }
    char **paths = NULL;
    int n_paths = 0, owned = 0;
    if (study_dir) {
        paths = list_dir(study_dir, &n_paths);
        owned = 1;
        if (!n_paths) {
            fprintf(stderr, "mama score: no files in %s\n", study_dir);
            free(paths);
            return 1;
        }
    } else {
        paths = argv + optind;
        n_paths = argc - optind;
    }

    if (n_paths > SCORE_MAX_FILES) {
        fprintf(stderr, "mama score: %d files; one study has at most %d (score studies one at a "
                "time)\n", n_paths, SCORE_MAX_FILES);
        if (owned) {
            for (int i = 0; i < n_paths; i++) free(paths[i]);
            free(paths);
        }
        return 1;
    }
    int status = 1;
    mama_model *m = NULL;
    score_result *r = NULL;
    float *inputs = NULL;
    score_view_in *views = NULL;
    char (*ids)[DCM_UID_MAX] = NULL, (*view_names)[17] = NULL, (*quality)[256] = NULL;
    char study_uid[DCM_UID_MAX] = "";
    int *view_file = NULL;
    if (model_load(model_path, &m) != MAMA_OK) {
        fprintf(stderr, "mama score: %s\n", mama_last_error());
        goto done;
    }
    {
        char note[256];
        mama_precision got;
        if (model_set_precision(m, precision, &got, note, sizeof note) != MAMA_OK) {
            fprintf(stderr, "mama score: %s\n", mama_last_error());
            goto done;
        }
        if (note[0]) fprintf(stderr, "mama score: %s\n", note);
        if (precision != MAMA_PREC_FP32)
            fprintf(stderr, "mama score: image tower in %s\n", mama_precision_name(got));
    }
    int S = m->pre.image_size;
    size_t per = (size_t)3 * S * S;
    inputs = malloc(sizeof(float) * per * n_paths);
    views = calloc((size_t)n_paths, sizeof *views);
    ids = calloc((size_t)n_paths, sizeof *ids);
    view_names = calloc((size_t)n_paths, sizeof *view_names);
    quality = calloc((size_t)n_paths, sizeof *quality);
    if (!inputs || !views || !ids || !view_names || !quality) {
        fprintf(stderr, "mama score: out of memory for %d views of %dx%d\n", n_paths, S, S);
        goto done;
    }
    int nv = 0;
    view_file = calloc((size_t)n_paths, sizeof *view_file);   /* view -> paths index */
    if (!view_file) {
        fprintf(stderr, "mama score: out of memory\n");
        goto done;
    }
    for (int i = 0; i < n_paths; i++) {
        dcm_instance_info info;
        char err[512];
        int rc = view_input_load_checked(m, paths[i], inputs + per * nv, &info, quality[nv], sizeof quality[nv],
                                         err, sizeof err);
        if (rc == VIEW_INPUT_ERR_READ) {
            if (study_dir) {   /* a directory may hold other files: say so and go on */
                fprintf(stderr, "mama score: skipping %s: %s\n", paths[i], err);
                continue;
            }
            fprintf(stderr, "mama score: %s\n", err);
            goto done;
        }
        if (rc != 0) {
            fprintf(stderr, "mama score: %s: %s\n", paths[i], err);
            goto done;
        }
        if (!study_uid[0]) {
            snprintf(study_uid, sizeof study_uid, "%s", info.study_uid);
        } else if (strcmp(study_uid, info.study_uid) != 0) {
            fprintf(stderr, "mama score: %s belongs to study %s, not %s: score one study at a "
                    "time\n", paths[i], info.study_uid, study_uid);
            goto done;
        }
        view_file[nv] = i;
        snprintf(ids[nv], sizeof ids[nv], "%s", info.sop_instance_uid);
        snprintf(view_names[nv], sizeof view_names[nv], "%s", info.view_position);
        views[nv] = (score_view_in){
            .pixels = inputs + per * nv,
            .laterality = info.image_laterality[0],
            .view = view_names[nv],
            .id = ids[nv],
        };
        nv++;
    }
    if (!nv) {
        fprintf(stderr, "mama score: no readable DICOM image among %d files\n", n_paths);
        goto done;
    }
    if (score_study(m, views, nv, &r) != MAMA_OK) {
        fprintf(stderr, "mama score: %s\n", mama_last_error());
        goto done;
    }
    json_t *j = score_result_json(r, m);
    if (j) {
        json_object_set_new(j, "study_uid", json_string(study_uid));
        json_t *vj = json_object_get(j, "views");   /* same order as views[] */
        for (int i = 0; i < nv && i < (int)json_array_size(vj); i++)
            json_object_set_new(json_array_get(vj, i), "file", json_string(paths[view_file[i]]));
        for (int i = 0; i < nv; i++) view_input_warn(j, ids[i], quality[i]);
    }
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(j);
    if (!text) {
        fprintf(stderr, "mama score: out of memory writing JSON\n");
        goto done;
    }
    printf("%s\n", text);
    free(text);
    status = 0;
done:
    score_result_free(r);
    model_free(m);
    free(inputs);
    free(views);
    free(ids);
    free(view_names);
    free(quality);
    free(view_file);
    if (owned) {
        for (int i = 0; i < n_paths; i++) free(paths[i]);
        free(paths);
    }
    return status;
}
