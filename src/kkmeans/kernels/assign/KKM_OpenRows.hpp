#pragma once
/// \file KKM_OpenRows.hpp
/// \brief The checked scan's second launch in fit epochs: the rows the product left open, measured
/// against their candidates by whole vectors of lanes (warps on a device) instead of one thread each.
///
/// Each vector takes open rows four at a time from a counter (open_n(1); so no vector waits on a
/// fixed share while others are done) and finds the nearest of the row's candidates — the n the scan
/// kept (nearly every open row), else every centroid whose product value is ≤ thr, gathered by the
/// lanes from the product and measured open_candidates at a time — by their exact distances (the
/// metric's own sums in its own order) and NearestReducer (ties → the lower index, so any grouping
/// gives the sequential scan's pick; of more than n, only distances below the reduction identity
/// count, and none gives j[0], as the scan's own measurement does). The row's count and changed
/// label go to the global accumulator (the scan left them out); changed labels once per vector.
#include <kkmeans/core/KKM_Atomic.hpp>
#include <kkmeans/kernels/assign/KKM_CheckedScan.hpp>
#include <kkmeans/kernels/assign/KKM_Nearest.hpp>
#include <kkmeans/kernels/assign/KKM_Pack.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>

namespace kkm::detail {

template <class Kernel>
struct ResolveOpenRows {
  using T = typename Kernel::scalar_type;
  using member = typename Kernel::member;
  using mem = typename Kernel::mem;
  static_assert(Kernel::defers, "open rows exist in fit epochs of the checked scan only");

  Kernel kernel;
  int lanes = 1;

  /// Product values each lane reads per round of gathering candidates.
  static constexpr int gather_rounds = 8;
  /// measure_staged's lane l sums the squares of centroids l, l + lanes, … (< n); a device's vector
  /// has at least open_candidates lanes.
  static constexpr int staged_per_lane = Kernel::host ? open_candidates : 1;

  /// Scratch per vector: open_candidates rows of stage_stride values (the staged differences), the
  /// gathered candidates (lanes × gather_rounds) and their number.
  KOKKOS_INLINE_FUNCTION static std::size_t scratch_per_vector(int stage_stride, int lanes) {
    std::size_t const b = std::size_t(open_candidates) * stage_stride * sizeof(T) +
                          (std::size_t(lanes) * gather_rounds + 1) * sizeof(int);
    return (b + 15) / 16 * 16;
  }

