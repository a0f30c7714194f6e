#pragma once
/// \file KKM_InitParallel.hpp
/// \brief k-means‖ (Bahmani et al. 2012, "Scalable k-means++"; the default of Spark and cuML):
/// a few rounds in which every row joins the candidate set independently with probability
/// min(1, ℓ·w·D / ψ) (ℓ = 2k oversampling, ψ the current potential), then the candidates, weighted
/// by the weight of the rows nearest to each, are reduced to k centres by weighted k-means++.
/// Every draw is a counter-based function of (seed, round, global row), ψ is an exact fixed-point
/// sum, and the candidate list is ordered by global row index, so the result does not depend on the
/// number of ranks. Memory: the candidates (about ℓ × rounds rows) and one counter per candidate.
#include <kkmeans/init/KKM_Init.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <vector>

namespace kkm::detail {

constexpr std::uint64_t stream_kmeans_parallel = 0x4b4d504152ull;  // "KMPAR" + round

/// D(i) = min(D(i), min over candidates t ∈ [t0, t1) of weight(i, t)).
template <class Weight>
struct KparLower {
  Weight weight;
  Kokkos::View<double*, typename decltype(Weight::x)::memory_space> D;
  int t0, t1;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    double m = D(i);
    for (int t = t0; t < t1; ++t) {
      double const v = weight(i, t);
      if (v < m) m = v;
    }
    D(i) = m;
  }
};

/// Σ D(i) in fixed point.
template <class Mem>
struct KparSum {
  Kokkos::View<double*, Mem> D;
  double scale;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, fixed_t& a) const { a += to_fixed(D(i), scale); }
};

/// Flags row i when its draw falls under min(1, l · D(i) / psi).
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

/// Adds each row's weight (fixed point) to its nearest candidate's counter (ties → lowest index).
template <class Mem, class T, class Metric>
struct KparNearest {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> x;
  Kokkos::View<T**, Kokkos::LayoutRight, Mem> cand;
  Kokkos::View<T const*, Mem> w;
  Kokkos::View<fixed_t*, Mem> counts;
  Metric metric;
  int d, m;
  double wscale;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    VectorRef<T> const xi{&x(i, 0), d};
    int best = 0;
    auto bestd = metric(xi, VectorRef<T>{&cand(0, 0), d});
    for (int t = 1; t < m; ++t) {
      auto const v = metric(xi, VectorRef<T>{&cand(t, 0), d});
      if (v < bestd) {
        bestd = v;
        best = t;
      }
    }
    Kokkos::atomic_add(&counts(best), fixed_count(w, i, wscale));
  }
};

/// The candidates of k-means‖, identical on every rank: global row indices and their values (rows.size()
/// × d, row-major), in the order drawn.
template <class T>
struct KparCandidates {
  std::vector<std::int64_t> rows;
  std::vector<T> values;
};

/// The global rows this rank flagged, gathered from every rank in global row order (ranks own
/// increasing row ranges): exact through a sum. Empty if no rank flagged any.
template <class Mem>
std::vector<std::int64_t> kpar_flagged_rows(Kokkos::View<int*, Mem> flag, std::int64_t n, std::int64_t offset,
                                            Communicator const& comm) {
  auto fh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), flag);
  std::vector<std::int64_t> mine;
  for (std::int64_t i = 0; i < n; ++i)
    if (fh(i)) mine.push_back(offset + i);
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

