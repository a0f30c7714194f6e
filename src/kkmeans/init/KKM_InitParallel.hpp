#pragma once
/// \file KKM_InitParallel.hpp
/// \brief k-means‖ (Bahmani et al. 2012, "Scalable k-means++"; the default of Spark and cuML):
/// a few rounds in which every row joins the candidate set independently with probability
/// min(1, ℓ·D / ψ) (ℓ = 2k oversampling, ψ the current potential), then the candidates, weighted
/// by the weight of the rows nearest to each, are reduced to k centres by weighted k-means++.
///
/// A round measures the rows against its new candidates with the assignment engine (the path the
/// fit would take: the checked GEMM product on GPUs at large d, the fused or small-d kernels
/// elsewhere; labels exact), then keeps for every row the nearest candidate so far and its
/// distance, so the candidates' weights need no pass of their own. Every draw is a counter-based
/// function of (seed, round, global row), ψ is an exact fixed-point sum, and candidates are ordered
/// by round and global row index, so the result does not depend on the number of ranks.
/// Memory: per row D, the nearest candidate and its distance; the candidates (about ℓ × rounds rows).
#include <kkmeans/algorithms/detail/KKM_Memory.hpp>
#include <kkmeans/algorithms/detail/KKM_RowStream.hpp>
#include <kkmeans/core/KKM_Atomic.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/init/KKM_KMeansPP.hpp>
#include <kkmeans/kernels/assign/KKM_AssignRows.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kkm::detail {

constexpr std::uint64_t stream_kmeans_parallel = 0x4b4d504152ull;  // "KMPAR" + round

/// After a round's assignment (labels into the round's block of candidates, whose first has index
/// `base`): row i keeps the block's candidate if it is nearer than its nearest so far (ties → the
/// earlier candidate), and D follows.
template <class Mem, class T, class Metric, bool Squared>
struct KparKeepNearest {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> x;  // T: the rows'
  Kokkos::View<compute_t<T> const**, Kokkos::LayoutRight, Mem> block;
  Kokkos::View<int const*, Mem> labels;
  Kokkos::View<double*, Mem> nearest_d;  // metric distance to the nearest candidate
  Kokkos::View<int*, Mem> nearest;       // its index
  Kokkos::View<double*, Mem> D;
  Kokkos::View<compute_t<T> const*, Mem> w;
  Metric metric;
  int d, base;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    int const l = labels(i);
    double const v = static_cast<double>(metric(VectorRef<T>{&x(i, 0), d}, VectorRef<compute_t<T>>{&block(l, 0), d}));
    if (base == 0 || v < nearest_d(i)) {
      nearest_d(i) = v;
      nearest(i) = base + l;
      D(i) = kmpp_weight<Squared>(row_weight(w, i), v);
    }
  }
};

template <class Mem>
struct KparMax {
  Kokkos::View<double*, Mem> D;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, double& m) const {
    if (D(i) > m) m = D(i);
  }
};

/// Σ D(i) in fixed point.
template <class Mem>
struct KparSum {
  Kokkos::View<double*, Mem> D;
  double scale;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, fixed_t& a) const { a += to_fixed(D(i), scale); }
};

/// Flags row i when its draw falls under min(1, ℓ · D(i) / ψ).
template <class Mem>
struct KparSelect {
  Kokkos::View<double*, Mem> D;
  Kokkos::View<int*, Mem> flag;
  std::uint64_t seed, stream;
  std::int64_t offset;
  double factor;  // ℓ / ψ
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    flag(i) = uniform01(seed, stream, std::uint64_t(offset + i)) <= D(i) * factor ? 1 : 0;
  }
};

/// Adds row i's weight (fixed point) to its nearest candidate's.
template <class Mem, class T>
struct KparWeigh {
  Kokkos::View<int*, Mem> nearest;
  Kokkos::View<T const*, Mem> w;
  Kokkos::View<fixed_t*, Mem> weights;
  double wscale;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    detail::atomic_add(&weights(nearest(i)), fixed_count(w, i, wscale));
  }
};

/// Counts the flagged rows (the first pass of their compaction).
template <class Mem>
struct KparCountFlags {
  Kokkos::View<int const*, Mem> flag;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, std::int64_t& count) const { count += flag(i) != 0; }
};

/// Writes the flagged rows' global indices in ascending order (an exclusive scan of the flags).
template <class Mem>
struct KparCompactFlags {
  Kokkos::View<int const*, Mem> flag;
  Kokkos::View<std::int64_t*, Mem> picked;
  std::int64_t offset;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, std::int64_t& position, bool final) const {
    if (flag(i) == 0) return;
    if (final) picked(position) = offset + i;
    ++position;
  }
};

