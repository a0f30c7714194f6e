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
#include <kkmeans/init/detail/KKM_GatherRows.hpp>
#include <kkmeans/init/detail/KKM_Race.hpp>
#include <kkmeans/parallel/KKM_DataSummary.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
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

/// k distinct rows drawn uniformly (Floyd's algorithm on counter-based draws); host_rows as
/// gather_rows_into's.
template <class ExecSpace, class T>
HostMatrix<compute_t<T>> init_random(ExecSpace const& space,
                          Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x, int k,
                          std::uint64_t seed, DataSummary const& s, Communicator const& comm,
                          RowsOnHost<T> const& host_rows = {}) {
  std::vector<std::int64_t> picked;
  std::unordered_set<std::int64_t> seen;
  std::int64_t const N = s.n_total;
  for (std::int64_t j = N - k; j < N; ++j) {
    auto const t = static_cast<std::int64_t>(uniform_below(seed, stream_random_init, j, j + 1));
    std::int64_t const v = seen.count(t) ? j : t;
    seen.insert(v);
    picked.push_back(v);
  }
  return gather_rows(space, x, picked, s.row_offset, comm, host_rows);
}


template <class Mem, class T>
struct RaceOnWeights {
  Kokkos::View<T const*, Mem> w;
  RaceStreams stream;
  std::int64_t offset;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, RaceLeaders& r) const {
    enter_races(r, static_cast<double>(w(i)), offset + i, stream);
  }
};

/// The first centre of k-means++ and k-means‖: a global row drawn uniformly, or ∝ weight (an
/// exponential race on the weights) when the weights differ; identical on every rank.
template <class ExecSpace, class T>
std::int64_t first_center_row(ExecSpace const& space, Kokkos::View<T const*, typename ExecSpace::memory_space> w,
                              std::int64_t n, std::uint64_t seed, DataSummary const& s, Communicator const& comm) {
  using mem = typename ExecSpace::memory_space;
  if (!s.weighted || s.equal_weights)
    return static_cast<std::int64_t>(uniform_below(seed, stream_first_center, 0, s.n_total));
  RaceLeaders lead;
  lead.clear();
  if (n > 0)
    Kokkos::parallel_reduce("kkm::first_center_race",
                            Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n),
                            RaceOnWeights<mem, T>{w, RaceStreams(seed, stream_first_center, 1), s.row_offset}, RaceReducer<Kokkos::HostSpace>(lead));
  double max_w = 0;
  std::int64_t const row = race_winners(lead, 1, max_w, comm)[0];
  KKM_ASSERT(row >= 0);
  return row;
}

}  // namespace kkm::detail
