#pragma once
/// \file KKM_Race.hpp
/// \brief Sampling rows with probability ∝ D as exponential races, several at once.
///
/// Row i draws E_i = −ln(u_i) / D(i) from its own counter-based uniform u_i = U(seed, stream, i) and
/// the smallest E_i wins (ties → the lower global row): the winner is row i with probability
/// D(i) / ΣD, and it depends on global row indices only, so every split of the rows over ranks,
/// threads and batches draws the same row. One pass over D runs the races of up to race_width
/// streams (one per k-means++ trial) and also returns max D (the fixed-point scale of the next
/// potentials).
#include <kkmeans/core/KKM_Math.hpp>
#include <kkmeans/core/KKM_Random.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <limits>
#include <vector>

namespace kkm::detail {

/// Races (and k-means++ trials) handled by one pass; more take further passes.
constexpr int race_width = 8;

/// The leaders of up to race_width races (key, global row; row −1: nobody yet) and max D.
struct RaceLeaders {
  double key[race_width];
  std::int64_t row[race_width];
  double max_d;

  KOKKOS_INLINE_FUNCTION void clear() {
    for (int t = 0; t < race_width; ++t) {
      key[t] = Kokkos::reduction_identity<double>::min();
      row[t] = -1;
    }
    max_d = 0;
  }
  /// Keeps (k, r) in race t if it leads (smaller key; ties → lower row).
  KOKKOS_INLINE_FUNCTION void take(int t, double k, std::int64_t r) {
    if (row[t] < 0 || k < key[t] || (k == key[t] && r < row[t])) {
      key[t] = k;
      row[t] = r;
    }
  }
};

/// A Kokkos reducer joining RaceLeaders race by race.
template <class Space>
struct RaceReducer {
  using reducer = RaceReducer;
  using value_type = RaceLeaders;
  using result_view_type = Kokkos::View<value_type, Space, Kokkos::MemoryUnmanaged>;

 private:
  result_view_type value_;
  bool references_scalar_ = false;

 public:
  KOKKOS_INLINE_FUNCTION explicit RaceReducer(value_type& v) : value_(&v), references_scalar_(true) {}
  KOKKOS_INLINE_FUNCTION void join(value_type& dest, value_type const& src) const {
    for (int t = 0; t < race_width; ++t)
      if (src.row[t] >= 0) dest.take(t, src.key[t], src.row[t]);
    if (src.max_d > dest.max_d) dest.max_d = src.max_d;
  }
  KOKKOS_INLINE_FUNCTION void join(volatile value_type& dest, volatile value_type const& src) const {
    for (int t = 0; t < race_width; ++t) {
      std::int64_t const r = src.row[t], dr = dest.row[t];
      double const k = src.key[t], dk = dest.key[t];
      if (r >= 0 && (dr < 0 || k < dk || (k == dk && r < dr))) {
        dest.key[t] = k;
        dest.row[t] = r;
      }
    }
    if (src.max_d > dest.max_d) dest.max_d = src.max_d;
  }
  KOKKOS_INLINE_FUNCTION void init(value_type& v) const { v.clear(); }
  KOKKOS_INLINE_FUNCTION value_type& reference() const { return *value_.data(); }
  KOKKOS_INLINE_FUNCTION result_view_type view() const { return value_; }
  KOKKOS_INLINE_FUNCTION bool references_scalar() const { return references_scalar_; }
};

/// The stream keys (KKM_Random.hpp) of up to race_width races with streams stream0, stream0 + 1, …
struct RaceStreams {
  std::uint64_t key[race_width];
  int count;
  RaceStreams(std::uint64_t seed, std::uint64_t stream0, int n) : count(n) {
    for (int t = 0; t < race_width; ++t) key[t] = stream_key(seed, stream0 + std::uint64_t(t));
  }
};

/// Row `global_row` with weight Di > 0 enters the races: its key in race t is −ln(u_t) / Di. Since
/// −ln(u) ≥ 1 − u, a row whose (1 − u) / Di already exceeds the leader's key (with a margin far
/// above the rounding of log and division) cannot lead, and skips the logarithm; most rows do.
KOKKOS_INLINE_FUNCTION void enter_races(RaceLeaders& r, double Di, std::int64_t global_row, RaceStreams const& s) {
  if (Di > r.max_d) r.max_d = Di;
  if (!(Di > 0)) return;
  for (int t = 0; t < race_width; ++t) {  // constant bound: unrolled, the leaders stay in registers
    if (t >= s.count) break;
    double const u = uniform01_keyed(s.key[t], std::uint64_t(global_row));
    if (r.row[t] >= 0 && (1.0 - u) > r.key[t] * Di * (1.0 + 0x1p-40)) continue;
    double const key = -math::log(u) / Di;
    if (key <= Kokkos::reduction_identity<double>::min()) r.take(t, key, global_row);  // an infinite key never wins
  }
}

/// The winners over all ranks (−1 where every D is 0) and the global max D, identical on every rank:
/// the smallest key, then among the ranks holding it the lowest row.
inline std::vector<std::int64_t> race_winners(RaceLeaders local, int n_races, double& max_d, Communicator const& comm) {
  std::vector<double> neg_key(n_races + 1);
  for (int t = 0; t < n_races; ++t)
    neg_key[t] = local.row[t] >= 0 ? -local.key[t] : -std::numeric_limits<double>::infinity();
  neg_key[n_races] = local.max_d;
  comm.allreduce_max(neg_key.data(), neg_key.size());
  max_d = neg_key[n_races];
  std::vector<std::int64_t> neg_row(n_races);
  for (int t = 0; t < n_races; ++t)
    neg_row[t] = (local.row[t] >= 0 && -local.key[t] == neg_key[t]) ? -local.row[t] : std::numeric_limits<std::int64_t>::min();
  comm.allreduce_max(neg_row.data(), neg_row.size());
  std::vector<std::int64_t> won(n_races);
  for (int t = 0; t < n_races; ++t) won[t] = neg_row[t] == std::numeric_limits<std::int64_t>::min() ? -1 : -neg_row[t];
  return won;
}

}  // namespace kkm::detail
