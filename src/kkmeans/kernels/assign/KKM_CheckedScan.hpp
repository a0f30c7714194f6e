#pragma once
/// \file KKM_CheckedScan.hpp
/// \brief The checked GEMM scan (path gemm-checked): the product of shifted operands ranks the
/// centroids, the rigorous bound of KKM_CheckedBound.hpp says which of them may still be nearest,
/// and only those are measured exactly in the metric's own arithmetic — so the labels are those of
/// exact distances. In fit epochs the rows with more than one candidate left ("open rows") are
/// queued for a second launch (KKM_OpenRows.hpp) instead of being measured by their thread, whose
/// warp's other threads would wait.
#include <kkmeans/core/KKM_Atomic.hpp>
#include <kkmeans/core/KKM_Math.hpp>
#include <kkmeans/core/KKM_Scratch.hpp>
#include <kkmeans/kernels/assign/KKM_CentroidGaps.hpp>
#include <kkmeans/kernels/assign/KKM_CheckedBound.hpp>
#include <kkmeans/kernels/assign/KKM_Nearest.hpp>
#include <kkmeans/kernels/assign/KKM_ProductScan.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace kkm::detail {

/// A row whose label the checked product leaves open (fit epochs): its index in the batch, its
/// candidates by the product — n of them (2 ≤ n ≤ open_candidates) in j[0..n), nearest first; n < 0:
/// more, every centroid whose product value is ≤ thr — and the threshold.
template <class T>
struct PendingRow {
  std::int64_t row = 0;
  int j[open_candidates] = {};
  int n = -1;
  T thr = 0;
};

/// What the checked scan needs besides the product.
template <class T, class Mem>
struct CheckedArgs {
  Kokkos::View<T const*, Mem> xnorm;  // ‖x'‖ of row i at i − xnorm_off
  std::int64_t xnorm_off = 0;
  T cmax = 0;  // max ‖c'‖
  CheckedBound bound;
  /// Path fused-checked: each row's candidate list (by its index in the batch) in place of the
  /// product, which that path never writes; empty: the product.
  Kokkos::View<CandidateList<T> const*, Mem> lists;
  /// Path fused-checked: the centroids a row whose list names too few candidates may skip.
  GapTest<T, Mem> gap;
  /// Fit epochs (no row distances): the open rows, queued per team in scratch (at most queue_cap,
  /// then straight to the global list) and appended to `pending` (count at open_n(0)) at the team's
  /// end; a second launch (ResolveOpenRows) measures them with full warps.
  Kokkos::View<PendingRow<T>*, Mem> pending;
  Kokkos::View<fixed_t*, Mem> open_n;  // [0]: rows queued in `pending`; [1]: rows taken by the second launch
  int queue_cap = 0;
  /// The second launch's scratch per vector: open_candidates rows of stage_stride values (columns
  /// staged stage_cols at a time); vec16: rows and centroids read 16 bytes at a time (rows of whole
  /// 16-byte chunks, 16-byte aligned).
  int stage_cols = 0, stage_stride = 0;
  bool vec16 = false;
};

template <class ExecSpace, class T, class Metric, bool Accumulate>
struct CheckedScanKernel : ProductScanBase<ExecSpace, T, Metric, Accumulate> {
  using base = ProductScanBase<ExecSpace, T, Metric, Accumulate>;
  using typename base::member;
  using typename base::mem;
  using base::c;
  using base::x;
  using base::row_distances;
  /// Fit epochs: open rows go to the second launch (ResolveOpenRows).
  static constexpr bool defers = !row_distances;
  /// Candidates kept per row by the scan: fit epochs keep open_candidates, so that the second
  /// launch knows every candidate of nearly all open rows without reading the product again.
  static constexpr int kept = defers ? open_candidates : 2;

  CheckedArgs<T, mem> chk;

  std::size_t scratch_bytes() const {
    std::size_t b = this->accumulator_scratch_bytes();
    if constexpr (defers) b += static_cast<std::size_t>(chk.queue_cap) * sizeof(PendingRow<T>) + 2 * sizeof(fixed_t) + 32;
    return b + 16;
  }

