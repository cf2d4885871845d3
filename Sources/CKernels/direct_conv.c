// ekd_direct_conv: a direct convolution for stems (ts500m's 7×7 stride-2 3→8,
// ResNet's 7×7 3→64, SqueezeNet's 3×3 3→64) and shallow or small convs (SqueezeNet's
// 3×3 expands from 16 channels, tiny's 8×8 layers), where im2col builds a K × P matrix
// of c·kh·kw rows for a GEMM too shallow or too small to run at speed.
//
// The input rows the output band needs are first copied into a zero-padded buffer,
// split into stride × stride phases of (row, column), so that for every (c, ky, kx)
// the inputs of consecutive outputs are consecutive floats, across rows too: the band
// is one run of outputs, with (kw − 1)/s columns per row computed and dropped. Each
// stretch of up to 48 outputs then keeps the sums of 8 output channels in registers
// and runs c·kh·kw steps of one load per vector and 8 broadcast FMAs.
#include "simd.h"

#include <stdint.h>
#include <string.h>

#define OB 8

// The input a band of output rows reads, zero-padded and split into s × s phases of
// (row, column), each phase a plane of `prow` rows of pitch pw (then `SLACK` floats that
// vector loads past the last row may touch): plane (ci, py, px), row r, column j is
// input row first_row + r·s + py − pad, column j·s + px − pad (zero outside the image).
// Output row r, column x then reads, for tap (ci, ky, kx), plane (ci, ky % s, kx % s) at
// r·pw + x + (ky / s)·pw + kx / s: affine in q = r·pw + x, so a band is one run of q.
#define SLACK 48
static int plane_rows(int band, int kh, int s) { return band + (kh - 1) / s; }
static int pitch(int wo, int kw, int s) { return wo + (kw - 1) / s; }
static size_t plane_size(int band, int kh, int kw, int s, int wo) {
  return (size_t)plane_rows(band, kh, s) * pitch(wo, kw, s) + SLACK;
}

// dst[j] = src[2j] for j < n: a stride-2 conv's column phase, 16 (or 8) at a time when
// the CPU has the vectors, since a scalar gather cost as much as a small layer's products.
T512 static void gather_even512(const float *src, int n, float *dst) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  int j = 0;
  // The second load stops at src[2j + 30] ≤ src[2(n − 1)], the last element read anyway.
  for (; j + 16 <= n; j += 16)
    _mm512_storeu_ps(dst + j, _mm512_permutex2var_ps(_mm512_loadu_ps(src + 2 * j), even,
                                                     _mm512_maskz_loadu_ps(0x7FFF, src + 2 * j + 16)));
  for (; j < n; j++) dst[j] = src[2 * j];
}
T256 static void gather_even256(const float *src, int n, float *dst) {
  int j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 a = _mm256_loadu_ps(src + 2 * j), b = _mm256_maskload_ps(src + 2 * j + 8, mask256(7));
    // Even lanes of each 128-bit half, then the halves in order.
    __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    _mm256_storeu_ps(dst + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0))));
  }
  for (; j < n; j++) dst[j] = src[2 * j];
}
static void gather_even(int isa, const float *src, int n, float *dst) {
  switch (isa) {
  case EKD_ISA_AVX512: gather_even512(src, n, dst); break;
  case EKD_ISA_AVX2: gather_even256(src, n, dst); break;
  default:
    for (int j = 0; j < n; j++) dst[j] = src[2 * j];
  }
}

static void prepare(int isa, const float *x, int c, int h, int w, int s, int pad, int first_row, int prow, int pw,
                    size_t plane, float *prep) {
  for (int ci = 0; ci < c; ci++)
    for (int py = 0; py < s; py++)
      for (int px = 0; px < s; px++) {
        float *dst0 = prep + (((size_t)ci * s + py) * s + px) * plane;
        for (int r = 0; r < prow; r++) {
          float *dst = dst0 + (size_t)r * pw;
          int iy = first_row + r * s + py - pad;
          if (iy < 0 || iy >= h) {
            memset(dst, 0, sizeof(float) * pw);
            continue;
          }
          const float *src = x + ((intptr_t)ci * h + iy) * w;
          // dst[j] = input column j·s + px − pad: zeros left of column 0, the strided
          // copy, zeros right of column w − 1.
          int j0 = (pad - px + s - 1) / s;  // first j with j·s + px − pad ≥ 0
          if (j0 > pw) j0 = pw;
          int j1 = (w - 1 + pad - px) / s + 1;  // one past the last j inside the row
          if (j1 > pw) j1 = pw;
          if (j1 < j0) j1 = j0;
          for (int j = 0; j < j0; j++) dst[j] = 0;
          const float *from = src + (intptr_t)j0 * s + px - pad;
          if (s == 1)
            memcpy(dst + j0, from, sizeof(float) * (j1 - j0));
          else if (s == 2)
            gather_even(isa, from, j1 - j0, dst + j0);
          else
            for (int j = j0; j < j1; j++) dst[j] = from[(intptr_t)(j - j0) * s];
          for (int j = j1; j < pw; j++) dst[j] = 0;
        }
        memset(dst0 + (size_t)prow * pw, 0, sizeof(float) * SLACK);
      }
}

