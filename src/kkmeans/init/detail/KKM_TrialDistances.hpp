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
/// Both sum Σ_j (x_j − c_j)² in ascending j from 0, the metric's own order. With pruning
/// (KKM_TrialPruning.hpp) both skip the rows no trial can move: such a row adds D(i) to every
/// trial's potential, exactly what measuring it would add, and its distances are not stored.
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/init/detail/KKM_Race.hpp>
#include <kkmeans/init/detail/KKM_TrialPruning.hpp>
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

/// Per trial, the potential the trial would leave (fixed point), and the rows pruning skipped.
struct TrialPotentials {
  fixed_t p[race_width];
  std::int64_t skipped;
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
  /// Into memory of Space (a device's: the result stays there, and the launch does not wait).
  KOKKOS_INLINE_FUNCTION explicit PotentialsReducer(result_view_type const& v) : value_(v) {}
  KOKKOS_INLINE_FUNCTION void join(value_type& dest, value_type const& src) const {
    for (int t = 0; t < race_width; ++t) dest.p[t] += src.p[t];
    dest.skipped += src.skipped;
  }
  KOKKOS_INLINE_FUNCTION void join(volatile value_type& dest, volatile value_type const& src) const {
    for (int t = 0; t < race_width; ++t) dest.p[t] += src.p[t];
    dest.skipped += src.skipped;
  }
  KOKKOS_INLINE_FUNCTION void init(value_type& v) const {
    for (int t = 0; t < race_width; ++t) v.p[t] = 0;
    v.skipped = 0;
  }
  KOKKOS_INLINE_FUNCTION value_type& reference() const { return *value_.data(); }
  KOKKOS_INLINE_FUNCTION result_view_type view() const { return value_; }
  KOKKOS_INLINE_FUNCTION bool references_scalar() const { return references_scalar_; }
};

/// What both kernels read and write. Trial t of this pass is column `column0 + t` of `dist`. Row i
/// of x is row row0 + i of dist, D, w and the pruning state (rows streamed a chunk at a time).
template <class ExecSpace, class T, class Metric>
struct TrialPass {
  using mem = typename ExecSpace::memory_space;
  using C = compute_t<T>;  // T: the rows'; C: the trials' and the weights'
  using R = typename distance_result<Metric, C>::type;
  static constexpr bool squared = is_squared_euclidean<Metric>::value;
  /// Trials are rows of x where they are this rank's, unless rows are 16-bit (always gathered).
  static constexpr bool trials_in_place = !is_16_bit_v<T>;

  Kokkos::View<T const**, Kokkos::LayoutRight, mem> x;     // IN  the rows (all n, or a chunk from row0)
  Kokkos::View<C const**, Kokkos::LayoutRight, mem> cand;  // IN  trials gathered (other ranks', 16-bit rows') (race_width × d)
  Kokkos::View<C const**, Kokkos::LayoutRight, mem> cand_t;  // IN  hosts, squared metrics: d × race_width, zero past m
  std::int64_t own_row[race_width] = {};  // IN  trial t is row own_row[t] of x, or (−1) row t of cand
  Kokkos::View<R**, Kokkos::LayoutRight, mem> dist;      // OUT (trials × n) metric distances
  Kokkos::View<double const*, mem> D;                    // IN  current k-means++ weights
  Kokkos::View<C const*, mem> w;                         // IN  sample weights (empty: all 1)
  Metric metric;
  int d = 0, m = 0, column0 = 0;
  std::int64_t row0 = 0;     // x's first row among all n
  double scale = 1;          // fixed-point scale of the potentials
  bool potentials = true;    // false: distances only (the first centre: D is not made yet)
  PruneState<mem, C> prune;  // IN  pruning's state (off: empty; never with potentials false)

  /// Trial t (< m) as a vector of d values.
  KOKKOS_INLINE_FUNCTION C const* trial(int t) const {
    if constexpr (trials_in_place) {
      if (own_row[t] >= 0) return &x(own_row[t], 0);
    }
    return &cand(t, 0);
  }

