// ekd_thin_gemm: C = beta·C + A·B, without packing B: the GEMM of a convolution's
// forward pass (A its weights, B the input or its im2col tile).
// Each block of MR rows of A and NR columns of C keeps MR×NR accumulators in
// registers; every step of k loads NR/lanes vectors of one row of B and
// broadcasts MR scalars of A. Columns go in blocks of NR, and within a block of
// columns every block of rows (8, 4, 2, 1: the compiler unrolls each fixed MR),
// so a k×NR panel of B is read from memory once and then from L1 or L2 (on
// AVX-512, a block of rows crosses a group of panels before the next block). Each row of B
// is a stream of its own, more than the hardware prefetcher tracks, so the first
// block of rows prefetches the panel PREFETCH columns ahead: without it, on an
// input just written by the layer before (out of cache), the kernel waited on
// memory for two thirds of its time.
#include "simd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- AVX-512F
/// Floats ahead of a block of columns that its first block of rows prefetches
/// (into L2: nearer blocks, or into L1, measured slower on cold inputs): two
/// blocks of 32 columns, at least 2·k·16 FMA cycles ahead.
#define PREFETCH 64

INLINE T512 void block512(int mr, int nv, __mmask16 tail, int k, const float *a, int lda,
                          const float *b, int ldb, float beta, float *c, int ldc, int relu, int prefetch) {
  // nv = vectors of 16 columns (1 or 2); `tail` masks the last one.
  __m512 acc[8][2];
  for (int i = 0; i < mr; i++)
    for (int v = 0; v < nv; v++) acc[i][v] = _mm512_setzero_ps();
  for (int p = 0; p < k; p++) {
    __m512 bv[2];
    for (int v = 0; v < nv; v++)
      bv[v] = (v == nv - 1) ? _mm512_maskz_loadu_ps(tail, b + (intptr_t)p * ldb + 16 * v)
                            : _mm512_loadu_ps(b + (intptr_t)p * ldb + 16 * v);
    if (prefetch) {  // never faults, even past the end of B
      _mm_prefetch((const char *)(b + (intptr_t)p * ldb + PREFETCH), _MM_HINT_T1);
      _mm_prefetch((const char *)(b + (intptr_t)p * ldb + PREFETCH + 16), _MM_HINT_T1);
    }
    for (int i = 0; i < mr; i++) {
      __m512 av = _mm512_set1_ps(a[(intptr_t)i * lda + p]);
      for (int v = 0; v < nv; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
    }
  }
  __m512 zero = _mm512_setzero_ps(), vbeta = _mm512_set1_ps(beta);
  for (int i = 0; i < mr; i++)
    for (int v = 0; v < nv; v++) {
      float *dst = c + (intptr_t)i * ldc + 16 * v;
      __mmask16 m = (v == nv - 1) ? tail : (__mmask16)0xFFFF;
      __m512 r = acc[i][v];
      if (beta != 0) r = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m, dst), r);
      if (relu) r = _mm512_max_ps(zero, r);  // (0, r): a NaN r stays NaN, as in Swift.max
      _mm512_mask_storeu_ps(dst, m, r);
    }
}

/// Every row of C for `panels` blocks of 16·nv columns, in blocks of 8, 4, 2 and 1 rows,
/// each block of rows crossing all the panels before the next block.
INLINE T512 void panel512(int m, int panels, int nv, __mmask16 tail, int k, const float *a, int lda, const float *b,
                          int ldb, float beta, float *c, int ldc, int relu) {
  int i = 0;
#define BLOCK(mr)                                                                                                      \
  for (int q = 0; q < panels; q++)                                                                                     \
  block512(mr, nv, tail, k, a + (intptr_t)i * lda, lda, b + 16 * nv * q, ldb, beta, c + (intptr_t)i * ldc + 16 * nv * q, \
           ldc, relu, i == 0)
  for (; i + 8 <= m; i += 8) BLOCK(8);
  if (i + 4 <= m) { BLOCK(4); i += 4; }
  if (i + 2 <= m) { BLOCK(2); i += 2; }
  if (i < m) BLOCK(1);
#undef BLOCK
}

