/* grouper_view.c: see grouper_view.h. Code values come from DICOM PS3.16: CID 4014
 * (view for mammography) and CID 4015 (view modifier for mammography), each with its
 * SNOMED CT concept id and the legacy SRT code. */
#include "daemon/grouper_view.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *const grouper_view_keys[GROUPER_N_VIEWS] = {"L-CC", "L-MLO", "R-CC", "R-MLO"};

#define SOP_MG_PRESENTATION "1.2.840.10008.5.1.4.1.1.1.2"
#define SOP_MG_PROCESSING "1.2.840.10008.5.1.4.1.1.1.2.1"

typedef struct code_entry {
    const char *sct, *srt, *name;
} code_entry;

static const code_entry view_codes[] = {
    {"399162004", "R-10242", "CC"},
    {"399368009", "R-10226", "MLO"},
    {"399260004", "R-10224", "ML"},
    {"399352003", "R-10228", "LM"},
    {"399099002", "R-10230", "LMO"},
    {"399196006", "R-10244", "FB"},
    {"399192008", "R-1024A", "XCCL"},
    {"399101009", "R-1024B", "XCCM"},
};

/* Modifiers that make a view not count, and the one that still counts. */
#define MOD_SPOT "spot compression"
#define MOD_MAG "magnification"
#define MOD_ID "implant displaced"
static const code_entry modifier_codes[] = {
    {"399055006", "R-102D7", MOD_SPOT},
    {"399163009", "R-102D6", MOD_MAG},
    {"399209000", "R-102D5", MOD_ID},
};

static const char *code_name(const code_entry *table, size_t n, const char *code) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(code, table[i].sct) == 0 || strcmp(code, table[i].srt) == 0)
            return table[i].name;
    return NULL;
}

int grouper_view_index(const char *key) {
    for (int i = 0; i < GROUPER_N_VIEWS; i++)
        if (key && strcmp(key, grouper_view_keys[i]) == 0) return i;
    return -1;
}

/* Uppercased copy without spaces, underscores or dashes ("CC ID" -> "CCID"). */
static void squash(char *dst, size_t n, const char *src) {
    size_t j = 0;
    for (size_t i = 0; src[i] && j + 1 < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == ' ' || c == '_' || c == '-') continue;
        dst[j++] = (char)toupper(c);
    }
    dst[j] = '\0';
}

void grouper_view_classify(const dcm_instance_info *info, grouper_view *out) {
    memset(out, 0, sizeof *out);
    const int processing_class = strcmp(info->sop_class_uid, SOP_MG_PROCESSING) == 0;
    /* a Secondary Capture mammogram (digitised film) is a presentation image; the SCP
     * accepts it only with dicom.accept_secondary_capture */
    const int presentation_class =
        strcmp(info->sop_class_uid, SOP_MG_PRESENTATION) == 0 || dcm_instance_is_mammo_sc(info);
    out->for_processing =
        processing_class || strcasecmp(info->presentation_intent, "FOR PROCESSING") == 0;

    if (strcmp(info->image_laterality, "L") == 0 || strcmp(info->image_laterality, "R") == 0)
        snprintf(out->laterality, sizeof out->laterality, "%s", info->image_laterality);

    /* View from ViewPosition, else from the View Code Sequence; they must agree. */
    char pos[24];
    squash(pos, sizeof pos, info->view_position);
    size_t pl = strlen(pos);
    if (pl > 2 && strcmp(pos + pl - 2, "ID") == 0) { /* "CCID", "MLOID": implant displaced */
        out->implant_displaced = 1;
        pos[pl - 2] = '\0';
    }
    const char *coded = info->view_code[0]
        ? code_name(view_codes, sizeof view_codes / sizeof view_codes[0], info->view_code)
        : NULL;
    snprintf(out->view, sizeof out->view, "%s", pos[0] ? pos : (coded ? coded : ""));

    /* Modifiers, '\\'-separated code values. */
    int spot = 0, mag = 0;
    char mods[sizeof info->view_modifiers];
    snprintf(mods, sizeof mods, "%s", info->view_modifiers);
    for (char *save = NULL, *tok = strtok_r(mods, "\\", &save); tok;
         tok = strtok_r(NULL, "\\", &save)) {
        const char *m = code_name(modifier_codes, sizeof modifier_codes / sizeof modifier_codes[0], tok);
        if (!m) continue;
        if (strcmp(m, MOD_SPOT) == 0) spot = 1;
        else if (strcmp(m, MOD_MAG) == 0) mag = 1;
        else if (strcmp(m, MOD_ID) == 0) out->implant_displaced = 1;
    }

    if (!presentation_class && !processing_class)
        out->why_not = "not a 2D digital mammogram (stored, never scored)";
    else if (!out->laterality[0])
        out->why_not = "image laterality is not L or R";
    else if (pos[0] && coded && strcmp(pos, coded) != 0)
        out->why_not = "ViewPosition and View Code Sequence disagree";
    else if (strcmp(out->view, "CC") != 0 && strcmp(out->view, "MLO") != 0)
        out->why_not = "not a CC or MLO view";
    else if (spot)
        out->why_not = "spot compression view";
    else if (mag)
        out->why_not = "magnification view";
    if (!out->why_not)
        snprintf(out->key, sizeof out->key, "%.1s-%.3s", out->laterality, out->view);
}

static int is_processing(const db_instance *x) {
    return strcasecmp(x->presentation_intent, "FOR PROCESSING") == 0 ||
           strcmp(x->sop_class, SOP_MG_PROCESSING) == 0;
}

int grouper_view_prefer(const db_instance *a, const db_instance *b) {
    int pa = !is_processing(a), pb = !is_processing(b);
    if (pa != pb) return pa - pb;
    int c = strcmp(a->acq_datetime, b->acq_datetime);
    if (c) return c > 0 ? 1 : -1;
    if (a->received_at != b->received_at) return a->received_at > b->received_at ? 1 : -1;
    c = strcmp(a->sop_uid, b->sop_uid);
    return c > 0 ? 1 : (c < 0 ? -1 : 0);
}

int grouper_view_select(const db_instance *list, int n, int out_idx[GROUPER_N_VIEWS]) {
    int filled = 0;
    for (int v = 0; v < GROUPER_N_VIEWS; v++) out_idx[v] = -1;
    for (int i = 0; i < n; i++) {
        int v = grouper_view_index(list[i].view_key);
        if (v < 0) continue;
        if (out_idx[v] < 0 || grouper_view_prefer(&list[i], &list[out_idx[v]]) > 0) out_idx[v] = i;
    }
    for (int v = 0; v < GROUPER_N_VIEWS; v++) filled += out_idx[v] >= 0;
    return filled;
}
