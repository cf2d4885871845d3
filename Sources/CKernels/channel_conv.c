// ekd_channel_conv: a direct convolution whose vectors run over output channels, for
// convs on small planes (tiny's 8×8 and 16×16 layers, its stride-2 stages), where
// ekd_direct_conv's vectors of outputs fill few lanes: an 8×8 plane is 64 outputs, a
// band of four rows of it 38 in 48 lanes.
//
// Weights are packed once, tap-major ([c·kh·kw][o rounded up to 16], zeros past o), so a
// tap's weights for 16 consecutive output channels are one vector. A tile keeps the sums
// of k vectors of channels for m outputs of one row in registers and runs c·kh·kw steps
// of k loads, m broadcasts of an input and k·m FMAs; the sums are then stored, through a
// small staging block, to the NCHW output. The input rows a band reads are first copied
// into a zero-padded buffer, so that no tap tests a border.
#include "simd.h"

#include <string.h>

#define CH 16      // channels per packing unit (one AVX-512 vector, two AVX2 ones)
#define MAXM 16    // outputs per tile, at most
#define MAXG 64    // channels per tile, at most

static int round16(int o) { return (o + CH - 1) / CH * CH; }

void ekd_channel_conv_pack(const float *wt, int o, int taps, float *packed) {
  int opad = round16(o);
  for (int t = 0; t < taps; t++) {
    float *row = packed + (size_t)t * opad;
    for (int oc = 0; oc < o; oc++) row[oc] = wt[(size_t)oc * taps + t];
    for (int oc = o; oc < opad; oc++) row[oc] = 0;
  }
}

// The padded input of a band: plane ci, row r, column j is input row row0·s + r − pad,
// column j − pad (zero outside the image).
static int in_rows(int band, int kh, int s) { return (band - 1) * s + kh; }
static int in_pitch(int wo, int kw, int s) { return (wo + MAXM - 1) * s + kw; }

size_t ekd_channel_conv_scratch(int c, int kh, int kw, int stride, int band, int wo) {
  size_t taps = (size_t)c * kh * kw;
  return (size_t)c * in_rows(band, kh, stride) * in_pitch(wo, kw, stride) + taps + MAXM * MAXG;
}

static void prepare(const float *x, int c, int h, int w, int s, int pad, int row0, int prow, int pw, float *in) {
  for (int ci = 0; ci < c; ci++)
    for (int r = 0; r < prow; r++) {
      float *dst = in + ((size_t)ci * prow + r) * pw;
      int iy = row0 * s + r - pad;
      if (iy < 0 || iy >= h) {
        memset(dst, 0, sizeof(float) * pw);
        continue;
      }
      int left = pad < pw ? pad : pw, n = w < pw - left ? w : pw - left;
      memset(dst, 0, sizeof(float) * left);
      memcpy(dst + left, x + ((size_t)ci * h + iy) * w, sizeof(float) * n);
      memset(dst + left + n, 0, sizeof(float) * (pw - left - n));
    }
}

// Stores a tile's staged sums, stage[j·g + oc] for j < mv outputs and oc < on channels,
// to y + oc·plane + j.
static void unstage(const float *stage, int g, int mv, int on, float *y, size_t plane) {
  for (int oc = 0; oc < on; oc++) {
    float *dst = y + oc * plane;
    for (int j = 0; j < mv; j++) dst[j] = stage[j * g + oc];
  }
}

