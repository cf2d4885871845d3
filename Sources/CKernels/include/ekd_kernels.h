// Hand-written SIMD kernels for the shapes OpenBLAS handles badly, each in an
// AVX-512F, an AVX2+FMA and a portable version; the CPU's best is chosen at
// run time (the project's machines are Zen 3 with AVX2 one day and Zen 4 with
// AVX-512 another, and one binary must run well on both).
#ifndef EKD_KERNELS_H
#define EKD_KERNELS_H

/// The instruction-set paths, best last.
enum ekd_isa { EKD_ISA_GENERIC = 0, EKD_ISA_AVX2 = 1, EKD_ISA_AVX512 = 2 };

/// The best path this CPU supports (what ekd_thin_gemm uses).
int ekd_isa_best(void);

/// C = beta·C + A·B (then max(·, 0) when relu is nonzero), row-major, for a thin A:
/// C is m×n (row stride ldc), A m×k (lda), B k×n (ldb). Written for m ≤ 32 (a
/// convolution with few output channels, B its im2col tile): B is streamed once per 8
/// rows of A without packing, which is where OpenBLAS loses time on such shapes.
void ekd_thin_gemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                   float beta, float *c, int ldc, int relu);

/// The same on a given path (for tests: every path this CPU supports is checked).
void ekd_thin_gemm_isa(int isa, int m, int n, int k, const float *a, int lda, const float *b,
                       int ldb, float beta, float *c, int ldc, int relu);

#endif
