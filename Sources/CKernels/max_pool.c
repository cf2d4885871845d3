// ekd_max_pool_s2: SqueezeNet's and ResNet's max pools (2×2 or 3×3 windows, stride 2,
// padding 0 or 1) on NCHW planes.
//
// Each output row takes the maxima down its window's rows first, then across: for 16
// outputs (8 on AVX2) the rows' columns s, s + 16 and s + 2, s + 18 are loaded (s the
// first window's first column), with lanes outside the row read as −∞; after the
// maxima down the rows, the even lanes of the first pair are each window's first
// column, the odd lanes its second, the even lanes of the second pair its third. A
// plain scan (a compare per element and a copy of each window's rows) ran SqueezeNet's
// first pool at 7 GB/s, a tenth of what ONNX Runtime's took (docs/performance.md).
#include "simd.h"

#include <math.h>
#include <stdint.h>

// ---------------------------------------------------------------- AVX-512F
// Lanes i of 16 with 0 ≤ s + i < w.
INLINE __mmask16 inside16(int s, int w) { return lanes(s < 0 ? -s : 0, w - s > 16 ? 16 : w - s); }

// Maxima down rows ya ..< yb of 16 columns from s and 16 from s + 16 (and, for k = 3, of
// 16 from s + 2 and 16 from s + 18), then across each window: the vertical maxima's
// even and odd lanes are the windows' first and second columns, the even lanes of the
// pair shifted by two the third.
INLINE T512 __m512 windows512(const float *x, int first, int w, int ya, int yb, int k, int s, int masked) {
  const __m512 low = _mm512_set1_ps(-INFINITY);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  __mmask16 m0 = 0xFFFF, m1 = 0xFFFF, m2 = 0xFFFF, m3 = 0xFFFF;
  if (masked) m0 = inside16(s, w), m1 = inside16(s + 16, w), m2 = inside16(s + 2, w), m3 = inside16(s + 18, w);
  __m512 a = low, b = low, c = low, d = low;
  for (int iy = ya; iy < yb; iy++) {
    // Masked-off lanes are never read, so s = −1 (padding) touches nothing before the row.
    const float *row = x + (intptr_t)(iy - first) * w + s;
    a = _mm512_max_ps(a, _mm512_mask_loadu_ps(low, m0, row));
    b = _mm512_max_ps(b, _mm512_mask_loadu_ps(low, m1, row + 16));
    if (k == 3) {
      c = _mm512_max_ps(c, _mm512_mask_loadu_ps(low, m2, row + 2));
      d = _mm512_max_ps(d, _mm512_mask_loadu_ps(low, m3, row + 18));
    }
  }
  __m512 v = _mm512_max_ps(_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b));
  return k == 3 ? _mm512_max_ps(v, _mm512_permutex2var_ps(c, even, d)) : v;
}

T512 static void row512(const float *x, int first, int h, int w, int k, int pad, int oy, float *out, int wo) {
  int y0 = 2 * oy - pad, ya = y0 < 0 ? 0 : y0, yb = y0 + k > h ? h : y0 + k;
  int ox = 0;
  // The first chunk may start in the padding; the middle ones read whole vectors.
  if (pad > 0 && wo > 0) {
    __m512 v = windows512(x, first, w, ya, yb, k, -pad, 1);
    _mm512_mask_storeu_ps(out, (__mmask16)((1u << (wo < 16 ? wo : 16)) - 1), v);
    ox = 16;
  }
  for (; ox + 16 <= wo && 2 * ox - pad + 34 <= w; ox += 16)
    _mm512_storeu_ps(out + ox, windows512(x, first, w, ya, yb, k, 2 * ox - pad, 0));
  for (; ox < wo; ox += 16) {
    int n = wo - ox < 16 ? wo - ox : 16;
    _mm512_mask_storeu_ps(out + ox, (__mmask16)((1u << n) - 1), windows512(x, first, w, ya, yb, k, 2 * ox - pad, 1));
  }
}

