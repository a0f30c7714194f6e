#pragma once
/// \file KKM_TrialPruning.hpp
/// \brief Rows a k-means++ trial cannot move, proved by the triangle inequality, so that a step
/// reads only the rows some trial may bring nearer (squared-Euclidean metrics).
///
/// Row x's nearest centre so far is c, at computed squared distance s(x, c), and D(x) is made of
/// it. If the true distances satisfy ‖c − t‖ ≥ 2‖x − c‖, then ‖x − t‖ ≥ ‖x − c‖ and trial t leaves
/// D(x) as it is. The sums are computed, not exact, so the test carries their error bounds: it
/// proves that the *computed* s(x, t) is at least the computed s(x, c), and then a pruned row adds
/// to each trial's potential exactly what measuring it would have added — D(x) — and the step's
/// update would leave it unchanged. The chosen centres are the same bit for bit, pruned or not.
///
/// Per row it keeps the nearest centre's index and a *reach*: the least computed squared distance
/// between that centre and a trial that proves the trial harmless. Per step a small kernel measures
/// every centre chosen so far against the step's trials (centres × trials) in double precision.
/// On clustered data most rows sit near their centre and most trials are far: a step reads little
/// more than the rows of clusters not yet covered.
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_Math.hpp>
#include <kkmeans/init/detail/KKM_Race.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <limits>

namespace kkm::detail {

/// Whether a k-means++ step prunes rows: where it pays (automatic), or forced (tests compare both).
enum class TrialPruning { automatic, on, off };

/// Where pruning pays, by measurement. On hosts (2-core OpenMP; `kkmeans_trial_bench`, k-means++ on
/// blobs against uniform rows, pruning off and on): d = 16 1.06× faster / 10% slower, d = 32 1.17× /
/// 5.5%, d = 128 1.57× / 4.5% — so from 32 columns. On devices (one H200, d = 128, N = 10⁷) the
/// team-local compaction of the rows to measure costs about what the skipped rows save: 8% slower
/// with 12.5% of the rows skipped; so off there until the rows are compacted across the whole pass.
/// Below 65536 local rows a step is latency-bound (k-means‖'s final k-means++ on its candidates).
constexpr std::int64_t least_rows_to_prune = 65536;
constexpr int least_columns_to_prune_on_hosts = 32;

/// Whether k-means++ prunes rows, automatically, on n local rows of d columns.
template <class ExecSpace>
bool pruning_pays(std::int64_t n, int d) {
  return is_host_space<ExecSpace>() && n >= least_rows_to_prune && d >= least_columns_to_prune_on_hosts;
}

/// Error bounds of a squared distance Σ_j (x_j − c_j)² summed over d columns in any order: the
/// computed value ŝ satisfies |ŝ − s| ≤ rel·s + abs (d + 2 roundings of at most one unit each per
/// term; abs covers gradual underflow).
struct SumError {
  double rel = 0, abs = 0;
  template <class V>
  static SumError of(int d) {
    double const terms = d + 4.0;
    return {terms * std::numeric_limits<V>::epsilon() / 2, terms * double(std::numeric_limits<V>::min())};
  }
};

/// The test itself: reach(ŝ(x, c)) and separation(ĉt) bound the true distances from the computed
/// ones, so that separation(ĉt) ≥ reach(ŝ) proves ŝ(x, t) ≥ ŝ(x, c).
struct PruneBound {
  SumError rows;     // the kernels' sums: d columns in the data's precision
  SumError centres;  // the separation kernel's sums: d columns in double precision
  double slack = 1e-9;  // relative: the few roundings of the test's own arithmetic

  template <class T>
  static PruneBound of(int d) {
    return {SumError::of<T>(d), SumError::of<double>(d)};
  }
  /// Whether the bounds are tight enough to prune at all (very long float rows are not).
  bool usable() const { return rows.rel < 1e-3; }

