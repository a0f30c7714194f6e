#pragma once
/// \file KKM_Fit.hpp
/// \brief kkm::fit: checks, the data summary every rank agrees on, initialisation and n_init Lloyd
/// (or mini-batch) runs, the best kept.
///
/// Reproducibility: with the fused path (every metric), the centroids and labels are identical bit
/// for bit for a given seed whatever the number of ranks (1, 2, 3, 4, …, any split of the rows, a
/// rank with no rows included) and the number of threads: all sums that decide them are integer sums
/// (see KKM_FixedPoint.hpp), all random draws depend on global row indices only. The inertia is a
/// floating-point sum and may differ in its last bits. The GEMM path computes ‖x‖² − 2x·c + ‖c‖² in
/// float arithmetic through BLAS, whose summation order may depend on the batch shape: its labels
/// can differ on near ties between runs with different row splits, so it is not covered. Rows
/// streamed from host memory (Parameters::data_in) give the centroids and labels of rows read in
/// place, on every path.
#include <kkmeans/algorithms/KKM_MiniBatch.hpp>
#include <kkmeans/algorithms/detail/KKM_LloydRun.hpp>
#include <kkmeans/algorithms/detail/KKM_Memory.hpp>
#include <kkmeans/core/KKM_CheckCentroids.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Half.hpp>
#include <kkmeans/core/KKM_HostRows.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/core/KKM_Random.hpp>
#include <kkmeans/core/KKM_Result.hpp>
#include <kkmeans/init/KKM_Init.hpp>
#include <kkmeans/init/KKM_KMeansPP.hpp>
#include <kkmeans/init/KKM_InitParallel.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>
#include <kkmeans/parallel/KKM_ArithmeticRange.hpp>
#include <kkmeans/parallel/KKM_DataSummary.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace kkm {
namespace detail {

/// A checkpoint to resume from must come from the same data (fingerprint), k and seed, and hold
/// this rank's rows.
inline void check_resume(Checkpoint const& resume, Parameters const& params, DataSummary const& summary, int d,
                         std::int64_t n_local) {
  auto const& mine = summary.fingerprint;  // sums …, and last the hash of the rows in order
  bool const same_sums = resume.n_rows == summary.n_total && resume.d == d && resume.fingerprint.size() == mine.size() &&
                         std::equal(mine.begin(), mine.end() - 1, resume.fingerprint.begin());
  KKM_REQUIRE(same_sums, "the checkpoint was made from other data: its data fingerprint (exact column sums; N = " +
                             std::to_string(resume.n_rows) + ", d = " + std::to_string(resume.d) +
                             ") differs from this run's (N = " + std::to_string(summary.n_total) + ", d = " +
                             std::to_string(d) + ")");
  KKM_REQUIRE(resume.fingerprint.back() == mine.back(),
              "the checkpoint was made from other data: the same column sums, but the rows in another order or "
              "other sample weights (its hash of the rows in order differs from this run's)");
  KKM_REQUIRE(resume.k_requested == params.k && resume.seed == params.seed,
              "the checkpoint was made with k = " + std::to_string(resume.k_requested) + ", seed " +
                  std::to_string(resume.seed) + "; this run has k = " + std::to_string(params.k) + ", seed " +
                  std::to_string(params.seed));
  KKM_REQUIRE(resume.k >= 1 && resume.centroids.size() == std::size_t(resume.k) * d &&
                  std::int64_t(resume.labels.size()) == n_local &&
                  resume.label_offset == summary.row_offset,
              "the checkpoint's centroids or labels do not match this rank's rows");
}

/// Refuses parameters, or numbers of columns d, that differ between ranks (each rank of a library or
/// Python caller passes its own): the ranks would run different fits and wait for each other in
/// collectives that never match. Names the first that differs, with its smallest and largest value
/// over the ranks.
inline void check_parameters_agree(Parameters const& p, int d, Communicator const& comm) {
  if (!comm.is_distributed()) return;
  std::uint64_t given = 0;  // the given centroids, hashed bit for bit
  for (double v : p.initial_centroids) given = mix64(given ^ value_bits(v));
  std::uint64_t const tol_bits = value_bits(p.tol);
  std::pair<char const*, std::int64_t> const fields[] = {
      {"the number of columns d", d}, {"k", p.k}, {"init", std::int64_t(p.init)}, {"kmeanspp_trials", p.kmeanspp_trials}, {"n_init", p.n_init},
      {"max_epochs", p.max_epochs}, {"tol (bits)", std::int64_t(tol_bits)}, {"stop_on_no_change", p.stop_on_no_change},
      {"batch_size", p.batch_size}, {"mode", std::int64_t(p.mode)}, {"empty", std::int64_t(p.empty)},
      {"assign", std::int64_t(p.assign)}, {"pipeline", std::int64_t(p.pipeline)}, {"seed", std::int64_t(p.seed)},
      {"initial centroids (hash)", std::int64_t(given)}, {"checkpoint_every", p.checkpoint_every},
      {"resume", p.resume_from != nullptr}};
  constexpr std::size_t n = sizeof(fields) / sizeof(fields[0]);
  std::int64_t range[2 * n];  // max of v and of ~v (= −v − 1, reverses the order): the largest and ~smallest
  for (std::size_t f = 0; f < n; ++f) {
    range[f] = fields[f].second;
    range[n + f] = ~fields[f].second;
  }
  comm.allreduce_max(range, 2 * n);
  for (std::size_t f = 0; f < n; ++f)
    KKM_REQUIRE(range[f] == ~range[n + f], std::string("ranks disagree on the fit's parameters: ") + fields[f].first +
                                               " ranges from " + std::to_string(~range[n + f]) + " to " +
                                               std::to_string(range[f]) + " (every rank must pass the same)");
}

/// The initialisation that Init::automatic stands for on ExecSpace: k-means‖ on devices (its rounds
/// are assignments, where a GPU is fastest) and for rows streamed from their file (k-means++ would
/// read them from the file once a centre, k-means‖ about once a round), k-means++ on hosts; other
/// values stand for themselves.
template <class ExecSpace>
constexpr Init init_for(Init requested, DataIn data_in = DataIn::device) {
  if (requested != Init::automatic) return requested;
  return is_host_space<ExecSpace>() && data_in != DataIn::file ? Init::kmeanspp : Init::kmeans_parallel;
}

/// The first centroids of run `seed`: a checkpoint's, the given ones, or by the chosen init
/// (k-means‖ streams rows on the host, host_rows, as the epochs do).
template <class ExecSpace, class V, class Metric>
HostMatrix<compute_t<V>> initial_centroids(ExecSpace const& space, DeviceMatrix<ExecSpace, V> x,
                                           Parameters const& params, Metric const& metric, std::uint64_t seed,
                                           DataSummary const& summary, Communicator const& comm,
                                           Kokkos::View<compute_t<V> const*, typename ExecSpace::memory_space> weights,
                                           Checkpoint const* resume, RowsOnHost<V> const& host_rows) {
  using C = compute_t<V>;
  int const d = x.extent(1);
  Init const init = init_for<ExecSpace>(params.init, params.data_in);
  HostMatrix<C> c0;
  if (resume) {
    c0 = HostMatrix<C>("kkm::resumed_centers", resume->k, d);
    for (int c = 0; c < resume->k; ++c)
      for (int j = 0; j < d; ++j) c0(c, j) = static_cast<C>(resume->centroids[std::size_t(c) * d + j]);
  } else if (init == Init::given) {
    c0 = HostMatrix<C>("kkm::init_centers", params.k, d);
    for (int c = 0; c < params.k; ++c)
      for (int j = 0; j < d; ++j) c0(c, j) = static_cast<C>(params.initial_centroids[std::size_t(c) * d + j]);
  } else if (init == Init::random) {
    c0 = init_random(space, x, params.k, seed, summary, comm, rows_gathered_on_host(params.data_in, host_rows));
  } else if (init == Init::kmeans_parallel) {
    c0 = init_kmeans_parallel(space, x, metric, params.k, params.kmeanspp_trials, seed, summary, comm, weights, 5, 2.0,
                              params, host_rows);
  } else {
    c0 = init_kmeanspp(space, x, metric, params.k, params.kmeanspp_trials, seed, summary, comm, weights,
                       TrialKernel::automatic, TrialPruning::automatic,
                       rows_gathered_on_host(params.data_in, host_rows), params.device_memory);
  }
  return c0;
}

/// The data summary of this rank's rows x; host_rows (where the host reads them): streamed through
/// the device in chunks, as the epochs stream them.
template <class ExecSpace, class V>
DataSummary summarize_rows(ExecSpace const& space, DeviceMatrix<ExecSpace, V> x, RowsOnHost<V> const& host_rows,
                           Kokkos::View<compute_t<V> const*, typename ExecSpace::memory_space> const& weights,
                           Parameters const& params, Communicator const& comm) {
  if (!host_rows) return summarize(space, x, weights, comm);
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  RowStream<ExecSpace, V> chunks(space, host_rows, n, d,
                                 fused_chunk_rows<ExecSpace, V, SquaredEuclidean>(params.device_memory, n, d, params.k));
  return summarize(space, x, weights, comm, &chunks);
}

/// The fit of kkm::fit, from the rows as the kernels read them; host_rows: where the host reads
/// them (an address or a RowSource) where the Lloyd epochs stream them (Parameters::data_in), else
/// none; streamable: whether they lie where the host can read them.
template <class ExecSpace, class V, class Metric>
Result<compute_t<V>, typename ExecSpace::memory_space> fit_rows(
    ExecSpace const& space, DeviceMatrix<ExecSpace, V> x, RowsOnHost<V> host_rows, bool streamable,
    Kokkos::View<compute_t<V> const*, typename ExecSpace::memory_space> const& weights, Parameters const& params,
    Metric const& metric, Communicator const& comm) {
  using C = compute_t<V>;
  check_metric<Metric, C>();
  params.validate();
  int const d = x.extent(1);
  check_parameters_agree(params, d, comm);
  on_every_rank(comm, [&] { require_streamable(params.data_in, streamable); });
  KKM_REQUIRE(d >= 1, "data has no columns (d = 0)");
  check_metric_dimensions(metric, d);
  if (params.init == Init::given) {
    KKM_REQUIRE(params.initial_centroids.size() == std::size_t(params.k) * d,
                "initial centroids: expected k × d = " + std::to_string(std::size_t(params.k) * d) + " values, got " +
                    std::to_string(params.initial_centroids.size()));
    check_centroid_values<C>(
        params.k, d, [&](std::int64_t q, int j) { return params.initial_centroids[std::size_t(q) * d + j]; },
        "initial centroid");
  }
  Kokkos::Profiling::pushRegion("kkm::fit");
  std::int64_t const n_local = x.extent(0);
  auto const summary = summarize_rows(space, x, host_rows, weights, params, comm);
  KKM_REQUIRE(summary.n_total >= 1, "data has no rows");
  check_distance_range<C>(summary, value_degree<Metric>::value);
  check_weight_range(summary);
  KKM_REQUIRE(params.k <= summary.n_total, "k = " + std::to_string(params.k) + " exceeds the number of rows (" +
                                               std::to_string(summary.n_total) + ")");

  Result<C, typename ExecSpace::memory_space> best;
  std::vector<double> inertias;
  double t_init = 0, t_epochs = 0;
  if constexpr (Metric::update == Update::median)
    KKM_REQUIRE(params.mode == Mode::lloyd, "the mini-batch modes need a metric with a mean update (not k-medians)");
  on_every_rank(comm, [&] {
    require_device_memory<ExecSpace, V, Metric>(params, init_for<ExecSpace>(params.init, params.data_in), n_local, d,
                                                bool(host_rows));
  });
  Checkpoint const* resume = params.resume_from.get();
  if (resume) check_resume(*resume, params, summary, d, n_local);
  for (int r = 0; r < params.n_init; ++r) {
    std::uint64_t const seed = params.seed + std::uint64_t(r);
    Kokkos::Timer ti;
    Kokkos::Profiling::pushRegion("kkm::init");
    auto const c0 = initial_centroids(space, x, params, metric, seed, summary, comm, weights, resume, host_rows);
    Kokkos::Profiling::popRegion();
    t_init += ti.seconds();
    Result<C, typename ExecSpace::memory_space> run;
    if (params.mode == Mode::lloyd) {
      run = lloyd_run(space, x, params, metric, comm, summary, c0, r, resume, weights, host_rows);
      if (params.data_in == DataIn::file) run.data_in = to_string(DataIn::file);
    } else if constexpr (Metric::update != Update::median) {
      run = minibatch_run(space, x, params, metric, comm, summary, c0, r, weights,
                          rows_gathered_on_host(params.data_in, host_rows));
      // (host: its batches read the rows in place across the link; file: read on the host)
      run.data_in = to_string(params.data_in == DataIn::file ? DataIn::file : host_rows ? DataIn::host : DataIn::device);
    }
    t_epochs += run.seconds_epochs;
    inertias.push_back(run.inertia);
    if (r == 0 || run.inertia < best.inertia) {
      best = std::move(run);
      best.best_restart = r;
    }
  }
  best.restart_inertia = inertias;
  best.seconds_init = t_init;
  best.init = to_string(init_for<ExecSpace>(params.init, params.data_in));
  best.seconds_epochs = t_epochs;
  Kokkos::Profiling::popRegion();
  return best;
}

}  // namespace detail

