/* cpu_isa.h: which vector instruction sets the engine's own kernels may use, from the
 * running CPU's feature bits (never from a table of CPU models), capped by the environment
 * variable MAMA_MAX_ISA=avx2|avx512 (read once; for tests and comparisons, the engine's
 * counterpart of oneDNN's ONEDNN_MAX_CPU_ISA). Kernels compile with target attributes and
 * call these before picking a variant. */
#ifndef MAMA_CPU_ISA_H
#define MAMA_CPU_ISA_H

#ifdef __cplusplus
extern "C" {
#endif

int cpu_isa_avx2_fma(void);  /* AVX2 and FMA */
int cpu_isa_avx512(void);    /* AVX-512 F, BW, DQ, VL (Skylake-SP level) and not capped */
int cpu_isa_avx512_bf16(void); /* cpu_isa_avx512() and AVX512-BF16 */
/* "avx512_bf16", "avx512", "avx2" or "baseline": the widest the engine's kernels use. */
const char *cpu_isa_name(void);
/* The CPU's brand string (cpuid), or "unknown". */
const char *cpu_isa_model(void);

#ifdef __cplusplus
}
#endif
#endif
