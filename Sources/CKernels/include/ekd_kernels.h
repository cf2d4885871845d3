// Hand-written SIMD kernels for the shapes OpenBLAS handles badly, each in an
// AVX-512F, an AVX2+FMA and a portable version; the CPU's best is chosen at
// run time (the project's machines are Zen 3 with AVX2 one day and Zen 4 with
// AVX-512 another, and one binary must run well on both).
#ifndef EKD_KERNELS_H
#define EKD_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// The instruction-set paths, best last.
enum ekd_isa { EKD_ISA_GENERIC = 0, EKD_ISA_AVX2 = 1, EKD_ISA_AVX512 = 2 };

/// The best path this CPU supports (what ekd_thin_gemm uses).
int ekd_isa_best(void);

/// C = beta·C + A·B (then max(·, 0) when relu is nonzero), row-major: C is m×n (row
/// stride ldc), A m×k (lda), B k×n (ldb); a convolution's weights times its input or
/// im2col tile. B is not packed: it is read in panels of columns, once each, and
/// prefetched ahead, which is where OpenBLAS loses time on thin A and on inputs out of
/// cache.
void ekd_thin_gemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                   float beta, float *c, int ldc, int relu);

/// The same on a given path (for tests: every path this CPU supports is checked).
void ekd_thin_gemm_isa(int isa, int m, int n, int k, const float *a, int lda, const float *b,
                       int ldb, float beta, float *c, int ldc, int relu);

/// Floats of scratch ekd_direct_conv_isa needs for a band of `band` output rows.
size_t ekd_direct_conv_scratch(int c, int kh, int kw, int stride, int band, int wo);

/// Output rows row0 ..< row1 of one image of a direct convolution: y (o × · × wo) =
/// conv(x (c × h × w), wt (o × c × kh × kw), stride, zero padding pad) + bias (may be
/// NULL), then max(·, 0) when relu is nonzero, output row row0 of channel oc at
/// y + oc·y_plane. For stems (few input channels, stride 1 or 2), where im2col's
/// shallow c·kh·kw-row GEMM runs far below speed. `scratch` holds
/// ekd_direct_conv_scratch(…) floats.
void ekd_direct_conv_isa(int isa, const float *x, int c, int h, int w, const float *wt, int o, int kh, int kw,
                         int stride, int pad, const float *bias, float *y, size_t y_plane, int wo, int row0, int row1,
                         int relu, float *scratch);

/// Packs wt (o × taps, taps = c·kh·kw) tap-major into taps × (o rounded up to 16) floats,
/// each tap's o weights then zeros, so that a tap's weights for 16 output channels are
/// one vector.
void ekd_channel_conv_pack(const float *wt, int o, int taps, float *packed);

/// Floats of scratch ekd_channel_conv_isa needs for a band of `band` output rows.
size_t ekd_channel_conv_scratch(int c, int kh, int kw, int stride, int band, int wo);

/// Output rows row0 ..< row1 and channels oc0 ..< oc1 (oc0 a multiple of 16) of one image
/// of the convolution ekd_direct_conv_isa computes, from weights `packed` by
/// ekd_channel_conv_pack, with vectors over output channels rather than outputs: for
/// small planes, whose rows fill few of a vector's lanes. Output row row0 of channel oc
/// goes to y + oc·y_plane. `bias` (may be NULL) holds o floats.
void ekd_channel_conv_isa(int isa, const float *x, int c, int h, int w, const float *packed, int o, int kh, int kw,
                          int stride, int pad, const float *bias, float *y, size_t y_plane, int wo, int row0, int row1,
                          int oc0, int oc1, int relu, float *scratch);

/// Output rows oy0 ..< oy1 of max pooling `planes` planes (h × w → · × wo) with k × k
/// windows (k = 2 or 3), stride 2 and padding pad (0 or 1), padding never winning; wo
/// may include ceil mode's last windows, which reach past the input and are clipped to
/// it. Plane p's input row first_row is at x + p·x_plane (the rows these outputs read
/// must be there, one after another), its output row oy0 at y + p·y_plane. Unless arg is
/// NULL, arg (laid out as y) gets each maximum's first index, row-major, in its plane.
void ekd_max_pool_s2_isa(int isa, const float *x, size_t x_plane, int first_row, int planes, int h, int w, int k, int pad,
                         float *y, size_t y_plane, int32_t *arg, int oy0, int oy1, int wo);

#endif
