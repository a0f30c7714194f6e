#pragma once
/// \file KKM_AssignBase.hpp
/// \brief What every assignment kernel shares: its inputs, the rows a team takes, and what happens
/// once a row's nearest centroid is known ("finish a row": its label, its distance, and in a fit
/// its contribution to the cluster sums, the cluster's count and the changed-label count, added to
/// a team-local accumulator in scratch where it fits and to the global one at the team's end).
///
/// Layout of the accumulator (one flat array, which is also the allreduce payload):
///   [0, k·d)            per-cluster column sums of w·x, fixed point (see KKM_FixedPoint.hpp)
///   [k·d, k·d + k)      per-cluster row counts (weight sums in fixed point with sample weights)
///   [k·d + k]           number of rows whose label changed
#include <kkmeans/core/KKM_Atomic.hpp>
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/core/KKM_Scratch.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>

namespace kkm::detail {

KOKKOS_INLINE_FUNCTION std::size_t accumulator_size(int k, int d) {
  return static_cast<std::size_t>(k) * d + k + 1;
}

/// The base of the assignment kernels (fused, small-d, GEMM scan, checked scan). Each derived
/// kernel finds the nearest centroid of its rows its own way and hands every row to finish().
///
/// Where the per-cluster sums go: `sums_here` adds each row to the k × d sums in the kernel, in team
/// scratch when they fit (acc_in_scratch), else with global atomics; otherwise a later cluster-sums
/// launch adds them from the labels and the kernel only counts rows per cluster and changed labels.
template <class ExecSpace, class T, class Metric, bool Accumulate>
struct AssignBase {
  using mem = typename ExecSpace::memory_space;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  using scalar_type = T;     // the rows'
  using C = compute_t<T>;    // the centroids', the weights' and the distances'
  static constexpr bool accumulate = Accumulate;
  static constexpr bool host = is_host_space<ExecSpace>();

  Kokkos::View<T const**, Kokkos::LayoutRight, mem> x;  // IN  local rows
  Kokkos::View<C const**, Kokkos::LayoutRight, mem> c;  // IN  k × d centroids
  Kokkos::View<double const*, mem> scale;               // IN  fixed-point scale per column
  Kokkos::View<fixed_t*, mem> acc;                      // OUT accumulator (Accumulate only)
  Kokkos::View<int*, mem> labels;                       // IN previous labels / OUT new labels
  Kokkos::View<C const*, mem> w;                        // IN  sample weights (empty: all 1)
  double wscale = 1;                                    // IN  fixed-point scale of weights
  Metric metric;
  int k = 0, d = 0;
  std::int64_t begin = 0, end = 0;  // the batch: local rows [begin, end)
  std::int64_t rows_per_team = 1;
  int scratch_level = 0;
  bool c_in_scratch = false;
  bool acc_in_scratch = false;  // the scratch accumulator (sums_here: all of it; else counts + changed) fits
  bool sums_here = true;

  /// Entries of the team's scratch accumulator: [sums k·d,] counts k, changed 1; or just changed.
  KOKKOS_INLINE_FUNCTION std::size_t acc_scratch_len() const {
    if (!acc_in_scratch) return 1;
    return (sums_here ? std::size_t(k) * d : std::size_t(0)) + k + 1;
  }
  std::size_t accumulator_scratch_bytes() const { return acc_scratch_len() * sizeof(fixed_t); }

  /// The team's first row and one past its last.
  KOKKOS_INLINE_FUNCTION std::int64_t team_first_row(member const& t) const {
    return begin + t.league_rank() * rows_per_team;
  }
  KOKKOS_INLINE_FUNCTION std::int64_t team_end_row(std::int64_t i0) const {
    return i0 + rows_per_team < end ? i0 + rows_per_team : end;
  }

  /// Where a team adds sums, counts and the changed-label count: its scratch accumulator `local`,
  /// or the global accumulator for what does not fit.
  struct Targets {
    fixed_t* local;
    fixed_t* sums;
    fixed_t* counts;
    fixed_t* changed;
  };

  /// The team's scratch accumulator, zeroed (the caller synchronises the team before using it).
  KOKKOS_INLINE_FUNCTION Targets team_accumulator(member const& t) const {
    auto const len = acc_scratch_len();
    auto* lacc = take_scratch<fixed_t>(t.team_scratch(scratch_level), len);
    Kokkos::parallel_for(Kokkos::TeamVectorRange(t, static_cast<int>(len)), [&](int e) { lacc[e] = 0; });
    std::size_t const kd = std::size_t(k) * d;
    fixed_t* const sums = acc_in_scratch ? lacc : acc.data();
    fixed_t* const counts = acc_in_scratch ? lacc + (sums_here ? kd : 0) : acc.data() + kd;
    fixed_t* const changed = acc_in_scratch ? counts + k : lacc;
    return {lacc, sums, counts, changed};
  }

  /// Row i is done: its label, its contribution to the sums, counts and changed count, its distance.
  KOKKOS_INLINE_FUNCTION void finish(member const& t, Targets const& to, std::int64_t i, int best, C bestd,
                                     double& ls) const {
    Kokkos::single(Kokkos::PerThread(t), [&]() {
      double const wi = row_weight(w, i);
      if constexpr (Accumulate) {
        if (labels(i) != best) detail::atomic_add(to.changed, fixed_t(1));
        if (sums_here)
          for (int j = 0; j < d; ++j)
            detail::atomic_add(&to.sums[std::size_t(best) * d + j], fixed_term(w, x, i, j, scale(j)));
        detail::atomic_add(&to.counts[best], fixed_count(w, i, wscale));
      }
      labels(i) = best;
      ls += wi * static_cast<double>(bestd);
    });
  }

  /// The team's scratch accumulator into the global one (after all its rows are finished).
  KOKKOS_INLINE_FUNCTION void flush(member const& t, Targets const& to) const {
    if constexpr (Accumulate) {
      t.team_barrier();
      std::size_t const kd = std::size_t(k) * d;
      if (acc_in_scratch) {
        std::size_t const off = sums_here ? 0 : kd;  // scratch entry e is acc(off + e)
        // TeamVectorRange: each entry once.
        Kokkos::parallel_for(Kokkos::TeamVectorRange(t, static_cast<int>(acc_scratch_len())), [&](int e) {
          if (to.local[e] != 0) detail::atomic_add(&acc(off + e), to.local[e]);
        });
      } else {
        Kokkos::single(Kokkos::PerTeam(t), [&]() {
          if (to.local[0] != 0) detail::atomic_add(&acc(kd + k), to.local[0]);
        });
      }
    }
  }
};

}  // namespace kkm::detail
