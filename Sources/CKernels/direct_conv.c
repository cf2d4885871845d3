// ekd_direct_conv: a direct convolution for layers with few input channels (a
// network's stem: ts500m's 7×7 stride-2 3→8, ResNet's 7×7 3→64, SqueezeNet's 3×3
// 3→64), where im2col builds a K × P matrix of c·kh·kw rows for a GEMM too shallow to
// run at speed.
//
// The rows the output band needs are first copied into a zero-padded buffer,
// split into `stride` column phases, so that for every (c, ky, kx) the inputs of
// consecutive output columns are consecutive floats. Each block of output columns
// (up to three vectors wide) then keeps the sums of 8 output channels in registers
// and runs c·kh·kw steps of one load per vector and 8 broadcast FMAs.
#include "simd.h"

#include <stdint.h>
#include <string.h>

#define OB 8

// The padded, phase-split rows: prep[((ci * s + phase) * rows + r) * pw + j] is input row
// first_row + r − pad, column (j·s + phase) − pad, of channel ci (zero outside the image).
static void prepare(const float *x, int c, int h, int w, int s, int pad, int first_row, int rows, int pw,
                    float *prep) {
  for (int ci = 0; ci < c; ci++)
    for (int phase = 0; phase < s; phase++)
      for (int r = 0; r < rows; r++) {
        float *dst = prep + (((intptr_t)ci * s + phase) * rows + r) * pw;
        int iy = first_row + r - pad;
        if (iy < 0 || iy >= h) {
          memset(dst, 0, sizeof(float) * pw);
          continue;
        }
        const float *src = x + ((intptr_t)ci * h + iy) * w;
        // dst[j] = input column j·s + phase − pad: zeros left of column 0, the strided
        // copy, zeros right of column w − 1.
        int j0 = (pad - phase + s - 1) / s;  // first j with j·s + phase − pad ≥ 0
        if (j0 > pw) j0 = pw;
        int j1 = (w - 1 + pad - phase) / s + 1;  // one past the last j inside the row
        if (j1 > pw) j1 = pw;
        if (j1 < j0) j1 = j0;
        for (int j = 0; j < j0; j++) dst[j] = 0;
        const float *from = src + (intptr_t)j0 * s + phase - pad;
        if (s == 1)
          memcpy(dst + j0, from, sizeof(float) * (j1 - j0));
        else
          for (int j = j0; j < j1; j++) dst[j] = from[(intptr_t)(j - j0) * s];
        for (int j = j1; j < pw; j++) dst[j] = 0;
      }
}

// The padded input rows a band of output rows reads, and the width of each phase of
// them: every column a tap reads, plus 32 floats that full-width vector loads may touch.
static int band_rows(int band, int kh, int s) { return (band - 1) * s + kh; }
static int phase_width(int wo, int kw, int s) { return wo + (kw - 1) / s + 1 + 32; }

size_t ekd_direct_conv_scratch(int c, int kh, int kw, int stride, int band, int wo) {
  // The rows, the taps' offsets (an int each), then one zero-padded block of weights and bias.
  size_t taps = (size_t)c * kh * kw;
  return (size_t)c * stride * band_rows(band, kh, stride) * phase_width(wo, kw, stride) + taps + OB * (taps + 1);
}

// Output channels go in blocks of OB (the last one zero-padded in scratch), each
// block's weights wb[oc·taps + t], its bias bb[oc] (or NULL), and `on` of its OB
// channels stored. Tap t = (ci·kh + ky)·kw + kx reads prep + tap[t] + r0·pw + ox
// for output row r0/s, columns ox…: one loop over the taps, so the sums stay in
// registers from the first tap to the store.

