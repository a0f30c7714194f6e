#pragma once
/// \file KKM_TrialDistances.hpp
/// \brief One pass of a greedy k-means++ step: every row measured against all of the step's trial
/// candidates (up to race_width) at once — the row is read once, its distances to the trials kept
/// in registers — storing each distance for the step's update and summing, per trial, the potential
/// Σ min(D(i), weight(i, trial)) it would leave (fixed point: the same on any split of the rows).
///
/// Two kernels, chosen by the metric's traits and the backend (as the assignment's are):
///   - RowTrials: a thread per row. Squared-Euclidean metrics read the trials transposed (d × 8),
///     so that the innermost loop runs over the trials and vectorises on hosts; other metrics call
///     the metric once per trial.
///   - TiledTrials (devices, squared-Euclidean metrics): a team stages its rows column block by
///     column block in scratch with coalesced loads, each thread then reads its row from there.
/// Both sum Σ_j (x_j − c_j)² in ascending j from 0, the metric's own order.
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/init/detail/KKM_Race.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>

namespace kkm::detail {

/// The k-means++ weight of a row at metric distance v: w·v for squared-Euclidean metrics (D is
/// then the squared distance), w·v² otherwise.
template <bool Squared>
KOKKOS_INLINE_FUNCTION double kmpp_weight(double wi, double v) {
  return wi * (Squared ? v : v * v);
}

/// Per trial, the potential the trial would leave (fixed point).
struct TrialPotentials {
  fixed_t p[race_width];
};

template <class Space>
struct PotentialsReducer {
  using reducer = PotentialsReducer;
  using value_type = TrialPotentials;
  using result_view_type = Kokkos::View<value_type, Space, Kokkos::MemoryUnmanaged>;

 private:
  result_view_type value_;
  bool references_scalar_ = false;

 public:
  KOKKOS_INLINE_FUNCTION explicit PotentialsReducer(value_type& v) : value_(&v), references_scalar_(true) {}
  KOKKOS_INLINE_FUNCTION void join(value_type& dest, value_type const& src) const {
    for (int t = 0; t < race_width; ++t) dest.p[t] += src.p[t];
  }
  KOKKOS_INLINE_FUNCTION void join(volatile value_type& dest, volatile value_type const& src) const {
    for (int t = 0; t < race_width; ++t) dest.p[t] += src.p[t];
  }
  KOKKOS_INLINE_FUNCTION void init(value_type& v) const {
    for (int t = 0; t < race_width; ++t) v.p[t] = 0;
  }
  KOKKOS_INLINE_FUNCTION value_type& reference() const { return *value_.data(); }
  KOKKOS_INLINE_FUNCTION result_view_type view() const { return value_; }
  KOKKOS_INLINE_FUNCTION bool references_scalar() const { return references_scalar_; }
};

/// What both kernels read and write. Trial t of this pass is column `column0 + t` of `dist`.
template <class ExecSpace, class T, class Metric>
struct TrialPass {
  using mem = typename ExecSpace::memory_space;
  using R = typename distance_result<Metric, T>::type;
  static constexpr bool squared = is_squared_euclidean<Metric>::value;

  Kokkos::View<T const**, Kokkos::LayoutRight, mem> x;     // IN  n × d rows
  Kokkos::View<T const**, Kokkos::LayoutRight, mem> cand;  // IN  trials gathered from other ranks (race_width × d)
  Kokkos::View<T const**, Kokkos::LayoutRight, mem> cand_t;  // IN  hosts, squared metrics: d × race_width, zero past m
  std::int64_t own_row[race_width] = {};  // IN  trial t is row own_row[t] of x, or (−1) row t of cand
  Kokkos::View<R**, Kokkos::LayoutRight, mem> dist;      // OUT (trials × n) metric distances
  Kokkos::View<double const*, mem> D;                    // IN  current k-means++ weights
  Kokkos::View<T const*, mem> w;                         // IN  sample weights (empty: all 1)
  Metric metric;
  int d = 0, m = 0, column0 = 0;
  double scale = 1;          // fixed-point scale of the potentials
  bool potentials = true;    // false: distances only (the first centre: D is not made yet)

