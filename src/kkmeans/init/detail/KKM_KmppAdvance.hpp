#pragma once
/// \file KKM_KmppAdvance.hpp
/// \brief The pass that ends a greedy k-means++ step and starts the next: each row's weight D
/// lowered by the step's chosen trial, then the next step's races over D (KKM_Race.hpp).
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/init/detail/KKM_Race.hpp>
#include <kkmeans/init/detail/KKM_TrialDistances.hpp>
#include <kkmeans/init/detail/KKM_TrialPruning.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>

namespace kkm::detail {

/// D(i) = weight(i, trial `column`) (first) or min(D(i), weight(i, trial)); column −1 leaves D as it
/// is. Then row i enters the races. With pruning, rows the trial cannot move are left unread (their
/// distances were not measured), and a row that moves records trial `column` as its nearest centre.
///
/// Column `decided_on_device`: the trial is the one of least potential among `potentials` (the
/// step's passes left them in device memory; ties → the earlier trial), decided by every thread
/// and recorded by the first team — so that the host waits for the device once a step, not twice.
template <class ExecSpace, class T, class R, bool Squared>
struct KmppAdvance {
  using mem = typename ExecSpace::memory_space;
  static constexpr int decided_on_device = -2;
  Kokkos::View<R const**, Kokkos::LayoutRight, mem> dist;
  Kokkos::View<double*, mem> D;
  Kokkos::View<T const*, mem> w;
  int column;
  bool first;
  RaceStreams races;
  std::int64_t offset;
  PruneState<mem, T> prune;
  int centre = 0;  // the index the trial takes among the centres
  Kokkos::View<TrialPotentials const*, mem> potentials;  // decided on the device: a pass's per race_width trials
  int trials = 0;                                        // ... of which the step has this many
  Kokkos::View<int*, mem> best;                          // ... recording each centre's trial
  Kokkos::View<std::int64_t, mem> skipped;               // ... and the rows the passes skipped

  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, RaceLeaders& r) const { row(i, r, column); }

  /// The trial of least potential (column decided_on_device).
  KOKKOS_INLINE_FUNCTION int least_potential() const {
    int b = 0;
    long long least = 0;
    for (int t = 0; t < trials; ++t) {
      long long const v = static_cast<long long>(potentials(t / race_width).p[t % race_width]);
      if (t == 0 || v < least) b = t, least = v;
    }
    return b;
  }
  /// Thread `me` of `threads` records the decided trial `col` as centre `centre`.
  KOKKOS_INLINE_FUNCTION void record(int col, int me, int threads) const {
    if (me == 0) {
      best(centre) = col;
      for (int b = 0; b * race_width < trials; ++b) skipped() += potentials(b).skipped;
    }
    if (prune.on())
      for (int j = me; j < int(prune.centres.extent(1)); j += threads) prune.centres(centre, j) = prune.trials(col, j);
  }

  /// Row i against trial `col` (−1: none).
  KOKKOS_INLINE_FUNCTION void row(std::int64_t i, RaceLeaders& r, int col) const {
    double Di = first ? 0.0 : D(i);
    if (col >= 0 && (first || !prune.on() || prune.may_lower(i, col))) {
      double const wi = row_weight(w, i);
      double const v = static_cast<double>(dist(col, i));
      double const wd = kmpp_weight<Squared>(wi, v);
      if (first || wd < Di) {
        Di = wd;
        D(i) = wd;
        if (prune.on()) prune.nearer(i, centre, v);
      }
    }
    enter_races(r, Di, offset + i, races);
  }
};

/// KmppAdvance for devices: thread `me` of a team takes rows base + q · team_size + me (coalesced),
/// racing in registers, and joins its leaders into its own reduction value once. Up to 32 rows
/// each, so that its own leaders prune most logarithms; fewer where the rows would not fill the
/// device (a row's races are a serial chain of hashes: on few threads they are the step's latency).
template <class ExecSpace, class Advance>
struct KmppAdvanceInTeams {
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  static constexpr int most_rows_per_thread = 32;
  Advance advance;
  int rows_per_thread;

  static int rows_per_thread_for(std::int64_t n, ExecSpace const& space) {
    std::int64_t const threads = std::max<std::int64_t>(1, space.concurrency());
    return static_cast<int>(std::clamp<std::int64_t>((n + threads - 1) / threads, 1, most_rows_per_thread));
  }

  KOKKOS_INLINE_FUNCTION void operator()(member const& team, RaceLeaders& result) const {
    std::int64_t const n = advance.D.extent(0);
    int const ts = team.team_size();
    std::int64_t const base = std::int64_t(team.league_rank()) * ts * rows_per_thread + team.team_rank();
    int column = advance.column;
    if (column == Advance::decided_on_device) {
      column = advance.least_potential();
      if (team.league_rank() == 0) advance.record(column, team.team_rank(), ts);
    }
    RaceLeaders mine;
    mine.clear();
    for (int q = 0; q < rows_per_thread; ++q) {
      std::int64_t const i = base + std::int64_t(q) * ts;
      if (i < n) advance.row(i, mine, column);
    }
    RaceReducer<typename ExecSpace::memory_space>(result).join(result, mine);
  }
};

/// The last step's decision, where no advance follows.
template <class Advance>
struct KmppDecide {
  Advance advance;
  KOKKOS_INLINE_FUNCTION void operator()(int) const { advance.record(advance.least_potential(), 0, 1); }
};

}  // namespace kkm::detail
