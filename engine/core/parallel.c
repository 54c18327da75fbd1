/* parallel.c: thread count for OpenMP and OpenBLAS (policy in parallel.h). */
#include "engine/core/parallel.h"

#include <cblas.h>
#include <omp.h>
#include <stdatomic.h>
#include <unistd.h>

/* OpenBLAS extensions (declared in its cblas.h; repeated for other CBLAS headers). */
void openblas_set_num_threads(int num_threads);
char *openblas_get_config(void);

static atomic_int blas_serial_done;

void parallel_blas_serial(void) {
    if (atomic_load_explicit(&blas_serial_done, memory_order_acquire)) return;
    openblas_set_num_threads(1);
    atomic_store_explicit(&blas_serial_done, 1, memory_order_release);
}

void mama_set_threads(int n) {
    if (n < 1) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    omp_set_num_threads(n);
    openblas_set_num_threads(1);
    atomic_store_explicit(&blas_serial_done, 1, memory_order_release);
}

int mama_get_threads(void) { return omp_get_max_threads(); }

const char *parallel_blas_config(void) { return openblas_get_config(); }