  /// Trial t (< m) as a vector of d values.
  KOKKOS_INLINE_FUNCTION T const* trial(int t) const { return own_row[t] >= 0 ? &x(own_row[t], 0) : &cand(t, 0); }

  /// Row i's distances to the m trials are known: store them, add their potentials.
  KOKKOS_INLINE_FUNCTION void finish_row(std::int64_t i, R const* v, TrialPotentials& p) const {
    double const wi = row_weight(w, i);
    for (int t = 0; t < m; ++t) {
      dist(column0 + t, i) = v[t];
      if (potentials) {
        double const wt = kmpp_weight<squared>(wi, static_cast<double>(v[t]));
        p.p[t] += to_fixed(wt < D(i) ? wt : D(i), scale);
      }
    }
  }
};

/// A thread per row (hosts; devices for metrics without the squared-Euclidean trait).
template <class ExecSpace, class T, class Metric>
struct RowTrials : TrialPass<ExecSpace, T, Metric> {
  using base = TrialPass<ExecSpace, T, Metric>;
  using typename base::R;

  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, TrialPotentials& p) const {
    R v[race_width];
    if constexpr (base::squared) {
      T acc[race_width] = {};
      for (int j = 0; j < this->d; ++j) {
        T const xj = this->x(i, j);
        T const* cj = &this->cand_t(j, 0);
        KKM_SIMD_LANES
        for (int t = 0; t < race_width; ++t) {
          T const diff = xj - cj[t];
          acc[t] += diff * diff;
        }
      }
      for (int t = 0; t < race_width; ++t) v[t] = static_cast<R>(acc[t]);
    } else {
      VectorRef<T> const xi{&this->x(i, 0), this->d};
      for (int t = 0; t < this->m; ++t) v[t] = this->metric(xi, VectorRef<T>{this->trial(t), this->d});
    }
    this->finish_row(i, v, p);
  }
};

/// Devices, squared-Euclidean metrics: a team of any size takes as many rows, one per thread. Per
/// block of `block_cols` columns the team stages the rows' block in scratch (padded stride:
/// conflict-free reads) with coalesced loads — each thread first loads its `block_cols` elements
/// into registers, so that all of them are in flight at once — and the trials' block, then each
/// thread adds the block to its row's sums, kept in registers. Each thread adds its own row's
/// potentials to its own reduction value (a team reduction has one per thread).
template <class ExecSpace, class T, class Metric>
struct TiledTrials : TrialPass<ExecSpace, T, Metric> {
  using base = TrialPass<ExecSpace, T, Metric>;
  using typename base::R;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  static constexpr int block_cols = 32;
  static constexpr int stride = block_cols + 1;

  static std::size_t scratch_bytes(int team_size) {
    return (std::size_t(team_size) * stride + std::size_t(block_cols) * race_width) * sizeof(T) + 64;
  }

  /// Rows [i0, i0 + rows) × columns [j0, j0 + cols) into tile (row r at r · stride): element
  /// e = q · team_size + me for q < block_cols, so a warp reads consecutive columns of a row.
  KOKKOS_INLINE_FUNCTION void stage_rows(member const& team, T* tile, std::int64_t i0, int rows, int j0,
                                         int cols) const {
    int const me = team.team_rank(), ts = team.team_size();
    T v[block_cols];
    for (int q = 0; q < block_cols; ++q) {
      int const e = q * ts + me;
      int const r = cols == block_cols ? e / block_cols : e / cols;
      int const c = e - r * cols;
      v[q] = r < rows ? this->x(i0 + r, j0 + c) : T(0);
    }
    for (int q = 0; q < block_cols; ++q) {
      int const e = q * ts + me;
      int const r = cols == block_cols ? e / block_cols : e / cols;
      if (r < rows) tile[r * stride + e - r * cols] = v[q];
    }
  }

