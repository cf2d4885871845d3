// What the kernels of this target share: the target attributes of each path, the
// AVX2 tail mask and the clamp that keeps a requested path within what the CPU has.
#ifndef EKD_SIMD_H
#define EKD_SIMD_H

#include "ekd_kernels.h"

#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))
#define T512 __attribute__((target("avx512f")))
#define T256 __attribute__((target("avx2,fma")))

/// Lanes 0 ..< count set (count in 1...8).
INLINE T256 __m256i mask256(int count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/// Lanes a ..< b of 16 set (0 ≤ a, b ≤ 16; none when b ≤ a).
INLINE __mmask16 lanes(int a, int b) { return b <= a ? 0 : (__mmask16)(((1u << b) - 1) & ~((1u << a) - 1)); }

/// `isa`, or the best path this CPU has if that is lower: never run what the CPU lacks.
INLINE int clamp_isa(int isa) { return isa > ekd_isa_best() ? ekd_isa_best() : isa; }

#endif
