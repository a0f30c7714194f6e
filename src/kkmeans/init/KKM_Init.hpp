#pragma once
/// \file KKM_Init.hpp
/// \brief Initial centroids, identical on every rank and independent of the number of ranks:
/// every random draw is a counter-based function of (seed, step, global row index), every choice is
/// made from exact (integer) sums, and chosen rows are broadcast exactly (the owner contributes the
/// row, the others zeros, to a sum).
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Math.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/core/KKM_Random.hpp>
#include <kkmeans/kernels/KKM_Columns.hpp>
#include <kkmeans/parallel/KKM_DataSummary.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <unordered_set>
#include <vector>

namespace kkm::detail {

// Streams keep the draws of different purposes independent.
constexpr std::uint64_t stream_random_init = 0x52414e444f4dull;   // "RANDOM"
constexpr std::uint64_t stream_first_center = 0x4649525354ull;    // "FIRST"
constexpr std::uint64_t stream_kmeanspp = 0x4b4d50500000ull;      // "KMPP" + step/trial

template <class T>
using HostMatrix = Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::HostSpace>;

/// Rows with the given global indices, on every rank (rows.size() × d on the host).
template <class ExecSpace, class T>
HostMatrix<T> gather_rows(ExecSpace const& space,
                          Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                          std::vector<std::int64_t> const& rows, std::int64_t row_offset, Communicator const& comm) {
  int const m = rows.size();
  int const d = x.extent(1);
  std::int64_t const n = x.extent(0);
  std::vector<double> buf(std::size_t(m) * d, 0.0);
  for (int r = 0; r < m; ++r) {
    std::int64_t const local = rows[r] - row_offset;
    if (local >= 0 && local < n) {
      auto row = Kokkos::subview(x, local, Kokkos::ALL());
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), row);
      for (int j = 0; j < d; ++j) buf[std::size_t(r) * d + j] = static_cast<double>(h(j));
    }
  }
  comm.allreduce_sum(buf.data(), buf.size());  // one owner per row, zeros elsewhere: exact
  HostMatrix<T> out("kkm::gathered_rows", m, d);
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < d; ++j) out(r, j) = static_cast<T>(buf[std::size_t(r) * d + j]);
  return out;
}

/// k distinct rows drawn uniformly (Floyd's algorithm on counter-based draws).
template <class ExecSpace, class T>
HostMatrix<T> init_random(ExecSpace const& space,
                          Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x, int k,
                          std::uint64_t seed, DataSummary const& s, Communicator const& comm) {
  std::vector<std::int64_t> picked;
  std::unordered_set<std::int64_t> seen;
  std::int64_t const N = s.n_total;
  for (std::int64_t j = N - k; j < N; ++j) {
    auto const t = static_cast<std::int64_t>(uniform_below(seed, stream_random_init, j, j + 1));
    std::int64_t const v = seen.count(t) ? j : t;
    seen.insert(v);
    picked.push_back(v);
  }
  return gather_rows(space, x, picked, s.row_offset, comm);
}

/// k-means++ weight of row i against candidate t: the metric distance for squared-Euclidean
/// metrics, its square otherwise. (A functor rather than a lambda: nvcc's host-side wrapper of a
/// device lambda captured by another lambda has been seen to call a null pointer.)
template <class Mem, class T, class Metric, bool Squared>
struct KmppWeight {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> x;
  Kokkos::View<T**, Kokkos::LayoutRight, Mem> cand;
  Metric metric;
  int d;
  Kokkos::View<T const*, Mem> w;  // sample weights (empty: all 1), folded into D
  KOKKOS_INLINE_FUNCTION double operator()(std::int64_t i, int t) const {
    double const v = static_cast<double>(metric(VectorRef<T>{&x(i, 0), d}, VectorRef<T>{&cand(t, 0), d}));
    double const wi = w.extent(0) > 0 ? static_cast<double>(w(i)) : 1.0;
    return wi * (Squared ? v : v * v);
  }
};

template <class Mem, class T>
struct CopyWeight {
  Kokkos::View<T const*, Mem> w;
  Kokkos::View<double*, Mem> out;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const { out(i) = static_cast<double>(w(i)); }
};