/// The last r < 8 columns of C as dot products along k, 8 rows at a time: a masked
/// vector of r columns would do 16/r times the FMAs (ResNet's 7×7 planes: 49 = 48 + 1).
/// `t` holds those columns of B, transposed (r rows of k).
T512 static void dots512(int m, int r, int k, const float *a, int lda, const float *t, float beta, float *c,
                         int ldc, int relu) {
  __mmask16 tail = (__mmask16)((1u << (k % 16)) - 1);
  for (int i0 = 0; i0 < m; i0 += 8) {
    int mr = m - i0 < 8 ? m - i0 : 8;
    for (int col = 0; col < r; col++) {
      const float *tc = t + (intptr_t)col * k;
      __m512 acc[8];
      for (int i = 0; i < 8; i++) acc[i] = _mm512_setzero_ps();
      int p = 0;
      for (; p + 16 <= k; p += 16) {
        __m512 tv = _mm512_loadu_ps(tc + p);
        for (int i = 0; i < mr; i++)
          acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(a + (intptr_t)(i0 + i) * lda + p), tv, acc[i]);
      }
      if (p < k) {
        __m512 tv = _mm512_maskz_loadu_ps(tail, tc + p);
        for (int i = 0; i < mr; i++)
          acc[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, a + (intptr_t)(i0 + i) * lda + p), tv, acc[i]);
      }
      for (int i = 0; i < mr; i++) {
        float *dst = c + (intptr_t)(i0 + i) * ldc + col;
        float v = _mm512_reduce_add_ps(acc[i]);
        if (beta != 0) v += beta * *dst;
        if (relu && v < 0) v = 0;  // a NaN stays NaN, as in Swift.max
        *dst = v;
      }
    }
  }
}

/// Floats of B (256 KB) that a group of panels spans: they stay in L2 while every block
/// of rows of A crosses them.
#define GROUP_FLOATS (64 * 1024)

T512 static void thin512(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                         float beta, float *c, int ldc, int relu) {
  // Full panels of 32 columns in groups, each block of rows crossing a group's panels in
  // turn: A is read from L3 once per group, not once per panel (ResNet's 1024→256 at
  // 14×14: A is 1 MB, 196 columns 6 panels), and C is written in runs of a row, not 32
  // columns of 8 rows (ResNet's 64→256 at 56×56, whose C starts as bias + shortcut).
  int full = n / 32, group = GROUP_FLOATS / (32 * (k > 0 ? k : 1));
  if (group < 1) group = 1;
  for (int p = 0; p < full; p += group)
    panel512(m, full - p < group ? full - p : group, 2, 0xFFFF, k, a, lda, b + 32 * p, ldb, beta, c + 32 * p, ldc, relu);
  int j = 32 * full;
  if (j + 16 <= n) {
    panel512(m, 1, 1, 0xFFFF, k, a, lda, b + j, ldb, beta, c + j, ldc, relu);
    j += 16;
  }
  // The last r columns: dot products when there are few of them and k fills a vector
  // (else, or if malloc fails, one masked vector).
  int r = n - j;
  float *t = r > 0 && r < 8 && k >= 16 ? malloc(sizeof(float) * (size_t)r * (size_t)k) : NULL;
  if (t) {
    for (int p = 0; p < k; p++)
      for (int col = 0; col < r; col++) t[(intptr_t)col * k + p] = b[(intptr_t)p * ldb + j + col];
    dots512(m, r, k, a, lda, t, beta, c + j, ldc, relu);
    free(t);
  } else if (r > 0) {
    panel512(m, 1, 1, (__mmask16)((1u << r) - 1), k, a, lda, b + j, ldb, beta, c + j, ldc, relu);
  }
}

// ---------------------------------------------------------------- AVX2 + FMA
INLINE T256 void block256(int mr, int nv, int tail, int k, const float *a, int lda,
                          const float *b, int ldb, float beta, float *c, int ldc, int relu, int prefetch) {
  // nv = vectors of 8 columns (1 or 2); the last one holds `tail` columns (1...8).
  __m256i m = mask256(tail);
  __m256 acc[4][2];
  for (int i = 0; i < mr; i++)
    for (int v = 0; v < nv; v++) acc[i][v] = _mm256_setzero_ps();
  for (int p = 0; p < k; p++) {
    __m256 bv[2];
    for (int v = 0; v < nv; v++)
      bv[v] = (v == nv - 1 && tail < 8) ? _mm256_maskload_ps(b + (intptr_t)p * ldb + 8 * v, m)
                                         : _mm256_loadu_ps(b + (intptr_t)p * ldb + 8 * v);
    if (prefetch) _mm_prefetch((const char *)(b + (intptr_t)p * ldb + PREFETCH), _MM_HINT_T1);
    for (int i = 0; i < mr; i++) {
      __m256 av = _mm256_broadcast_ss(a + (intptr_t)i * lda + p);
      for (int v = 0; v < nv; v++) acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
    }
  }
  __m256 zero = _mm256_setzero_ps(), vbeta = _mm256_set1_ps(beta);
  for (int i = 0; i < mr; i++)
    for (int v = 0; v < nv; v++) {
      float *dst = c + (intptr_t)i * ldc + 8 * v;
      int partial = (v == nv - 1 && tail < 8);
      __m256 r = acc[i][v];
      if (beta != 0) r = _mm256_fmadd_ps(vbeta, partial ? _mm256_maskload_ps(dst, m) : _mm256_loadu_ps(dst), r);
      if (relu) r = _mm256_max_ps(zero, r);
      if (partial) _mm256_maskstore_ps(dst, m, r); else _mm256_storeu_ps(dst, r);
    }
}