  KOKKOS_FUNCTION void operator()(member const& team, TrialPotentials& result) const {
    std::int64_t const n = this->x.extent(0);
    int const me = team.team_rank(), ts = team.team_size();
    std::int64_t const i0 = std::int64_t(team.league_rank()) * ts;
    int const rows = n - i0 < ts ? int(n - i0) : ts;
    auto& s = team.team_scratch(0);
    T* tile = static_cast<T*>(s.get_shmem_aligned(std::size_t(ts) * stride * sizeof(T), 16));
    T* ct = static_cast<T*>(s.get_shmem_aligned(std::size_t(block_cols) * race_width * sizeof(T), 16));
    T a[race_width];
    for (int t = 0; t < race_width; ++t) a[t] = T(0);
    for (int j0 = 0; j0 < this->d; j0 += block_cols) {
      int const cols = this->d - j0 < block_cols ? this->d - j0 : block_cols;
      team.team_barrier();
      stage_rows(team, tile, i0, rows, j0, cols);
      for (int e = me; e < cols * race_width; e += ts) {
        int const t = e % race_width;
        ct[e] = t < this->m ? this->trial(t)[j0 + e / race_width] : T(0);
      }
      team.team_barrier();
      if (me < rows)
        for (int j = 0; j < cols; ++j) {
          T const xj = tile[me * stride + j];
          for (int t = 0; t < race_width; ++t) {
            T const diff = xj - ct[j * race_width + t];
            a[t] += diff * diff;
          }
        }
    }
    if (me < rows) {
      R v[race_width];
      for (int t = 0; t < race_width; ++t) v[t] = static_cast<R>(a[t]);
      this->finish_row(i0 + me, v, result);
    }
  }
};

/// Which kernel measures the trials: by traits and backend (automatic), or one named (tests run
/// the device kernel on hosts too).
enum class TrialKernel { automatic, rows, tiled };

/// Runs one pass over the rows: dist columns [pass.column0, + pass.m) and, unless
/// pass.potentials is false, the local potentials of the m trials.
template <class ExecSpace, class T, class Metric>
TrialPotentials measure_trials(ExecSpace const& space, TrialPass<ExecSpace, T, Metric> const& pass,
                               TrialKernel kind = TrialKernel::automatic) {
  using Pass = TrialPass<ExecSpace, T, Metric>;
  TrialPotentials p;
  PotentialsReducer<Kokkos::HostSpace>(p).init(p);
  std::int64_t const n = pass.x.extent(0);
  if (n == 0) return p;
  if (kind == TrialKernel::automatic)
    kind = Pass::squared && !is_host_space<ExecSpace>() ? TrialKernel::tiled : TrialKernel::rows;
  // RowTrials reads a squared metric's trials transposed (cand_t), which only spaces the host can
  // write are given; elsewhere the tiled kernel, whose sums run in the same order (the same bits).
  if constexpr (Pass::squared && !Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Pass::mem>::accessible)
    kind = TrialKernel::tiled;
  if (kind == TrialKernel::tiled) {
    if constexpr (Pass::squared) {
      using K = TiledTrials<ExecSpace, T, Metric>;
      K kernel;
      static_cast<Pass&>(kernel) = pass;
      int const team = is_host_space<ExecSpace>() ? 1 : 128;
      Kokkos::TeamPolicy<ExecSpace> policy(space, static_cast<int>((n + team - 1) / team), team);
      Kokkos::parallel_reduce("kkm::kmpp_trials", policy.set_scratch_size(0, Kokkos::PerTeam(K::scratch_bytes(team))),
                              kernel, PotentialsReducer<Kokkos::HostSpace>(p));
      return p;
    }
  }
  RowTrials<ExecSpace, T, Metric> kernel;
  static_cast<Pass&>(kernel) = pass;
  Kokkos::parallel_reduce("kkm::kmpp_trials", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n),
                          kernel, PotentialsReducer<Kokkos::HostSpace>(p));
  return p;
}

}  // namespace kkm::detail