/// The oversampling of k-means‖: the first candidate (one row, uniformly, or ∝ weight with weights,
/// as k-means++ picks its first), then up to `rounds` rounds in which each row joins independently
/// with probability min(1, ℓ·D / ψ), ℓ = oversampling · k. Stops early once every row sits on a
/// candidate.
template <class ExecSpace, class T, class Metric>
KparCandidates<T> kpar_oversample(ExecSpace const& space,
                                  Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                                  Metric const& metric, int k, std::uint64_t seed, DataSummary const& s,
                                  Communicator const& comm, Kokkos::View<T const*, typename ExecSpace::memory_space> w,
                                  int rounds, double oversampling) {
  using mem = typename ExecSpace::memory_space;
  using policy = Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>;
  constexpr bool sq = is_squared_euclidean<Metric>::value;
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  std::int64_t const offset = s.row_offset;

  KparCandidates<T> c;
  c.rows = {first_center_row(space, w, n, seed, s, comm)};
  Kokkos::View<double*, mem> D(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::kpar_D"), n);
  auto first = gather_rows(space, x, c.rows, offset, comm);
  c.values.assign(first.data(), first.data() + d);

  Kokkos::View<T**, Kokkos::LayoutRight, mem> block("kkm::kpar_block", 1, d);
  Kokkos::deep_copy(space, block, first);
  using Weight = KmppWeight<mem, T, Metric, sq>;
  Kokkos::deep_copy(space, D, std::numeric_limits<double>::infinity());
  Kokkos::parallel_for("kkm::kpar_D", policy(space, 0, n), KparLower<Weight>{Weight{x, block, metric, d, w}, D, 0, 1});

  Kokkos::View<int*, mem> flag(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::kpar_flag"), n);
  for (int round = 0; round < rounds; ++round) {
    double maxD = 0;
    Kokkos::parallel_reduce("kkm::kpar_maxD", policy(space, 0, n), KmppMax<mem>{D}, Kokkos::Max<double>(maxD));
    if (n == 0) maxD = 0;
    comm.allreduce_max(&maxD, 1);
    if (!(maxD > 0)) break;  // every row sits on a candidate
    double const scale = fixed_point_scale(maxD, static_cast<double>(s.n_total));
    fixed_t psi_f = 0;
    Kokkos::parallel_reduce("kkm::kpar_psi", policy(space, 0, n), KparSum<mem>{D, scale}, psi_f);
    comm.allreduce_sum(&psi_f, 1);
    double const psi = from_fixed(psi_f, scale);
    Kokkos::parallel_for("kkm::kpar_select", policy(space, 0, n),
                         KparSelect<mem>{D, flag, seed, stream_kmeans_parallel + std::uint64_t(round), offset,
                                         oversampling * k / psi});
    std::vector<std::int64_t> const picked = kpar_flagged_rows(flag, n, offset, comm);
    std::int64_t const total = static_cast<std::int64_t>(picked.size());
    if (total == 0) continue;
    auto picked_rows = gather_rows(space, x, picked, offset, comm);
    c.rows.insert(c.rows.end(), picked.begin(), picked.end());
    c.values.insert(c.values.end(), picked_rows.data(), picked_rows.data() + total * d);
    block = Kokkos::View<T**, Kokkos::LayoutRight, mem>("kkm::kpar_block", total, d);
    Kokkos::deep_copy(space, block, picked_rows);
    Kokkos::parallel_for("kkm::kpar_D", policy(space, 0, n),
                         KparLower<Weight>{Weight{x, block, metric, d, w}, D, 0, int(total)});
  }
  return c;
}

/// Weight of each candidate: the weight of the rows nearest to it, summed over ranks in fixed point,
/// as T on the device (identical on every rank).
template <class ExecSpace, class T, class Metric>
Kokkos::View<T*, typename ExecSpace::memory_space> kpar_candidate_weights(
    ExecSpace const& space, Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
    Kokkos::View<T**, Kokkos::LayoutRight, typename ExecSpace::memory_space> cand, Metric const& metric,
    DataSummary const& s, Communicator const& comm, Kokkos::View<T const*, typename ExecSpace::memory_space> w) {
  using mem = typename ExecSpace::memory_space;
  using policy = Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>;
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  int const m = cand.extent(0);
  Kokkos::View<fixed_t*, mem> cw("kkm::kpar_candidate_weights", m);
  Kokkos::parallel_for("kkm::kpar_nearest", policy(space, 0, n),
                       KparNearest<mem, T, Metric>{x, cand, w, cw, metric, d, m, s.weight_scale});
  auto cwh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cw);
  std::vector<fixed_t> cws(cwh.data(), cwh.data() + m);
  comm.allreduce_sum(cws.data(), m);
  Kokkos::View<T*, mem> cwt("kkm::kpar_cw", m);
  {
    auto h = Kokkos::create_mirror_view(cwt);
    for (int t = 0; t < m; ++t) h(t) = static_cast<T>(static_cast<double>(static_cast<long long>(cws[t])) / s.weight_scale);
    Kokkos::deep_copy(space, cwt, h);
  }
  return cwt;
}

template <class ExecSpace, class T, class Metric>
HostMatrix<T> init_kmeans_parallel(ExecSpace const& space,
                                   Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                                   Metric const& metric, int k, int trials, std::uint64_t seed, DataSummary const& s,
                                   Communicator const& comm,
                                   Kokkos::View<T const*, typename ExecSpace::memory_space> w = {}, int rounds = 5,
                                   double oversampling = 2.0) {
  using mem = typename ExecSpace::memory_space;
  int const d = x.extent(1);
  KparCandidates<T> c = kpar_oversample(space, x, metric, k, seed, s, comm, w, rounds, oversampling);
  int const m = c.rows.size();
  if (m < k) {  // too few candidates (tiny or degenerate data): plain k-means++ on the rows
    return init_kmeanspp(space, x, metric, k, trials, seed, s, comm, w);
  }
  Kokkos::View<T**, Kokkos::LayoutRight, mem> cand("kkm::kpar_candidates", m, d);
  {
    using Unmanaged = Kokkos::MemoryTraits<Kokkos::Unmanaged>;
    Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::HostSpace, Unmanaged> h(c.values.data(), m, d);
    Kokkos::deep_copy(space, cand, h);
  }
  Kokkos::View<T*, mem> cwt = kpar_candidate_weights(space, x, cand, metric, s, comm, w);
  // Recluster the weighted candidates to k centres: the same on every rank, so one process each.
  Communicator self;
  Kokkos::View<T const**, Kokkos::LayoutRight, mem> cc = cand;
  Kokkos::View<T const*, mem> cwc = cwt;
  auto cs = summarize(space, cc, cwc, self);
  return init_kmeanspp(space, cc, metric, k, trials, seed, cs, self, cwc);
}

}  // namespace kkm::detail
