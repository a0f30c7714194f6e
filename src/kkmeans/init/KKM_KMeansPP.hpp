#pragma once
/// \file KKM_KMeansPP.hpp
/// \brief Greedy k-means++ (Arthur & Vassilvitskii 2007, with scikit-learn's 2 + ⌊ln k⌋ trials per
/// step, keeping the trial that lowers the potential most), identical on every split of the rows.
///
/// D(i) is the k-means++ weight of row i: its distance to the nearest centre chosen so far
/// (squared-Euclidean metrics; the distance squared for others), times its sample weight. A step
///   1. draws its trials, row i with probability ∝ D(i), as exponential races (KKM_Race.hpp) — all
///      the step's races in one pass over D, the pass that also brought D up to date;
///   2. finds the trial rows (in place on one rank; gathered with several);
///   3. measures every row against all trials in one pass over the rows (KKM_TrialDistances.hpp),
///      storing the distances and summing each trial's potential in fixed point;
///   4. keeps the trial with the least potential (ties → the earlier trial) and lowers D with the
///      stored distances to it, in the pass that runs the next step's races.
/// So a step reads the rows once and launches two kernels. With the device kernels on one rank it
/// waits for the device once (the races): the potentials stay on the device, where the next pass
/// picks the best trial; with several ranks twice (the potentials are summed over ranks). On large data (squared-Euclidean metrics) a third, small kernel measures the
/// centres so far against the step's trials, and the pass reads only the rows some trial may bring
/// nearer (KKM_TrialPruning.hpp): the same centres, from fewer bytes.
/// Memory: D (n doubles), the trials' distances (trials × n) and, pruning, each row's nearest
/// centre and reach (n ints and n values).
///
/// Rows the device may not read where they lie (DataIn::file) stream through it chunk by chunk in
/// each step's measuring pass (the only pass that reads rows): a step then reads the rows once from
/// their file, so the initialisation takes k passes over them. The potentials of a step are summed
/// over the chunks in fixed point, the trials and centres read on the host: the same centres.
#include <kkmeans/algorithms/detail/KKM_Memory.hpp>
#include <kkmeans/algorithms/detail/KKM_RowStream.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/init/KKM_Init.hpp>
#include <kkmeans/init/detail/KKM_KmppAdvance.hpp>
#include <kkmeans/init/detail/KKM_TrialDistances.hpp>
#include <kkmeans/init/detail/KKM_TrialPruning.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kkm::detail {

template <class ExecSpace, class T, class Metric>
class GreedyKMeansPP {
 public:
  using mem = typename ExecSpace::memory_space;
  using C = compute_t<T>;  // T: the rows'; C: the weights', the trials' and the centres'
  using R = typename distance_result<Metric, C>::type;
  using Rows = Kokkos::View<T const**, Kokkos::LayoutRight, mem>;
  static constexpr bool squared = is_squared_euclidean<Metric>::value;

