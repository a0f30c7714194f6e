#pragma once
/// \file KKM_HostBlock.hpp
/// \brief The host fused kernel's inner block: one row's squared distances to a block of centroids
/// stored transposed (d × k), summed in the metric's order (Σ_j (x_j − c_j)², j ascending) with
/// the loop over centroids innermost, where compilers vectorise it. x86-64 hosts with AVX2 run a
/// copy of the same loop built for AVX2 (twice the lanes of the SSE2 baseline the build targets),
/// chosen once at run time. Each lane still subtracts, multiplies and adds in that order — no fused
/// multiply-add (none in AVX2 alone, and ISO C++ builds do not contract) — so both copies give the
/// same bits.
#include <Kokkos_Core.hpp>

#include <cstddef>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__CUDACC__)
#define KKM_HOST_AVX2 1
#endif

namespace kkm::detail {

/// acc[q] = Σ_j (x[j] − ct[j·k + q])² for q < qn: ct points at the block's first centroid; x's values
/// (16-bit rows too) are read as T.
template <class X, class T>
KOKKOS_INLINE_FUNCTION void transposed_block_baseline(X const* x, T const* ct, std::size_t k, int qn, int d, T* acc) {
  for (int q = 0; q < qn; ++q) acc[q] = T(0);
  for (int j = 0; j < d; ++j) {
    T const xj = static_cast<T>(x[j]);
    T const* cj = ct + std::size_t(j) * k;
    for (int q = 0; q < qn; ++q) {
      T const t = xj - cj[q];
      acc[q] += t * t;
    }
  }
}

#ifdef KKM_HOST_AVX2
/// The same loop built for AVX2: the baseline inlined here (its target is a subset of this one's)
/// and vectorised again with 8 lanes.
template <class X, class T>
__attribute__((target("avx2"))) void transposed_block_avx2(X const* x, T const* ct, std::size_t k, int qn, int d,
                                                           T* acc) {
  transposed_block_baseline(x, ct, k, qn, d, acc);
}

inline bool host_has_avx2() {
  static bool const has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

template <class X, class T>
KOKKOS_INLINE_FUNCTION void transposed_block(X const* x, T const* ct, std::size_t k, int qn, int d, T* acc) {
#ifdef KKM_HOST_AVX2
  if (host_has_avx2()) return transposed_block_avx2(x, ct, k, qn, d, acc);
#endif
  transposed_block_baseline(x, ct, k, qn, d, acc);
}

}  // namespace kkm::detail
