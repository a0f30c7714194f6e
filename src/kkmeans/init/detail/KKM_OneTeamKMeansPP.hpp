#pragma once
/// \file KKM_OneTeamKMeansPP.hpp
/// \brief Greedy k-means++ of few rows — k-means‖'s weighted candidates — in one kernel launch:
/// one team runs every step (the races, the trials' distances and potentials, the update) with
/// barriers where GreedyKMeansPP (KKM_KMeansPP.hpp) launches two kernels and waits for the device
/// twice per step. On a GPU those launches and waits, not the work, are the cost of a few thousand
/// rows (about 40 µs a step).
///
/// The same draws, the same distances (each row's, in ascending columns, by the same expression) and
/// the same fixed-point potentials: the same centres as GreedyKMeansPP, bit for bit. One process
/// (row 0 is global row 0) and at most race_width trials per step.
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/init/KKM_Init.hpp>
#include <kkmeans/init/detail/KKM_TrialDistances.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace kkm::detail {

/// Whether k-means++ of n × d rows with `trials` trials per step takes the one-team kernel on this
/// backend: devices, one process, and little enough work per step for one multiprocessor.
template <class ExecSpace>
bool one_team_kmeanspp_fits(std::int64_t n, int d, int trials, Communicator const& comm) {
  constexpr std::int64_t most_work_per_step = std::int64_t(1) << 20;  // n · d · trials
  return !is_host_space<ExecSpace>() && !comm.is_distributed() && trials <= race_width &&
         n * d * trials <= most_work_per_step;
}

template <class ExecSpace, class T, class Metric>
struct OneTeamKMeansPP {
  using mem = typename ExecSpace::memory_space;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  using R = typename distance_result<Metric, T>::type;
  static constexpr bool squared = is_squared_euclidean<Metric>::value;

  Kokkos::View<T const**, Kokkos::LayoutRight, mem> x;  // IN  n × d rows
  Kokkos::View<T const*, mem> w;                         // IN  sample weights (empty: all 1)
  Metric metric;
  Kokkos::View<double*, mem> D;                          // the k-means++ weights
  Kokkos::View<R**, Kokkos::LayoutRight, mem> dist;      // trials × n: the step's distances
  Kokkos::View<std::int64_t*, mem> centers;              // k rows: the first IN, the others OUT
  std::uint64_t seed = 0;
  int k = 0, trials = 0;

  KOKKOS_INLINE_FUNCTION static std::size_t scratch_bytes(int team_size) {
    return std::size_t(team_size) * sizeof(RaceLeaders);
  }

  KOKKOS_FUNCTION void operator()(member const& team) const {
    std::int64_t const n = x.extent(0);
    int const me = team.team_rank(), ts = team.team_size();
    auto* buf = static_cast<RaceLeaders*>(team.team_scratch(0).get_shmem(scratch_bytes(ts)));
    std::int64_t pick[race_width] = {centers(0)};
    RaceLeaders lead = first_weights(team, buf, pick);
    for (int step = 1; step < k; ++step) {
      for (int t = 0; t < trials; ++t)
        pick[t] = lead.row[t] >= 0 ? lead.row[t]
                                   : static_cast<std::int64_t>(uniform_below(seed, kmeanspp_stream(step, t), 0, n));
      int const best = best_trial(team, buf, pick, fixed_point_scale(lead.max_d, static_cast<double>(n)));
      if (me == 0) centers(step) = pick[best];
      if (step + 1 < k) lead = advance(team, buf, best, step + 1);
    }
  }

 private:
  /// Row i's distances to trials pick[0, m), as TrialPass's kernels compute them.
  KOKKOS_INLINE_FUNCTION void distances(std::int64_t i, std::int64_t const* pick, int m, R* v) const {
    int const d = x.extent(1);
    if constexpr (squared) {
      T acc[race_width] = {};
      for (int j = 0; j < d; ++j) {
        T const xj = x(i, j);
        for (int t = 0; t < m; ++t) {
          T const diff = xj - x(pick[t], j);
          acc[t] += diff * diff;
        }
      }
      for (int t = 0; t < m; ++t) v[t] = static_cast<R>(acc[t]);
    } else {
      VectorRef<T> const xi{&x(i, 0), d};
      for (int t = 0; t < m; ++t) v[t] = metric(xi, VectorRef<T>{&x(pick[t], 0), d});
    }
  }

  /// D from the first centre (pick[0]), and the races of step 1.
  KOKKOS_INLINE_FUNCTION RaceLeaders first_weights(member const& team, RaceLeaders* buf,
                                                   std::int64_t const* pick) const {
    RaceStreams const races(seed, kmeanspp_stream(1, 0), trials);
    RaceLeaders mine;
    mine.clear();
    for (std::int64_t i = team.team_rank(); i < std::int64_t(x.extent(0)); i += team.team_size()) {
      R v[1];
      distances(i, pick, 1, v);
      D(i) = kmpp_weight<squared>(row_weight(w, i), static_cast<double>(v[0]));
      enter_races(mine, D(i), i, races);
    }
    return team_join<RaceReducer<mem>>(team, buf, mine);
  }

