#pragma once
/// \file KKM_FusedKernel.hpp
/// \brief The generic fused assignment kernel, for every metric and every d: each thread takes a
/// row and measures it against every centroid through the metric itself (ties → the lower index),
/// with nothing kept per (row, centroid).
#include <kkmeans/kernels/assign/KKM_AssignBase.hpp>
#include <kkmeans/kernels/assign/KKM_HostBlock.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>

namespace kkm::detail {

/// Copies the k × width centroids into the team's scratch (16-byte aligned), entry e from
/// `entry(e)`, and returns where they are.
template <class T, class Member, class Entry>
KOKKOS_INLINE_FUNCTION T const* stage_centroids(Member const& t, int level, int k, int width, Entry const& entry) {
  auto* s = static_cast<T*>(t.team_scratch(level).get_shmem_aligned(std::size_t(k) * width * sizeof(T), 16));
  Kokkos::parallel_for(Kokkos::TeamVectorRange(t, k * width), [&](int e) { s[e] = entry(e); });
  return s;
}

template <class ExecSpace, class T, class Metric, bool Accumulate>
struct FusedKernel : AssignBase<ExecSpace, T, Metric, Accumulate> {
  using base = AssignBase<ExecSpace, T, Metric, Accumulate>;
  using typename base::member;
  using typename base::mem;
  using C = compute_t<T>;
  static constexpr bool gemm = false;
  static constexpr int rows_per_thread = 1;

  /// Hosts, squared-Euclidean metrics: the d × k transposed centroids (empty: the metric in place).
  Kokkos::View<C const*, mem> ct;

  KOKKOS_INLINE_FUNCTION int centroid_width() const { return this->d; }
  std::size_t scratch_bytes() const {
    std::size_t b = this->accumulator_scratch_bytes();
    if (this->c_in_scratch) b += static_cast<std::size_t>(this->k) * this->d * sizeof(C) + 16;
    return b + 16;
  }

  /// Hosts, squared-Euclidean metrics: the same sums in the same order as the metric's
  /// (Σ_j (x_j − c_j)², j ascending), over the transposed centroids `ct`, so that the innermost
  /// loop runs over centroids and vectorises.
  KOKKOS_INLINE_FUNCTION void nearest_transposed(std::int64_t i, int& best, C& bestd) const {
    int const k = this->k, d = this->d;
    constexpr int QB = 64;
    C acc_[QB];
    best = 0;
    bestd = C(0);
    for (int q0 = 0; q0 < k; q0 += QB) {
      int const qn = k - q0 < QB ? k - q0 : QB;
      transposed_block(&this->x(i, 0), ct.data() + q0, std::size_t(k), qn, d, acc_);
      for (int q = 0; q < qn; ++q)
        if ((q0 == 0 && q == 0) || acc_[q] < bestd) {
          bestd = acc_[q];
          best = q0 + q;
        }
    }
  }

  /// The nearest centroid of row i by the metric over centroids `cs` (k × d).
  KOKKOS_INLINE_FUNCTION void nearest(std::int64_t i, C const* cs, int& best, C& bestd) const {
    if constexpr (is_host_space<ExecSpace>() && is_squared_euclidean<Metric>::value) {
      if (ct.extent(0) > 0) return nearest_transposed(i, best, bestd);
    }
    int const k = this->k, d = this->d;
    best = 0;
    VectorRef<T> const xi{&this->x(i, 0), d};
    bestd = static_cast<C>(this->metric(xi, VectorRef<C>{cs, d}));
    for (int j = 1; j < k; ++j) {
      C const dj = static_cast<C>(this->metric(xi, VectorRef<C>{cs + std::size_t(j) * d, d}));
      if (dj < bestd) {
        bestd = dj;
        best = j;
      }
    }
  }

  KOKKOS_FUNCTION void operator()(member const& t, double& inertia) const {
    C const* cs = this->c.data();
    if (this->c_in_scratch) {
      C const* const cg = cs;
      cs = stage_centroids<C>(t, this->scratch_level, this->k, this->d, [&](int e) { return cg[e]; });
    }
    auto const to = this->team_accumulator(t);
    t.team_barrier();
    std::int64_t const i0 = this->team_first_row(t), i1 = this->team_end_row(i0);
    double team_sum = 0;
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(t, i1 - i0),
        [&](std::int64_t s, double& ls) {
          int best = 0;
          C bestd = 0;
          nearest(i0 + s, cs, best, bestd);
          this->finish(t, to, i0 + s, best, bestd, ls);
        },
        team_sum);
    this->flush(t, to);
    Kokkos::single(Kokkos::PerTeam(t), [&]() { inertia += team_sum; });
  }
};

}  // namespace kkm::detail