  /// The product value below which a centroid may be nearest to row i: the smallest plus twice the
  /// bound, raised by its own rounding to T (v1 may be negative: relative to |·|).
  KOKKOS_INLINE_FUNCTION T threshold(std::int64_t i, T v1) const {
    double const xn = static_cast<double>(chk.xnorm(i - chk.xnorm_off)), cm = static_cast<double>(chk.cmax);
    double const E = chk.bound.u * xn * cm + chk.bound.a * (xn + cm) * (xn + cm);
    double const thr_d = static_cast<double>(v1) + 2 * E;
    return static_cast<T>(thr_d + 4 * Kokkos::Experimental::epsilon<T>::value * math::fabs(thr_d) +
                          4 * Kokkos::Experimental::norm_min<T>::value);
  }

  /// The label and exact distance of row i between candidates j1 and j2, both measured in one pass
  /// over the row (ties → the lower index).
  KOKKOS_INLINE_FUNCTION void measure_two(std::int64_t i, int j1, int j2, int& best, T& bestd) const {
    T const* const cr[2] = {&c(j1, 0), &c(j2, 0)};
    T dd[2];
    this->distances(&x(i, 0), cr, dd);
    best = j1;
    bestd = dd[0];
    if (nearer(dd[1], j2, bestd, best)) {
      best = j2;
      bestd = dd[1];
    }
  }

  /// Three or more candidates: each centroid whose product value is ≤ thr measured exactly, in
  /// ascending order (with candidate lists, which do not name them all: every centroid — the
  /// nearest is among those under thr, so it is the nearest of all — but those the gaps show to be
  /// farther than the first candidate, `first`).
  KOKKOS_INLINE_FUNCTION void measure_all(std::int64_t i, T const* pr, std::size_t step, T thr, int first, int& best,
                                          T& bestd) const {
    bestd = Kokkos::reduction_identity<T>::min();
    auto const measure = [&](T v, int j) {
      if (v > thr) return;
      T const dj = this->measure_one(i, j);
      if (dj < bestd) {
        bestd = dj;
        best = j;
      }
    };
    if (pr != nullptr) {
      this->scan_product(pr, step, this->cnorm.data(), measure);
      return;
    }
    bool const listed = first >= 0 && first < this->k && chk.gap.gaps.extent(0) > 0;
    T const df = listed ? this->measure_one(i, first) : T(0);
    bool const prune = listed && chk.gap.prunes(df);
    double const lim = prune ? chk.gap.limit(df) : 0;
    for (int j = 0; j < this->k; ++j) {
      if (prune && j == first) {  // (measured above; taken in its place in the order)
        if (df < bestd) bestd = df, best = j;
      } else if (!(prune && chk.gap.skips(first, j, lim))) {
        measure(thr, j);
      }
    }
  }

  /// Row i's `kept` first candidates and the bound on the others: from its candidate list (pr
  /// stays null), or from the scan of its product values.
  KOKKOS_INLINE_FUNCTION TopN<T, kept> candidates(std::int64_t i, T const*& pr, std::size_t& step) const {
    TopN<T, kept> tb;
    if (chk.lists.extent(0) > 0) {
      CandidateList<T> const& l = chk.lists(i - this->begin);
      for (int m = 0; m < kept; ++m) {
        tb.v[m] = l.v[m];
        tb.j[m] = l.j[m];
      }
      tb.v[kept] = l.v[kept];  // the next listed value, or the bound on unlisted ones
      return tb;
    }
    pr = this->product_row(i, step);
    this->scan_product(pr, step, this->cnorm.data(), [&](T v, int j) {
      if (v <= tb.v[kept]) tb.push(v, j);  // a value above the (kept+1)-th smallest changes nothing
    });
    return tb;
  }

