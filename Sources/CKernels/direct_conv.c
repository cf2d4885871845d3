// ekd_direct_conv: a direct convolution for layers with few input and output
// channels (a network's stem: ts500m's 7×7 stride-2 3→8), where im2col builds a
// K × P matrix of c·kh·kw rows that is read only o times.
//
// The rows the output band needs are first copied into a zero-padded buffer,
// split into `stride` column phases, so that for every (c, ky, kx) the inputs of
// consecutive output columns are consecutive floats. Each block of output columns
// (one vector wide) then keeps one accumulator per output channel in registers and
// runs c·kh·kw steps of one load and o broadcast FMAs.
#include "simd.h"

#include <stdint.h>
#include <string.h>

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
  return (size_t)c * stride * band_rows(band, kh, stride) * phase_width(wo, kw, stride);
}

// ---------------------------------------------------------------- AVX-512F
// nv vectors of 16 output columns (2 when o ≤ 8, so each broadcast weight feeds two
// FMAs), the last one masked by `m`.
INLINE T512 void cols512(int o, int nv, int c, int kh, int kw, int s, int rows, int pw, const float *prep, int r0,
                         int ox, __mmask16 m, const float *wt, const float *bias, float *y, intptr_t plane,
                         int relu) {
  __m512 acc[16][2];
  for (int oc = 0; oc < o; oc++)
    for (int v = 0; v < nv; v++) acc[oc][v] = _mm512_set1_ps(bias ? bias[oc] : 0);
  int per = c * kh * kw;
  for (int ci = 0; ci < c; ci++)
    for (int ky = 0; ky < kh; ky++)
      for (int kx = 0; kx < kw; kx++) {
        const float *src = prep + (((intptr_t)ci * s + kx % s) * rows + r0 + ky) * pw + ox + kx / s;
        __m512 in[2];
        for (int v = 0; v < nv; v++) in[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(m, src + 16 * v) : _mm512_loadu_ps(src + 16 * v);
        const float *wk = wt + (ci * kh + ky) * kw + kx;
        for (int oc = 0; oc < o; oc++) {
          __m512 wv = _mm512_set1_ps(wk[(intptr_t)oc * per]);
          for (int v = 0; v < nv; v++) acc[oc][v] = _mm512_fmadd_ps(wv, in[v], acc[oc][v]);
        }
      }
  __m512 zero = _mm512_setzero_ps();
  for (int oc = 0; oc < o; oc++)
    for (int v = 0; v < nv; v++)
      _mm512_mask_storeu_ps(y + oc * plane + ox + 16 * v, v == nv - 1 ? m : (__mmask16)0xFFFF,
                            relu ? _mm512_max_ps(zero, acc[oc][v]) : acc[oc][v]);
}

T512 static void direct512(int o, int c, int kh, int kw, int s, int rows, int pw, const float *prep, int band,
                           int wo, const float *wt, const float *bias, float *y, intptr_t plane, int relu) {
  for (int r = 0; r < band; r++) {
    float *yr = y + (intptr_t)r * wo;
    int ox = 0;
    if (o <= 8)
      for (; ox + 32 <= wo; ox += 32) cols512(o, 2, c, kh, kw, s, rows, pw, prep, r * s, ox, 0xFFFF, wt, bias, yr, plane, relu);
    for (; ox + 16 <= wo; ox += 16) cols512(o, 1, c, kh, kw, s, rows, pw, prep, r * s, ox, 0xFFFF, wt, bias, yr, plane, relu);
    if (ox < wo) cols512(o, 1, c, kh, kw, s, rows, pw, prep, r * s, ox, (__mmask16)((1u << (wo - ox)) - 1), wt, bias, yr, plane, relu);
  }
}

// ---------------------------------------------------------------- AVX2 + FMA
INLINE T256 void cols256(int o, int c, int kh, int kw, int s, int rows, int pw, const float *prep, int r0,
                         int ox, int n, const float *wt, const float *bias, float *y, intptr_t plane, int relu) {
  __m256 acc[16];
  __m256i m = mask256(n);
  for (int oc = 0; oc < o; oc++) acc[oc] = _mm256_set1_ps(bias ? bias[oc] : 0);
  int per = c * kh * kw;
  for (int ci = 0; ci < c; ci++)
    for (int ky = 0; ky < kh; ky++)
      for (int kx = 0; kx < kw; kx++) {
        const float *src = prep + (((intptr_t)ci * s + kx % s) * rows + r0 + ky) * pw + ox + kx / s;
        __m256 v = _mm256_maskload_ps(src, m);
        const float *wk = wt + (ci * kh + ky) * kw + kx;
        for (int oc = 0; oc < o; oc++) acc[oc] = _mm256_fmadd_ps(_mm256_set1_ps(wk[(intptr_t)oc * per]), v, acc[oc]);
      }
  __m256 zero = _mm256_setzero_ps();
  for (int oc = 0; oc < o; oc++) _mm256_maskstore_ps(y + oc * plane + ox, m, relu ? _mm256_max_ps(zero, acc[oc]) : acc[oc]);
}

T256 static void direct256(int o, int c, int kh, int kw, int s, int rows, int pw, const float *prep, int band,
                           int wo, const float *wt, const float *bias, float *y, intptr_t plane, int relu) {
  for (int r = 0; r < band; r++) {
    float *yr = y + (intptr_t)r * wo;
    for (int ox = 0; ox < wo; ox += 8) cols256(o, c, kh, kw, s, rows, pw, prep, r * s, ox, wo - ox < 8 ? wo - ox : 8, wt, bias, yr, plane, relu);
  }
}

// ---------------------------------------------------------------- portable
static void direct_generic(int o, int c, int kh, int kw, int s, int rows, int pw, const float *prep, int band,
                           int wo, const float *wt, const float *bias, float *y, intptr_t plane, int relu) {
  int per = c * kh * kw;
  for (int oc = 0; oc < o; oc++)
    for (int r = 0; r < band; r++)
      for (int ox = 0; ox < wo; ox++) {
        float acc = bias ? bias[oc] : 0;
        for (int ci = 0; ci < c; ci++)
          for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++)
              acc += wt[(intptr_t)oc * per + (ci * kh + ky) * kw + kx] *
                     prep[(((intptr_t)ci * s + kx % s) * rows + r * s + ky) * pw + ox + kx / s];
        y[oc * plane + (intptr_t)r * wo + ox] = relu && acc < 0 ? 0 : acc;
      }
}

void ekd_direct_conv_isa(int isa, const float *x, int c, int h, int w, const float *wt, int o, int kh, int kw,
                         int stride, int pad, const float *bias, float *y, int ho, int wo, int row0, int row1,
                         int relu, float *scratch) {
  if (o <= 0 || o > 16 || row1 <= row0 || wo <= 0) return;
  int band = row1 - row0, s = stride;
  int rows = band_rows(band, kh, s), pw = phase_width(wo, kw, s);
  prepare(x, c, h, w, s, pad, row0 * s, rows, pw, scratch);
  float *yb = y + (intptr_t)row0 * wo;
  intptr_t plane = (intptr_t)ho * wo;
  switch (clamp_isa(isa)) {
  case EKD_ISA_AVX512: direct512(o, c, kh, kw, s, rows, pw, scratch, band, wo, wt, bias, yb, plane, relu); break;
  case EKD_ISA_AVX2: direct256(o, c, kh, kw, s, rows, pw, scratch, band, wo, wt, bias, yb, plane, relu); break;
  default: direct_generic(o, c, kh, kw, s, rows, pw, scratch, band, wo, wt, bias, yb, plane, relu); break;
  }
}