// Where each of a row's maxima `best` first occurs, row-major, in its window: for each
// window position in that order, the 16 windows' values there (the even lanes of two
// loads) compared with their maxima, the first hit kept. An output none hits (a NaN)
// points at its window's first element, as the scan this replaces did.
T512 static void argrow512(const float *x, int first, int h, int w, int k, int pad, int oy, const float *best,
                           int32_t *arg, int wo) {
  const __m512 low = _mm512_set1_ps(-INFINITY);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i zero = _mm512_setzero_si512(), width = _mm512_set1_epi32(w);
  int y0 = 2 * oy - pad, ya = y0 < 0 ? 0 : y0, yb = y0 + k > h ? h : y0 + k;
  for (int ox = 0; ox < wo; ox += 16) {
    int n = wo - ox < 16 ? wo - ox : 16, s = 2 * ox - pad;
    __mmask16 live = (__mmask16)((1u << n) - 1), found = 0;
    __m512 m = _mm512_maskz_loadu_ps(live, best + ox);
    __m512i col0 = _mm512_add_epi32(_mm512_set1_epi32(s), even);
    __m512i at = _mm512_add_epi32(_mm512_set1_epi32(ya * w), _mm512_max_epi32(col0, zero));
    for (int iy = ya; iy < yb; iy++) {
      const float *row = x + (intptr_t)(iy - first) * w;
      for (int dx = 0; dx < k; dx++) {
        int c = s + dx;
        __m512 v = _mm512_permutex2var_ps(_mm512_mask_loadu_ps(low, inside16(c, w), row + c), even,
                                          _mm512_mask_loadu_ps(low, inside16(c + 16, w), row + c + 16));
        __m512i col = _mm512_add_epi32(col0, _mm512_set1_epi32(dx));
        __mmask16 valid = _mm512_cmpge_epi32_mask(col, zero) & _mm512_cmplt_epi32_mask(col, width);
        __mmask16 hit = _mm512_mask_cmp_ps_mask(valid & live & (__mmask16)~found, v, m, _CMP_EQ_OQ);
        at = _mm512_mask_mov_epi32(at, hit, _mm512_add_epi32(_mm512_set1_epi32(iy * w), col));
        found |= hit;
      }
    }
    _mm512_mask_storeu_epi32(arg + ox, live, at);
  }
}

// ---------------------------------------------------------------- AVX2
// Columns s ..< s + 8 of a row, −∞ outside 0 ..< w.
INLINE T256 __m256 load8(const float *row, int s, int w) {
  if (s >= 0 && s + 8 <= w) return _mm256_loadu_ps(row + s);
  __m256i lane = _mm256_add_epi32(_mm256_set1_epi32(s), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256i in = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), lane), _mm256_cmpgt_epi32(_mm256_set1_epi32(w), lane));
  // maskload reads only the lanes set, so a row's neighbours are never touched.
  return _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_maskload_ps(row + s, in), _mm256_castsi256_ps(in));
}

// Lanes 0, 2, 4, 6 of a then of b (phase 0), or 1, 3, 5, 7 (phase 1).
INLINE T256 __m256 lanes_even(__m256 a, __m256 b) {
  __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
}
INLINE T256 __m256 lanes_odd(__m256 a, __m256 b) {
  __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
}

T256 static void row256(const float *x, int first, int h, int w, int k, int pad, int oy, float *out, int wo) {
  const __m256 low = _mm256_set1_ps(-INFINITY);
  int y0 = 2 * oy - pad, ya = y0 < 0 ? 0 : y0, yb = y0 + k > h ? h : y0 + k;
  for (int ox = 0; ox < wo; ox += 8) {
    int s = 2 * ox - pad;
    __m256 a = low, b = low, c = low, d = low;
    for (int iy = ya; iy < yb; iy++) {
      const float *row = x + (intptr_t)(iy - first) * w;
      a = _mm256_max_ps(a, load8(row, s, w));
      b = _mm256_max_ps(b, load8(row, s + 8, w));
      if (k == 3) {
        c = _mm256_max_ps(c, load8(row, s + 2, w));
        d = _mm256_max_ps(d, load8(row, s + 10, w));
      }
    }
    __m256 v = _mm256_max_ps(lanes_even(a, b), lanes_odd(a, b));
    if (k == 3) v = _mm256_max_ps(v, lanes_even(c, d));
    int n = wo - ox;
    if (n >= 8) _mm256_storeu_ps(out + ox, v);
    else _mm256_maskstore_ps(out + ox, mask256(n), v);
  }
}

