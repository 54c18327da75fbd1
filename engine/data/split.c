/* split.c: patient-level splits (see split.h). */
#include "engine/data/split.h"

#include <stdlib.h>
#include <string.h>

const char *split_name(split_kind s) {
    switch (s) {
    case SPLIT_TRAIN: return "train";
    case SPLIT_VAL: return "val";
    case SPLIT_TEST: return "test";
    }
    return "?";
}

static uint64_t hash_id(const char *s, uint64_t seed) {
    uint64_t h = 0xcbf29ce484222325ull ^ seed; /* FNV-1a, then a splitmix finaliser */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    h += 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

typedef struct item {
    uint64_t hash;
    const char *id;
    int index;
} item;

static int cmp_item(const void *a, const void *b) {
    const item *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return strcmp(x->id, y->id);
}

mama_status split_patients(const char *const *patient_ids, int n, uint64_t seed, split_kind *out_split) {
    if (n < 0) return mama_errorf(MAMA_EINVAL, "split_patients: negative count %d", n);
    if (n == 0) return MAMA_OK;
    item *it = malloc((size_t)n * sizeof *it);
    if (!it) return mama_errorf(MAMA_ENOMEM, "split_patients: out of memory for %d items", n);
    for (int i = 0; i < n; i++) {
        if (!patient_ids[i]) {
            free(it);
            return mama_errorf(MAMA_EINVAL, "split_patients: item %d has no patient identifier", i);
        }
        it[i].hash = hash_id(patient_ids[i], seed);
        it[i].id = patient_ids[i];
        it[i].index = i;
    }
    qsort(it, (size_t)n, sizeof *it, cmp_item);
    int patients = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || cmp_item(&it[i - 1], &it[i]) != 0) patients++;
    long n_train = (long)(0.7 * patients + 0.5), n_trval = (long)(0.8 * patients + 0.5);
    int rank = -1;
    for (int i = 0; i < n; i++) {
        if (i == 0 || cmp_item(&it[i - 1], &it[i]) != 0) rank++;
        out_split[it[i].index] = rank < n_train ? SPLIT_TRAIN : rank < n_trval ? SPLIT_VAL : SPLIT_TEST;
    }
    free(it);
    return MAMA_OK;
}
