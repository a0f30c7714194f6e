#pragma once
/// \file KKM_DataSummary.hpp
/// \brief The facts about the whole data set that every rank must agree on before a fit (row
/// offsets, per-column maxima, fixed-point scales, means, the data's fingerprint), reduced over
/// the ranks once per fit.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/kernels/KKM_Columns.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace kkm::detail {

/// Global facts about the data that every rank agrees on bit for bit.
struct DataSummary {
  std::int64_t n_total = 0;          ///< rows over all ranks
  std::int64_t row_offset = 0;       ///< global index of this rank's first row
  std::vector<double> max_abs;       ///< per column, global
  std::vector<double> scale;         ///< fixed-point scale per column for sums over all rows
  std::vector<double> mean;          ///< per column, global mean
  double mean_variance = 0;          ///< mean over columns of the population variance
  /// The data set's fingerprint, independent of how rows are split over ranks (checkpoints compare
  /// it on resume): exact per-column sums and sums of squared deviations (fixed point), the weights'
  /// exact sum (if weighted), and last a hash of the rows and weights in their order.
  std::vector<fixed_t> fingerprint;
  bool weighted = false;             ///< sample weights given
  double max_weight = 1;             ///< global max weight (1 without weights)
  double min_positive_weight = 1;    ///< global smallest positive weight (1 without weights)
  /// Every weight the same (weights of ones, say): the random draws are those of unweighted data,
  /// so that weights that change nothing change nothing.
  bool equal_weights = true;
  double weight_scale = 1;           ///< fixed-point scale of weights (1: unweighted, counts are row counts)
};

/// Checks sample weights (finite, ≥ 0, not all 0) and returns the global max; throws UserError
/// naming how many are bad and the first (global row).
template <class ExecSpace, class WView>
double check_weights(ExecSpace const& space, WView const& w, std::int64_t row_offset, Communicator const& comm) {
  using policy = Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>;
  std::int64_t const n = w.extent(0);
  std::int64_t bad = 0;
  Kokkos::parallel_reduce("kkm::check_weights", policy(space, 0, n), WeightIsBad<WView>{w}, bad);
  std::int64_t first = -1;
  if (bad > 0) {
    Kokkos::MinLoc<std::int64_t, std::int64_t>::value_type m;
    Kokkos::parallel_reduce("kkm::first_bad_weight", policy(space, 0, n), FirstBadWeight<WView>{w},
                            Kokkos::MinLoc<std::int64_t, std::int64_t>(m));
    first = m.loc;
  }
  std::int64_t total_bad = bad;
  comm.allreduce_sum(&total_bad, 1);
  if (total_bad > 0) {
    if (bad > 0) {
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), Kokkos::subview(w, std::make_pair(first, first + 1)));
      throw UserError(std::to_string(total_bad) + " sample weight(s) are negative, NaN or infinite; the first at row " +
                      std::to_string(row_offset + first) + " is " + std::to_string(double(h(0))));
    }
    throw UserError(std::to_string(total_bad) + " sample weight(s) are negative, NaN or infinite (on another rank)");
  }
  double mx = 0;
  Kokkos::parallel_reduce("kkm::max_weight", policy(space, 0, n), MaxWeight<WView>{w}, Kokkos::Max<double>(mx));
  if (n == 0) mx = 0;
  comm.allreduce_max(&mx, 1);
  KKM_REQUIRE(mx > 0, "all sample weights are 0: nothing to cluster");
  return mx;
}

