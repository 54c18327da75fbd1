/* parallel.h: the engine's thread count: one OpenMP pool, single-threaded OpenBLAS inside it.
 *
 * Policy (no nested oversubscription, one pool): OpenBLAS always runs on one thread; the
 * engine parallelises with OpenMP itself. A layer GEMM (linear, linear_in_out) splits its output
 * into row (or, for few rows, column) panels, one single-threaded sgemm per thread;
 * attention runs over batch x head x query block with single-threaded sgemm on tiles;
 * element-wise ops use OpenMP loops. So at most `threads` workers ever compute, and no
 * OpenBLAS worker threads spin beside the OpenMP ones (on 2 cores that matters). */
#ifndef MAMA_PARALLEL_H
#define MAMA_PARALLEL_H

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the OpenMP pool to n threads (n < 1: the number of online CPUs) and OpenBLAS to 1. */
void mama_set_threads(int n);
/* The engine's thread count (the OpenMP pool size). */
int mama_get_threads(void);

/* Puts OpenBLAS on one thread if nothing has yet (cheap after the first call); every op that
 * calls BLAS calls this first, so the policy holds even without mama_set_threads. */
void parallel_blas_serial(void);

/* openblas_get_config(): the kernel (core type) in use, for benchmark output. */
const char *parallel_blas_config(void);

#ifdef __cplusplus
}
#endif
#endif
