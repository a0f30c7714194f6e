#pragma once
/// \file KKM_Columns.hpp
/// \brief Per-column reductions over the local rows (run once per fit): max |x|, exact column sums
/// and sums of squared deviations, all reproducible bit for bit.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/kernels/KKM_FixedPoint.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace kkm::detail {

/// Host spaces get one thread per team; devices a full team.
template <class ExecSpace>
constexpr bool is_host_space() {
  return Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename ExecSpace::memory_space>::accessible;
}

/// Host memory for the small copies to and from `ExecSpace`'s memory of every epoch: page-locked
/// on CUDA (a copy from or to it is asynchronous, so that several copies wait on one fence), plain
/// host memory elsewhere.
template <class ExecSpace>
struct staging_space {
  using type = Kokkos::HostSpace;
};
#if defined(KOKKOS_ENABLE_CUDA)
template <>
struct staging_space<Kokkos::Cuda> {
  using type = Kokkos::CudaHostPinnedSpace;
};
#endif
template <class ExecSpace>
using staging_space_t = typename staging_space<ExecSpace>::type;

/// Zeroes a contiguous view in order with the work on `space`: CUDA's memset where the view is in
/// device memory (no kernel launch, whose Kokkos set-up the host pays for on every call), Kokkos'
/// fill elsewhere.
template <class ExecSpace, class V>
void zero_fill(ExecSpace const& space, V const& v) {
  KKM_ASSERT(v.span_is_contiguous());
#if defined(KOKKOS_ENABLE_CUDA)
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda> && std::is_same_v<typename V::memory_space, Kokkos::CudaSpace>) {
    if (v.span() > 0 &&
        cudaMemsetAsync(v.data(), 0, v.span() * sizeof(typename V::value_type), space.cuda_stream()) != cudaSuccess)
      throw std::runtime_error("cudaMemsetAsync failed");
    return;
  }
#endif
  Kokkos::deep_copy(space, v, typename V::non_const_value_type(0));
}

/// Two marks in the work queued on a space, each waited for on its own: the host waits for one
/// epoch's copies while the next epoch's work is queued behind them (a fence would wait for both).
/// CUDA: events; elsewhere the work is done when the call that queued it returns, and wait fences.
template <class ExecSpace>
class StreamMarks {
 public:
  StreamMarks() = default;
  StreamMarks(StreamMarks const&) = delete;
  StreamMarks& operator=(StreamMarks const&) = delete;
  ~StreamMarks() {
#if defined(KOKKOS_ENABLE_CUDA)
    for (auto e : ev_)
      if (e) cudaEventDestroy(e);
#endif
  }
  void record(ExecSpace const& space, int i) {
#if defined(KOKKOS_ENABLE_CUDA)
    if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
      if (!ev_[i] && cudaEventCreateWithFlags(&ev_[i], cudaEventDisableTiming) != cudaSuccess)
        throw std::runtime_error("cudaEventCreateWithFlags failed");
      if (cudaEventRecord(ev_[i], space.cuda_stream()) != cudaSuccess) throw std::runtime_error("cudaEventRecord failed");
      return;
    }
#endif
    (void)space;
    (void)i;
  }
  void wait(ExecSpace const& space, int i) {
#if defined(KOKKOS_ENABLE_CUDA)
    if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
      if (ev_[i]) {
        cudaError_t const e = cudaEventSynchronize(ev_[i]);
        if (e != cudaSuccess) throw std::runtime_error(std::string("waiting for the device: ") + cudaGetErrorString(e));
        return;
      }
    }
#endif
    (void)i;
    space.fence();
  }

 private:
#if defined(KOKKOS_ENABLE_CUDA)
  cudaEvent_t ev_[2] = {nullptr, nullptr};
#endif
};

/// Number of row chunks so that d × chunks teams keep the space busy.
template <class ExecSpace>
int column_chunks(ExecSpace const& space, std::int64_t n, int d) {
  std::int64_t const want = is_host_space<ExecSpace>() ? 4 * space.concurrency() : 2 * space.concurrency() / 256;
  std::int64_t chunks = (want + d - 1) / d;
  chunks = std::max<std::int64_t>(1, std::min<std::int64_t>(chunks, (n + 1023) / 1024));
  return static_cast<int>(chunks);
}