/// The weights' part of the summary (s.weighted, largest, smallest positive, all equal, fixed-point
/// scale), after checking them; nothing without weights.
template <class ExecSpace, class WView>
void summarize_weights(ExecSpace const& space, WView const& w, std::int64_t n, DataSummary& s,
                       Communicator const& comm) {
  s.weighted = comm.any(w.extent(0) > 0);
  if (!s.weighted) return;
  bool const mismatch = comm.any(std::int64_t(w.extent(0)) != n);
  KKM_REQUIRE(!mismatch, "sample weights: " + std::to_string(w.extent(0)) + " weights for " + std::to_string(n) +
                             " rows on rank " + std::to_string(comm.rank()) + " (one weight per row is needed)");
  s.max_weight = check_weights(space, w, s.row_offset, comm);
  using policy = Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>;
  double lowest[2];  // negated below, so that a max over ranks is their min
  Kokkos::parallel_reduce("kkm::min_weight", policy(space, 0, n), MinWeight<WView>{w, false},
                          Kokkos::Min<double>(lowest[0]));
  Kokkos::parallel_reduce("kkm::min_positive_weight", policy(space, 0, n), MinWeight<WView>{w, true},
                          Kokkos::Min<double>(lowest[1]));
  for (double& v : lowest) v = -v;
  comm.allreduce_max(lowest, 2);
  s.equal_weights = -lowest[0] == s.max_weight;
  s.min_positive_weight = -lowest[1];
  s.weight_scale = fixed_point_scale(s.max_weight, static_cast<double>(s.n_total));
}

/// The fingerprint's last entries: the weights' exact sum (if weighted), then `order`, the hash of
/// the rows and weights in their order.
template <class ExecSpace, class WView>
void append_weights_and_order(ExecSpace const& space, WView const& w, std::int64_t n, fixed_t order, DataSummary& s,
                              Communicator const& comm) {
  using policy = Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>;
  if (s.weighted) {
    fixed_t wsum = 0;
    Kokkos::parallel_reduce("kkm::weight_sum", policy(space, 0, n), WeightFixed<WView>{w, s.weight_scale}, wsum);
    comm.allreduce_sum(&wsum, 1);
    s.fingerprint.push_back(wsum);
  }
  comm.allreduce_sum(&order, 1);
  s.fingerprint.push_back(order);
}

/// The rows in one piece: what summarize passes over when they are not streamed.
struct RowsInPlace {
  template <class F>
  void for_each_chunk(F&&) {}
};

/// summarize's first pass (over_rows as there): the per-column maxima of |x| into s.max_abs (agreed
/// over ranks) and this rank's hash of its rows and weights in order (returned); a non-finite value
/// on any rank is a UserError on every rank, naming the first on its rank.
template <class ExecSpace, class WView, class OverRows>
fixed_t maxima_and_order(ExecSpace const& space, OverRows&& over_rows, int d, DataSummary& s, Communicator const& comm) {
  using policy = Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>;
  s.max_abs.assign(d, 0.0);
  fixed_t order = 0;
  std::string non_finite;  // the first such value on this rank, by row and column: agreed by all ranks
  over_rows([&](auto const& rows, WView const& wr, std::int64_t r0) {
    auto const m = column_max_abs(space, rows);
    for (int j = 0; j < d; ++j) s.max_abs[j] = std::max(s.max_abs[j], m[j]);
    if (non_finite.empty() && std::any_of(m.begin(), m.end(), [](double v) { return std::isinf(v); })) {
      try {
        report_non_finite(space, rows, s.row_offset + r0);
      } catch (UserError const& e) {
        non_finite = e.what();
      }
    }
    fixed_t h = 0;
    Kokkos::parallel_reduce("kkm::row_order_hash", policy(space, 0, rows.extent(0)),
                            RowOrderHash<std::decay_t<decltype(rows)>, WView>{rows, wr, s.row_offset + r0}, h);
    order += h;
  });
  throw_if_any_failed(comm, non_finite);
  comm.allreduce_max(s.max_abs.data(), d);
  return order;
}

