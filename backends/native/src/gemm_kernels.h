// Register-blocked GEMM micro-kernels: each computes one MR x NR tile of C from a packed MR-row
// panel of A and a packed NR-column panel of B (see gemm.cc for the packing layout), and writes the
// top-left mr x nr corner of it to C. Variants are compiled with target attributes so that one
// binary holds all of them; gemm.cc picks one at run time with __builtin_cpu_supports.
#pragma once
#include <cstdint>

namespace rankfuse {

// ap: kc x MR (k-major, MR values per k), bp: kc x NR (NR values per k), both zero-padded.
// c: row-major with leading dimension ldc. accumulate: c += ap . bp, else c = ap . bp.
using MicroKernelFn = void (*)(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int mr, int nr,
                               bool accumulate);

struct MicroKernel {
  const char* name;
  int mr, nr;
  MicroKernelFn fn;
};

// nullptr when this binary was built without the variant (the CPU check is the caller's).
const MicroKernel* avx512MicroKernel();
const MicroKernel* avx2MicroKernel();
const MicroKernel* genericMicroKernel();

}  // namespace rankfuse