// The k-means++ kernels are functors, not lambdas: nvcc's host wrapper of device lambdas in a
// function template instantiated from several translation units was seen to call a null pointer.

/// Exponential race: the row with the smallest −ln(u_i)/D(i) (ties → lowest global index).
template <class Mem>
struct KmppRace {
  Kokkos::View<double*, Mem> D;
  std::uint64_t seed, stream;
  std::int64_t offset;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, Kokkos::MinLoc<double, std::int64_t>::value_type& m) const {
    if (D(i) > 0) {
      double const key = -math::log(uniform01(seed, stream, std::uint64_t(offset + i))) / D(i);
      if (key < m.val || (key == m.val && offset + i < m.loc)) {
        m.val = key;
        m.loc = offset + i;
      }
    }
  }
};

template <class Mem>
struct KmppMax {
  Kokkos::View<double*, Mem> D;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, double& m) const {
    if (D(i) > m) m = D(i);
  }
};

/// Σ min(D(i), weight(i, t)) in fixed point.
template <class Weight>
struct KmppPotential {
  Weight weight;
  Kokkos::View<double*, typename decltype(Weight::x)::memory_space> D;
  int t;
  double scale;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, fixed_t& acc) const {
    double const w = weight(i, t);
    acc += to_fixed(w < D(i) ? w : D(i), scale);
  }
};

/// D(i) = weight(i, t) (first) or min(D(i), weight(i, t)).
template <class Weight>
struct KmppLower {
  Weight weight;
  Kokkos::View<double*, typename decltype(Weight::x)::memory_space> D;
  int t;
  bool first;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    double const w = weight(i, t);
    if (first || w < D(i)) D(i) = w;
  }
};

/// The global row that wins an exponential race on the non-negative values D (row i drawn with
/// probability D(i) / ΣD), identical on every rank; −1 if every D is 0.
template <class ExecSpace>
std::int64_t race(ExecSpace const& space, Kokkos::View<double*, typename ExecSpace::memory_space> D,
                  std::uint64_t seed, std::uint64_t stream, std::int64_t offset, Communicator const& comm) {
  using MinLoc = Kokkos::MinLoc<double, std::int64_t>;
  std::int64_t const n = D.extent(0);
  typename MinLoc::value_type best;
  Kokkos::parallel_reduce("kkm::kmpp_sample",
                          Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n),
                          KmppRace<typename ExecSpace::memory_space>{D, seed, stream, offset}, MinLoc(best));
  double key = n > 0 ? best.val : std::numeric_limits<double>::infinity();
  std::int64_t loc = (n > 0 && std::isfinite(key)) ? best.loc : -1;
  auto keys = comm.allgather(key);
  auto locs = comm.allgather(loc);
  std::int64_t chosen = -1;
  double kbest = std::numeric_limits<double>::infinity();
  for (int r = 0; r < comm.size(); ++r)
    if (locs[r] >= 0 && (keys[r] < kbest || (keys[r] == kbest && locs[r] < chosen))) {
      kbest = keys[r];
      chosen = locs[r];
    }
  return chosen;
}

/// The first centre of k-means++ and k-means‖: a global row drawn uniformly, or ∝ weight (an
/// exponential race on the weights) when the data are weighted; identical on every rank.
template <class ExecSpace, class T>
std::int64_t first_center_row(ExecSpace const& space, Kokkos::View<T const*, typename ExecSpace::memory_space> w,
                              std::int64_t n, std::uint64_t seed, DataSummary const& s, Communicator const& comm) {
  using mem = typename ExecSpace::memory_space;
  if (!s.weighted) return static_cast<std::int64_t>(uniform_below(seed, stream_first_center, 0, s.n_total));
  Kokkos::View<double*, mem> wd(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::first_center_w"), n);
  Kokkos::parallel_for("kkm::first_center_weights",
                       Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n),
                       CopyWeight<mem, T>{w, wd});
  std::int64_t const row = race(space, wd, seed, stream_first_center, s.row_offset, comm);
  KKM_ASSERT(row >= 0);
  return row;
}

