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
///   - TiledTrials (devices, squared-Euclidean metrics): a team stages a tile of rows column-block
///     by column-block in scratch with coalesced loads, each thread then reads its row from there.
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
    double const wi = w.extent(0) > 0 ? static_cast<double>(w(i)) : 1.0;
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

/// Devices, squared-Euclidean metrics: a team takes `tile_rows` rows; per block of `block_cols`
/// columns it stages the rows' block (padded stride: conflict-free reads) and the trials' block in
/// scratch, then every row adds the block to its partial sums, which live in scratch between blocks
/// (trial-major: a warp's rows in distinct banks).
template <class ExecSpace, class T, class Metric>
struct TiledTrials : TrialPass<ExecSpace, T, Metric> {
  using base = TrialPass<ExecSpace, T, Metric>;
  using typename base::R;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  static constexpr int tile_rows = 128;
  static constexpr int block_cols = 32;
  static constexpr int stride = block_cols + 1;

  static std::size_t scratch_bytes() {
    return (std::size_t(tile_rows) * stride + std::size_t(block_cols) * race_width +
            std::size_t(tile_rows) * race_width) * sizeof(T) + 64;
  }

  KOKKOS_FUNCTION void operator()(member const& team, TrialPotentials& result) const {
    std::int64_t const n = this->x.extent(0);
    std::int64_t const i0 = std::int64_t(team.league_rank()) * tile_rows;
    int const rows = n - i0 < tile_rows ? int(n - i0) : tile_rows;
    auto& s = team.team_scratch(0);
    T* tile = static_cast<T*>(s.get_shmem_aligned(std::size_t(tile_rows) * stride * sizeof(T), 16));
    T* ct = static_cast<T*>(s.get_shmem_aligned(std::size_t(block_cols) * race_width * sizeof(T), 16));
    T* acc = static_cast<T*>(s.get_shmem_aligned(std::size_t(tile_rows) * race_width * sizeof(T), 16));
    Kokkos::parallel_for(Kokkos::TeamVectorRange(team, tile_rows * race_width), [&](int e) { acc[e] = T(0); });
    for (int j0 = 0; j0 < this->d; j0 += block_cols) {
      int const cols = this->d - j0 < block_cols ? this->d - j0 : block_cols;
      team.team_barrier();
      Kokkos::parallel_for(Kokkos::TeamVectorRange(team, rows * cols), [&](int e) {
        tile[(e / cols) * stride + e % cols] = this->x(i0 + e / cols, j0 + e % cols);
      });
      Kokkos::parallel_for(Kokkos::TeamVectorRange(team, cols * race_width), [&](int e) {
        int const t = e % race_width;
        ct[e] = t < this->m ? this->trial(t)[j0 + e / race_width] : T(0);
      });
      team.team_barrier();
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, rows), [&](int r) {
        T a[race_width];
        for (int t = 0; t < race_width; ++t) a[t] = acc[t * tile_rows + r];
        for (int j = 0; j < cols; ++j) {
          T const xj = tile[r * stride + j];
          for (int t = 0; t < race_width; ++t) {
            T const diff = xj - ct[j * race_width + t];
            a[t] += diff * diff;
          }
        }
        for (int t = 0; t < race_width; ++t) acc[t * tile_rows + r] = a[t];
      });
    }
    TrialPotentials team_p;
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(team, rows),
        [&](int r, TrialPotentials& p) {
          R v[race_width];
          for (int t = 0; t < race_width; ++t) v[t] = static_cast<R>(acc[t * tile_rows + r]);
          this->finish_row(i0 + r, v, p);
        },
        PotentialsReducer<typename base::mem>(team_p));
    Kokkos::single(Kokkos::PerTeam(team), [&]() {
      for (int t = 0; t < race_width; ++t) result.p[t] += team_p.p[t];
    });
  }
};

/// Runs one pass over the rows: dist columns [pass.column0, + pass.m) and, unless
/// pass.potentials is false, the local potentials of the m trials.
template <class ExecSpace, class T, class Metric>
TrialPotentials measure_trials(ExecSpace const& space, TrialPass<ExecSpace, T, Metric> const& pass) {
  TrialPotentials p;
  PotentialsReducer<Kokkos::HostSpace>(p).init(p);
  std::int64_t const n = pass.x.extent(0);
  if (n == 0) return p;
  if constexpr (TrialPass<ExecSpace, T, Metric>::squared && !is_host_space<ExecSpace>()) {
    using K = TiledTrials<ExecSpace, T, Metric>;
    K kernel;
    static_cast<TrialPass<ExecSpace, T, Metric>&>(kernel) = pass;
    int const league = static_cast<int>((n + K::tile_rows - 1) / K::tile_rows);
    Kokkos::TeamPolicy<ExecSpace> policy(space, league, K::tile_rows);
    Kokkos::parallel_reduce("kkm::kmpp_trials", policy.set_scratch_size(0, Kokkos::PerTeam(K::scratch_bytes())),
                            kernel, PotentialsReducer<Kokkos::HostSpace>(p));
  } else {
    RowTrials<ExecSpace, T, Metric> kernel;
    static_cast<TrialPass<ExecSpace, T, Metric>&>(kernel) = pass;
    Kokkos::parallel_reduce("kkm::kmpp_trials",
                            Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n), kernel,
                            PotentialsReducer<Kokkos::HostSpace>(p));
  }
  return p;
}

}  // namespace kkm::detail