/// This rank's flagged rows as global indices in ascending order, compacted where the flags are:
/// only those rows (a round flags about ℓ of them over all ranks) cross to the host, not a flag per row.
template <class ExecSpace>
std::vector<std::int64_t> kpar_local_flagged_rows(ExecSpace const& space,
                                                  Kokkos::View<int const*, typename ExecSpace::memory_space> flag,
                                                  std::int64_t offset) {
  using mem = typename ExecSpace::memory_space;
  using policy = Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>;
  std::int64_t const n = flag.extent(0);
  std::int64_t count = 0;
  if (n > 0) Kokkos::parallel_reduce("kkm::kpar_count_flags", policy(space, 0, n), KparCountFlags<mem>{flag}, count);
  std::vector<std::int64_t> rows(static_cast<std::size_t>(count));
  if (count == 0) return rows;
  Kokkos::View<std::int64_t*, mem> picked(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::kpar_picked"),
                                          count);
  Kokkos::parallel_scan("kkm::kpar_compact_flags", policy(space, 0, n), KparCompactFlags<mem>{flag, picked, offset});
  Kokkos::deep_copy(space, Kokkos::View<std::int64_t*, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>(rows.data(), rows.size()),
                    picked);
  space.fence();
  return rows;
}

/// The global rows any rank flagged (`mine`: this rank's, ascending), gathered from every rank in
/// global row order (ranks own increasing row ranges): exact through a sum. Empty if none.
inline std::vector<std::int64_t> kpar_flagged_rows(std::vector<std::int64_t> const& mine, Communicator const& comm) {
  auto counts = comm.allgather(static_cast<std::int64_t>(mine.size()));
  std::int64_t total = 0, before = 0;
  for (int r = 0; r < comm.size(); ++r) {
    if (r < comm.rank()) before += counts[r];
    total += counts[r];
  }
  if (total == 0) return {};
  std::vector<double> all(total, 0.0);
  for (std::size_t t = 0; t < mine.size(); ++t) all[before + t] = static_cast<double>(mine[t]);
  comm.allreduce_sum(all.data(), all.size());
  return std::vector<std::int64_t>(all.begin(), all.end());
}

/// k-means‖ on the rows of this rank; the same result on every rank.
template <class ExecSpace, class T, class Metric>
class KMeansParallel {
 public:
  using mem = typename ExecSpace::memory_space;
  using C = compute_t<T>;  // T: the rows'; C: the candidates' and the weights'
  using Rows = Kokkos::View<T const**, Kokkos::LayoutRight, mem>;
  using CRows = Kokkos::View<C const**, Kokkos::LayoutRight, mem>;
  using policy = Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>;
  static constexpr bool squared = is_squared_euclidean<Metric>::value;