size_t ekd_direct_conv_scratch(int c, int kh, int kw, int stride, int band, int wo) {
  // The planes, the taps' offsets (an int each), then one zero-padded block of weights and bias.
  size_t taps = (size_t)c * kh * kw;
  return (size_t)c * stride * stride * plane_size(band, kh, kw, stride, wo) + taps + OB * (taps + 1);
}

// Output channels go in blocks of OB (the last one zero-padded in scratch), each
// block's weights wb[oc·taps + t], its bias bb[oc] (or NULL), and `on` of its OB
// channels stored. Tap t = (ci·kh + ky)·kw + kx reads prep + tap[t] + q for the output
// at q = r·pw + x: one loop over the taps, so the sums stay in registers from the first
// tap to the store. Columns x ≥ wo of that run are computed and not stored.

// ---------------------------------------------------------------- AVX-512F
// One block of OB channels × nv vectors of 16 outputs (nv a constant after inlining:
// 3, 2 or 1) from q on: OB·nv sums, each tap one load per vector and OB broadcasts.
INLINE T512 void cols512(int nv, int taps, const int *tap, const float *prep, int q, int end, int pw, int wo,
                         const float *wb, const float *bb, int on, float *y, intptr_t plane, int relu) {
  __m512 acc[OB][3];
  for (int oc = 0; oc < OB; oc++)
    for (int v = 0; v < nv; v++) acc[oc][v] = bb ? _mm512_set1_ps(bb[oc]) : _mm512_setzero_ps();
  const float *base = prep + q;
  for (int t = 0; t < taps; t++) {
    const float *src = base + tap[t];
    __m512 in[3];
    for (int v = 0; v < nv; v++) in[v] = _mm512_loadu_ps(src + 16 * v);
    for (int oc = 0; oc < OB; oc++) {
      __m512 wv = _mm512_set1_ps(wb[(intptr_t)oc * taps + t]);
      for (int v = 0; v < nv; v++) acc[oc][v] = _mm512_fmadd_ps(wv, in[v], acc[oc][v]);
    }
  }
  // Where each vector's lanes go: the rows it spans (one or two, more on planes
  // narrower than 16), found once for all OB channels rather than per store.
  intptr_t at[3][17];
  __mmask16 mk[3][17];
  int parts[3];
  for (int v = 0; v < nv; v++) {
    int qv = q + 16 * v;
    parts[v] = 0;
    for (int r = qv / pw; r * pw < qv + 16 && r * pw < end; r++) {
      int a = r * pw - qv, b = r * pw + wo - qv;
      if (end - qv < b) b = end - qv;
      __mmask16 m = lanes(a < 0 ? 0 : a, b > 16 ? 16 : b);
      if (!m) continue;
      at[v][parts[v]] = (intptr_t)r * wo + qv - (intptr_t)r * pw;
      mk[v][parts[v]++] = m;
    }
  }
  __m512 zero = _mm512_setzero_ps();
  for (int oc = 0; oc < on; oc++)
    for (int v = 0; v < nv; v++) {
      __m512 out = relu ? _mm512_max_ps(zero, acc[oc][v]) : acc[oc][v];
      // Lane i goes to row r, column q + i − r·pw: the masked-off lanes' addresses are never touched.
      for (int p = 0; p < parts[v]; p++) _mm512_mask_storeu_ps(y + oc * plane + at[v][p], mk[v][p], out);
    }
}

T512 static void direct512(int taps, const int *tap, const float *prep, int band, int pw, int wo, const float *wb,
                           const float *bb, int on, float *y, intptr_t plane, int relu) {
  int end = (band - 1) * pw + wo, q = 0;  // one past the last output of the band
  for (; q + 48 <= end; q += 48) cols512(3, taps, tap, prep, q, end, pw, wo, wb, bb, on, y, plane, relu);
  int left = end - q;
  if (left > 32) cols512(3, taps, tap, prep, q, end, pw, wo, wb, bb, on, y, plane, relu);
  else if (left > 16) cols512(2, taps, tap, prep, q, end, pw, wo, wb, bb, on, y, plane, relu);
  else if (left > 0) cols512(1, taps, tap, prep, q, end, pw, wo, wb, bb, on, y, plane, relu);
}

// ---------------------------------------------------------------- AVX2 + FMA
// Stores v, the outputs q ..< q + 8, into the rows they fall in (those x < wo, q + i < end).
INLINE T256 void store256(__m256 v, int q, int end, int pw, int wo, float *y) {
  __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int r = q / pw; r * pw < q + 8 && r * pw < end; r++) {
    int a = r * pw - q, b = r * pw + wo - q;
    if (end - q < b) b = end - q;
    if (b <= a || b <= 0) continue;
    __m256i m = _mm256_and_si256(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(a - 1)), _mm256_cmpgt_epi32(_mm256_set1_epi32(b), lane));
    _mm256_maskstore_ps((float *)((intptr_t)y + 4 * ((intptr_t)r * wo + q - (intptr_t)r * pw)), m, v);
  }
}

