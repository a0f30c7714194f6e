#pragma once
/// \file KKM_SmallDKernel.hpp
/// \brief The small-d fused kernel (d ≤ 16): rows held in registers and centroids zero-padded to D
/// = 4, 8 or 16 columns in scratch, read 16 bytes at a time; on devices each thread takes several
/// rows so that each centroid read serves them all. Only for metrics whose distances do not change
/// with zero columns (the trait zero_padding_neutral), or for d = D.
#include <kkmeans/kernels/assign/KKM_AssignBase.hpp>
#include <kkmeans/kernels/assign/KKM_FusedKernel.hpp>
#include <kkmeans/kernels/assign/KKM_Pack.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>

namespace kkm::detail {

/// Entry e of the centroids zero-padded to D columns (the small-d kernel's layout): column e % D of
/// centroid e / D, 0 past d. The padding launch and the kernel's own load into scratch both use it.
template <class T, class C>
KOKKOS_INLINE_FUNCTION T padded_centroid(C const& c, int e, int d, int D) {
  int const q = e / D, j = e - q * D;
  return j < d ? c(q, j) : T(0);
}

/// A row or centroid of compile-time length D held in registers or scratch (the small-d kernel).
template <class T, int D>
struct FixedVectorRef {
  T const* data;
  KOKKOS_INLINE_FUNCTION T operator[](int j) const { return data[j]; }
  KOKKOS_INLINE_FUNCTION constexpr int size() const { return D; }
};

/// Zero-padded copy of the k × d centroids with D columns (the small-d kernel's layout).
template <class T, class Mem>
struct PadCentroids {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> c;
  Kokkos::View<T*, Mem> out;
  int d, D;
  KOKKOS_INLINE_FUNCTION void operator()(int e) const { out(e) = padded_centroid<T>(c, e, d, D); }
};

template <class ExecSpace, class T, class Metric, bool Accumulate, int D>
struct SmallDKernel : AssignBase<ExecSpace, T, Metric, Accumulate> {
  static_assert(D == 4 || D == 8 || D == 16, "the small-d kernel pads to 4, 8 or 16 columns");
  using base = AssignBase<ExecSpace, T, Metric, Accumulate>;
  using typename base::member;
  using typename base::mem;
  using C = compute_t<T>;  // T: the rows'; registers, centroids and distances in C
  static constexpr bool gemm = false;
  static constexpr int width = D;
  /// Rows per thread on a device: each centroid read from scratch serves R rows (R independent
  /// compare chains). 1 on hosts.
  static constexpr int rows_per_thread = !is_host_space<ExecSpace>() ? (D == 4 ? 4 : D == 8 ? 2 : 1) : 1;

  /// The k × D padded centroids in global memory, where they do not fit the team's scratch.
  Kokkos::View<C const*, mem> cpad;

  KOKKOS_INLINE_FUNCTION int centroid_width() const { return D; }
  std::size_t scratch_bytes() const {
    std::size_t b = this->accumulator_scratch_bytes();
    if (this->c_in_scratch) b += static_cast<std::size_t>(this->k) * D * sizeof(C) + 16;
    return b + 16;
  }

  /// The nearest centroid of each of R rows, the metric over D columns (rows zero-padded in
  /// registers, centroids `cs` zero-padded to D columns, read 16 bytes at a time).
  template <int R>
  KOKKOS_INLINE_FUNCTION void nearest_rows(std::int64_t const* rows, C const* cs, int* best, C* bestd) const {
    int const k = this->k, d = this->d;
    C xr[R][D];
    for (int r = 0; r < R; ++r) {
      best[r] = 0;
      bestd[r] = C(0);
      for (int j = 0; j < D; ++j) xr[r][j] = j < d ? static_cast<C>(this->x(rows[r], j)) : C(0);
    }
    constexpr int per = 16 / sizeof(C);
    auto const* cc = reinterpret_cast<Chunk16<C> const*>(cs);
    for (int q = 0; q < k; ++q) {
      C cr[D];
      for (int m = 0; m < D / per; ++m) {
        Chunk16<C> const v = cc[std::size_t(q) * (D / per) + m];
        for (int e = 0; e < per; ++e) cr[m * per + e] = v.v[e];
      }
      for (int r = 0; r < R; ++r) {
        C const dq = static_cast<C>(this->metric(FixedVectorRef<C, D>{xr[r]}, FixedVectorRef<C, D>{cr}));
        if (q == 0 || dq < bestd[r]) {
          bestd[r] = dq;
          best[r] = q;
        }
      }
    }
  }

  KOKKOS_FUNCTION void operator()(member const& t, double& inertia) const {
    C const* cs = cpad.data();
    if (this->c_in_scratch) {  // zero-padded here, from the k × d centroids (no padded copy in global memory)
      auto const c = this->c;
      int const d = this->d;
      cs = stage_centroids<C>(t, this->scratch_level, this->k, D, [&](int e) { return padded_centroid<C>(c, e, d, D); });
    }
    auto const to = this->team_accumulator(t);
    t.team_barrier();
    std::int64_t const i0 = this->team_first_row(t), i1 = this->team_end_row(i0);
    // Each thread takes R rows: i0 + s + r·slots, r < R (coalesced for each r).
    constexpr int R = rows_per_thread;
    std::int64_t const slots = (i1 - i0 + R - 1) / R;
    double team_sum = 0;
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(t, slots),
        [&](std::int64_t s, double& ls) {
          std::int64_t rows[R];
          for (int r = 0; r < R; ++r) {
            std::int64_t const i = i0 + s + r * slots;
            rows[r] = i < i1 ? i : i0 + s;  // past the end: a valid row, computed and dropped
          }
          int best[R];
          C bestd[R];
          nearest_rows<R>(rows, cs, best, bestd);
          for (int r = 0; r < R; ++r)
            if (i0 + s + r * slots < i1) this->finish(t, to, rows[r], best[r], bestd[r], ls);
        },
        team_sum);
    this->flush(t, to);
    Kokkos::single(Kokkos::PerTeam(t), [&]() { inertia += team_sum; });
  }
};

}  // namespace kkm::detail
