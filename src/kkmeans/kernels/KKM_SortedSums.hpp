#pragma once
/// \file KKM_SortedSums.hpp
/// \brief Per-cluster column sums of w·x (fixed point) over rows taken in label order.
///
/// When the k × d sums do not fit a team's scratch (k = 1024, d = 128: 1 MiB), ColumnBlockSums
/// gives each team a few columns of every row: a warp reads 16 bytes of each 512-byte row and adds
/// with 64-bit shared atomics (0.63 ms per 10⁶ rows of d = 128, k = 1024 on an H200). Here the labelled rows are first
/// put in label order by a counting sort of their indices (k bins: a histogram, a scan, a scatter;
/// the order within a bin is whatever the atomics give), then a team walks a range of that order
/// with one thread per 4 columns (per column when d is not a multiple of 4), so a warp reads whole
/// rows, and keeps its columns' sums of the current cluster in registers, adding them to the global
/// sums when the label changes: a few global atomics per team and cluster instead of one per value
/// (0.29 ms per 10⁶ such rows, sort included). The sums are integers, so they equal
/// ColumnBlockSums' (and a row-by-row sum) bit for bit, whatever the order within a bin.
#include <kkmeans/core/KKM_Atomic.hpp>
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/core/KKM_Scratch.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace kkm::detail {

/// Rows per team of the histogram and scatter launches, and whether their k bins fit in scratch.
struct BinLaunch {
  std::int64_t rows_per_team = 1;
  bool in_scratch = false;
  int scratch_level = 0;
};

/// Bin counts and cursors: 64-bit unsigned, the type CUDA has native atomics for (a signed 64-bit
/// add is a compare-and-swap loop: the histogram took 5 ms per 10⁶ rows of d = 128, k = 1024 on an H200 with one).
using bin_t = unsigned long long;

/// Bin of row i: its label, or k (the last bin) for an unlabelled row (label < 0), which the sum
/// kernel skips.
KOKKOS_INLINE_FUNCTION int label_bin(int label, int k) {
  return label >= 0 ? label : k;
}

/// What the histogram and the scatter share: the labels, the bins, each team's rows, and the team's
/// own histogram of them in scratch.
template <class ExecSpace>
struct LabelBins {
  using mem = typename ExecSpace::memory_space;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  Kokkos::View<int const*, mem> labels;
  std::int64_t n = 0;
  int k = 0;
  BinLaunch launch;

  /// Team t's rows [i0, i1).
  KOKKOS_INLINE_FUNCTION void team_rows(member const& t, std::int64_t& i0, std::int64_t& i1) const {
    i0 = t.league_rank() * launch.rows_per_team;
    i1 = i0 + launch.rows_per_team < n ? i0 + launch.rows_per_team : n;
  }
  /// h[b] = the team's rows in bin b (h: k + 1 ints of scratch), for every thread after the call.
  KOKKOS_INLINE_FUNCTION void team_histogram(member const& t, std::int64_t i0, std::int64_t i1, int* h) const {
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, k + 1), [&](int b) { h[b] = 0; });
    t.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, i0, i1),
                         [&](std::int64_t i) { detail::atomic_add(&h[label_bin(labels(i), k)], 1); });
    t.team_barrier();
  }
};

/// count(b) += rows of bin b (k + 1 bins), per team in scratch when the bins fit.
template <class ExecSpace>
struct LabelHistogram : LabelBins<ExecSpace> {
  using mem = typename ExecSpace::memory_space;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  Kokkos::View<bin_t*, mem> count;

  LabelHistogram(LabelBins<ExecSpace> const& bins, Kokkos::View<bin_t*, mem> count_)
      : LabelBins<ExecSpace>(bins), count(count_) {}

  std::size_t scratch_bytes() const {
    return this->launch.in_scratch ? std::size_t(this->k + 1) * sizeof(int) + 16 : 16;
  }

  KOKKOS_FUNCTION void operator()(member const& t) const {
    int const k = this->k;
    std::int64_t i0, i1;
    this->team_rows(t, i0, i1);
    if (!this->launch.in_scratch) {
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, i0, i1),
                           [&](std::int64_t i) { detail::atomic_add(&count(label_bin(this->labels(i), k)), bin_t(1)); });
      return;
    }
    int* h = take_scratch<int>(t.team_scratch(this->launch.scratch_level), std::size_t(k + 1));
    this->team_histogram(t, i0, i1, h);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, k + 1), [&](int b) {
      if (h[b] != 0) detail::atomic_add(&count(b), bin_t(h[b]));
    });
  }
};

/// perm(cursor(b)++) = i for every row i of bin b: cursor starts at each bin's first position
/// (exclusive scan of the counts). Per team: its own histogram, one global reservation per bin it
/// holds, then positions from scratch counters.
template <class ExecSpace>
struct LabelScatter : LabelBins<ExecSpace> {
  using mem = typename ExecSpace::memory_space;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  Kokkos::View<bin_t*, mem> cursor;
  Kokkos::View<std::int64_t*, mem> perm;