  /// Row i_in_x of x: its distances to the m trials are known; store them, add their potentials.
  KOKKOS_INLINE_FUNCTION void finish_row(std::int64_t i_in_x, R const* v, TrialPotentials& p) const {
    std::int64_t const i = row0 + i_in_x;
    double const wi = row_weight(w, i);
    for (int t = 0; t < m; ++t) {
      dist(column0 + t, i) = v[t];
      if (potentials) {
        double const wt = kmpp_weight<squared>(wi, static_cast<double>(v[t]));
        p.p[t] += to_fixed(wt < D(i) ? wt : D(i), scale);
      }
    }
  }
  /// Whether row i_in_x of x must be measured: pruning is off, or some trial may bring it nearer.
  KOKKOS_INLINE_FUNCTION bool needed(std::int64_t i_in_x) const {
    return !prune.on() || prune.needed(row0 + i_in_x, column0, m);
  }
  /// Row i_in_x of x, which no trial can move, adds its D to every potential.
  KOKKOS_INLINE_FUNCTION void skip_row(std::int64_t i_in_x, TrialPotentials& p) const {
    fixed_t const f = to_fixed(D(row0 + i_in_x), scale);
    for (int t = 0; t < m; ++t) p.p[t] += f;
    ++p.skipped;
  }
};

/// A thread per row (hosts; devices for metrics without the squared-Euclidean trait).
template <class ExecSpace, class T, class Metric>
struct RowTrials : TrialPass<ExecSpace, T, Metric> {
  using base = TrialPass<ExecSpace, T, Metric>;
  using typename base::C;
  using typename base::R;

  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, TrialPotentials& p) const {
    if (!this->needed(i)) return this->skip_row(i, p);
    R v[race_width];
    if constexpr (base::squared) {
      C acc[race_width] = {};
      for (int j = 0; j < this->d; ++j) {
        C const xj = static_cast<C>(this->x(i, j));
        C const* cj = &this->cand_t(j, 0);
        KKM_SIMD_LANES
        for (int t = 0; t < race_width; ++t) {
          C const diff = xj - cj[t];
          acc[t] += diff * diff;
        }
      }
      for (int t = 0; t < race_width; ++t) v[t] = static_cast<R>(acc[t]);
    } else {
      VectorRef<T> const xi{&this->x(i, 0), this->d};
      for (int t = 0; t < this->m; ++t) v[t] = this->metric(xi, VectorRef<C>{this->trial(t), this->d});
    }
    this->finish_row(i, v, p);
  }
};

/// Devices, squared-Euclidean metrics: a team of Team threads takes rows_per_thread · Team rows,
/// lists those it must measure (all of them unless pruning skips some) and measures listed row r
/// on thread r mod Team. Per block of block_cols columns the team stages its listed rows' block in
/// scratch — loads of Lanes consecutive elements (16 bytes where every row is aligned to them, one
/// element otherwise), coalesced, all of a thread's loads issued before its first store so that
/// they are in flight together — and the trials' block; then each thread adds the block to its
/// rows' sums, kept in registers (its columns in ascending order). Loads past d or past the listed
/// rows read zeros, and the sums stop at d. Each thread adds its rows' potentials to its own
/// reduction value.
template <class ExecSpace, class T, class Metric, int Team, int Lanes>
struct TiledTrials : TrialPass<ExecSpace, T, Metric> {
  using base = TrialPass<ExecSpace, T, Metric>;
  using typename base::C;
  using typename base::R;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  static constexpr int team_size = Team;
  static constexpr int rows_per_thread = 2;
  static constexpr int rows_per_team = Team * rows_per_thread;
  static constexpr int packs = 8;                       // loads per row and block
  static constexpr int block_cols = packs * Lanes;      // 32 float or 16 double columns with 16-byte loads
  static constexpr int stride = packs + 1;              // packs per staged row: conflict-free reads
  static constexpr int loads = rows_per_team * packs / Team;  // per thread and block
  static_assert(rows_per_team * packs % Team == 0, "whole loads per thread");

  struct alignas(Lanes * sizeof(T)) Pack {
    T v[Lanes];
  };
  struct alignas(16) Trials {  // column j's value in each trial: read as one or two vector loads
    C v[race_width];
  };

  static std::size_t scratch_bytes() {
    return std::size_t(rows_per_team) * stride * sizeof(Pack) + std::size_t(block_cols) * sizeof(Trials) +
           (rows_per_team + 1) * sizeof(int) + 64;
  }
  /// Whether rows of x can be read as Packs of Lanes elements.
  static bool packs_fit(Kokkos::View<T const**, Kokkos::LayoutRight, typename base::mem> const& x) {
    return x.extent(1) % Lanes == 0 && reinterpret_cast<std::uintptr_t>(x.data()) % sizeof(Pack) == 0;
  }