  /// The trial leaving the least potential (ties → the earlier), its distances stored in dist.
  KOKKOS_INLINE_FUNCTION int best_trial(member const& team, RaceLeaders* buf, std::int64_t const* pick,
                                        double scale) const {
    TrialPotentials mine;
    for (int t = 0; t < race_width; ++t) mine.p[t] = 0;
    for (std::int64_t i = team.team_rank(); i < std::int64_t(x.extent(0)); i += team.team_size()) {
      R v[race_width];
      distances(i, pick, trials, v);
      double const wi = row_weight(w, i), Di = D(i);
      for (int t = 0; t < trials; ++t) {
        dist(t, i) = v[t];
        double const wt = kmpp_weight<squared>(wi, static_cast<double>(v[t]));
        mine.p[t] += to_fixed(wt < Di ? wt : Di, scale);
      }
    }
    auto const pot = team_join<PotentialsReducer<mem>>(team, reinterpret_cast<TrialPotentials*>(buf), mine);
    int best = 0;
    for (int t = 1; t < trials; ++t)
      if (static_cast<long long>(pot.p[t]) < static_cast<long long>(pot.p[best])) best = t;
    return best;
  }

  /// Lowers D with trial `best`'s distances (each thread its own rows, which it measured), then
  /// runs the races of `step`.
  KOKKOS_INLINE_FUNCTION RaceLeaders advance(member const& team, RaceLeaders* buf, int best, int step) const {
    RaceStreams const races(seed, kmeanspp_stream(step, 0), trials);
    RaceLeaders mine;
    mine.clear();
    for (std::int64_t i = team.team_rank(); i < std::int64_t(x.extent(0)); i += team.team_size()) {
      double const wd = kmpp_weight<squared>(row_weight(w, i), static_cast<double>(dist(best, i)));
      if (wd < D(i)) D(i) = wd;
      enter_races(mine, D(i), i, races);
    }
    return team_join<RaceReducer<mem>>(team, buf, mine);
  }

  /// The team's values joined (a tree in scratch; every join is order-free), returned to all.
  template <class Reducer, class V>
  KOKKOS_INLINE_FUNCTION V team_join(member const& team, V* buf, V const& mine) const {
    int const me = team.team_rank(), ts = team.team_size();
    buf[me] = mine;
    team.team_barrier();
    V unused;
    Reducer const reducer(unused);
    for (int s = 1; s < ts; s *= 2) {
      if (me % (2 * s) == 0 && me + s < ts) reducer.join(buf[me], buf[me + s]);
      team.team_barrier();
    }
    V const all = buf[0];
    team.team_barrier();  // all have read it before the buffer is used again
    return all;
  }
};

/// Greedy k-means++ of this process's rows x (global rows 0 … n − 1) in one launch; k rows chosen
/// as GreedyKMeansPP chooses them. Needs kmeanspp_trial_count(k, trials) ≤ race_width.
template <class ExecSpace, class T, class Metric>
std::vector<std::int64_t> one_team_kmeanspp(ExecSpace const& space,
                                            Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                                            Metric const& metric, int k, int trials, std::uint64_t seed,
                                            DataSummary const& s, Kokkos::View<T const*, typename ExecSpace::memory_space> w) {
  using Kernel = OneTeamKMeansPP<ExecSpace, T, Metric>;
  using mem = typename ExecSpace::memory_space;
  std::int64_t const n = x.extent(0);
  Kernel f;
  f.x = x;
  f.w = w;
  f.metric = metric;
  f.seed = seed;
  f.k = k;
  f.trials = kmeanspp_trial_count(k, trials);
  KKM_ASSERT(f.trials <= race_width && s.row_offset == 0 && s.n_total == n);
  f.D = Kokkos::View<double*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::kmpp_D"), n);
  f.dist = Kokkos::View<typename Kernel::R**, Kokkos::LayoutRight, mem>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::kmpp_trial_distances"), f.trials, n);
  f.centers = Kokkos::View<std::int64_t*, mem>("kkm::kmpp_centers", k);
  Communicator const self;
  std::int64_t const first = first_center_row(space, w, n, seed, s, self);
  Kokkos::deep_copy(space, Kokkos::subview(f.centers, 0), first);
  int const team = is_host_space<ExecSpace>() ? std::min(256, int(space.concurrency())) : 256;
  Kokkos::parallel_for("kkm::kmpp_one_team",
                       Kokkos::TeamPolicy<ExecSpace>(space, 1, team).set_scratch_size(0, Kokkos::PerTeam(Kernel::scratch_bytes(team))),
                       f);
  std::vector<std::int64_t> rows(k);
  Kokkos::deep_copy(space, Kokkos::View<std::int64_t*, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>(rows.data(), k), f.centers);
  space.fence();
  return rows;
}

}  // namespace kkm::detail
