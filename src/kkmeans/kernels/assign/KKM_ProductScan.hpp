#pragma once
/// \file KKM_ProductScan.hpp
/// \brief The GEMM paths' argmin: one thread per row scans the row's k values ‖c_j‖² − 2x·c_j of
/// the batch's product (written by gemm_product) for the smallest and the lowest index attaining it.
/// ProductScanBase holds what the plain and the checked scans share — the product, the scan, and
/// the exact distance of a row to given centroids in the metric's own arithmetic.
#include <kkmeans/kernels/assign/KKM_AssignBase.hpp>
#include <kkmeans/kernels/assign/KKM_CandidateList.hpp>
#include <kkmeans/kernels/assign/KKM_GemmProduct.hpp>
#include <kkmeans/kernels/assign/KKM_Nearest.hpp>
#include <kkmeans/kernels/assign/KKM_Pack.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>

namespace kkm::detail {

/// Whether a fit's sum of distances comes from the cluster sums (InertiaFromSums) instead of each
/// row's exact distance, which the product does not give: fit epochs of squared-Euclidean metrics.
template <class Metric, bool Accumulate>
constexpr bool inertia_from_cluster_sums() {
  return Accumulate && is_squared_euclidean<Metric>::value;
}

template <class ExecSpace, class T, class Metric, bool Accumulate>
struct ProductScanBase : AssignBase<ExecSpace, T, Metric, Accumulate> {
  using base = AssignBase<ExecSpace, T, Metric, Accumulate>;
  using typename base::mem;
  using base::c;
  using base::d;
  using base::k;
  using base::x;
  static constexpr bool gemm = true;
  static constexpr int rows_per_thread = 1;
  /// Measure the chosen centroid's exact distance for every row (the sum of distances is the
  /// result); false: only where the product cannot decide the label. A compile-time constant, so
  /// that each kernel has only the code it runs (under its 64-register bound).
  static constexpr bool row_distances = !inertia_from_cluster_sums<Metric, Accumulate>();

  Kokkos::View<T const*, mem> dot;    // IN  the batch's product, laid out by block_rows
  std::int64_t block_rows = 0;        // IN  its layout (product_offset)
  int kp = 0;                         // IN  its centroid dimension (k padded)
  Kokkos::View<T const*, mem> cnorm;  // IN  ‖c‖² (checked: ‖c'‖²)

  KOKKOS_INLINE_FUNCTION int centroid_width() const { return d; }

  /// Where row i's product values start and how far apart consecutive centroids' are.
  KOKKOS_INLINE_FUNCTION T const* product_row(std::int64_t i, std::size_t& step) const {
    return dot.data() + product_offset(i - this->begin, this->end - this->begin, block_rows, kp, step);
  }

  /// The value that ranks centroid j for a row (detail::product_value): one expression for the
  /// scans, the open-row launch and the candidate lists, so that all compare the same value.
  KOKKOS_INLINE_FUNCTION static T product_value(T cn_j, T p) { return detail::product_value(cn_j, p); }

  /// take(‖c_j‖² − 2x·c_j, j) for j = 0, 1, …, k − 1 from a row's product values pr[j·step]; the
  /// product is read U values ahead (independent loads in flight).
  template <class Take>
  KOKKOS_INLINE_FUNCTION void scan_product(T const* pr, std::size_t step, T const* cn, Take&& take) const {
    constexpr int U = 8;
    int j = 0;
    for (; j + U <= k; j += U) {
      T a[U];
      for (int u = 0; u < U; ++u) a[u] = pr[std::size_t(j + u) * step];
      for (int u = 0; u < U; ++u) take(product_value(cn[j + u], a[u]), j + u);
    }
    for (; j < k; ++j) take(product_value(cn[j], pr[std::size_t(j) * step]), j);
  }

  /// The metric's distances between a row and centroids cr[0..N) (d values each). For
  /// squared-Euclidean metrics with 16-byte aligned rows of whole 16-byte chunks, the same sums in
  /// the same order, the row read once for all N and 16 bytes at a time: the thread of each row
  /// reads its own row, so a warp's load touches 32 rows, and 16-byte loads need a quarter of the
  /// memory transactions (d = 128 float rows: 0.63 ms per 262144 rows with 4-byte loads, 0.45 with
  /// 16-byte loads on an H200).
  template <int N>
  KOKKOS_INLINE_FUNCTION void distances(T const* xr, T const* const (&cr)[N], T (&out)[N]) const {
    if constexpr (is_squared_euclidean<Metric>::value) {
      constexpr int per = 16 / sizeof(T);
      bool aligned = d % per == 0 && reinterpret_cast<std::uintptr_t>(xr) % 16 == 0;
      for (int m = 0; m < N; ++m) aligned = aligned && reinterpret_cast<std::uintptr_t>(cr[m]) % 16 == 0;
      if (aligned) {
        auto const* xa = reinterpret_cast<Chunk16<T> const*>(xr);
        for (int m = 0; m < N; ++m) out[m] = 0;
        for (int q = 0; q < d / per; ++q) {
          Chunk16<T> const u = xa[q];
          for (int m = 0; m < N; ++m) {
            Chunk16<T> const v = reinterpret_cast<Chunk16<T> const*>(cr[m])[q];
            for (int e = 0; e < per; ++e) {
              T const t = u.v[e] - v.v[e];
              out[m] += t * t;
            }
          }
        }
        return;
      }
    }
    for (int m = 0; m < N; ++m) out[m] = static_cast<T>(this->metric(VectorRef<T>{xr, d}, VectorRef<T>{cr[m], d}));
  }

  /// The exact distance of row i to centroid j.
  KOKKOS_INLINE_FUNCTION T measure_one(std::int64_t i, int j) const {
    T const* const cr[1] = {&c(j, 0)};
    T out[1];
    distances(&x(i, 0), cr, out);
    return out[0];
  }
};

/// The plain GEMM scan (paths gemm and gemm-tf32x3): the label is the product's argmin.
template <class ExecSpace, class T, class Metric, bool Accumulate>
struct GemmScanKernel : ProductScanBase<ExecSpace, T, Metric, Accumulate> {
  using base = ProductScanBase<ExecSpace, T, Metric, Accumulate>;
  using typename base::member;
  using base::row_distances;

  std::size_t scratch_bytes() const { return this->accumulator_scratch_bytes() + 16; }

  KOKKOS_FUNCTION void operator()(member const& t, double& inertia) const {
    auto const to = this->team_accumulator(t);
    t.team_barrier();
    std::int64_t const i0 = this->team_first_row(t), i1 = this->team_end_row(i0);
    double team_sum = 0;
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(t, i1 - i0),
        [&](std::int64_t s, double& ls) {
          std::int64_t const i = i0 + s;
          std::size_t step = 1;
          T const* const pr = this->product_row(i, step);
          int best = 0;
          T bestd = 0;
          T bv = Kokkos::reduction_identity<T>::min();
          this->scan_product(pr, step, this->cnorm.data(), [&](T v, int j) {
            if (v < bv) {  // ascending j: ties keep the lowest index
              bv = v;
              best = j;
            }
          });
          if constexpr (row_distances) bestd = this->measure_one(i, best);
          this->finish(t, to, i, best, bestd, ls);
        },
        team_sum);
    this->flush(t, to);
    Kokkos::single(Kokkos::PerTeam(t), [&]() { inertia += team_sum; });
  }
};

}  // namespace kkm::detail