/// max over local rows of |x(i, j)| for every column j; a non-finite value makes that column +inf.
template <class ExecSpace, class XView>
std::vector<double> column_max_abs(ExecSpace const& space, XView const& x) {
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  Kokkos::View<double*, typename ExecSpace::memory_space> out(Kokkos::view_alloc(space, "kkm::colmax"), d);
  if (n > 0) {
    int const chunks = column_chunks(space, n, d);
    Kokkos::parallel_for(
        "kkm::column_max_abs", Kokkos::TeamPolicy<ExecSpace>(space, d * chunks, Kokkos::AUTO),
        KOKKOS_LAMBDA(member const& t) {
          int const j = t.league_rank() % d;
          int const c = t.league_rank() / d;
          std::int64_t const r0 = n * c / chunks, r1 = n * (c + 1) / chunks;
          double m = 0;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(t, r0, r1),
              [&](std::int64_t i, double& lm) {
                double v = static_cast<double>(x(i, j));
                v = v < 0 ? -v : v;
                if (!(v <= 1.7976931348623157e308)) v = HUGE_VAL;  // NaN and ±inf
                if (v > lm) lm = v;
              },
              Kokkos::Max<double>(m));
          Kokkos::single(Kokkos::PerTeam(t), [&]() { Kokkos::atomic_fetch_max(&out(j), m); });
        });
  }
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  return std::vector<double>(h.data(), h.data() + d);
}

/// Throws kkm::UserError naming the first non-finite value (global row index) of the local rows.
template <class ExecSpace, class XView>
void report_non_finite(ExecSpace const& space, XView const& x, std::int64_t row_offset) {
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  std::int64_t count = 0;
  Kokkos::parallel_reduce(
      "kkm::count_non_finite", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n * d),
      KOKKOS_LAMBDA(std::int64_t e, std::int64_t& c) {
        double const v = static_cast<double>(x(e / d, e % d));
        if (!(v - v == 0)) ++c;
      },
      count);
  if (count == 0) return;
  Kokkos::MinLoc<std::int64_t, std::int64_t>::value_type first;
  Kokkos::parallel_reduce(
      "kkm::first_non_finite", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n * d),
      KOKKOS_LAMBDA(std::int64_t e, Kokkos::MinLoc<std::int64_t, std::int64_t>::value_type & m) {
        double const v = static_cast<double>(x(e / d, e % d));
        if (!(v - v == 0) && e < m.val) {
          m.val = e;
          m.loc = e;
        }
      },
      Kokkos::MinLoc<std::int64_t, std::int64_t>(first));
  throw UserError("data has " + std::to_string(count) + " NaN or infinite value(s) on this rank; the first at row " +
                  std::to_string(row_offset + first.loc / d) + ", column " + std::to_string(first.loc % d) +
                  " (clean the data or drop those rows)");
}

/// Exact (fixed-point) per-column sums of f(i, j) over local rows, with per-column scales.
/// f must be a device callable returning double.
template <class ExecSpace, class F>
std::vector<fixed_t> column_fixed_sums(ExecSpace const& space, std::int64_t n, int d,
                                       Kokkos::View<double const*, typename ExecSpace::memory_space> scale, F f) {
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  Kokkos::View<fixed_t*, typename ExecSpace::memory_space> out(Kokkos::view_alloc(space, "kkm::colsum"), d);
  if (n > 0) {
    int const chunks = column_chunks(space, n, d);
    Kokkos::parallel_for(
        "kkm::column_fixed_sums", Kokkos::TeamPolicy<ExecSpace>(space, d * chunks, Kokkos::AUTO),
        KOKKOS_LAMBDA(member const& t) {
          int const j = t.league_rank() % d;
          int const c = t.league_rank() / d;
          std::int64_t const r0 = n * c / chunks, r1 = n * (c + 1) / chunks;
          fixed_t s = 0;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(t, r0, r1),
              [&](std::int64_t i, fixed_t& ls) { ls += to_fixed(f(i, j), scale(j)); }, s);
          Kokkos::single(Kokkos::PerTeam(t), [&]() { Kokkos::atomic_add(&out(j), s); });
        });
  }
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  return std::vector<fixed_t>(h.data(), h.data() + d);
}

/// x(i, j), and (x(i, j) − mean(j))²: the summands of column_fixed_sums.
template <class XView>
struct ColumnValue {
  XView x;
  KOKKOS_INLINE_FUNCTION double operator()(std::int64_t i, int j) const { return static_cast<double>(x(i, j)); }
};
template <class XView, class Mem>
struct SquaredDeviation {
  XView x;
  Kokkos::View<double*, Mem> mean;
  KOKKOS_INLINE_FUNCTION double operator()(std::int64_t i, int j) const {
    double const t = static_cast<double>(x(i, j)) - mean(j);
    return t * t;
  }
};