  /// The team's rows [i0, i0 + rows) to measure, as offsets from i0 in `listed` (any order; not
  /// pruning: all of them, listed[r] = r, left unwritten — see row_offset); the others add their
  /// potentials to `result` here. Returns how many are listed.
  KOKKOS_INLINE_FUNCTION int list_rows(member const& team, std::int64_t i0, int rows, int* listed,
                                       TrialPotentials& result) const {
    int const me = team.team_rank();
    if (!this->prune.on()) return rows;
    bool need[rows_per_thread];
    int mine = 0;
    for (int rr = 0; rr < rows_per_thread; ++rr) {
      int const r = me + rr * Team;
      need[rr] = r < rows && this->needed(i0 + r);
      if (r < rows && !need[rr]) this->skip_row(i0 + r, result);
      mine += need[rr];
    }
    int at = team.team_scan(mine);
    for (int rr = 0; rr < rows_per_thread; ++rr)
      if (need[rr]) listed[at++] = me + rr * Team;
    if (me == Team - 1) listed[rows_per_team] = at;
    team.team_barrier();
    return listed[rows_per_team];
  }

  /// Listed row r's offset from the team's first row.
  KOKKOS_INLINE_FUNCTION int row_offset(int const* listed, int r) const { return this->prune.on() ? listed[r] : r; }

  /// Column block j0 of the listed rows into registers: load q of thread me is pack (e mod packs)
  /// of listed row (e / packs), e = q · Team + me, so that a warp reads whole stretches of rows.
  KOKKOS_INLINE_FUNCTION void load_rows(Pack* v, int me, std::int64_t i0, int const* listed, int rows, int j0) const {
    for (int q = 0; q < loads; ++q) {
      int const e = q * Team + me;
      int const r = e / packs, c = j0 + (e % packs) * Lanes;
      if (r < rows && c < this->d)
        v[q] = *reinterpret_cast<Pack const*>(&this->x(i0 + row_offset(listed, r), c));
      else
        for (int l = 0; l < Lanes; ++l) v[q].v[l] = T{};
    }
  }

  KOKKOS_FUNCTION void operator()(member const& team, TrialPotentials& result) const {
    std::int64_t const n = this->x.extent(0);
    int const me = team.team_rank();
    std::int64_t const i0 = std::int64_t(team.league_rank()) * rows_per_team;
    auto& s = team.team_scratch(0);
    Pack* tile = static_cast<Pack*>(s.get_shmem_aligned(std::size_t(rows_per_team) * stride * sizeof(Pack), 16));
    Trials* ct = static_cast<Trials*>(s.get_shmem_aligned(std::size_t(block_cols) * sizeof(Trials), 16));
    int* listed = static_cast<int*>(s.get_shmem_aligned((rows_per_team + 1) * sizeof(int), 16));
    int const rows = list_rows(team, i0, n - i0 < rows_per_team ? int(n - i0) : rows_per_team, listed, result);
    if (rows == 0) return;
    C a[rows_per_thread][race_width] = {};
    Pack v[loads];
    for (int j0 = 0; j0 < this->d; j0 += block_cols) {
      load_rows(v, me, i0, listed, rows, j0);
      team.team_barrier();
      for (int q = 0; q < loads; ++q) {
        int const e = q * Team + me;
        tile[(e / packs) * stride + e % packs] = v[q];
      }
      for (int e = me; e < block_cols * race_width; e += Team) {
        int const t = e % race_width, j = j0 + e / race_width;
        ct[e / race_width].v[t] = t < this->m && j < this->d ? this->trial(t)[j] : C(0);
      }
      team.team_barrier();
      int const block_packs = this->d - j0 >= block_cols ? packs : (this->d - j0 + Lanes - 1) / Lanes;
      for (int rr = 0; rr < rows_per_thread; ++rr) {
        if (me + rr * Team >= rows) break;  // (rows pruning left out: no work)
        Pack const* row = tile + (me + rr * Team) * stride;
        for (int p = 0; p < block_packs; ++p) {
          Pack const xp = row[p];
          for (int l = 0; l < Lanes; ++l) {
            Trials const c = ct[p * Lanes + l];
            for (int t = 0; t < race_width; ++t) {
              C const diff = static_cast<C>(xp.v[l]) - c.v[t];
              a[rr][t] += diff * diff;
            }
          }
        }
      }
    }
    for (int rr = 0; rr < rows_per_thread; ++rr) {
      int const r = me + rr * Team;
      if (r >= rows) continue;
      R v_out[race_width];
      for (int t = 0; t < race_width; ++t) v_out[t] = static_cast<R>(a[rr][t]);
      this->finish_row(i0 + row_offset(listed, r), v_out, result);
    }
  }
};