INLINE T256 void panel256(int m, int nv, int tail, int k, const float *a, int lda, const float *b, int ldb,
                          float beta, float *c, int ldc, int relu) {
  int i = 0;
#define BLOCK(mr) block256(mr, nv, tail, k, a + (intptr_t)i * lda, lda, b, ldb, beta, c + (intptr_t)i * ldc, ldc, relu, i == 0)
  for (; i + 4 <= m; i += 4) BLOCK(4);
  if (i + 2 <= m) { BLOCK(2); i += 2; }
  if (i < m) BLOCK(1);
#undef BLOCK
}

T256 static void thin256(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                         float beta, float *c, int ldc, int relu) {
  int j = 0;
  for (; j + 16 <= n; j += 16) panel256(m, 2, 8, k, a, lda, b + j, ldb, beta, c + j, ldc, relu);
  if (j + 8 <= n) {
    panel256(m, 1, 8, k, a, lda, b + j, ldb, beta, c + j, ldc, relu);
    j += 8;
  }
  if (j < n) panel256(m, 1, n - j, k, a, lda, b + j, ldb, beta, c + j, ldc, relu);
}

// ---------------------------------------------------------------- portable
static void thin_generic(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                         float beta, float *c, int ldc, int relu) {
  for (int i = 0; i < m; i++) {
    float *ci = c + (intptr_t)i * ldc;
    for (int j = 0; j < n; j++) ci[j] = beta != 0 ? beta * ci[j] : 0;
    for (int p = 0; p < k; p++) {
      float av = a[(intptr_t)i * lda + p];
      const float *bp = b + (intptr_t)p * ldb;
      for (int j = 0; j < n; j++) ci[j] += av * bp[j];
    }
    if (relu)
      for (int j = 0; j < n; j++) ci[j] = ci[j] < 0 ? 0 : ci[j];
  }
}

// ---------------------------------------------------------------- dispatch
int ekd_isa_best(void) {
  static int best = -1;
  if (best < 0) {
    __builtin_cpu_init();
    int cpu = __builtin_cpu_supports("avx512f")                                       ? EKD_ISA_AVX512
              : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? EKD_ISA_AVX2
                                                                                     : EKD_ISA_GENERIC;
    // EKD_ISA=avx2|portable caps the path, so one machine can run what an older CPU
    // would (the way OPENBLAS_CORETYPE does for OpenBLAS); it never raises it.
    const char *cap = getenv("EKD_ISA");
    if (cap && strcmp(cap, "avx2") == 0 && cpu > EKD_ISA_AVX2) cpu = EKD_ISA_AVX2;
    if (cap && strcmp(cap, "portable") == 0) cpu = EKD_ISA_GENERIC;
    best = cpu;
  }
  return best;
}

void ekd_thin_gemm_isa(int isa, int m, int n, int k, const float *a, int lda, const float *b,
                       int ldb, float beta, float *c, int ldc, int relu) {
  if (m <= 0 || n <= 0) return;
  switch (clamp_isa(isa)) {
  case EKD_ISA_AVX512: thin512(m, n, k, a, lda, b, ldb, beta, c, ldc, relu); break;
  case EKD_ISA_AVX2: thin256(m, n, k, a, lda, b, ldb, beta, c, ldc, relu); break;
  default: thin_generic(m, n, k, a, lda, b, ldb, beta, c, ldc, relu); break;
  }
}

void ekd_thin_gemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                   float beta, float *c, int ldc, int relu) {
  ekd_thin_gemm_isa(ekd_isa_best(), m, n, k, a, lda, b, ldb, beta, c, ldc, relu);
}