  /// measure_staged for columns [c0, c0 + cols) (cols a multiple of P): all lanes write the
  /// differences x − c of the n centroids into `stage`, P values per load and store, then each lane
  /// adds the squares of its centroids' into sum in column order.
  template <int P>
  KOKKOS_INLINE_FUNCTION void stage_columns(member const& t, std::int64_t i, int const* js, int n, T* stage, int c0,
                                            int cols, T (&sum)[staged_per_lane]) const {
    using U = Pack<T, P>;
    int const ss = kernel.chk.stage_stride;
    int const cq = cols / P;
    auto const& x = kernel.x;
    auto const& c = kernel.c;
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(t, lanes), [&](int l) {
#pragma unroll 1
      for (int q = l; q < cq; q += lanes) {  // (one 16-byte chunk per lane at d ≤ 128 on a device)
        U const xu = reinterpret_cast<U const*>(&x(i, c0))[q];
        U cv[open_candidates];
        for (int m = 0; m < open_candidates; ++m)
          if (m < n) cv[m] = reinterpret_cast<U const*>(&c(js[m], c0))[q];
        for (int m = 0; m < open_candidates; ++m)
          if (m < n) {
            U dl;
            for (int z = 0; z < P; ++z) dl.v[z] = xu.v[z] - cv[m].v[z];
            reinterpret_cast<U*>(stage + std::size_t(m) * ss)[q] = dl;
          }
      }
    });
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(t, lanes), [&](int l) {
      for (int r = 0; r < staged_per_lane; ++r) {
        int const m = l + r * lanes;
        if (m >= n) break;
        auto const* da = reinterpret_cast<U const*>(stage + std::size_t(m) * ss);
        for (int q = 0; q < cq; ++q) {
          U const u = da[q];
          for (int z = 0; z < P; ++z) sum[r] += u.v[z] * u.v[z];
        }
      }
    });
  }

  /// Row i's exact distances to the n ≤ open_candidates centroids js[0..n) (in this vector's
  /// scratch, so that lanes index them without local memory), taken into `near` (finite_only: only
  /// distances below the reduction identity). For each block of stage_cols columns, all lanes write
  /// the differences x − c of the n centroids into this vector's `stage` (coalesced loads, 16 bytes
  /// each where rows allow), then lane m adds the squares of centroid m's in column order: the
  /// metric's own sum (the same differences, the same fused multiply-adds in the same order), with
  /// every load of a row in flight at once instead of one lane's sixteen-byte steps.
  KOKKOS_INLINE_FUNCTION void measure_staged(member const& t, std::int64_t i, int const* js, int n, T* stage,
                                             bool finite_only, NearestPair<T>& near) const {
    T sum[staged_per_lane] = {};
    int const d = kernel.d, step = kernel.chk.stage_cols;
    for (int c0 = 0; c0 < d; c0 += step) {
      int const cols = d - c0 < step ? d - c0 : step;
      if (kernel.chk.vec16)  // rows of whole 16-byte chunks, 16-byte aligned
        stage_columns<16 / sizeof(T)>(t, i, js, n, stage, c0, cols, sum);
      else
        stage_columns<1>(t, i, js, n, stage, c0, cols, sum);
    }
    NearestPair<T> mine;
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(t, lanes),
        [&](int l, NearestPair<T>& b) {
          for (int r = 0; r < staged_per_lane; ++r) {
            int const m = l + r * lanes;
            if (m >= n) break;
            if (!finite_only || sum[r] < Kokkos::reduction_identity<T>::min()) b.take(sum[r], js[m]);
          }
        },
        NearestReducer<T, mem>(mine));
    if (mine.j >= 0) near.take(mine.v, mine.j);
  }

  /// More than open_candidates candidates: the lanes gather every j with a product value ≤ thr,
  /// lanes × gather_rounds values per round (loads in flight together), then measure them.
  KOKKOS_INLINE_FUNCTION void measure_gathered(member const& t, PendingRow<T> const& row, T* stage, int* list,
                                               int* list_n, NearestPair<T>& near) const {
    std::int64_t const i = kernel.begin + row.row;
    if (kernel.chk.lists.extent(0) > 0) {  // no product to gather from: every centroid
      measure_every(t, row, stage, list, near);
      return;
    }
    std::size_t step = 1;
    T const* const pr = kernel.product_row(i, step);
    T const* const cn = kernel.cnorm.data();
    int const k = kernel.k;
    Kokkos::single(Kokkos::PerThread(t), [&]() { *list_n = 0; });
    for (int j0 = 0; j0 < k; j0 += lanes * gather_rounds) {
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(t, lanes), [&](int l) {
        T v[gather_rounds];
        for (int u = 0; u < gather_rounds; ++u) {
          int const j = j0 + u * lanes + l;
          v[u] = j < k ? Kernel::product_value(cn[j], pr[std::size_t(j) * step]) : row.thr;
        }
        for (int u = 0; u < gather_rounds; ++u) {
          int const j = j0 + u * lanes + l;
          if (j < k && !(v[u] > row.thr)) list[detail::atomic_fetch_add(list_n, 1)] = j;
        }
      });
      int m = 0;  // (lane 0 reads the count; every lane gets it)
      Kokkos::single(Kokkos::PerThread(t), [&](int& v) { v = *list_n; }, m);
      for (int c0 = 0; c0 < m; c0 += open_candidates)
        measure_staged(t, i, list + c0, m - c0 < open_candidates ? m - c0 : open_candidates, stage, true, near);
      // Lane 0 resets the count, then the vector synchronises (this single's __syncwarp; the one
      // above only shuffles): the next round's lanes add to the count and overwrite the list the
      // lanes have just read.
      Kokkos::single(Kokkos::PerThread(t), [&]() { *list_n = 0; });
    }
  }

  /// The row against every centroid (path fused-checked, whose candidate list may name too few of
  /// them: the nearest of all is the nearest of those under thr) but those the gaps show to be
  /// farther than its nearest listed candidate (KKM_CentroidGaps.hpp; where centroids crowd, most
  /// of them). Each lane measures centroids l, l + lanes, … on its own — the metric's own sum
  /// (measure_one), no staging, no synchronisation per centroid — and the lanes' nearest are joined
  /// (ties → the lower index); as in measure_gathered, only distances below the reduction identity
  /// count.
  KOKKOS_INLINE_FUNCTION void measure_every(member const& t, PendingRow<T> const& row, T* stage, int* list,
                                            NearestPair<T>& near) const {
    std::int64_t const i = kernel.begin + row.row;
    auto const& gap = kernel.chk.gap;
    int const k = kernel.k;
    NearestPair<T> listed;
    if (gap.gaps.extent(0) > 0) {
      int n = 0;  // (the listed candidates come first)
      while (n < open_candidates && row.j[n] >= 0 && row.j[n] < k) ++n;
      Kokkos::single(Kokkos::PerThread(t), [&]() {
        for (int u = 0; u < open_candidates; ++u) list[u] = row.j[u];
      });
      if (n > 0) measure_staged(t, i, list, n, stage, true, listed);
    }
    bool const prune = listed.j >= 0 && gap.prunes(listed.v);
    double const lim = prune ? gap.limit(listed.v) : 0;
    int const a = listed.j;
    NearestPair<T> mine;
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(t, k),
        [&](int j, NearestPair<T>& b) {
          if (prune && gap.skips(a, j, lim)) return;
          T const dj = kernel.measure_one(i, j);
          if (dj < Kokkos::reduction_identity<T>::min()) b.take(dj, j);
        },
        NearestReducer<T, mem>(mine));
    if (mine.j >= 0) near.take(mine.v, mine.j);
  }

  KOKKOS_FUNCTION void operator()(member const& t) const {
    auto const& chk = kernel.chk;
    std::int64_t const open = static_cast<std::int64_t>(chk.open_n(0));
    std::size_t const kd = std::size_t(kernel.k) * kernel.d;
    fixed_t changed_here = 0;  // (lane 0) this vector's rows whose label changed
    std::size_t const per_vector = scratch_per_vector(chk.stage_stride, lanes);
    char* const mine = static_cast<char*>(t.team_scratch(0).get_shmem_aligned(per_vector * t.team_size(), 16)) +
                       per_vector * t.team_rank();
    T* const stage = reinterpret_cast<T*>(mine);
    int* const list = reinterpret_cast<int*>(mine + std::size_t(open_candidates) * chk.stage_stride * sizeof(T));
    int* const list_n = list + lanes * gather_rounds;
    constexpr int take_rows = 4;
    for (;;) {
      std::int64_t e0 = 0;
      Kokkos::single(
          Kokkos::PerThread(t),
          [&](std::int64_t& v) { v = static_cast<std::int64_t>(detail::atomic_fetch_add(&chk.open_n(1), fixed_t(take_rows))); },
          e0);
      if (e0 >= open) break;
      std::int64_t const e1 = e0 + take_rows < open ? e0 + take_rows : open;
      for (std::int64_t e = e0; e < e1; ++e) {
        PendingRow<T> const row = chk.pending(e);
        std::int64_t const i = kernel.begin + row.row;
        int const prev = kernel.labels(i);
        NearestPair<T> near;
        if (row.n > 0) {
          Kokkos::single(Kokkos::PerThread(t), [&]() {
            for (int u = 0; u < open_candidates; ++u) list[u] = row.j[u];
          });
          measure_staged(t, i, list, row.n, stage, false, near);
        } else {
          measure_gathered(t, row, stage, list, list_n, near);
        }
        int const best = near.j >= 0 ? near.j : row.j[0];
        Kokkos::single(Kokkos::PerThread(t), [&]() {
          if (prev != best) ++changed_here;
          detail::atomic_add(&kernel.acc(kd + best), fixed_count(kernel.w, i, kernel.wscale));
          kernel.labels(i) = best;
        });
      }
    }
    Kokkos::single(Kokkos::PerThread(t), [&]() {
      if (changed_here > 0) detail::atomic_add(&kernel.acc(kd + kernel.k), changed_here);
    });
  }
};

}  // namespace kkm::detail