  GreedyKMeansPP(ExecSpace const& space, Rows x, Metric const& metric, int k, int trials, std::uint64_t seed,
                 DataSummary const& s, Communicator const& comm, Kokkos::View<C const*, mem> w,
                 TrialKernel kernel = TrialKernel::automatic, TrialPruning pruning = TrialPruning::automatic,
                 RowsOnHost<T> const& unaddressable = {}, std::size_t device_memory = 0)
      : space_(space), x_(x), metric_(metric), comm_(comm), s_(s), w_(w), seed_(seed), n_(x.extent(0)),
        d_(x.extent(1)), k_(k), trials_(kmeanspp_trial_count(k, trials)),
        D_(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::kmpp_D"), n_),
        dist_(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::kmpp_trial_distances"), trials_, n_),
        cand_("kkm::kmpp_trials", race_width, d_),
        cand_t_("kkm::kmpp_trials_t", d_, race_width),
        kernel_(kernel == TrialKernel::automatic
                    ? (squared && !is_host_space<ExecSpace>() ? TrialKernel::tiled : TrialKernel::rows)
                    : kernel),
        decide_on_device_(kernel_ == TrialKernel::tiled && !comm.is_distributed() && !unaddressable),
        unaddressable_(unaddressable) {
    if (decide_on_device_) {
      potentials_ = Kokkos::View<TrialPotentials*, mem>("kkm::kmpp_potentials", (trials_ + race_width - 1) / race_width);
      best_ = Kokkos::View<int*, mem>("kkm::kmpp_best_trials", k_);
      skipped_on_device_ = Kokkos::View<std::int64_t, mem>("kkm::kmpp_skipped");
    }
    PruneBound const bound = PruneBound::of<C>(d_);
    bool const prune = squared && bound.usable() && k_ > 1 &&
                       (pruning == TrialPruning::on || (pruning == TrialPruning::automatic && pruning_pays<ExecSpace>(n_, d_)));
    if (unaddressable_) stream_rows(device_memory, prune);
    if (!prune) return;
    auto alloc = [&](char const* name) { return Kokkos::view_alloc(space_, Kokkos::WithoutInitializing, std::string(name)); };
    prune_.nearest = Kokkos::View<int*, mem>(alloc("kkm::kmpp_nearest"), n_);
    prune_.reach = Kokkos::View<C*, mem>(alloc("kkm::kmpp_reach"), n_);
    prune_.separation = Kokkos::View<double**, Kokkos::LayoutRight, mem>(alloc("kkm::kmpp_separation"), k_, trials_);
    prune_.centres = Kokkos::View<C**, Kokkos::LayoutRight, mem>(alloc("kkm::kmpp_centres"), k_, d_);
    prune_.trials = Kokkos::View<C**, Kokkos::LayoutRight, mem>(alloc("kkm::kmpp_pruning_trials"), trials_, d_);
    prune_.bound = bound;
  }

  /// Rows the trial passes skipped, over all steps so far (pruning).
  std::int64_t rows_skipped() const {
    std::int64_t on_device = 0;
    if (decide_on_device_) Kokkos::deep_copy(on_device, skipped_on_device_);
    return skipped_ + on_device;
  }

  HostMatrix<C> operator()() {
    std::vector<std::int64_t> centers{first_center_row(space_, w_, n_, seed_, s_, comm_)};
    load_trials(centers);
    measure(0, 1, false);
    keep_centre(0, 0);
    RaceLeaders lead = advance(0, true, 1, 0);
    std::vector<std::vector<std::int64_t>> step_picks;  // deciding on the device: each step's trials
    for (int step = 1; step < k_; ++step) {
      std::vector<std::int64_t> const picks = draw(lead, step);
      if (decide_on_device_) {
        measure_on_device(picks, step);
        step_picks.push_back(picks);
        lead = step + 1 < k_ ? advance(Advance::decided_on_device, false, step + 1, 0) : decide_last(step);
        continue;
      }
      int const best = best_trial(picks, step);
      centers.push_back(picks[best]);
      keep_centre(step, best);
      if (step + 1 < k_) lead = advance(best, false, step + 1, 0);
    }
    if (decide_on_device_) {
      auto const best = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace{}, best_);
      for (int step = 1; step < k_; ++step) centers.push_back(step_picks[step - 1][best(step)]);
    }
    return gather_rows(space_, x_, centers, s_.row_offset, comm_, unaddressable_);
  }

 private:
  /// The stream of the rows the device may not read in place: two chunks within the memory the
  /// budget (0: the free memory) leaves beside the labels and the per-row buffers.
  void stream_rows(std::size_t device_memory, bool prune) {
    std::size_t const row = std::size_t(d_) * sizeof(T);
    std::size_t const per_row = init_row_bytes<T, Metric>(Init::kmeanspp, k_, trials_) +
                                (prune ? sizeof(int) + sizeof(C) : 0);
    std::size_t const have = work_memory<ExecSpace, T>(device_memory, n_, d_, true);
    std::size_t const left = have > per_row * std::size_t(n_) ? have - per_row * std::size_t(n_) : 0;
    auto const chunk = static_cast<std::int64_t>(std::min(left / (2 * row), most_chunk_bytes / row));
    stream_ = std::make_unique<RowStream<ExecSpace, T>>(space_, unaddressable_, n_, d_,
                                                        std::max(chunk, std::min(n_, least_chunk_rows)));
  }

  /// The step's trials as global rows: the races' winners (the first race_width races were run by
  /// the pass that updated D, further ones here), a uniform row where every D is 0.
  std::vector<std::int64_t> draw(RaceLeaders const& first_races, int step) {
    std::vector<std::int64_t> picks;
    for (int t0 = 0; t0 < trials_; t0 += race_width) {
      RaceLeaders const lead = t0 == 0 ? first_races : advance(-1, false, step, t0);
      auto const won = race_winners(lead, std::min(race_width, trials_ - t0), max_d_, comm_);
      for (std::size_t t = 0; t < won.size(); ++t)
        picks.push_back(won[t] >= 0 ? won[t]
                                    : static_cast<std::int64_t>(
                                          uniform_below(seed_, stream_of(step, t0 + int(t)), 0, s_.n_total)));
    }
    return picks;
  }

  /// The trial leaving the least potential (ties → the earlier), its distances stored in dist_.
  /// `centres`: how many are chosen (pruning measures the trials against them).
  int best_trial(std::vector<std::int64_t> const& picks, int centres) {
    double const scale = fixed_point_scale(max_d_, static_cast<double>(s_.n_total));
    std::vector<fixed_t> pot;
    for (int t0 = 0; t0 < trials_; t0 += race_width) {
      int const m = std::min(race_width, trials_ - t0);
      load_trials(std::vector<std::int64_t>(picks.begin() + t0, picks.begin() + t0 + m));
      TrialPotentials const p = measure(t0, m, true, scale, centres);
      pot.insert(pot.end(), p.p, p.p + m);
    }
    comm_.allreduce_sum(pot.data(), pot.size());
    int best = 0;
    for (int t = 1; t < trials_; ++t)
      if (static_cast<long long>(pot[t]) < static_cast<long long>(pot[best])) best = t;
    return best;
  }

  /// The trials: on one rank rows of x where they are; with several, gathered into cand_. Hosts with
  /// squared-Euclidean metrics also get them transposed (cand_t_: the innermost loop over trials).
  void load_trials(std::vector<std::int64_t> const& rows) {
    int const m = rows.size();
    for (int t = 0; t < race_width; ++t) own_row_[t] = -1;
    if (comm_.is_distributed() || !TrialPass<ExecSpace, T, Metric>::trials_in_place || stream_)
      gather_rows_into(space_, x_, rows, s_.row_offset, comm_, cand_, unaddressable_);
    else
      for (int t = 0; t < m; ++t) own_row_[t] = rows[t] - s_.row_offset;
    if constexpr (squared && Kokkos::SpaceAccessibility<Kokkos::HostSpace, mem>::accessible) {
      space_.fence();
      for (int j = 0; j < d_; ++j)
        for (int t = 0; t < race_width; ++t)
          cand_t_(j, t) = t >= m ? C(0) : own_row_[t] >= 0 ? C(x_(own_row_[t], j)) : cand_(t, j);
    }
  }

  /// One rank, device kernels: the step's passes leave their potentials in device memory, where the
  /// next advance decides the best trial — no wait for the device here.
  void measure_on_device(std::vector<std::int64_t> const& picks, int centres) {
    double const scale = fixed_point_scale(max_d_, static_cast<double>(s_.n_total));
    for (int t0 = 0; t0 < trials_; t0 += race_width) {
      int const m = std::min(race_width, trials_ - t0);
      load_trials(std::vector<std::int64_t>(picks.begin() + t0, picks.begin() + t0 + m));
      // (by address: the host may not index device memory)
      typename PotentialsReducer<mem>::result_view_type into(potentials_.data() + t0 / race_width);
      measure_trials(space_, trial_pass(t0, m, true, scale, centres), kernel_, PotentialsReducer<mem>(into));
    }
  }

  /// The last step, deciding on the device: its best trial recorded without an advance.
  RaceLeaders decide_last(int step) {
    Kokkos::parallel_for("kkm::kmpp_decide", Kokkos::RangePolicy<ExecSpace>(space_, 0, 1),
                         KmppDecide<Advance>{make_advance(Advance::decided_on_device, false, step + 1, 0)});
    return RaceLeaders{};
  }

  /// The pass over trials [column0, + m), returning the potentials to the host (streamed: summed
  /// over the chunks).
  TrialPotentials measure(int column0, int m, bool potentials, double scale = 1, int centres = 0) {
    TrialPass<ExecSpace, T, Metric> pass = trial_pass(column0, m, potentials, scale, centres);
    TrialPotentials p;
    PotentialsReducer<Kokkos::HostSpace>(p).init(p);
    for_each_row_range(x_, stream_.get(), [&](Rows rows, std::int64_t r0, std::int64_t) {
      pass.x = rows;
      pass.row0 = r0;
      PotentialsReducer<Kokkos::HostSpace>(p).join(p, measure_trials(space_, pass, kernel_));
    });
    skipped_ += p.skipped;
    return p;
  }

  /// The pass over trials [column0, + m); pruning, their separations from the `centres` chosen
  /// so far are measured first (and the trials kept in prune_.trials).
  TrialPass<ExecSpace, T, Metric> trial_pass(int column0, int m, bool potentials, double scale, int centres) {
    TrialPass<ExecSpace, T, Metric> pass;
    pass.x = x_;
    pass.cand = cand_;
    pass.cand_t = cand_t_;
    for (int t = 0; t < race_width; ++t) pass.own_row[t] = own_row_[t];
    pass.dist = dist_;
    pass.D = D_;
    pass.w = w_;
    pass.metric = metric_;
    pass.d = d_;
    pass.m = m;
    pass.column0 = column0;
    pass.scale = scale;
    pass.potentials = potentials;
    if (prune_.on()) {
      measure_separations(space_, prune_, pass, centres, column0, m);
      if (potentials) pass.prune = prune_;
    }
    return pass;
  }

  /// Pruning: trial `trial` of this step becomes centre `index`.
  void keep_centre(int index, int trial) {
    if (!prune_.on()) return;
    Kokkos::deep_copy(space_, Kokkos::subview(prune_.centres, index, Kokkos::ALL()),
                      Kokkos::subview(prune_.trials, trial, Kokkos::ALL()));
  }

  using Advance = KmppAdvance<ExecSpace, C, R, squared>;
  Advance make_advance(int column, bool first, int step, int t0) const {
    int const races = std::min(race_width, trials_ - t0);
    return Advance{dist_, D_, w_, column, first, RaceStreams(seed_, stream_of(step, t0), races), s_.row_offset,
                   prune_, step - 1, potentials_, trials_, best_, skipped_on_device_};
  }

  /// Lowers D with trial `column` (−1: not at all; decided_on_device: the least of the potentials
  /// the step's passes left on the device), then runs races [t0, t0 + race_width) of `step`.
  RaceLeaders advance(int column, bool first, int step, int t0) {
    RaceLeaders lead;
    lead.clear();
    if (n_ == 0) return lead;
    Advance const advance = make_advance(column, first, step, t0);
    if (kernel_ == TrialKernel::tiled) {  // the device kernels
      using InTeams = KmppAdvanceInTeams<ExecSpace, Advance>;
      int const team = is_host_space<ExecSpace>() ? 1 : 128;
      int const rows = InTeams::rows_per_thread_for(n_, space_);
      std::int64_t const per_team = std::int64_t(team) * rows;
      Kokkos::parallel_reduce("kkm::kmpp_advance",
                              Kokkos::TeamPolicy<ExecSpace>(space_, static_cast<int>((n_ + per_team - 1) / per_team), team),
                              InTeams{advance, rows}, RaceReducer<Kokkos::HostSpace>(lead));
    } else {
      Kokkos::parallel_reduce("kkm::kmpp_advance",
                              Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space_, 0, n_), advance,
                              RaceReducer<Kokkos::HostSpace>(lead));
    }
    return lead;
  }