/// Which kernel measures the trials: by traits and backend (automatic), or one named (tests run
/// the device kernel on hosts too).
enum class TrialKernel { automatic, rows, tiled };

/// Launches a TiledTrials kernel K over all rows, the potentials into `into`'s result.
template <class K, class ExecSpace, class Pass, class Reducer>
void run_tiled(ExecSpace const& space, Pass const& pass, Reducer const& into) {
  K kernel;
  static_cast<Pass&>(kernel) = pass;
  std::int64_t const teams = (std::int64_t(pass.x.extent(0)) + K::rows_per_team - 1) / K::rows_per_team;
  Kokkos::TeamPolicy<ExecSpace> policy(space, static_cast<int>(teams), K::team_size);
  Kokkos::parallel_reduce("kkm::kmpp_trials", policy.set_scratch_size(0, Kokkos::PerTeam(K::scratch_bytes())), kernel,
                          into);
}
template <class K, class ExecSpace, class Pass>
TrialPotentials run_tiled(ExecSpace const& space, Pass const& pass) {
  TrialPotentials p;
  run_tiled<K>(space, pass, PotentialsReducer<Kokkos::HostSpace>(p));
  return p;
}

/// Runs one pass over the rows (at least one): dist columns [pass.column0, + pass.m) and, unless
/// pass.potentials is false, the local potentials of the m trials into `into`'s result.
template <class ExecSpace, class T, class Metric, class Reducer>
void measure_trials(ExecSpace const& space, TrialPass<ExecSpace, T, Metric> const& pass, TrialKernel kind,
                    Reducer const& into) {
  using Pass = TrialPass<ExecSpace, T, Metric>;
  if (kind == TrialKernel::automatic)
    kind = Pass::squared && !is_host_space<ExecSpace>() ? TrialKernel::tiled : TrialKernel::rows;
  // RowTrials reads a squared metric's trials transposed (cand_t), which only spaces the host can
  // write are given; elsewhere the tiled kernel, whose sums run in the same order (the same bits).
  if constexpr (Pass::squared && !Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Pass::mem>::accessible)
    kind = TrialKernel::tiled;
  if (kind == TrialKernel::tiled) {
    if constexpr (Pass::squared) {
      constexpr int team = is_host_space<ExecSpace>() ? 1 : 128;
      constexpr int lanes = 16 % sizeof(T) == 0 ? int(16 / sizeof(T)) : 1;
      if (TiledTrials<ExecSpace, T, Metric, team, lanes>::packs_fit(pass.x))
        return run_tiled<TiledTrials<ExecSpace, T, Metric, team, lanes>>(space, pass, into);
      return run_tiled<TiledTrials<ExecSpace, T, Metric, team, 1>>(space, pass, into);
    }
  }
  RowTrials<ExecSpace, T, Metric> kernel;
  static_cast<Pass&>(kernel) = pass;
  std::int64_t const n = pass.x.extent(0);
  Kokkos::parallel_reduce("kkm::kmpp_trials", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n),
                          kernel, into);
}

/// measure_trials with the potentials returned to the host (waits for the pass).
template <class ExecSpace, class T, class Metric>
TrialPotentials measure_trials(ExecSpace const& space, TrialPass<ExecSpace, T, Metric> const& pass,
                               TrialKernel kind = TrialKernel::automatic) {
  TrialPotentials p;
  PotentialsReducer<Kokkos::HostSpace>(p).init(p);
  if (pass.x.extent(0) > 0) measure_trials(space, pass, kind, PotentialsReducer<Kokkos::HostSpace>(p));
  return p;
}

}  // namespace kkm::detail
