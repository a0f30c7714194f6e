#pragma once
/// \file KKM_CandidateList.hpp
/// \brief The fused checked path's product (path fused-checked): for each row, the few centroids
/// that rank first by the product value ‖c'_j‖² − 2x'·c'_j, computed and reduced in one kernel so
/// that the B × k product is never written. The checked scan then reads these lists instead of the
/// product (KKM_CheckedScan.hpp). On CUDA with float32 rows the product runs on tensor cores
/// (tpls/KKM_FusedTf32.hpp); elsewhere a portable kernel gives the same lists in the rows' own
/// arithmetic.
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/kernels/assign/KKM_Nearest.hpp>
#include <kkmeans/kernels/assign/tpls/KKM_FusedTf32.hpp>
#ifdef KKM_HAVE_FUSED_WGMMA
#include <kkmeans/kernels/assign/tpls/KKM_FusedWgmma.hpp>
#endif

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace kkm::detail {

/// The product value that ranks centroid j for a row, ‖c_j‖² − 2x·c_j, from its product entry
/// p = x·c_j: one expression for every kernel that ranks by the product, so that all compare the
/// same value (2p is exact, so a fused multiply-add gives it too).
template <class T>
KOKKOS_INLINE_FUNCTION T product_value(T cn_j, T p) {
  return cn_j - T(2) * p;
}

/// A fit's portable candidate lists: one thread per row measures the product value of every
/// centroid in the rows' arithmetic and keeps the smallest open_candidates (exact, so the bound
/// v[open_candidates] is the next value itself).
template <class ExecSpace, class T>
struct ProductCandidates {
  using mem = typename ExecSpace::memory_space;
  Kokkos::View<T const**, Kokkos::LayoutRight, mem> x;  // the batch's shifted rows
  Kokkos::View<T const**, Kokkos::LayoutRight, mem> c;  // shifted centroids (at least k rows)
  Kokkos::View<T const*, mem> cnorm;                    // ‖c'‖²
  Kokkos::View<CandidateList<T>*, mem> out;
  int k = 0, d = 0;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    TopN<T, open_candidates> tb;
    for (int j = 0; j < k; ++j) {
      T p = 0;
      for (int e = 0; e < d; ++e) p += x(i, e) * c(j, e);
      T const v = product_value(cnorm(j), p);
      if (v <= tb.v[open_candidates]) tb.push(v, j);
    }
    CandidateList<T>& o = out(i);
    for (int m = 0; m < open_candidates; ++m) {
      o.v[m] = tb.v[m];
      o.j[m] = tb.j[m];
    }
    o.v[open_candidates] = tb.v[open_candidates];
  }
};

/// The candidate lists of the batch's shifted rows xb against the shifted centroids cg (kp ≥ k
/// rows, zero past k) into out(0 … nb): on tensor cores where fused_tf32_available says so (the
/// operands then must be TF32 values, as ShiftRows makes them) — Hopper's warp-group kernel where it
/// runs, else the mma.sync one — else the portable kernel.
template <class ExecSpace, class T>
void product_candidates(ExecSpace const& space,
                        Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> xb,
                        Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> cg,
                        Kokkos::View<T const*, typename ExecSpace::memory_space> cnorm, int k,
                        Kokkos::View<CandidateList<T>*, typename ExecSpace::memory_space> out) {
  std::int64_t const nb = xb.extent(0);
  int const d = static_cast<int>(xb.extent(1));
  if (nb == 0) return;
#ifdef KKM_HAVE_FUSED_TF32
  if constexpr (fused_tf32_space<ExecSpace, T>()) {
    if (fused_tf32_available<ExecSpace, T>(d)) {
#ifdef KKM_HAVE_FUSED_WGMMA
      if (fused_wgmma_runs(xb.data(), std::int64_t(xb.stride(0)), nb, cg.data(), std::int64_t(cg.stride(0)), d)) {
        fused_wgmma_candidates(space.cuda_stream(), xb.data(), std::int64_t(xb.stride(0)), nb, cg.data(),
                               std::int64_t(cg.stride(0)), static_cast<int>(cg.extent(0)), k, d, cnorm.data(),
                               out.data());
        return;
      }
#endif
      fused_tf32_candidates(space.cuda_stream(), xb.data(), std::int64_t(xb.stride(0)), nb, cg.data(),
                            std::int64_t(cg.stride(0)), static_cast<int>(cg.extent(0)), k, d, cnorm.data(), out.data());
      return;
    }
  }
#endif
  Kokkos::parallel_for("kkm::product_candidates",
                       Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, nb),
                       ProductCandidates<ExecSpace, T>{xb, cg, cnorm, out, k, d});
}

}  // namespace kkm::detail