  static std::uint64_t stream_of(int step, int trial) { return stream_kmeanspp + (std::uint64_t(step) << 8) + trial; }

  ExecSpace space_;
  Rows x_;
  Metric metric_;
  Communicator const& comm_;
  DataSummary const& s_;
  Kokkos::View<C const*, mem> w_;
  std::uint64_t seed_;
  std::int64_t n_;
  int d_, k_, trials_;
  double max_d_ = 0;
  Kokkos::View<double*, mem> D_;
  Kokkos::View<R**, Kokkos::LayoutRight, mem> dist_;
  Kokkos::View<C**, Kokkos::LayoutRight, mem> cand_;
  Kokkos::View<C**, Kokkos::LayoutRight, mem> cand_t_;
  TrialKernel kernel_;
  std::int64_t own_row_[race_width] = {};
  PruneState<mem, C> prune_;  // empty: not pruning
  std::int64_t skipped_ = 0;
  bool decide_on_device_;     // one rank, device kernels, rows in place: the best trial decided where the potentials are
  RowsOnHost<T> unaddressable_;  // the rows where the device may not read them (DataIn::file), else none
  std::unique_ptr<RowStream<ExecSpace, T>> stream_;  // unaddressable_: the rows a chunk at a time
  Kokkos::View<TrialPotentials*, mem> potentials_;
  Kokkos::View<int*, mem> best_;
  Kokkos::View<std::int64_t, mem> skipped_on_device_;
};

template <class ExecSpace, class T, class Metric>
HostMatrix<compute_t<T>> init_kmeanspp(ExecSpace const& space,
                            Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                            Metric const& metric, int k, int trials, std::uint64_t seed, DataSummary const& s,
                            Communicator const& comm, Kokkos::View<compute_t<T> const*, typename ExecSpace::memory_space> w = {},
                            TrialKernel kernel = TrialKernel::automatic, TrialPruning pruning = TrialPruning::automatic,
                            RowsOnHost<T> const& unaddressable = {}, std::size_t device_memory = 0) {
  return GreedyKMeansPP<ExecSpace, T, Metric>(space, x, metric, k, trials, seed, s, comm, w, kernel, pruning,
                                              unaddressable, device_memory)();
}

}  // namespace kkm::detail