  LabelScatter(LabelBins<ExecSpace> const& bins, Kokkos::View<bin_t*, mem> cursor_,
               Kokkos::View<std::int64_t*, mem> perm_)
      : LabelBins<ExecSpace>(bins), cursor(cursor_), perm(perm_) {}

  /// Scratch: per bin the team's first position, and an int: the team's count, then its running offset.
  static std::size_t scratch_bytes_for(int k) { return std::size_t(k + 1) * (sizeof(bin_t) + sizeof(int)) + 16; }
  std::size_t scratch_bytes() const { return this->launch.in_scratch ? scratch_bytes_for(this->k) : 16; }

  KOKKOS_FUNCTION void operator()(member const& t) const {
    int const k = this->k;
    std::int64_t i0, i1;
    this->team_rows(t, i0, i1);
    if (!this->launch.in_scratch) {
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, i0, i1), [&](std::int64_t i) {
        perm(detail::atomic_fetch_add(&cursor(label_bin(this->labels(i), k)), bin_t(1))) = i;
      });
      return;
    }
    auto& sh = t.team_scratch(this->launch.scratch_level);
    auto* base = take_scratch<bin_t>(sh, std::size_t(k + 1));
    int* h = take_scratch<int>(sh, std::size_t(k + 1));
    this->team_histogram(t, i0, i1, h);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, k + 1), [&](int b) {
      if (h[b] != 0) base[b] = detail::atomic_fetch_add(&cursor(b), bin_t(h[b]));
      h[b] = 0;
    });
    t.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, i0, i1), [&](std::int64_t i) {
      int const b = label_bin(this->labels(i), k);
      perm(base[b] + detail::atomic_fetch_add(&h[b], 1)) = i;
    });
  }
};

/// acc(q·d + j) += Σ w_i·x(i, j) (fixed point) over the rows i of cluster q, walking perm (rows in
/// label order, unlabelled last). A lane takes V consecutive columns (V = 4 when d is a multiple of
/// 4, else 1): with T lanes and g = d / V column groups, g ≤ T, lane t takes group t % g of
/// positions p0 + t / g, stepping by T / g rows (lanes past (T / g)·g idle); with g > T, each lane
/// takes one group of every T in turn. A lane loads U rows' values before adding them (U·V loads in
/// flight), and flushes its running sums to acc when the label changes. A team takes positions
/// [p0, p1).
template <class ExecSpace, class T>
struct SortedColumnSums {
  static constexpr int U = 4;
  using mem = typename ExecSpace::memory_space;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  Kokkos::View<T const**, Kokkos::LayoutRight, mem> x;  // T: the rows'
  Kokkos::View<int const*, mem> labels;
  Kokkos::View<compute_t<T> const*, mem> w;
  Kokkos::View<double const*, mem> scale;
  Kokkos::View<std::int64_t const*, mem> perm;
  Kokkos::View<fixed_t*, mem> acc;
  std::int64_t n = 0, positions_per_team = 1;
  int d = 0;
  int lanes = 1;  ///< T: the team's threads on a device; a host's one thread runs them in turn

  KOKKOS_INLINE_FUNCTION int width() const { return d % 4 == 0 ? 4 : 1; }
  /// Rows a team walks at once.
  KOKKOS_INLINE_FUNCTION int rows_in_parallel() const {
    int const g = d / width();
    return g <= lanes ? lanes / g : 1;
  }

  KOKKOS_FUNCTION void operator()(member const& t) const {
    std::int64_t const p0 = t.league_rank() * positions_per_team;
    std::int64_t const p1 = p0 + positions_per_team < n ? p0 + positions_per_team : n;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, lanes), [&](int lane) {
      int const g = d / width(), R = rows_in_parallel();
      int const r = g <= lanes ? lane / g : 0;
      if (r >= R) return;
      for (int gb = 0; gb < g; gb += lanes) {
        int const grp = g <= lanes ? lane % g : gb + lane;
        if (grp >= g) return;
        if (width() == 4)
          columns<4>(p0 + r, p1, R, 4 * grp);
        else
          columns<1>(p0 + r, p1, R, grp);
        if (g <= lanes) return;
      }
    });
  }

  /// Columns j0 … j0 + V − 1 of positions p, p + R, … below p1.
  template <int V>
  KOKKOS_INLINE_FUNCTION void columns(std::int64_t p, std::int64_t p1, int R, int j0) const {
    double sj[V];
    fixed_t s[V];
    for (int v = 0; v < V; ++v) {
      sj[v] = scale(j0 + v);
      s[v] = 0;
    }
    int cur = -1;
    auto flush = [&]() {
      if (cur >= 0)
        for (int v = 0; v < V; ++v)
          if (s[v] != 0) detail::atomic_add(&acc(std::size_t(cur) * d + j0 + v), s[v]);
    };
    for (; p < p1; p += std::int64_t(U) * R) {
      std::int64_t rows[U];
      int lab[U];
      T val[U][V];
      for (int u = 0; u < U; ++u) {
        std::int64_t const pu = p + std::int64_t(u) * R;
        rows[u] = pu < p1 ? perm(pu) : -1;
      }
      for (int u = 0; u < U; ++u) {
        lab[u] = rows[u] >= 0 ? labels(rows[u]) : -1;
        std::int64_t const i = rows[u] >= 0 ? rows[u] : 0;
        for (int v = 0; v < V; ++v) val[u][v] = x(i, j0 + v);
      }
      for (int u = 0; u < U; ++u) {
        if (lab[u] != cur) {
          flush();
          cur = lab[u];
          for (int v = 0; v < V; ++v) s[v] = 0;
        }
        if (cur >= 0) {
          double const wi = row_weight(w, rows[u]);
          for (int v = 0; v < V; ++v) s[v] += to_fixed(wi * static_cast<double>(val[u][v]), sj[v]);
        }
      }
    }
    flush();
  }
};