/// Fits k-means to the rows of `data` (this rank's rows; the global data set is the concatenation
/// of all ranks' rows in rank order) and returns centroids, this rank's labels and the run's
/// history. Collective over `comm`: every rank must call it with the same parameters and metric.
///
/// \param space   execution space the kernels run in; `data` must be accessible from it
/// \param data    n_local × d, LayoutRight, of float, double, kkm::float16 or kkm::bfloat16 (16-bit
///                rows are computed in float, and the centroids and results are float: see
///                KKM_Half.hpp), any memory space reachable from `space`; rows in host
///                memory that a device reaches across a link (CUDA: Kokkos::CudaHostPinnedSpace)
///                are streamed to it in Lloyd epochs (Parameters::data_in), so they may exceed
///                the device's memory
/// \param params  see kkm::Parameters (validated first; throws kkm::UserError on bad values)
/// \param metric  a metric functor (kkm::SquaredEuclidean, … or a user's: see KKM_Metrics.hpp)
/// \param comm    the ranks taking part (default: this process alone)
/// \param weights sample weights of this rank's rows (≥ 0, finite, not all 0; an empty View means
///                all 1): sums, means, medians, inertia and k-means++ are weighted.
template <class ExecSpace, class T, class... P, class Metric>
Result<compute_t<T>, typename ExecSpace::memory_space> fit(
    ExecSpace const& space, Kokkos::View<T**, P...> const& data,
    Kokkos::View<compute_t<T> const*, typename ExecSpace::memory_space> const& weights, Parameters const& params,
    Metric const& metric, Communicator const& comm = Communicator{}) {
  using V = std::remove_const_t<T>;
  using Mem = typename Kokkos::View<T**, P...>::memory_space;
  static_assert(is_data_scalar_v<V>, "kkm::fit: data must be float, double, kkm::float16 or kkm::bfloat16");
  static_assert(std::is_same_v<typename Kokkos::View<T**, P...>::array_layout, Kokkos::LayoutRight>,
                "kkm::fit: data must be LayoutRight (one row per point, contiguous)");
  static_assert(Kokkos::SpaceAccessibility<ExecSpace, Mem>::accessible,
                "kkm::fit: data must be accessible from the execution space");
  constexpr bool host_readable = Kokkos::SpaceAccessibility<Kokkos::HostSpace, Mem>::accessible;
  bool const streamed = detail::streams_rows<ExecSpace, Mem>(params.data_in);
  // Rows the device may not read where they lie (DataIn::file) reach the engine through the stream
  // and host copies only: its kernels get no address for them, so a read in place would fault.
  auto const x = params.data_in == DataIn::file && host_readable
                     ? detail::DeviceMatrix<ExecSpace, V>(nullptr, data.extent(0), data.extent(1))
                     : detail::device_rows<ExecSpace>(data);
  return detail::fit_rows(space, x, detail::RowsOnHost<V>(streamed ? data.data() : nullptr), host_readable, weights,
                          params, metric, comm);
}