// argrow512's eight-wide twin.
T256 static void argrow256(const float *x, int first, int h, int w, int k, int pad, int oy, const float *best,
                           int32_t *arg, int wo) {
  const __m256i twice = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14), zero = _mm256_setzero_si256();
  const __m256i width = _mm256_set1_epi32(w), lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  int y0 = 2 * oy - pad, ya = y0 < 0 ? 0 : y0, yb = y0 + k > h ? h : y0 + k;
  for (int ox = 0; ox < wo; ox += 8) {
    int n = wo - ox < 8 ? wo - ox : 8, s = 2 * ox - pad;
    __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane), found = zero;
    __m256 m = _mm256_maskload_ps(best + ox, live);
    __m256i col0 = _mm256_add_epi32(_mm256_set1_epi32(s), twice);
    __m256i at = _mm256_add_epi32(_mm256_set1_epi32(ya * w), _mm256_max_epi32(col0, zero));
    for (int iy = ya; iy < yb; iy++) {
      const float *row = x + (intptr_t)(iy - first) * w;
      for (int dx = 0; dx < k; dx++) {
        __m256 v = lanes_even(load8(row, s + dx, w), load8(row, s + dx + 8, w));
        __m256i col = _mm256_add_epi32(col0, _mm256_set1_epi32(dx));
        __m256i valid = _mm256_andnot_si256(_mm256_cmpgt_epi32(zero, col), _mm256_cmpgt_epi32(width, col));
        __m256i hit = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(v, m, _CMP_EQ_OQ)), _mm256_and_si256(valid, live));
        hit = _mm256_andnot_si256(found, hit);
        at = _mm256_blendv_epi8(at, _mm256_add_epi32(_mm256_set1_epi32(iy * w), col), hit);
        found = _mm256_or_si256(found, hit);
      }
    }
    _mm256_maskstore_epi32(arg + ox, live, at);
  }
}

// ---------------------------------------------------------------- portable
static void row_generic(const float *x, int first, int h, int w, int k, int pad, int oy, float *out, int32_t *arg, int wo) {
  int y0 = 2 * oy - pad, ya = y0 < 0 ? 0 : y0, yb = y0 + k > h ? h : y0 + k;
  for (int ox = 0; ox < wo; ox++) {
    int x0 = 2 * ox - pad, xa = x0 < 0 ? 0 : x0, xb = x0 + k > w ? w : x0 + k;
    float best = -INFINITY;
    int at = ya * w + xa;
    // The first maximum in row-major order (strictly greater replaces it).
    for (int iy = ya; iy < yb; iy++)
      for (int ix = xa; ix < xb; ix++) {
        float v = x[(intptr_t)(iy - first) * w + ix];
        if (v > best) best = v, at = iy * w + ix;
      }
    out[ox] = best;
    if (arg) arg[ox] = at;
  }
}

void ekd_max_pool_s2_isa(int isa, const float *x, size_t x_plane, int first_row, int planes, int h, int w, int k, int pad,
                         float *y, size_t y_plane, int32_t *arg, int oy0, int oy1, int wo) {
  int path = clamp_isa(isa);
  for (int p = 0; p < planes; p++) {
    const float *src = x + p * x_plane;
    for (int oy = oy0; oy < oy1; oy++) {
      size_t o = p * y_plane + (size_t)(oy - oy0) * wo;
      switch (path) {
      case EKD_ISA_AVX512:
        row512(src, first_row, h, w, k, pad, oy, y + o, wo);
        if (arg) argrow512(src, first_row, h, w, k, pad, oy, y + o, arg + o, wo);
        break;
      case EKD_ISA_AVX2:
        row256(src, first_row, h, w, k, pad, oy, y + o, wo);
        if (arg) argrow256(src, first_row, h, w, k, pad, oy, y + o, arg + o, wo);
        break;
      default: row_generic(src, first_row, h, w, k, pad, oy, y + o, arg ? arg + o : NULL, wo); break;
      }
    }
  }
}