// ---------------------------------------------------------------- AVX-512F
// One block of OB channels × nv vectors of 16 output columns (nv a constant after
// inlining: 3, 2 or 1), the last vector masked by `m`: OB·nv sums, each tap one load
// per vector and OB broadcasts.
INLINE T512 void cols512(int nv, int taps, const int *tap, int pw, const float *prep, int r0, int ox, __mmask16 m,
                         const float *wb, const float *bb, int on, float *y, intptr_t plane, int relu) {
  __m512 acc[OB][3];
  for (int oc = 0; oc < OB; oc++)
    for (int v = 0; v < nv; v++) acc[oc][v] = bb ? _mm512_set1_ps(bb[oc]) : _mm512_setzero_ps();
  const float *base = prep + (intptr_t)r0 * pw + ox;
  for (int t = 0; t < taps; t++) {
    const float *src = base + tap[t];
    __m512 in[3];
    for (int v = 0; v < nv; v++) in[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(m, src + 16 * v) : _mm512_loadu_ps(src + 16 * v);
    for (int oc = 0; oc < OB; oc++) {
      __m512 wv = _mm512_set1_ps(wb[(intptr_t)oc * taps + t]);
      for (int v = 0; v < nv; v++) acc[oc][v] = _mm512_fmadd_ps(wv, in[v], acc[oc][v]);
    }
  }
  __m512 zero = _mm512_setzero_ps();
  for (int oc = 0; oc < on; oc++)
    for (int v = 0; v < nv; v++)
      _mm512_mask_storeu_ps(y + oc * plane + ox + 16 * v, v == nv - 1 ? m : (__mmask16)0xFFFF,
                            relu ? _mm512_max_ps(zero, acc[oc][v]) : acc[oc][v]);
}

T512 static void direct512(int taps, const int *tap, int s, int pw, const float *prep, int band, int wo,
                           const float *wb, const float *bb, int on, float *y, intptr_t plane, int relu) {
  for (int r = 0; r < band; r++) {
    float *yr = y + (intptr_t)r * wo;
    int ox = 0;
    for (; ox + 48 <= wo; ox += 48) cols512(3, taps, tap, pw, prep, r * s, ox, 0xFFFF, wb, bb, on, yr, plane, relu);
    int left = wo - ox;
    if (left == 0) continue;
    __mmask16 m = (__mmask16)((1u << ((left - 1) % 16 + 1)) - 1);
    if (left > 32) cols512(3, taps, tap, pw, prep, r * s, ox, m, wb, bb, on, yr, plane, relu);
    else if (left > 16) cols512(2, taps, tap, pw, prep, r * s, ox, m, wb, bb, on, yr, plane, relu);
    else cols512(1, taps, tap, pw, prep, r * s, ox, m, wb, bb, on, yr, plane, relu);
  }
}

// ---------------------------------------------------------------- AVX2 + FMA
// Half a block (4 channels) × 2 vectors of 8 columns, the last masked to n columns
// (1 ... 16): 8 of the 16 registers hold sums.
INLINE T256 void cols256(int taps, const int *tap, int pw, const float *prep, int r0, int ox, int n,
                         const float *wb, const float *bb, int on, float *y, intptr_t plane, int relu) {
  __m256 acc[4][2];
  int nv = n > 8 ? 2 : 1;
  __m256i m = mask256(n > 8 ? n - 8 : n);
  for (int oc = 0; oc < 4; oc++) acc[oc][0] = acc[oc][1] = bb ? _mm256_set1_ps(bb[oc]) : _mm256_setzero_ps();
  const float *base = prep + (intptr_t)r0 * pw + ox;
  for (int t = 0; t < taps; t++) {
    const float *src = base + tap[t];
    __m256 v0 = nv == 2 ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, m);
    __m256 v1 = nv == 2 ? _mm256_maskload_ps(src + 8, m) : _mm256_setzero_ps();
    for (int oc = 0; oc < 4; oc++) {
      __m256 wv = _mm256_set1_ps(wb[(intptr_t)oc * taps + t]);
      acc[oc][0] = _mm256_fmadd_ps(wv, v0, acc[oc][0]);
      acc[oc][1] = _mm256_fmadd_ps(wv, v1, acc[oc][1]);
    }
  }
  __m256 zero = _mm256_setzero_ps();
  __m256i all = _mm256_set1_epi32(-1);
  for (int oc = 0; oc < on && oc < 4; oc++) {
    __m256 a0 = relu ? _mm256_max_ps(zero, acc[oc][0]) : acc[oc][0];
    __m256 a1 = relu ? _mm256_max_ps(zero, acc[oc][1]) : acc[oc][1];
    _mm256_maskstore_ps(y + oc * plane + ox, nv == 2 ? all : m, a0);
    if (nv == 2) _mm256_maskstore_ps(y + oc * plane + ox + 8, m, a1);
  }
}