/// Greedy k-means++ (Arthur & Vassilvitskii 2007, with scikit-learn's 2 + ⌊ln k⌋ candidates per step
/// keeping the one that lowers the potential most). Sampling "row i with probability ∝ D(i)" is done
/// as an exponential race: row i draws E_i = −ln(u_i) / D(i) from its own counter-based uniform and
/// the smallest E_i wins (a global argmin), which has exactly that distribution and depends on the
/// rows' global indices only. Potentials are summed in fixed point. D is the metric distance for
/// squared-Euclidean metrics, its square otherwise.
template <class ExecSpace, class T, class Metric>
HostMatrix<T> init_kmeanspp(ExecSpace const& space,
                            Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                            Metric const& metric, int k, int trials, std::uint64_t seed, DataSummary const& s,
                            Communicator const& comm,
                            Kokkos::View<T const*, typename ExecSpace::memory_space> w = {}) {
  using mem = typename ExecSpace::memory_space;
  using policy = Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>;
  constexpr bool sq = is_squared_euclidean<Metric>::value;
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  std::int64_t const offset = s.row_offset;
  if (trials <= 0) trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));

  HostMatrix<T> centers("kkm::init_centers", k, d);
  std::int64_t const first_row = first_center_row(space, w, n, seed, s, comm);
  auto first = gather_rows(space, x, {first_row}, offset, comm);
  for (int j = 0; j < d; ++j) centers(0, j) = first(0, j);

  Kokkos::View<T**, Kokkos::LayoutRight, mem> cand("kkm::kmpp_candidates", trials, d);
  auto cand_h = Kokkos::create_mirror_view(cand);
  Kokkos::View<double*, mem> D(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::kmpp_D"), n);

  using Weight = KmppWeight<mem, T, Metric, sq>;
  Weight const weight{x, cand, metric, d, w};
  for (int j = 0; j < d; ++j) cand_h(0, j) = centers(0, j);
  Kokkos::deep_copy(space, cand, cand_h);
  Kokkos::parallel_for("kkm::kmpp_init_D", policy(space, 0, n), KmppLower<Weight>{weight, D, 0, true});

  using MinLoc = Kokkos::MinLoc<double, std::int64_t>;
  for (int step = 1; step < k; ++step) {
    // 1. candidates, each by an exponential race over all rows
    std::vector<std::int64_t> picks(trials);
    for (int t = 0; t < trials; ++t) {
      std::uint64_t const stream = stream_kmeanspp + (std::uint64_t(step) << 8) + t;
      std::int64_t chosen = race(space, D, seed, stream, offset, comm);
      // Every row coincides with a chosen centre: any row will do; draw one uniformly.
      if (chosen < 0) chosen = static_cast<std::int64_t>(uniform_below(seed, stream, 0, s.n_total));
      picks[t] = chosen;
    }
    auto rows = gather_rows(space, x, picks, offset, comm);
    for (int t = 0; t < trials; ++t)
      for (int j = 0; j < d; ++j) cand_h(t, j) = rows(t, j);
    Kokkos::deep_copy(space, cand, cand_h);

    // 2. the potential each candidate would leave, in fixed point (bounded by max D)
    double maxD = 0;
    Kokkos::parallel_reduce("kkm::kmpp_maxD", policy(space, 0, n), KmppMax<mem>{D}, Kokkos::Max<double>(maxD));
    if (n == 0) maxD = 0;
    comm.allreduce_max(&maxD, 1);
    double const scale = fixed_point_scale(maxD, static_cast<double>(s.n_total));
    std::vector<fixed_t> pot(trials);
    for (int t = 0; t < trials; ++t) {
      fixed_t p = 0;
      Kokkos::parallel_reduce("kkm::kmpp_potential", policy(space, 0, n), KmppPotential<Weight>{weight, D, t, scale},
                              p);
      pot[t] = p;
    }
    comm.allreduce_sum(pot.data(), trials);
    int bt = 0;
    for (int t = 1; t < trials; ++t)
      if (static_cast<long long>(pot[t]) < static_cast<long long>(pot[bt])) bt = t;

    // 3. keep it
    for (int j = 0; j < d; ++j) centers(step, j) = cand_h(bt, j);
    Kokkos::parallel_for("kkm::kmpp_update_D", policy(space, 0, n), KmppLower<Weight>{weight, D, bt, false});
  }
  space.fence();
  return centers;
}

}  // namespace kkm::detail
