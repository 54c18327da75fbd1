/* parallel.c: thread count for OpenMP and OpenBLAS (policy in parallel.h). */
#include "engine/parallel.h"

#include <cblas.h>
#include <omp.h>
#include <unistd.h>

/* OpenBLAS extensions (declared in its cblas.h; repeated for other CBLAS headers). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);

void mama_set_threads(int n) {
    if (n < 1) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int mama_get_threads(void) { return omp_get_max_threads(); }

int parallel_blas_single(void) {
    int prev = openblas_get_num_threads();
    if (prev != 1) openblas_set_num_threads(1);
    return prev;
}

void parallel_blas_restore(int prev) {
    if (prev != 1) openblas_set_num_threads(prev);
}

const char *parallel_blas_config(void) { return openblas_get_config(); }
