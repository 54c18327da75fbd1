/* parallel.h: the engine's thread count, one knob for OpenMP and OpenBLAS.
 *
 * Policy (no nested oversubscription): a GEMM of a whole layer (linear, conv1d) runs with
 * OpenBLAS's own threads, outside any OpenMP region. Ops that parallelise with OpenMP
 * themselves (attention: over batch x head x query block) switch OpenBLAS to one thread
 * for the duration of their region (parallel_blas_single) and call single-threaded sgemm
 * on small tiles inside it, then restore the count (parallel_blas_restore). Element-wise
 * ops use plain OpenMP loops. So at any moment at most `threads` workers compute. */
#ifndef MAMA_PARALLEL_H
#define MAMA_PARALLEL_H

#ifdef __cplusplus
extern "C" {
#endif

/* Sets OpenMP and OpenBLAS to n threads (n < 1: the number of online CPUs). */
void mama_set_threads(int n);
/* The count last set (or the OpenMP default). */
int mama_get_threads(void);

/* Sets OpenBLAS to one thread and returns the previous count, for parallel_blas_restore. */
int parallel_blas_single(void);
void parallel_blas_restore(int prev);

/* openblas_get_config(): the kernel (core type) in use, for benchmark output. */
const char *parallel_blas_config(void);

#ifdef __cplusplus
}
#endif
#endif