/// The summary of this rank's rows x (weights w, empty: none), agreed by all ranks. `chunks`: the
/// rows streamed from host memory (an object with for_each_chunk(f(rows, r0, r1)), as RowStream),
/// or nullptr: the kernels read x. Three passes over the rows either way, with the same results:
/// maxima and the order hash, the column sums (the means), the squared deviations.
template <class ExecSpace, class XView, class WView, class Chunks = RowsInPlace>
DataSummary summarize(ExecSpace const& space, XView const& x, WView const& w, Communicator const& comm,
                      Chunks* chunks = nullptr) {
  DataSummary s;
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  auto counts = comm.allgather(static_cast<std::int64_t>(n));
  for (int r = 0; r < comm.size(); ++r) {
    if (r < comm.rank()) s.row_offset += counts[r];
    s.n_total += counts[r];
  }
  // f(rows, their weights, their first local row) over all local rows.
  auto over_rows = [&](auto&& f) {
    if (!chunks) return f(x, w, std::int64_t(0));
    chunks->for_each_chunk([&](auto const& rows, std::int64_t r0, std::int64_t r1) {
      f(rows, chunk_weights(w, std::make_pair(r0, r1)), r0);
    });
  };
  fixed_t const order = maxima_and_order<ExecSpace, WView>(space, over_rows, d, s, comm);
  summarize_weights(space, w, n, s, comm);
  // Column sums hold w·x: bounded by max|x| · max w per row.
  s.scale.resize(d);
  std::vector<double> plain_scale(d);
  for (int j = 0; j < d; ++j) {
    s.scale[j] = fixed_point_scale(s.max_abs[j] * s.max_weight, static_cast<double>(s.n_total));
    plain_scale[j] = fixed_point_scale(s.max_abs[j], static_cast<double>(s.n_total));
  }

  // Variance: exact column sums give the mean; squared deviations (≤ (2 max|x|)²) are summed the same way.
  using mem = typename ExecSpace::memory_space;
  Kokkos::View<double*, mem> scale_d(Kokkos::view_alloc(space, "kkm::scale"), d);
  Kokkos::View<double*, mem> mean_d(Kokkos::view_alloc(space, "kkm::mean"), d);
  auto scale_h = Kokkos::create_mirror_view(scale_d);
  for (int j = 0; j < d; ++j) scale_h(j) = plain_scale[j];
  Kokkos::deep_copy(space, scale_d, scale_h);
  std::vector<fixed_t> sums(d, 0), sq(d, 0);  // (integers: chunk by chunk the same sums)
  over_rows([&](auto const& rows, WView const&, std::int64_t) {
    auto const part = column_fixed_sums(space, rows.extent(0), d, scale_d, ColumnValue<std::decay_t<decltype(rows)>>{rows});
    for (int j = 0; j < d; ++j) sums[j] += part[j];
  });
  comm.allreduce_sum(sums.data(), d);
  auto mean_h = Kokkos::create_mirror_view(mean_d);
  std::vector<double> scale2(d);
  for (int j = 0; j < d; ++j) {
    mean_h(j) = from_fixed(sums[j], plain_scale[j]) / static_cast<double>(s.n_total);
    scale2[j] = fixed_point_scale(4.0 * s.max_abs[j] * s.max_abs[j], static_cast<double>(s.n_total));
    scale_h(j) = scale2[j];
  }
  s.mean.assign(mean_h.data(), mean_h.data() + d);
  Kokkos::deep_copy(space, mean_d, mean_h);
  Kokkos::deep_copy(space, scale_d, scale_h);
  over_rows([&](auto const& rows, WView const&, std::int64_t) {
    auto const part = column_fixed_sums(space, rows.extent(0), d, scale_d,
                                        SquaredDeviation<std::decay_t<decltype(rows)>, mem>{rows, mean_d});
    for (int j = 0; j < d; ++j) sq[j] += part[j];
  });
  comm.allreduce_sum(sq.data(), d);
  s.fingerprint = sums;
  s.fingerprint.insert(s.fingerprint.end(), sq.begin(), sq.end());
  append_weights_and_order(space, w, n, order, s, comm);
  double v = 0;
  for (int j = 0; j < d; ++j) v += from_fixed(sq[j], scale2[j]) / static_cast<double>(s.n_total);
  s.mean_variance = v / d;
  return s;
}

}  // namespace kkm::detail