  /// Outside fit epochs: row i's label and exact distance from its scan.
  KOKKOS_INLINE_FUNCTION void decide(std::int64_t i, TopN<T, kept> const& tb, T thr, T const* pr, std::size_t step,
                                     int& best, T& bestd) const {
    if (tb.v[2] > thr) {  // at most two candidates
      best = tb.j[0];
      if (tb.v[1] <= thr) {  // both measured in one pass over the row
        measure_two(i, tb.j[0], tb.j[1], best, bestd);
      } else if constexpr (row_distances) {
        bestd = this->measure_one(i, best);
      }
    } else {  // three or more: each candidate measured exactly, in ascending order
      measure_all(i, pr, step, thr, tb.j[0], best, bestd);
    }
  }

  /// The team's queue of open rows in scratch: its entries, their number and the team's place in
  /// the global list.
  struct Queue {
    PendingRow<T>* rows = nullptr;
    int* n = nullptr;
    fixed_t* at = nullptr;
  };

  /// Fit epochs: an open row to the team's queue (to the global list once the queue is full).
  KOKKOS_INLINE_FUNCTION void enqueue(member const& t, Queue const& q, std::int64_t i, TopN<T, kept> const& tb,
                                      T thr) const {
    Kokkos::single(Kokkos::PerThread(t), [&]() {
      PendingRow<T> e;
      e.row = i - this->begin;
      e.thr = thr;
      e.n = tb.v[kept] > thr ? 0 : -1;  // −1: more than `kept` candidates
      for (int m = 0; m < kept; ++m) {
        e.j[m] = tb.j[m];
        if (e.n >= 0 && tb.v[m] <= thr) ++e.n;
      }
      int const slot = detail::atomic_fetch_add(q.n, 1);
      if (slot < chk.queue_cap)
        q.rows[slot] = e;
      else
        chk.pending(detail::atomic_fetch_add(&chk.open_n(0), fixed_t(1))) = e;
    });
  }

  /// The team's queue appended to the global list (after the team's rows are done).
  KOKKOS_INLINE_FUNCTION void flush_queue(member const& t, Queue const& q) const {
    int const m = *q.n < chk.queue_cap ? *q.n : chk.queue_cap;
    Kokkos::single(Kokkos::PerTeam(t), [&]() {
      *q.at = m > 0 ? detail::atomic_fetch_add(&chk.open_n(0), fixed_t(m)) : fixed_t(0);
    });
    t.team_barrier();
    fixed_t const at = *q.at;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, m), [&](int e) { chk.pending(at + e) = q.rows[e]; });
  }

  KOKKOS_FUNCTION void operator()(member const& t, double& inertia) const {
    auto const to = this->team_accumulator(t);
    Queue q;
    if constexpr (defers) {
      q.at = take_scratch<fixed_t>(t.team_scratch(this->scratch_level), 2);
      q.n = reinterpret_cast<int*>(q.at + 1);
      q.rows = take_scratch<PendingRow<T>>(t.team_scratch(this->scratch_level), std::size_t(chk.queue_cap));
      Kokkos::single(Kokkos::PerTeam(t), [&]() { *q.n = 0; });
    }
    t.team_barrier();
    std::int64_t const i0 = this->team_first_row(t), i1 = this->team_end_row(i0);
    double team_sum = 0;
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(t, i1 - i0),
        [&](std::int64_t s, double& ls) {
          std::int64_t const i = i0 + s;
          std::size_t step = 1;
          T const* pr = nullptr;
          TopN<T, kept> const tb = candidates(i, pr, step);
          T const thr = threshold(i, tb.v[0]);
          int best = 0;
          T bestd = 0;
          if constexpr (defers) {
            if (!(tb.v[1] > thr)) {  // open: the second launch decides
              enqueue(t, q, i, tb, thr);
              return;
            }
            best = tb.j[0];
          } else {
            decide(i, tb, thr, pr, step, best, bestd);
          }
          this->finish(t, to, i, best, bestd, ls);
        },
        team_sum);
    this->flush(t, to);
    if constexpr (defers) flush_queue(t, q);
    Kokkos::single(Kokkos::PerTeam(t), [&]() { inertia += team_sum; });
  }
};

}  // namespace kkm::detail