  /// With a = ‖x − c‖ ≤ √((ŝ + abs)/(1 − rel)), q² = (1 + rel)/(1 − rel), r = 2·abs/(1 − rel):
  /// ‖c − t‖ ≥ a(1 + q) + √r gives (‖c − t‖ − a)²(1 − rel) − abs ≥ a²(1 + rel) + abs, i.e. the
  /// computed ŝ(x, t) ≥ ŝ(x, c). Returns that bound on ‖c − t‖², rounded up to a V.
  template <class V>
  KOKKOS_INLINE_FUNCTION V reach(double s) const {
    double const a = math::sqrt((s + rows.abs) / (1 - rows.rel));
    double const q = math::sqrt((1 + rows.rel) / (1 - rows.rel));
    double const b = a * (1 + q) + math::sqrt(2 * rows.abs / (1 - rows.rel));
    double const r = b * b * (1 + slack);
    V const f = static_cast<V>(r);
    if (double(f) >= r) return f;
    constexpr V least = std::numeric_limits<V>::min(), ulp = std::numeric_limits<V>::epsilon();
    return f < least ? least : f * (1 + ulp);  // the next V up (infinity past the largest)
  }
  /// A lower bound on ‖c − t‖² from its value ĉt computed in double precision.
  KOKKOS_INLINE_FUNCTION double separation(double ct) const {
    double const lo = (ct - centres.abs) / (1 + centres.rel) * (1 - slack);
    return lo > 0 ? lo : 0;
  }
};

/// What a pruned step reads and writes beside k-means++'s own arrays. Empty views: pruning is off.
template <class Mem, class T>
struct PruneState {
  Kokkos::View<int*, Mem> nearest;                               // row's nearest centre so far
  Kokkos::View<T*, Mem> reach;                                   // PruneBound::reach of its distance
  Kokkos::View<double**, Kokkos::LayoutRight, Mem> separation;   // centre × trial of this step
  Kokkos::View<T**, Kokkos::LayoutRight, Mem> centres;           // the centres chosen so far
  Kokkos::View<T**, Kokkos::LayoutRight, Mem> trials;            // this step's trials
  PruneBound bound;

  KOKKOS_INLINE_FUNCTION bool on() const { return reach.extent(0) > 0; }
  /// Whether trial t (a column of this step) may bring row i nearer than its centre.
  KOKKOS_INLINE_FUNCTION bool may_lower(std::int64_t i, int t) const {
    return separation(nearest(i), t) < static_cast<double>(reach(i));
  }
  /// Whether any of trials [t0, t0 + m) may bring row i nearer.
  KOKKOS_INLINE_FUNCTION bool needed(std::int64_t i, int t0, int m) const {
    double const r = reach(i);
    double const* s = &separation(nearest(i), t0);
    for (int t = 0; t < m; ++t)
      if (s[t] < r) return true;
    return false;
  }
  /// Row i's nearest centre is now `centre`, at computed squared distance v.
  KOKKOS_INLINE_FUNCTION void nearer(std::int64_t i, int centre, double v) const {
    nearest(i) = centre;
    reach(i) = bound.reach<T>(v);
  }
};

/// Trials [t0, t0 + m) of a step (pass.trial(t) gives trial t0 + t's values): copied into
/// state.trials, and each measured against the `centres` chosen so far (state.separation).
template <class ExecSpace, class T, class Pass>
void measure_separations(ExecSpace const& space, PruneState<typename ExecSpace::memory_space, T> const& state,
                         Pass const& pass, int centres, int t0, int m) {
  int const d = state.trials.extent(1);
  auto const s = state;
  int const pairs = (centres > 0 ? centres : 1) * m;  // with no centres yet, the trials are still kept
  Kokkos::parallel_for(
      "kkm::kmpp_separations", Kokkos::RangePolicy<ExecSpace>(space, 0, pairs), KOKKOS_LAMBDA(int e) {
        int const c = e / m, t = e % m;
        T const* v = pass.trial(t);
        if (c == 0)
          for (int j = 0; j < d; ++j) s.trials(t0 + t, j) = v[j];
        if (c >= centres) return;
        double sum = 0;
        for (int j = 0; j < d; ++j) {
          double const diff = double(v[j]) - double(s.centres(c, j));
          sum += diff * diff;
        }
        s.separation(c, t0 + t) = s.bound.separation(sum);
      });
}

}  // namespace kkm::detail