  /// host_rows: x's rows on the host (at their address or read by a source), to stream them through
  /// the device in chunks (DataIn::host, file), or none: the kernels read x.
  KMeansParallel(ExecSpace const& space, Rows x, Metric const& metric, std::uint64_t seed, DataSummary const& s,
                 Communicator const& comm, Kokkos::View<C const*, mem> w, Parameters const& p, int k,
                 RowsOnHost<T> const& host_rows = {})
      : space_(space), x_(x), metric_(metric), comm_(comm), s_(s), w_(w), p_(rounds_parameters(p, x.extent(1), k)),
        seed_(seed), n_(x.extent(0)),
        d_(x.extent(1)), D_(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::kpar_D"), n_),
        nearest_d_(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::kpar_nearest_d"), n_),
        nearest_(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::kpar_nearest"), n_),
        labels_(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::kpar_labels"), n_),
        zero_scale_("kkm::kpar_scale", d_), unaddressable_(rows_gathered_on_host(p.data_in, host_rows)) {
    if (!host_rows) return;
    // The chunks fit beside the rounds' per-row buffers; a round's block has about 2k candidates.
    std::size_t const per_row = init_row_bytes<T, Metric>(Init::kmeans_parallel, k, 0) * std::size_t(n_);
    std::size_t const have = work_memory<ExecSpace, T>(p.device_memory, n_, d_, true);
    stream_have_ = have > per_row ? have - per_row : 0;
    StreamPlan const sp = plan_stream<ExecSpace, T, Metric>(p_, n_, d_, 2 * k, stream_have_);
    stream_ = std::make_unique<RowStream<ExecSpace, T>>(space_, host_rows, n_, d_, sp.chunk);
    stream_->keep_next_pass_ready(true);  // (a pass a round)
  }

  /// The candidates (global rows, in order) after the first and up to `rounds` rounds of ℓ =
  /// oversampling · k expected rows each; stops early once every row sits on a candidate.
  std::vector<std::int64_t> oversample(int k, int rounds, double oversampling) {
    rows_.clear();
    add_candidates({first_center_row(space_, w_, n_, seed_, s_, comm_)});
    Kokkos::View<int*, mem> flag(Kokkos::view_alloc(space_, Kokkos::WithoutInitializing, "kkm::kpar_flag"), n_);
    for (int round = 0; round < rounds; ++round) {
      double max_d = 0;
      if (n_ > 0) Kokkos::parallel_reduce("kkm::kpar_max_D", policy(space_, 0, n_), KparMax<mem>{D_}, Kokkos::Max<double>(max_d));
      comm_.allreduce_max(&max_d, 1);
      if (!(max_d > 0)) break;  // every row sits on a candidate
      double const scale = fixed_point_scale(max_d, static_cast<double>(s_.n_total));
      fixed_t psi = 0;
      if (n_ > 0) Kokkos::parallel_reduce("kkm::kpar_psi", policy(space_, 0, n_), KparSum<mem>{D_, scale}, psi);
      comm_.allreduce_sum(&psi, 1);
      Kokkos::parallel_for("kkm::kpar_select", policy(space_, 0, n_),
                           KparSelect<mem>{D_, flag, seed_, stream_kmeans_parallel + std::uint64_t(round), s_.row_offset,
                                           oversampling * k / from_fixed(psi, scale)});
      std::vector<std::int64_t> const picked =
          kpar_flagged_rows(kpar_local_flagged_rows<ExecSpace>(space_, flag, s_.row_offset), comm_);
      if (!picked.empty()) add_candidates(picked);
    }
    return rows_;
  }

  /// The candidates (m × d on the device) and their weights: the weight of the rows nearest to
  /// each, summed over ranks in fixed point, as C.
  std::pair<Kokkos::View<C**, Kokkos::LayoutRight, mem>, Kokkos::View<C*, mem>> weighted_candidates() {
    int const m = rows_.size();
    Kokkos::View<C**, Kokkos::LayoutRight, mem> cand(Kokkos::view_alloc(space_, Kokkos::WithoutInitializing, "kkm::kpar_candidates"), m, d_);
    gather_rows_into(space_, x_, rows_, s_.row_offset, comm_, cand, unaddressable_);
    Kokkos::View<fixed_t*, mem> cw("kkm::kpar_candidate_weights", m);
    Kokkos::parallel_for("kkm::kpar_weigh", policy(space_, 0, n_), KparWeigh<mem, C>{nearest_, w_, cw, s_.weight_scale});
    auto cwh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cw);
    comm_.allreduce_sum(cwh.data(), m);
    Kokkos::View<C*, mem> weights("kkm::kpar_weights", m);
    auto h = Kokkos::create_mirror_view(weights);
    for (int t = 0; t < m; ++t) h(t) = static_cast<C>(static_cast<double>(static_cast<long long>(cwh(t))) / s_.weight_scale);
    Kokkos::deep_copy(space_, weights, h);
    return {cand, weights};
  }

 private:
  /// Rows `block_rows` join the candidates: every row is assigned to them by the engine and keeps
  /// the nearer of its nearest candidate so far and its label (streamed: chunk by chunk, each row the
  /// same).
  void add_candidates(std::vector<std::int64_t> const& block_rows) {
    int const base = rows_.size();
    int const m = block_rows.size();
    Kokkos::View<C**, Kokkos::LayoutRight, mem> block(Kokkos::view_alloc(space_, Kokkos::WithoutInitializing, "kkm::kpar_block"), m, d_);
    gather_rows_into(space_, x_, block_rows, s_.row_offset, comm_, block, unaddressable_);
    if (n_ > 0 && stream_) {
      std::int64_t const chunk = stream_->chunk_rows();
      std::size_t const spare = stream_have_ > stream_->bytes() ? stream_have_ - stream_->bytes() : 0;
      AssignPlan const plan = plan_assignment<ExecSpace, T, Metric>(p_, chunk, d_, m, [&] { return spare; });
      prepare_shift(plan);
      ws_.split_once = false;
      stream_->for_each_chunk([&](Rows rows, std::int64_t r0, std::int64_t r1) {
        ws_.forget_rows();
        keep_nearest(rows, block, std::make_pair(r0, r1), plan, base);
      });
    } else if (n_ > 0) {
      AssignPlan const plan =
          plan_assignment<ExecSpace, T, Metric>(p_, n_, d_, m, [&] { return work_memory<ExecSpace, T>(p_.device_memory, n_, d_); });
      prepare_shift(plan);
      ws_.split_once = plan.split_once;
      keep_nearest(x_, block, std::make_pair(std::int64_t(0), n_), plan, base);
    }
    rows_.insert(rows_.end(), block_rows.begin(), block_rows.end());
  }

  /// The rounds' parameters: the fit's, but where `auto` would pick the fused checked path the rounds
  /// take the checked GEMM (the same labels). On an H100 at W2's shape (N = 10⁷, d = 128, about
  /// 2k = 2048 candidates a round) the init took 3.46 s with the fused checked rounds, 0.77 s with the
  /// checked GEMM (docs/PERFORMANCE.md). The likely cause, not yet measured: a round's candidates
  /// crowd into the blobs earlier rounds left far from every candidate, so many rows have more
  /// near-equal candidates than the fused path's lists keep and are measured against all of them.
  static Parameters rounds_parameters(Parameters p, int d, int k) {
    if (p.assign == AssignPath::automatic && gemm_kind_for<ExecSpace, T, Metric>(p.assign, d, 2 * k) == GemmKind::fused_checked)
      p.assign = AssignPath::gemm_checked;
    return p;
  }

  void prepare_shift(AssignPlan const& plan) {
    if (plan.gemm != GemmKind::none && ws_.shift.extent(0) == 0) ws_.set_shift(space_, s_.mean);
  }

  /// Local rows r = [r0, r1), their values in `rows`: assigned to the block's candidates, each
  /// keeping the nearer of its nearest so far and its label.
  void keep_nearest(Rows rows, Kokkos::View<C**, Kokkos::LayoutRight, mem> block,
                    std::pair<std::int64_t, std::int64_t> r, AssignPlan const& plan, int base) {
    auto labels = Kokkos::subview(labels_, r);
    assign_rows<false>(space_, rows, CRows(block), zero_scale_, Kokkos::View<fixed_t*, mem>(), labels, metric_, plan.gemm,
                       plan.batch, ws_);
    Kokkos::parallel_for("kkm::kpar_keep_nearest", policy(space_, 0, r.second - r.first),
                         KparKeepNearest<mem, T, Metric, squared>{rows, block, labels, Kokkos::subview(nearest_d_, r),
                                                                  Kokkos::subview(nearest_, r), Kokkos::subview(D_, r),
                                                                  chunk_weights(w_, r),
                                                                  metric_, d_, base});
  }

  ExecSpace space_;
  Rows x_;
  Metric metric_;
  Communicator const& comm_;
  DataSummary const& s_;
  Kokkos::View<C const*, mem> w_;
  Parameters const p_;  // (rounds_parameters)
  std::uint64_t seed_;
  std::int64_t n_;
  int d_;
  std::vector<std::int64_t> rows_;  // the candidates so far, as global rows
  Kokkos::View<double*, mem> D_, nearest_d_;
  Kokkos::View<int*, mem> nearest_, labels_;
  Kokkos::View<double*, mem> zero_scale_;
  AssignWorkspace<ExecSpace, T> ws_;
  std::unique_ptr<RowStream<ExecSpace, T>> stream_;  // the rows streamed from host memory, or none
  std::size_t stream_have_ = 0;                     // device bytes the stream and the rounds' batches may take
  RowsOnHost<T> unaddressable_;  // host_rows where the device may not read them in place (DataIn::file), else none
};

/// k-means‖ with `rounds` rounds of oversampling · k expected candidates, reduced to k by weighted
/// k-means++ (`trials` as there). `p` names the assignment path and batch the rounds run with;
/// host_rows (x's rows on the host, DataIn::host or file) streams the rounds' passes through the device.
template <class ExecSpace, class T, class Metric>
HostMatrix<compute_t<T>> init_kmeans_parallel(ExecSpace const& space,
                                   Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                                   Metric const& metric, int k, int trials, std::uint64_t seed, DataSummary const& s,
                                   Communicator const& comm,
                                   Kokkos::View<compute_t<T> const*, typename ExecSpace::memory_space> w = {}, int rounds = 5,
                                   double oversampling = 2.0, Parameters const& p = Parameters{},
                                   RowsOnHost<T> const& host_rows = {}) {
  using mem = typename ExecSpace::memory_space;
  KMeansParallel<ExecSpace, T, Metric> kpar(space, x, metric, seed, s, comm, w, p, k, host_rows);
  int const m = kpar.oversample(k, rounds, oversampling).size();
  if (m < k) {  // tiny or degenerate data
    KKM_REQUIRE(p.data_in != DataIn::file, "k-means‖ found " + std::to_string(m) + " distinct candidate rows for k = " +
                                               std::to_string(k) + " (fewer distinct rows than k?), and its k-means++ "
                                               "fallback would read the rows in place, which data_in = file never does: "
                                               "use init random");
    return init_kmeanspp(space, x, metric, k, trials, seed, s, comm, w);
  }
  auto const [cand, weights] = kpar.weighted_candidates();
  // Recluster the weighted candidates to k centres: the same on every rank, so one process each.
  Communicator self;
  Kokkos::View<compute_t<T> const**, Kokkos::LayoutRight, mem> cc = cand;
  Kokkos::View<compute_t<T> const*, mem> cw = weights;
  auto const cs = summarize(space, cc, cw, self);
  return init_kmeanspp(space, cc, metric, k, trials, seed, cs, self, cw);
}

}  // namespace kkm::detail