/// The sorted path's buffers: the permutation (n) and the bins' counts / cursors (k + 1).
template <class ExecSpace>
struct SortedSumsBuffers {
  using mem = typename ExecSpace::memory_space;
  Kokkos::View<std::int64_t*, mem> perm;
  Kokkos::View<bin_t*, mem> bins;
  std::size_t bytes() const { return perm.span() * sizeof(std::int64_t) + bins.span() * sizeof(bin_t); }
};

/// acc's first k·d entries += the per-cluster column sums of w·x over the n rows of x by their
/// labels (label < 0: not added), through the counting sort above. team: threads per team (1 on
/// hosts); lanes: SortedColumnSums' T (= team on devices); teams_target: how many teams keep the
/// space busy.
template <class ExecSpace, class T>
void sorted_column_sums(ExecSpace const& space,
                        Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                        Kokkos::View<int const*, typename ExecSpace::memory_space> labels,
                        Kokkos::View<compute_t<T> const*, typename ExecSpace::memory_space> w,
                        Kokkos::View<double const*, typename ExecSpace::memory_space> scale,
                        Kokkos::View<fixed_t*, typename ExecSpace::memory_space> acc, int k, int team, int lanes,
                        std::int64_t teams_target, SortedSumsBuffers<ExecSpace>& buf) {
  using mem = typename ExecSpace::memory_space;
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  if (n == 0 || d == 0) return;
  if (buf.perm.extent(0) < std::size_t(n))
    buf.perm =
        Kokkos::View<std::int64_t*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::label_order"), n);
  if (buf.bins.extent(0) != std::size_t(k) + 1)
    buf.bins =
        Kokkos::View<bin_t*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::label_bins"), k + 1);
  Kokkos::deep_copy(space, buf.bins, bin_t(0));

  constexpr bool host = is_host_space<ExecSpace>();
  BinLaunch bl;
  bl.scratch_level = host ? 1 : 0;
  bl.in_scratch = LabelScatter<ExecSpace>::scratch_bytes_for(k) <=
                  std::size_t(Kokkos::TeamPolicy<ExecSpace>::scratch_size_max(bl.scratch_level));
  bl.rows_per_team = std::max<std::int64_t>(1, (n + teams_target - 1) / teams_target);
  int const league = static_cast<int>((n + bl.rows_per_team - 1) / bl.rows_per_team);

  LabelBins<ExecSpace> const bins_of_rows{labels, n, k, bl};
  LabelHistogram<ExecSpace> hist(bins_of_rows, buf.bins);
  Kokkos::TeamPolicy<ExecSpace> hp(space, league, team);
  hp.set_scratch_size(bl.scratch_level, Kokkos::PerTeam(hist.scratch_bytes()));
  Kokkos::parallel_for("kkm::label_histogram", hp, hist);

  auto bins = buf.bins;
  Kokkos::parallel_scan(
      "kkm::label_offsets", Kokkos::RangePolicy<ExecSpace>(space, 0, k + 1),
      KOKKOS_LAMBDA(int b, bin_t& run, bool final) {
        bin_t const c = bins(b);
        if (final) bins(b) = run;
        run += c;
      });

  LabelScatter<ExecSpace> scatter(bins_of_rows, buf.bins, buf.perm);
  Kokkos::TeamPolicy<ExecSpace> sp(space, league, team);
  sp.set_scratch_size(bl.scratch_level, Kokkos::PerTeam(scatter.scratch_bytes()));
  Kokkos::parallel_for("kkm::label_scatter", sp, scatter);

  SortedColumnSums<ExecSpace, T> sums;
  sums.x = x;
  sums.labels = labels;
  sums.w = w;
  sums.scale = scale;
  sums.perm = buf.perm;
  sums.acc = acc;
  sums.n = n;
  sums.d = d;
  sums.lanes = lanes;
  // Positions per team: a multiple of the rows a team's threads walk together times U.
  std::int64_t const step = std::int64_t(sums.rows_in_parallel()) * SortedColumnSums<ExecSpace, T>::U;
  std::int64_t per = (n + teams_target - 1) / teams_target;
  sums.positions_per_team = std::max<std::int64_t>(step, (per + step - 1) / step * step);
  int const sleague = static_cast<int>((n + sums.positions_per_team - 1) / sums.positions_per_team);
  Kokkos::parallel_for("kkm::sorted_column_sums", Kokkos::TeamPolicy<ExecSpace>(space, sleague, team), sums);
}

}  // namespace kkm::detail