// Half a block (4 channels) × 2 vectors of 8 outputs from q on: 8 of the 16 registers hold sums.
INLINE T256 void cols256(int taps, const int *tap, const float *prep, int q, int end, int pw, int wo,
                         const float *wb, const float *bb, int on, float *y, intptr_t plane, int relu) {
  __m256 acc[4][2];
  for (int oc = 0; oc < 4; oc++) acc[oc][0] = acc[oc][1] = bb ? _mm256_set1_ps(bb[oc]) : _mm256_setzero_ps();
  const float *base = prep + q;
  for (int t = 0; t < taps; t++) {
    const float *src = base + tap[t];
    __m256 v0 = _mm256_loadu_ps(src), v1 = _mm256_loadu_ps(src + 8);
    for (int oc = 0; oc < 4; oc++) {
      __m256 wv = _mm256_set1_ps(wb[(intptr_t)oc * taps + t]);
      acc[oc][0] = _mm256_fmadd_ps(wv, v0, acc[oc][0]);
      acc[oc][1] = _mm256_fmadd_ps(wv, v1, acc[oc][1]);
    }
  }
  __m256 zero = _mm256_setzero_ps();
  for (int oc = 0; oc < on && oc < 4; oc++)
    for (int v = 0; v < 2; v++)
      store256(relu ? _mm256_max_ps(zero, acc[oc][v]) : acc[oc][v], q + 8 * v, end, pw, wo, y + oc * plane);
}

T256 static void direct256(int taps, const int *tap, const float *prep, int band, int pw, int wo, const float *wb,
                           const float *bb, int on, float *y, intptr_t plane, int relu) {
  int end = (band - 1) * pw + wo;
  for (int q = 0; q < end; q += 16)
    for (int half = 0; half < 2 && 4 * half < on; half++)
      cols256(taps, tap, prep, q, end, pw, wo, wb + 4 * half * taps, bb ? bb + 4 * half : NULL, on - 4 * half,
              y + 4 * half * plane, plane, relu);
}

// ---------------------------------------------------------------- portable
static void direct_generic(int taps, const int *tap, const float *prep, int band, int pw, int wo, const float *wb,
                           const float *bb, int on, float *y, intptr_t plane, int relu) {
  for (int oc = 0; oc < on; oc++)
    for (int r = 0; r < band; r++)
      for (int x = 0; x < wo; x++) {
        const float *base = prep + (intptr_t)r * pw + x;
        float acc = bb ? bb[oc] : 0;
        for (int t = 0; t < taps; t++) acc += wb[(intptr_t)oc * taps + t] * base[tap[t]];
        y[oc * plane + (intptr_t)r * wo + x] = relu && acc < 0 ? 0 : acc;
      }
}

void ekd_direct_conv_isa(int isa, const float *x, int c, int h, int w, const float *wt, int o, int kh, int kw,
                         int stride, int pad, const float *bias, float *y, size_t y_plane, int wo, int row0, int row1,
                         int relu, float *scratch) {
  if (o <= 0 || row1 <= row0 || wo <= 0) return;
  int band = row1 - row0, s = stride, taps = c * kh * kw;
  int prow = plane_rows(band, kh, s), pw = pitch(wo, kw, s);
  size_t plane = plane_size(band, kh, kw, s, wo);
  int path = clamp_isa(isa);
  prepare(path, x, c, h, w, s, pad, row0 * s, prow, pw, plane, scratch);
  // After the planes: the taps' offsets, then the last block's weights and bias, zero-padded to OB channels.
  int *tap = (int *)(scratch + (size_t)c * s * s * plane);
  float *padded = (float *)(tap + taps), *paddedBias = padded + (size_t)OB * taps;
  for (int ci = 0, t = 0; ci < c; ci++)
    for (int ky = 0; ky < kh; ky++)
      for (int kx = 0; kx < kw; kx++, t++)
        tap[t] = (int)((((size_t)ci * s + ky % s) * s + kx % s) * plane + (size_t)(ky / s) * pw + kx / s);
  intptr_t oplane = (intptr_t)y_plane;
  for (int o0 = 0; o0 < o; o0 += OB) {
    int on = o - o0 < OB ? o - o0 : OB;
    const float *wb = wt + (intptr_t)o0 * taps, *bb = bias ? bias + o0 : NULL;
    if (on < OB) {
      memset(padded, 0, sizeof(float) * (OB * taps + OB));
      memcpy(padded, wb, sizeof(float) * on * taps);
      if (bias) memcpy(paddedBias, bb, sizeof(float) * on);
      wb = padded;
      bb = bias ? paddedBias : NULL;
    }
    float *yo = y + o0 * oplane;
    switch (path) {
    case EKD_ISA_AVX512: direct512(taps, tap, scratch, band, pw, wo, wb, bb, on, yo, oplane, relu); break;
    case EKD_ISA_AVX2: direct256(taps, tap, scratch, band, pw, wo, wb, bb, on, yo, oplane, relu); break;
    default: direct_generic(taps, tap, scratch, band, pw, wo, wb, bb, on, yo, oplane, relu); break;
    }
  }
}