/// Fits rows a RowSource reads a range at a time (data_in = file, or automatic: taken as file),
/// streamed through the device's memory as the rows of a mapped file are: an HDF5 dataset stored
/// in chunks, compressed or as another type, larger than memory. The same results as the rows
/// fitted from memory, bit for bit.
template <class ExecSpace, class V, class Metric>
Result<compute_t<V>, typename ExecSpace::memory_space> fit(
    ExecSpace const& space, RowSource<V>& rows,
    Kokkos::View<compute_t<V> const*, typename ExecSpace::memory_space> const& weights, Parameters const& params,
    Metric const& metric, Communicator const& comm = Communicator{}) {
  static_assert(is_data_scalar_v<V>, "kkm::fit: data must be float, double, kkm::float16 or kkm::bfloat16");
  KKM_REQUIRE(params.data_in == DataIn::file || params.data_in == DataIn::automatic,
              std::string("rows read by a source are streamed from the file: data_in must be file (or auto), not ") +
                  to_string(params.data_in));
  Parameters p = params;
  p.data_in = DataIn::file;
  detail::DeviceMatrix<ExecSpace, V> const x(nullptr, rows.rows(), rows.cols());
  return detail::fit_rows(space, x, detail::RowsOnHost<V>(rows), true, weights, p, metric, comm);
}

/// Fits without sample weights (every row weighs 1).
template <class ExecSpace, class T, class... P, class Metric>
Result<compute_t<T>, typename ExecSpace::memory_space> fit(ExecSpace const& space, Kokkos::View<T**, P...> const& data,
                                                           Parameters const& params, Metric const& metric,
                                                           Communicator const& comm = Communicator{}) {
  return fit(space, data, Kokkos::View<compute_t<T> const*, typename ExecSpace::memory_space>(), params, metric, comm);
}

/// Fits with the default execution space.
template <class T, class... P, class Metric>
auto fit(Kokkos::View<T**, P...> const& data, Parameters const& params, Metric const& metric,
         Communicator const& comm = Communicator{}) {
  return fit(typename Kokkos::View<T**, P...>::execution_space{}, data, params, metric, comm);
}

}  // namespace kkm

// (after kkm::fit: its built-in instances are compiled once, in the library)
#include <kkmeans/algorithms/KKM_FitInstances.hpp>