// ---------------------------------------------------------------- AVX-512F
// k vectors of 16 channels × m outputs (both constants after inlining) from src on,
// outputs s floats apart; weights wp[t·opad + 16kk].
INLINE T512 void tile512(int k, int m, int s, int taps, const int *tap, const float *src, const float *wp, int opad,
                         const float *bias, int relu, float *stage) {
  __m512 acc[4][MAXM];
  for (int kk = 0; kk < k; kk++) {
    __m512 b = bias ? _mm512_loadu_ps(bias + 16 * kk) : _mm512_setzero_ps();
    for (int j = 0; j < m; j++) acc[kk][j] = b;
  }
  for (int t = 0; t < taps; t++) {
    const float *in = src + tap[t], *wt = wp + (size_t)t * opad;
    __m512 wv[4];
    for (int kk = 0; kk < k; kk++) wv[kk] = _mm512_loadu_ps(wt + 16 * kk);
    for (int j = 0; j < m; j++) {
      __m512 v = _mm512_set1_ps(in[j * s]);
      for (int kk = 0; kk < k; kk++) acc[kk][j] = _mm512_fmadd_ps(wv[kk], v, acc[kk][j]);
    }
  }
  __m512 zero = _mm512_setzero_ps();
  for (int j = 0; j < m; j++)
    for (int kk = 0; kk < k; kk++)
      _mm512_storeu_ps(stage + j * 16 * k + 16 * kk, relu ? _mm512_max_ps(zero, acc[kk][j]) : acc[kk][j]);
}

// The tile shapes, registers for sums ≤ 24 of 32: (k, m).
#define TILE512(K, M)                                                                                                  \
  T512 static void tile512_##K##_##M(int s, int taps, const int *tap, const float *src, const float *wp, int opad,     \
                                     const float *bias, int relu, float *stage) {                                      \
    if (s == 1)                                                                                                        \
      tile512(K, M, 1, taps, tap, src, wp, opad, bias, relu, stage);                                                   \
    else                                                                                                               \
      tile512(K, M, 2, taps, tap, src, wp, opad, bias, relu, stage);                                                   \
  }
TILE512(1, 16)
TILE512(2, 8)
TILE512(2, 12)
TILE512(3, 8)
TILE512(4, 6)

// ---------------------------------------------------------------- AVX2 + FMA
// Two vectors of 8 channels (16) × m outputs: 2·m ≤ 12 of the 16 registers hold sums.
INLINE T256 void tile256(int m, int s, int taps, const int *tap, const float *src, const float *wp, int opad,
                         const float *bias, int relu, float *stage) {
  __m256 acc[2][6];
  for (int kk = 0; kk < 2; kk++) {
    __m256 b = bias ? _mm256_loadu_ps(bias + 8 * kk) : _mm256_setzero_ps();
    for (int j = 0; j < m; j++) acc[kk][j] = b;
  }
  for (int t = 0; t < taps; t++) {
    const float *in = src + tap[t], *wt = wp + (size_t)t * opad;
    __m256 w0 = _mm256_loadu_ps(wt), w1 = _mm256_loadu_ps(wt + 8);
    for (int j = 0; j < m; j++) {
      __m256 v = _mm256_set1_ps(in[j * s]);
      acc[0][j] = _mm256_fmadd_ps(w0, v, acc[0][j]);
      acc[1][j] = _mm256_fmadd_ps(w1, v, acc[1][j]);
    }
  }
  __m256 zero = _mm256_setzero_ps();
  for (int j = 0; j < m; j++)
    for (int kk = 0; kk < 2; kk++)
      _mm256_storeu_ps(stage + j * 16 + 8 * kk, relu ? _mm256_max_ps(zero, acc[kk][j]) : acc[kk][j]);
}
#define TILE256(M)                                                                                                     \
  T256 static void tile256_##M(int s, int taps, const int *tap, const float *src, const float *wp, int opad,          \
                               const float *bias, int relu, float *stage) {                                            \
    if (s == 1)                                                                                                        \
      tile256(M, 1, taps, tap, src, wp, opad, bias, relu, stage);                                                      \
    else                                                                                                               \
      tile256(M, 2, taps, tap, src, wp, opad, bias, relu, stage);                                                      \
  }
TILE256(4)
TILE256(6)

// ---------------------------------------------------------------- portable
static void tile_generic(int k, int m, int s, int taps, const int *tap, const float *src, const float *wp, int opad,
                         const float *bias, int relu, float *stage) {
  int g = CH * k;
  for (int j = 0; j < m; j++)
    for (int oc = 0; oc < g; oc++) {
      float acc = bias ? bias[oc] : 0;
      for (int t = 0; t < taps; t++) acc += wp[(size_t)t * opad + oc] * src[tap[t] + j * s];
      stage[j * g + oc] = relu && acc < 0 ? 0 : acc;
    }
}

