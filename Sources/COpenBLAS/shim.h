// The BLAS and LAPACK C interfaces that EKD's kernels call.
// Debian's libopenblas-dev puts cblas.h under an alternatives directory that
// `pkg-config openblas` names; lapacke.h comes from liblapacke-dev.
#include <cblas.h>
#include <lapacke.h>
