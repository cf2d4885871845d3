// ThinGEMM (Sources/CKernels/thin_gemm.c) against single-threaded OpenBLAS on the GEMM
// shapes of the students' convolutions (M = outputs, K = inputs·k·k, N = one image's
// output positions), on one thread: "cold" cycles B through 256 MiB, so that it comes
// from memory as a layer's input does in a network; "hot" reuses one B that stays in
// cache. Prints GFLOP/s and the largest difference between the two results.
//   scripts/thin_gemm_micro.sh [isa]    isa: 2 AVX-512 (default), 1 AVX2, 0 portable
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ekd_kernels.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  int isa = argc > 1 ? atoi(argv[1]) : EKD_ISA_AVX512;
  static const int shapes[][3] = {
      // squeezenet1_1: squeezes and expands at 55, 27 and 13
      {16, 64, 3025}, {16, 128, 3025}, {64, 16, 3025}, {32, 256, 729}, {128, 32, 729}, {64, 512, 169}, {192, 48, 169},
      // resnet50: 1×1 convs at 56, 28, 14 and 7, and im2col 3×3s
      {256, 64, 3136}, {64, 256, 3136}, {64, 576, 3136}, {128, 512, 784}, {128, 1152, 784}, {1024, 256, 196},
      {256, 2304, 196}, {2048, 512, 49}, {512, 4608, 49}};
  const long pool = 256l << 20;
  float *big = malloc(pool);
  for (long i = 0; i < pool / 4; i++) big[i] = rand() / (float)RAND_MAX - 0.5f;
  printf("isa %d (0 portable, 1 AVX2, 2 AVX-512; this CPU's best: %d), one thread, GFLOP/s\n", isa, ekd_isa_best());
  printf("%5s %5s %5s  %9s %9s  %9s %9s  %s\n", "M", "K", "N", "cold ours", "OpenBLAS", "hot ours", "OpenBLAS", "max |diff|");
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
    float *a = malloc(sizeof(float) * m * k), *c = malloc(sizeof(float) * m * n), *c2 = malloc(sizeof(float) * m * n);
    for (long i = 0; i < (long)m * k; i++) a[i] = rand() / (float)RAND_MAX - 0.5f;
    long per = (long)k * n, count = pool / 4 / per;
    if (count > 40) count = 40;
    double t[4] = {0};
    for (int rep = 0; rep < 2; rep++) {  // the second pass is the one reported
      double t0 = now();
      for (long i = 0; i < count; i++) ekd_thin_gemm_isa(isa, m, n, k, a, k, big + i * per, n, 0, c, n, 0);
      double t1 = now();
      for (long i = 0; i < count; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, big + i * per, n, 0, c2, n);
      double t2 = now();
      for (long i = 0; i < count; i++) ekd_thin_gemm_isa(isa, m, n, k, a, k, big, n, 0, c, n, 0);
      double t3 = now();
      for (long i = 0; i < count; i++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, big, n, 0, c2, n);
      double t4 = now();
      t[0] = t1 - t0, t[1] = t2 - t1, t[2] = t3 - t2, t[3] = t4 - t3;
    }
    double worst = 0;
    for (long i = 0; i < (long)m * n; i++) {
      double d = c[i] - c2[i];
      if (d < 0) d = -d;
      if (d > worst) worst = d;
    }
    double g = 2.0 * m * n * k * count * 1e-9;
    printf("%5d %5d %5d  %9.1f %9.1f  %9.1f %9.1f  %.1e\n", m, k, n, g / t[0], g / t[1], g / t[2], g / t[3], worst);
    free(a), free(c), free(c2);
  }
  return 0;
}
