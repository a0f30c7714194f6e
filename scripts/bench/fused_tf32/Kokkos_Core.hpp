#pragma once
// The little of Kokkos that tpls/KKM_FusedTf32.hpp and KKM_Nearest.hpp name, so that
// kernel_bench.cu builds with nvcc alone (no Kokkos build) — for this benchmark only.
#define KOKKOS_ENABLE_CUDA 1
#define KOKKOS_INLINE_FUNCTION __host__ __device__ inline
#include <cfloat>
namespace Kokkos {
struct Cuda {};
struct MemoryUnmanaged {};
template <class... P>
struct View {
  View() = default;
  template <class... A>
  View(A...) {}
  void* data() const;
};
template <class T>
struct reduction_identity {
  __host__ __device__ static T min() { return FLT_MAX; }
};
template <>
struct reduction_identity<int> {
  __host__ __device__ static int min() { return 2147483647; }
};
}  // namespace Kokkos