T256 static void direct256(int taps, const int *tap, int s, int pw, const float *prep, int band, int wo,
                           const float *wb, const float *bb, int on, float *y, intptr_t plane, int relu) {
  for (int r = 0; r < band; r++) {
    float *yr = y + (intptr_t)r * wo;
    for (int ox = 0; ox < wo; ox += 16)
      for (int half = 0; half < 2 && 4 * half < on; half++)
        cols256(taps, tap, pw, prep, r * s, ox, wo - ox < 16 ? wo - ox : 16, wb + 4 * half * taps,
                bb ? bb + 4 * half : NULL, on - 4 * half, yr + 4 * half * plane, plane, relu);
  }
}

// ---------------------------------------------------------------- portable
static void direct_generic(int taps, const int *tap, int s, int pw, const float *prep, int band, int wo,
                           const float *wb, const float *bb, int on, float *y, intptr_t plane, int relu) {
  for (int oc = 0; oc < on; oc++)
    for (int r = 0; r < band; r++)
      for (int ox = 0; ox < wo; ox++) {
        const float *base = prep + (intptr_t)r * s * pw + ox;
        float acc = bb ? bb[oc] : 0;
        for (int t = 0; t < taps; t++) acc += wb[(intptr_t)oc * taps + t] * base[tap[t]];
        y[oc * plane + (intptr_t)r * wo + ox] = relu && acc < 0 ? 0 : acc;
      }
}

void ekd_direct_conv_isa(int isa, const float *x, int c, int h, int w, const float *wt, int o, int kh, int kw,
                         int stride, int pad, const float *bias, float *y, int ho, int wo, int row0, int row1,
                         int relu, float *scratch) {
  if (o <= 0 || row1 <= row0 || wo <= 0) return;
  int band = row1 - row0, s = stride, taps = c * kh * kw;
  int rows = band_rows(band, kh, s), pw = phase_width(wo, kw, s);
  prepare(x, c, h, w, s, pad, row0 * s, rows, pw, scratch);
  // After the rows: the taps' offsets, then the last block's weights and bias, zero-padded to OB channels.
  int *tap = (int *)(scratch + (size_t)c * s * rows * pw);
  float *padded = (float *)(tap + taps), *paddedBias = padded + (size_t)OB * taps;
  for (int ci = 0, t = 0; ci < c; ci++)
    for (int ky = 0; ky < kh; ky++)
      for (int kx = 0; kx < kw; kx++, t++) tap[t] = ((ci * s + kx % s) * rows + ky) * pw + kx / s;
  float *yb = y + (intptr_t)row0 * wo;
  intptr_t plane = (intptr_t)ho * wo;
  int path = clamp_isa(isa);
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
    float *yo = yb + o0 * plane;
    switch (path) {
    case EKD_ISA_AVX512: direct512(taps, tap, s, pw, scratch, band, wo, wb, bb, on, yo, plane, relu); break;
    case EKD_ISA_AVX2: direct256(taps, tap, s, pw, scratch, band, wo, wb, bb, on, yo, plane, relu); break;
    default: direct_generic(taps, tap, s, pw, scratch, band, wo, wb, bb, on, yo, plane, relu); break;
    }
  }
}