template <class WView>
struct WeightIsBad {
  WView w;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, std::int64_t& c) const {
    double const v = static_cast<double>(w(i));
    if (!(v >= 0 && v <= 1.7976931348623157e308)) ++c;
  }
};
template <class WView>
struct FirstBadWeight {
  WView w;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, Kokkos::MinLoc<std::int64_t, std::int64_t>::value_type& m) const {
    double const v = static_cast<double>(w(i));
    if (!(v >= 0 && v <= 1.7976931348623157e308) && i < m.val) {
      m.val = i;
      m.loc = i;
    }
  }
};
template <class WView>
struct WeightFixed {
  WView w;
  double scale;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, fixed_t& a) const { a += to_fixed(static_cast<double>(w(i)), scale); }
};
template <class WView>
struct MaxWeight {
  WView w;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, double& m) const {
    if (static_cast<double>(w(i)) > m) m = static_cast<double>(w(i));
  }
};

/// Global facts about the data that every rank agrees on bit for bit.
struct DataSummary {
  std::int64_t n_total = 0;          ///< rows over all ranks
  std::int64_t row_offset = 0;       ///< global index of this rank's first row
  std::vector<double> max_abs;       ///< per column, global
  std::vector<double> scale;         ///< fixed-point scale per column for sums over all rows
  std::vector<double> mean;          ///< per column, global mean
  double mean_variance = 0;          ///< mean over columns of the population variance
  /// Exact per-column sums and sums of squared deviations (fixed point): a fingerprint of the data
  /// set that does not depend on how rows are split over ranks (checkpoints compare it on resume).
  std::vector<fixed_t> fingerprint;
  bool weighted = false;             ///< sample weights given
  double max_weight = 1;             ///< global max weight (1 without weights)
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

template <class ExecSpace, class XView, class WView>
DataSummary summarize(ExecSpace const& space, XView const& x, WView const& w, Communicator const& comm) {
  DataSummary s;
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  auto counts = comm.allgather(static_cast<std::int64_t>(n));
  for (int r = 0; r < comm.size(); ++r) {
    if (r < comm.rank()) s.row_offset += counts[r];
    s.n_total += counts[r];
  }
  s.max_abs = column_max_abs(space, x);
  bool const bad = comm.any(std::any_of(s.max_abs.begin(), s.max_abs.end(), [](double v) { return std::isinf(v); }));
  if (bad) {
    bool const mine = std::any_of(s.max_abs.begin(), s.max_abs.end(), [](double v) { return std::isinf(v); });
    if (mine) report_non_finite(space, x, s.row_offset);
    throw UserError("data has NaN or infinite values on another rank (clean the data or drop those rows)");
  }
  comm.allreduce_max(s.max_abs.data(), d);
  s.weighted = comm.any(w.extent(0) > 0);
  if (s.weighted) {
    bool const mismatch = comm.any(std::int64_t(w.extent(0)) != n);
    KKM_REQUIRE(!mismatch, "sample weights: " + std::to_string(w.extent(0)) + " weights for " + std::to_string(n) +
                               " rows on rank " + std::to_string(comm.rank()) + " (one weight per row is needed)");
    s.max_weight = check_weights(space, w, s.row_offset, comm);
    s.weight_scale = fixed_point_scale(s.max_weight, static_cast<double>(s.n_total));
  }
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
  auto sums = column_fixed_sums(space, n, d, scale_d, ColumnValue<XView>{x});
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
  auto sq = column_fixed_sums(space, n, d, scale_d, SquaredDeviation<XView, mem>{x, mean_d});
  comm.allreduce_sum(sq.data(), d);
  s.fingerprint = sums;
  s.fingerprint.insert(s.fingerprint.end(), sq.begin(), sq.end());
  if (s.weighted) {
    fixed_t wsum = 0;
    Kokkos::parallel_reduce("kkm::weight_sum", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n),
                            WeightFixed<WView>{w, s.weight_scale}, wsum);
    comm.allreduce_sum(&wsum, 1);
    s.fingerprint.push_back(wsum);
  }
  double v = 0;
  for (int j = 0; j < d; ++j) v += from_fixed(sq[j], scale2[j]) / static_cast<double>(s.n_total);
  s.mean_variance = v / d;
  return s;
}

}  // namespace kkm::detail