typedef void (*tile_fn)(int, int, const int *, const float *, const float *, int, const float *, int, float *);

struct shape {
  int k, m;  // vectors of 16 channels, outputs
  tile_fn fn;
};

// The tile for rows of wo outputs and `blocks` blocks of 16 channels: the fewest
// outputs computed and dropped at a row's end first, then the most sums per tile.
static struct shape choose(int path, int wo, int blocks) {
  static const struct shape avx512[] = {{4, 6, tile512_4_6}, {2, 12, tile512_2_12}, {3, 8, tile512_3_8},
                                        {2, 8, tile512_2_8}, {1, 16, tile512_1_16}};
  static const struct shape avx2[] = {{1, 6, tile256_6}, {1, 4, tile256_4}};
  static const struct shape generic[] = {{1, 8, NULL}};
  const struct shape *list = path == EKD_ISA_AVX512 ? avx512 : path == EKD_ISA_AVX2 ? avx2 : generic;
  int count = path == EKD_ISA_AVX512 ? 5 : path == EKD_ISA_AVX2 ? 2 : 1;
  struct shape best = list[0];
  long best_score = -1;
  for (int i = 0; i < count; i++) {
    if (blocks % list[i].k) continue;
    int m = list[i].m, computed = (wo + m - 1) / m * m;
    // Useful outputs per computed one, then sums per tile, as one number.
    long score = (long)wo * 1000 / computed * 100 + list[i].k * m;
    if (score > best_score) best_score = score, best = list[i];
  }
  return best;
}

void ekd_channel_conv_isa(int isa, const float *x, int c, int h, int w, const float *packed, int o, int kh, int kw,
                          int stride, int pad, const float *bias, float *y, size_t y_plane, int wo, int row0, int row1,
                          int oc0, int oc1, int relu, float *scratch) {
  if (oc1 <= oc0 || row1 <= row0 || wo <= 0) return;
  int band = row1 - row0, s = stride, taps = c * kh * kw, opad = round16(o);
  int prow = in_rows(band, kh, s), pw = in_pitch(wo, kw, s);
  int path = clamp_isa(isa);
  prepare(x, c, h, w, s, pad, row0, prow, pw, scratch);
  int *tap = (int *)(scratch + (size_t)c * prow * pw);
  float *stage = (float *)(tap + taps);
  for (int ci = 0, t = 0; ci < c; ci++)
    for (int ky = 0; ky < kh; ky++)
      for (int kx = 0; kx < kw; kx++, t++) tap[t] = (int)(((size_t)ci * prow + ky) * pw + kx);
  // oc0 is a multiple of 16; the range's blocks, the last zero-padded in `packed`.
  int blocks = (oc1 - oc0 + CH - 1) / CH;
  struct shape sh = choose(path, wo, blocks);
  int g = CH * sh.k;
  // The last group of channels, when it runs past oc1, reads its bias from a copy padded
  // with zeros, made once.
  int last = oc0 + (oc1 - oc0 - 1) / g * g;
  float biasPad[MAXG] = {0};
  if (bias && oc1 - last < g) memcpy(biasPad, bias + last, sizeof(float) * (oc1 - last));
  for (int r = 0; r < band; r++)
    for (int x0 = 0; x0 < wo; x0 += sh.m) {
      int mv = wo - x0 < sh.m ? wo - x0 : sh.m;
      const float *src = scratch + (size_t)r * s * pw + (size_t)x0 * s;
      for (int g0 = oc0; g0 < oc1; g0 += g) {
        int on = oc1 - g0 < g ? oc1 - g0 : g;
        const float *b = !bias ? NULL : on < g ? biasPad : bias + g0;
        if (path == EKD_ISA_GENERIC)
          tile_generic(sh.k, sh.m, s, taps, tap, src, packed + g0, opad, b, relu, stage);
        else
          sh.fn(s, taps, tap, src, packed + g0, opad, b, relu, stage);
        unstage(stage, g, mv, on, y + (size_t)g0 * y_plane + (size_t)r * wo + x0, y_plane);
      }
    }
}
