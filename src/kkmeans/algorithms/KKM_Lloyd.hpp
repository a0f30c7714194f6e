#pragma once
/// \file KKM_Lloyd.hpp
/// \brief kkm::fit (batched Lloyd k-means over ranks), kkm::predict and kkm::transform.
///
/// One epoch: every rank walks its local rows in batches (assign + accumulate into fixed-point
/// sums), then ONE allreduce of {sums, counts, changed labels, each rank's inertia} and every rank
/// computes the same new centroids with the metric's update rule from the same integers, checks the
/// same stopping tests, and so stops at the same epoch.
///
/// Reproducibility: with the fused path (every metric), the centroids and labels are identical bit
/// for bit for a given seed whatever the number of ranks (1, 2, 3, 4, …, any split of the rows, a
/// rank with no rows included) and the number of threads: all sums that decide them are integer sums
/// (see KKM_FixedPoint.hpp), all random draws depend on global row indices only. The inertia is a
/// floating-point sum and may differ in its last bits. The GEMM path computes ‖x‖² − 2x·c + ‖c‖² in
/// float arithmetic through BLAS, whose summation order may depend on the batch shape: its labels
/// can differ on near ties between runs with different row splits, so it is not covered.
#include <kkmeans/algorithms/KKM_MiniBatch.hpp>
#include <kkmeans/algorithms/detail/KKM_Memory.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/core/KKM_Result.hpp>
#include <kkmeans/init/KKM_Init.hpp>
#include <kkmeans/init/KKM_InitParallel.hpp>
#include <kkmeans/kernels/KKM_Assign.hpp>
#include <kkmeans/kernels/KKM_Columns.hpp>
#include <kkmeans/kernels/KKM_Median.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace kkm {
namespace detail {

template <class ExecSpace, class T>
using DeviceMatrix = Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space>;

// Kernels of predict-side helpers are functors, not lambdas: these templates are instantiated with
// the same arguments in several translation units (fit and predict), and nvcc's device lambdas
// there can leave the host-side launch of one instantiation calling a null function pointer.
template <class V, class Mem, class Metric>
struct AssignedDistance {
  Kokkos::View<V const**, Kokkos::LayoutRight, Mem> x;
  Kokkos::View<V**, Kokkos::LayoutRight, Mem> c;
  Kokkos::View<int*, Mem> labels;
  Kokkos::View<double*, Mem> out;
  Metric metric;
  int d;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    out(i) = static_cast<double>(metric(VectorRef<V>{&x(i, 0), d}, VectorRef<V>{&c(labels(i), 0), d}));
  }
};

template <class V, class Mem, class Metric>
struct AllDistances {
  Kokkos::View<V const**, Kokkos::LayoutRight, Mem> x;
  Kokkos::View<V**, Kokkos::LayoutRight, Mem> c;
  Kokkos::View<V**, Kokkos::LayoutRight, Mem> out;
  Metric metric;
  int d;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, std::int64_t j) const {
    out(i, j) = static_cast<V>(metric(VectorRef<V>{&x(i, 0), d}, VectorRef<V>{&c(j, 0), d}));
  }
};

template <class ExecSpace, class V, class Metric>
Kokkos::View<double*, typename ExecSpace::memory_space> assigned_distances_impl(
    ExecSpace const& space, DeviceMatrix<ExecSpace, V> x,
    Kokkos::View<V**, Kokkos::LayoutRight, typename ExecSpace::memory_space> c,
    Kokkos::View<int*, typename ExecSpace::memory_space> labels, Metric metric) {
  using mem = typename ExecSpace::memory_space;
  Kokkos::View<double*, mem> out(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::assigned_distances"),
                                 x.extent(0));
  Kokkos::parallel_for(
      "kkm::assigned_distances", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, x.extent(0)),
      AssignedDistance<V, mem, Metric>{x, c, labels, out, metric, static_cast<int>(x.extent(1))});
  return out;
}

template <class ExecSpace, class V, class Metric>
Kokkos::View<V**, Kokkos::LayoutRight, typename ExecSpace::memory_space> transform_impl(
    ExecSpace const& space, DeviceMatrix<ExecSpace, V> x,
    Kokkos::View<V**, Kokkos::LayoutRight, typename ExecSpace::memory_space> c, Metric metric) {
  using mem = typename ExecSpace::memory_space;
  std::int64_t const n = x.extent(0), k = c.extent(0);
  Kokkos::View<V**, Kokkos::LayoutRight, mem> out(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::distances"),
                                                  n, k);
  Kokkos::parallel_for("kkm::transform", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>(space, {0, 0}, {n, k}),
                       AllDistances<V, mem, Metric>{x, c, out, metric, static_cast<int>(x.extent(1))});
  return out;
}

/// The end of a pipelined epoch on the device, one launch: the epoch's accumulator and slots
/// (`len` entries) written to page-locked host memory, the next epoch's accumulator zeroed, and the
/// mean update (column j of centroid q: its cluster's sum over its count by cluster_mean, the host's
/// update's own arithmetic) into the next epoch's centroids and their host copy. A cluster without
/// rows keeps its centroid (EmptyPolicy::keep; under the other policies the host updates itself).
template <class T, class Mem, class HostMem>
struct EpochEnd {
  Kokkos::View<fixed_t const*, Mem> acc;  // sums (k × d), counts (k), changed, the slots
  Kokkos::View<fixed_t*, Mem> acc_next;
  Kokkos::View<fixed_t*, HostMem> acc_h;
  Kokkos::View<double const*, Mem> scale;
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> c;
  Kokkos::View<T**, Kokkos::LayoutRight, Mem> next;
  Kokkos::View<T*, HostMem> next_h;
  int k, d;
  std::int64_t len;
  double wscale;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    if (i < len) {
      acc_h(i) = acc(i);
      acc_next(i) = 0;
    }
    if (i < std::int64_t(k) * d) {
      int const q = static_cast<int>(i / d), j = static_cast<int>(i % d);
      auto const count = static_cast<std::int64_t>(acc(std::size_t(k) * d + q));
      T const v = count == 0 ? c(q, j) : static_cast<T>(cluster_mean(acc(i), scale(j), count, wscale));
      next(q, j) = v;
      next_h(i) = v;
    }
  }
};

/// Chooses the assignment path and the batch size for this problem.
template <class ExecSpace, class T, class Metric>
/// split_once (3xTF32, checked): the prepared rows (hi/lo split, n_local × 3d; shifted with norms,
/// n_local × (d + 1)) fit a quarter of the free memory, so they are made once per fit instead of once
/// per batch and epoch (the rows never change).
void plan_assignment(Parameters const& p, std::int64_t n_local, int d, int k, GemmKind& gemm, std::int64_t& batch,
                     bool& split_once) {
  if constexpr (is_squared_euclidean<Metric>::value) {
    KKM_REQUIRE(p.assign != AssignPath::gemm_tf32x3 || (tf32x3_available<ExecSpace, T>()),
                "the 3xTF32 GEMM path (gemm-tf32x3) needs the CUDA build and float32 precision");
    // auto: on a GPU with d ≥ 32 and k ≥ 64, the checked GEMM path (the fused kernel's labels, from
    // a tensor-core product where there is one); else the fused kernel.
    bool const checked = p.assign == AssignPath::gemm_checked ||
                         (p.assign == AssignPath::automatic && !is_host_space<ExecSpace>() && d >= 32 && k >= 64);
    gemm = p.assign == AssignPath::gemm_tf32x3 ? GemmKind::tf32x3
           : p.assign == AssignPath::gemm      ? GemmKind::fp32
           : checked                           ? GemmKind::checked
                                               : GemmKind::none;
  } else {
    KKM_REQUIRE(p.assign != AssignPath::gemm && p.assign != AssignPath::gemm_tf32x3 &&
                    p.assign != AssignPath::gemm_checked,
                "the GEMM assignment path needs a squared-Euclidean metric");
    gemm = GemmKind::none;
  }
  std::size_t const free_b = gemm != GemmKind::none ? available_memory<ExecSpace>() : 0;
  std::size_t const prep_cols = gemm == GemmKind::tf32x3 ? 3 * std::size_t(d) : gemm == GemmKind::checked ? d + 1 : 0;
  split_once = prep_cols > 0 && std::size_t(n_local) * prep_cols * sizeof(T) <= free_b / 4;
  if (p.batch_size > 0) {
    batch = p.batch_size;
  } else if (gemm != GemmKind::none) {
    // The B × k distance buffer (and with 3xTF32, unless split once, the B × 3d split rows) may take
    // a quarter of the free memory, at most 1 GiB — on a device at most what as many rows as it runs
    // threads need, if that is more: its argmin gives each row one thread, and W3 (k = 20000,
    // 13421-row batches under 1 GiB: 53 teams of 256 threads for 132 SMs) measured 406 ms per epoch
    // on an H200.
    std::size_t const per_row = (std::size_t(k) + (split_once ? 0 : prep_cols)) * sizeof(T);
    std::size_t cap = std::size_t(1) << 30;
    if constexpr (!is_host_space<ExecSpace>()) cap = std::max(cap, std::size_t(ExecSpace().concurrency()) * per_row);
    std::size_t const budget = std::min<std::size_t>(free_b / 4, cap);
    batch = std::max<std::int64_t>(1024, static_cast<std::int64_t>(budget / per_row));
  } else {
    batch = 0;  // the fused kernel keeps no per-batch buffer: one launch over all local rows
  }
  if (batch > n_local) batch = 0;
}

/// EmptyPolicy::farthest (scikit-learn's relocation): each empty cluster takes one of the rows
/// farthest from their centroids (a global top-m; ties → lower global index; rows of weight 0 are
/// skipped), and that row's contribution moves from its old cluster's sums to the empty one's, exactly
/// (fixed point). Returns the rows taken, for the median update.
template <class ExecSpace, class T, class CView, class Metric>
std::vector<std::pair<int, std::vector<T>>> relocate_farthest(
    ExecSpace const& space, DeviceMatrix<ExecSpace, T> x, CView c_d,
    Kokkos::View<int*, typename ExecSpace::memory_space> labels, Metric const& metric,
    Kokkos::View<T const*, typename ExecSpace::memory_space> w, DataSummary const& s, Communicator const& comm,
    int k, std::vector<std::int64_t>& counts, std::vector<fixed_t>& buf) {
  using mem = typename ExecSpace::memory_space;
  int const d = x.extent(1);
  std::int64_t const n = x.extent(0);
  std::vector<int> empties;
  for (int c = 0; c < k; ++c)
    if (counts[c] == 0) empties.push_back(c);
  int const m = empties.size();
  Kokkos::View<T**, Kokkos::LayoutRight, mem> c(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::c_old"), k, d);
  Kokkos::deep_copy(space, c, c_d);
  auto dist = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), assigned_distances_impl(space, x, c, labels, metric));
  auto lab = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), labels);
  auto wh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w);
  auto weight = [&](std::int64_t i) { return wh.extent(0) > 0 ? static_cast<double>(wh(i)) : 1.0; };
  std::vector<std::int64_t> idx;
  for (std::int64_t i = 0; i < n; ++i)
    if (weight(i) > 0) idx.push_back(i);
  auto before = [&](std::int64_t a, std::int64_t b) { return dist(a) > dist(b) || (dist(a) == dist(b) && a < b); };
  std::size_t const take = std::min<std::size_t>(m, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + take, idx.end(), before);
  // Every rank's candidates travel bit for bit: each owns slots, the others add zeros.
  int const P = comm.size();
  std::vector<double> slots(std::size_t(P) * m * 4, 0.0);
  for (int t = 0; t < m; ++t) {
    double* e = &slots[(std::size_t(comm.rank()) * m + t) * 4];
    if (std::size_t(t) < take) {
      e[0] = dist(idx[t]);
      e[1] = double(s.row_offset + idx[t]);
      e[2] = lab(idx[t]);
      e[3] = weight(idx[t]);
    } else {
      e[0] = -1;  // no candidate
    }
  }
  comm.allreduce_sum(slots.data(), slots.size());
  std::vector<std::array<double, 4>> all;
  for (std::size_t e = 0; e < std::size_t(P) * m; ++e)
    if (slots[e * 4] >= 0) all.push_back({slots[e * 4], slots[e * 4 + 1], slots[e * 4 + 2], slots[e * 4 + 3]});
  std::sort(all.begin(), all.end(), [](auto const& a, auto const& b) { return a[0] > b[0] || (a[0] == b[0] && a[1] < b[1]); });
  if (all.size() > std::size_t(m)) all.resize(m);
  std::vector<std::int64_t> rows;
  for (auto const& a : all) rows.push_back(static_cast<std::int64_t>(a[1]));
  auto values = gather_rows(space, Kokkos::View<T const**, Kokkos::LayoutRight, mem>(x), rows, s.row_offset, comm);
  std::vector<std::pair<int, std::vector<T>>> moved;
  for (std::size_t t = 0; t < all.size(); ++t) {
    int const e = empties[t], old = static_cast<int>(all[t][2]);
    double const wt = all[t][3];
    fixed_t const wf = s.weighted ? to_fixed(wt, s.weight_scale) : fixed_t(1);
    std::vector<T> row(d);
    for (int j = 0; j < d; ++j) {
      row[j] = values(t, j);
      fixed_t const q = to_fixed(wt * static_cast<double>(row[j]), s.scale[j]);
      buf[std::size_t(old) * d + j] -= q;
      buf[std::size_t(e) * d + j] = q;
    }
    counts[old] -= static_cast<std::int64_t>(wf);
    counts[e] = static_cast<std::int64_t>(wf);
    moved.push_back({e, std::move(row)});
  }
  return moved;
}

/// EmptyPolicy::split (FAISS): each empty cluster takes half of the currently largest one (ties →
/// lower index), the two centroids pushed apart by a factor 1 ± 1/1024 alternating over columns.
template <class T>
int split_largest(std::vector<T>& next, std::vector<std::int64_t>& counts, int k, int d) {
  constexpr double eps = 1.0 / 1024;
  int moved = 0;
  for (int e = 0; e < k; ++e) {
    if (counts[e] != 0) continue;
    int big = 0;
    for (int c = 1; c < k; ++c)
      if (counts[c] > counts[big]) big = c;
    if (counts[big] == 0) break;
    for (int j = 0; j < d; ++j) {
      double const v = next[std::size_t(big) * d + j];
      double const up = v * (1 + eps), down = v * (1 - eps);
      next[std::size_t(e) * d + j] = static_cast<T>(j % 2 == 0 ? up : down);
      next[std::size_t(big) * d + j] = static_cast<T>(j % 2 == 0 ? down : up);
    }
    counts[e] = counts[big] / 2;
    counts[big] -= counts[e];
    ++moved;
  }
  return moved;
}

/// One Lloyd run from given initial centroids.
template <class ExecSpace, class T, class Metric>
Result<T, typename ExecSpace::memory_space> lloyd_run(ExecSpace const& space, DeviceMatrix<ExecSpace, T> x,
                                                     Parameters const& p, Metric const& metric,
                                                     Communicator const& comm, DataSummary const& s,
                                                     HostMatrix<T> centroids, int run_index = 0,
                                                     Checkpoint const* resume = nullptr,
                                                     Kokkos::View<T const*, typename ExecSpace::memory_space> w = {}) {
  using mem = typename ExecSpace::memory_space;
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  int k = centroids.extent(0);

  Result<T, mem> res;
  res.k_requested = resume ? resume->k_requested : k;
  res.n_rows = s.n_total;
  GemmKind gemm = GemmKind::none;
  AssignWorkspace<ExecSpace, T> ws;
  plan_assignment<ExecSpace, T, Metric>(p, n, d, k, gemm, res.batch_size, ws.split_once);
  res.path = to_string(assign_path_of(gemm));
  // The GEMM paths' shift μ: the global column means, the same on every rank (the checked path's
  // product and every GEMM path's inertia from the cluster sums are taken relative to it).
  if (gemm != GemmKind::none) {
    ws.shift = Kokkos::View<T*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::shift"), d);
    auto h = Kokkos::create_mirror_view(ws.shift);
    KKM_ASSERT(s.mean.size() == std::size_t(d));
    for (int j = 0; j < d; ++j) h(j) = static_cast<T>(s.mean[j]);
    Kokkos::deep_copy(space, ws.shift, h);
  }

  Kokkos::View<double*, mem> scale(Kokkos::view_alloc(space, "kkm::scale"), d);
  {
    auto h = Kokkos::create_mirror_view(scale);
    for (int j = 0; j < d; ++j) h(j) = s.scale[j];
    Kokkos::deep_copy(space, scale, h);
  }
  res.labels = Kokkos::View<int*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::labels"), n);
  int first_epoch = 1;
  if (resume) {
    Kokkos::View<int const*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> h(resume->labels.data(), n);
    Kokkos::deep_copy(space, res.labels, h);
    res.history = resume->history;
    res.epochs = resume->epoch;
    first_epoch = resume->epoch + 1;
  } else {
    Kokkos::deep_copy(space, res.labels, -1);
  }
  double const tol_abs = p.tol * s.mean_variance;
  int const P = comm.size();

  // Pipelined epochs (Parameters::pipeline): one rank (no allreduce between the sums and the
  // update), the plain mean (its device update is cluster_mean, the host's own arithmetic) and the
  // fused kernel (the same kernel restores the labels of a discarded epoch exactly).
  bool const pipelined = P == 1 && Metric::update == Update::mean && gemm == GemmKind::none &&
                         (p.pipeline == 1 || (p.pipeline < 0 && !is_host_space<ExecSpace>()));

  // Device buffers for the largest k, allocated once; k only shrinks. Pipelined: two sets of
  // centroids, epoch e reads one and its device update writes the other (epoch e + 1's).
  Kokkos::View<T**, Kokkos::LayoutRight, mem> c_dev[2] = {
      Kokkos::View<T**, Kokkos::LayoutRight, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::centroids"), k, d),
      Kokkos::View<T**, Kokkos::LayoutRight, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::centroids_next"),
                                                  pipelined ? k : 0, d)};
  // The accumulator, then the assignment's slots for its launches' sums of distances (doubles in
  // fixed_t-sized entries), copied to the host together: one copy from the device per epoch.
  // Pipelined: two, epoch e's and epoch e + 1's (which EpochEnd of epoch e zeroes).
  int const parities = pipelined ? 2 : 1;
  std::size_t const slots = assign_launches(n, res.batch_size);
  std::size_t const acc_stride = accumulator_size(k, d) + slots;
  Kokkos::View<fixed_t*, mem> acc_all(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::accumulator"),
                                      parities * acc_stride);
  auto acc_of = [&](int parity, std::size_t len) {
    return Kokkos::subview(acc_all, Kokkos::make_pair(parity * acc_stride, parity * acc_stride + len));
  };
  static_assert(sizeof(double) == sizeof(fixed_t), "a slot is one accumulator entry");
  // Page-locked on CUDA (staging_space): the epoch's copies do not wait for the device one by one.
  // Pipelined: two epochs' (epoch e + 1's lands while the host reads epoch e's), with the device's
  // new centroids.
  Kokkos::View<fixed_t*, staging_space_t<ExecSpace>> acc_host(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::accumulator_host"), parities * acc_stride);
  Kokkos::View<T*, staging_space_t<ExecSpace>> next_host(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::next_host"),
                                                         pipelined ? 2 * std::size_t(k) * d : 0);
  Kokkos::View<T**, Kokkos::LayoutRight, staging_space_t<ExecSpace>> c_host(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::centroids_host"), k, d);
  StreamMarks<ExecSpace> marks;
  ws.defer_total = true;  // one wait per epoch: the distances arrive with the accumulator
  ws.caller_copies = true;
  std::vector<double> mean(d);  // one cluster's new centroid in float64 (the host update)
  zero_fill(space, Kokkos::subview(acc_all, Kokkos::make_pair(std::size_t(0), accumulator_size(k, d))));

  // Device set `slot`'s first k centroids (k × d).
  auto c_set = [&](int slot) { return Kokkos::subview(c_dev[slot], Kokkos::make_pair(0, k), Kokkos::ALL()); };
  // The host's centroids (epoch e's, k × d) to device set `slot`, after everything queued before.
  auto upload = [&](int slot) {
    auto c_h = Kokkos::subview(c_host, Kokkos::make_pair(0, k), Kokkos::ALL());
    for (int c = 0; c < k; ++c)  // (c_host's last copy ended: the epoch it fed was waited for)
      for (int j = 0; j < d; ++j) c_h(c, j) = centroids(c, j);
    Kokkos::deep_copy(space, c_set(slot), c_h);
  };
  // Queues one epoch on the device with the centroids in set `slot`: the assignment into the
  // accumulator, its copy (and the slots') to the host and the accumulator zeroed for the next
  // epoch — pipelined, EpochEnd, with the device's update into the other set — and a mark.
  struct Queued {
    int parity = 0;
    double local = 0;          // assign_rows' return (0 when the distances are deferred to the slots)
    std::size_t deferred = 0;  // the slots holding the distances
  };
  auto enqueue = [&](int epoch, int slot) {
    std::size_t const acc_len = accumulator_size(k, d);
    Queued q{epoch % parities};
    std::size_t const off = q.parity * acc_stride;
    auto c_d = c_set(slot);
    auto acc = acc_of(q.parity, acc_len);
    ws.partial = Kokkos::View<double*, mem, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
        reinterpret_cast<double*>(acc_all.data() + off + acc_len), slots);
    ws.partial_h = Kokkos::View<double*, staging_space_t<ExecSpace>, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
        reinterpret_cast<double*>(acc_host.data() + off + acc_len), slots);
    q.local = assign_rows<true>(space, x, DeviceMatrix<ExecSpace, T>(c_d), scale, acc, res.labels, metric, gemm,
                                res.batch_size, ws, w, s.weight_scale);
    q.deferred = ws.deferred;
    std::size_t const len = acc_len + slots;
    if (pipelined) {
      std::size_t const kd = std::size_t(k) * d;
      Kokkos::parallel_for("kkm::epoch_end",
                           Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, std::max(len, kd)),
                           EpochEnd<T, mem, staging_space_t<ExecSpace>>{
                               acc_of(q.parity, len), acc_of(1 - q.parity, len),
                               Kokkos::subview(acc_host, Kokkos::make_pair(off, off + len)), scale, c_d,
                               c_set(1 - slot),
                               Kokkos::subview(next_host, Kokkos::make_pair(q.parity * kd, q.parity * kd + kd)), k, d,
                               std::int64_t(len), s.weight_scale});
    } else {
      Kokkos::deep_copy(space, Kokkos::subview(acc_host, Kokkos::make_pair(off, off + len)), acc_of(q.parity, len));
      // The next epoch's accumulator zeroed after this copy (k only shrinks: this epoch's entries
      // cover the next one's).
      zero_fill(space, acc);
    }
    marks.record(space, q.parity);
    return q;
  };
  // Labels and the local sum of distances for the centroids in device set `slot`, without an
  // accumulator; assign_rows brings the distances to the host itself (not via the epoch buffers).
  auto assign_only = [&](int slot) {
    ws.partial = {};  // (unmanaged views into the epoch buffers: assign_rows takes its own)
    ws.partial_h = {};
    ws.defer_total = ws.caller_copies = false;
    return assign_rows<false>(space, x, DeviceMatrix<ExecSpace, T>(c_set(slot)), scale, Kokkos::View<fixed_t*, mem>(),
                              res.labels, metric, gemm, res.batch_size, ws, w, s.weight_scale);
  };
  // A discarded epoch ahead: wait for it, then give the labels back the values epoch e left them
  // (the same kernel with epoch e's centroids, which go back to set `slot`).
  auto restore_labels = [&](int slot) {
    space.fence();
    upload(slot);
    assign_only(slot);
    ws.defer_total = ws.caller_copies = true;
    ++res.epochs_rerun;
  };

  Kokkos::Timer timer;
  Queued cur;
  bool queued = false;  // epoch `epoch` was queued ahead by the last iteration
  int slot = 0;         // the device set holding this epoch's centroids
  for (int epoch = first_epoch; epoch <= p.max_epochs; ++epoch) {
    Kokkos::Profiling::pushRegion("kkm::epoch");
    Kokkos::Timer et;
    std::size_t const acc_len = accumulator_size(k, d);
    if (!queued) {
      upload(slot);
      if (pipelined) zero_fill(space, acc_of(epoch % parities, acc_len));  // (after a discarded epoch's sums)
      cur = enqueue(epoch, slot);
    }
    // Epoch + 1 queued ahead, except where the host needs this epoch's labels afterwards (a
    // checkpoint) or there is none.
    bool const checkpoint_due =
        p.checkpoint_every > 0 && p.on_checkpoint && epoch % p.checkpoint_every == 0 && epoch < p.max_epochs;
    bool ahead = pipelined && epoch < p.max_epochs && !checkpoint_due;
    Queued next_q;
    if (ahead) next_q = enqueue(epoch + 1, 1 - slot);
    auto c_d = c_set(slot);

    // The one allreduce of the epoch: sums, counts, changed, and each rank's inertia bit for bit.
    marks.wait(space, cur.parity);
    std::vector<fixed_t> buf(acc_len + P, 0);
    fixed_t const* acc_h = acc_host.data() + cur.parity * acc_stride;
    std::memcpy(buf.data(), acc_h, acc_len * sizeof(fixed_t));
    double const local_inertia =
        cur.deferred > 0 ? launch_total(reinterpret_cast<double const*>(acc_h + acc_len), cur.deferred) : cur.local;
    double const t_assign = et.seconds();
    double const inertia = allreduce_accumulator(buf, acc_len, local_inertia, comm);
    double const t_allreduce = et.seconds() - t_assign;
    std::vector<std::int64_t> counts(k);
    for (int c = 0; c < k; ++c) counts[c] = static_cast<std::int64_t>(buf[std::size_t(k) * d + c]);
    auto const changed = static_cast<std::int64_t>(buf[std::size_t(k) * d + k]);
    int empty = 0;
    for (int c = 0; c < k; ++c) empty += counts[c] == 0;
    // Empty clusters (but under keep, which the device's update does as the host's): the host's
    // steps below need this epoch's labels and centroids on the device.
    if (ahead && empty > 0 && p.empty != EmptyPolicy::keep) {
      restore_labels(slot);
      ahead = false;
    }
    int relocated = 0;
    std::vector<std::pair<int, std::vector<T>>> far;
    if (empty > 0 && p.empty == EmptyPolicy::farthest) {
      far = relocate_farthest(space, x, c_d, res.labels, metric, w, s, comm, k, counts, buf);
      relocated = far.size();
    }

    // New centroids by the metric's update rule, from the same integers on every rank.
    std::vector<T> next(std::size_t(k) * d);
    for (int c = 0; c < k; ++c)
      for (int j = 0; j < d; ++j) next[std::size_t(c) * d + j] = centroids(c, j);
    if constexpr (Metric::update == Update::median) {
      cluster_medians(space, x, Kokkos::View<int const*, mem>(res.labels), k, counts, comm, next, w, s.weight_scale);
      for (auto const& [e, row] : far)
        for (int j = 0; j < d; ++j) next[std::size_t(e) * d + j] = row[j];
    } else {
      for (int c = 0; c < k; ++c) {
        if (counts[c] == 0) continue;
        double norm2 = 0;
        for (int j = 0; j < d; ++j) {
          mean[j] = cluster_mean(buf[std::size_t(c) * d + j], s.scale[j], counts[c], s.weight_scale);
          norm2 += mean[j] * mean[j];
        }
        double const f = (Metric::update == Update::normalized_mean && norm2 > 0) ? 1.0 / std::sqrt(norm2) : 1.0;
        for (int j = 0; j < d; ++j) next[std::size_t(c) * d + j] = static_cast<T>(mean[j] * f);
      }
    }
    if (empty > 0 && p.empty == EmptyPolicy::split) relocated = split_largest(next, counts, k, d);
    double shift = 0;
    for (int c = 0; c < k; ++c)
      for (int j = 0; j < d; ++j) {
        double const t = double(next[std::size_t(c) * d + j]) - double(centroids(c, j));
        shift += t * t;
      }
    // The epoch queued ahead stands when the device's centroids are the host's, bit for bit.
    if (ahead && std::memcmp(next_host.data() + cur.parity * std::size_t(k) * d, next.data(), next.size() * sizeof(T)) != 0) {
      restore_labels(slot);
      ahead = false;
    }

    // Empty clusters under EmptyPolicy::drop: remove them (k shrinks) and renumber the labels.
    if (empty > 0 && p.empty == EmptyPolicy::drop) {
      std::vector<int> remap(k, -1);
      int kk = 0;
      for (int c = 0; c < k; ++c)
        if (counts[c] > 0) remap[c] = kk++;
      HostMatrix<T> kept("kkm::centroids", kk, d);
      for (int c = 0; c < k; ++c)
        if (remap[c] >= 0)
          for (int j = 0; j < d; ++j) kept(remap[c], j) = next[std::size_t(c) * d + j];
      Kokkos::View<int*, mem> remap_d("kkm::remap", k);
      auto remap_h = Kokkos::create_mirror_view(remap_d);
      for (int c = 0; c < k; ++c) remap_h(c) = remap[c];
      Kokkos::deep_copy(space, remap_d, remap_h);
      Kokkos::parallel_for("kkm::relabel", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n),
                           Relabel<mem>{res.labels, remap_d});
      space.fence();  // (the only work of the epoch after the accumulator's copy; remap_d ends here)
      centroids = kept;
      k = kk;
    } else {
      for (int c = 0; c < k; ++c)
        for (int j = 0; j < d; ++j) centroids(c, j) = next[std::size_t(c) * d + j];
    }
    Kokkos::Profiling::popRegion();

    res.history.push_back(
        EpochStats{epoch, inertia, shift, changed, empty, k, et.seconds(), relocated, t_assign, t_allreduce});
    if (p.on_epoch) p.on_epoch(run_index, res.history.back());
    res.epochs = epoch;
    if (p.stop_on_no_change && changed == 0) {
      res.converged = true;
      res.stop_reason = "no label changed";
      break;
    }
    if (shift == 0 || (p.tol > 0 && shift <= tol_abs)) {
      res.converged = true;
      res.stop_reason = "shift below tol";
      break;
    }
    if (checkpoint_due) {
      Checkpoint ck;
      ck.run = run_index;
      ck.epoch = epoch;
      ck.k = k;
      ck.d = d;
      ck.k_requested = res.k_requested;
      ck.centroids.resize(std::size_t(k) * d);
      for (int c = 0; c < k; ++c)
        for (int j = 0; j < d; ++j) ck.centroids[std::size_t(c) * d + j] = static_cast<double>(centroids(c, j));
      auto lh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), res.labels);
      ck.labels.assign(lh.data(), lh.data() + n);
      ck.label_offset = s.row_offset;
      ck.n_rows = s.n_total;
      ck.history = res.history;
      ck.fingerprint.assign(s.fingerprint.begin(), s.fingerprint.end());
      ck.seed = p.seed;
      p.on_checkpoint(ck);
    }
    queued = ahead;
    if (ahead) {
      cur = next_q;
      slot = 1 - slot;
      ++res.epochs_pipelined;
    }
  }
  if (!res.converged) res.stop_reason = "max epochs";

  // Final assignment: labels and inertia that match the final centroids.
  upload(0);
  double const local = assign_only(0);
  res.inertia = comm.ordered_sum(local);
  res.centroids = centroids;
  res.k_final = k;
  res.workspace_bytes = ws.bytes();
  res.seconds_epochs = timer.seconds();
  return res;
}

}  // namespace detail

/// Fits k-means to the rows of `data` (this rank's rows; the global data set is the concatenation
/// of all ranks' rows in rank order) and returns centroids, this rank's labels and the run's
/// history. Collective over `comm`: every rank must call it with the same parameters and metric.
///
/// \param space   execution space the kernels run in; `data` must be accessible from it
/// \param data    n_local × d, LayoutRight, any memory space reachable from `space`
/// \param params  see kkm::Parameters (validated first; throws kkm::UserError on bad values)
/// \param metric  a metric functor (kkm::SquaredEuclidean, … or a user's: see KKM_Metrics.hpp)
/// \param comm    the ranks taking part (default: this process alone)
/// \param weights sample weights of this rank's rows (≥ 0, finite, not all 0; an empty View means
///                all 1): sums, means, medians, inertia and k-means++ are weighted.
template <class ExecSpace, class T, class... P, class Metric>
Result<std::remove_const_t<T>, typename ExecSpace::memory_space> fit(
    ExecSpace const& space, Kokkos::View<T**, P...> const& data,
    Kokkos::View<std::remove_const_t<T> const*, typename ExecSpace::memory_space> const& weights,
    Parameters const& params, Metric const& metric, Communicator const& comm = Communicator{}) {
  using V = std::remove_const_t<T>;
  using View = Kokkos::View<T**, P...>;
  static_assert(std::is_floating_point_v<V>, "kkm::fit: data must be float or double");
  static_assert(std::is_same_v<typename View::array_layout, Kokkos::LayoutRight>,
                "kkm::fit: data must be LayoutRight (one row per point, contiguous)");
  static_assert(Kokkos::SpaceAccessibility<ExecSpace, typename View::memory_space>::accessible,
                "kkm::fit: data must be accessible from the execution space");
  detail::check_metric<Metric, V>();
  params.validate();
  int const d = data.extent(1);
  KKM_REQUIRE(d >= 1, "data has no columns (d = 0)");
  {
    std::int64_t dd[2] = {d, -std::int64_t(d)};
    comm.allreduce_max(dd, 2);
    KKM_REQUIRE(dd[0] == -dd[1], "ranks disagree on the number of columns (" + std::to_string(-dd[1]) + " to " +
                                     std::to_string(dd[0]) + ")");
  }
  detail::check_metric_dimensions(metric, d);
  if (params.init == Init::given)
    KKM_REQUIRE(params.initial_centroids.size() == std::size_t(params.k) * d,
                "initial centroids: expected k × d = " + std::to_string(std::size_t(params.k) * d) + " values, got " +
                    std::to_string(params.initial_centroids.size()));
  Kokkos::Profiling::pushRegion("kkm::fit");
  detail::DeviceMatrix<ExecSpace, V> x = data;
  Kokkos::Timer timer;
  auto const summary = detail::summarize(space, x, weights, comm);
  KKM_REQUIRE(summary.n_total >= 1, "data has no rows");
  KKM_REQUIRE(params.k <= summary.n_total, "k = " + std::to_string(params.k) + " exceeds the number of rows (" +
                                               std::to_string(summary.n_total) + ")");

  Result<V, typename ExecSpace::memory_space> best;
  std::vector<double> inertias;
  double t_init = 0, t_epochs = 0;
  if constexpr (Metric::update == Update::median)
    KKM_REQUIRE(params.mode == Mode::lloyd, "the mini-batch modes need a metric with a mean update (not k-medians)");
  Checkpoint const* resume = params.resume_from.get();
  if (resume) {
    KKM_REQUIRE(resume->n_rows == summary.n_total && resume->d == d &&
                    resume->fingerprint.size() == summary.fingerprint.size() &&
                    std::equal(resume->fingerprint.begin(), resume->fingerprint.end(), summary.fingerprint.begin()),
                "the checkpoint was made from other data: its data fingerprint (exact column sums; N = " +
                    std::to_string(resume->n_rows) + ", d = " + std::to_string(resume->d) +
                    ") differs from this run's (N = " + std::to_string(summary.n_total) + ", d = " +
                    std::to_string(d) + ")");
    KKM_REQUIRE(resume->k_requested == params.k && resume->seed == params.seed,
                "the checkpoint was made with k = " + std::to_string(resume->k_requested) + ", seed " +
                    std::to_string(resume->seed) + "; this run has k = " + std::to_string(params.k) + ", seed " +
                    std::to_string(params.seed));
    KKM_REQUIRE(resume->k >= 1 && resume->centroids.size() == std::size_t(resume->k) * d &&
                    std::int64_t(resume->labels.size()) == std::int64_t(data.extent(0)) &&
                    resume->label_offset == summary.row_offset,
                "the checkpoint's centroids or labels do not match this rank's rows");
  }
  for (int r = 0; r < params.n_init; ++r) {
    std::uint64_t const seed = params.seed + std::uint64_t(r);
    Kokkos::Timer ti;
    Kokkos::Profiling::pushRegion("kkm::init");
    detail::HostMatrix<V> c0;
    if (resume) {
      c0 = detail::HostMatrix<V>("kkm::resumed_centers", resume->k, d);
      for (int c = 0; c < resume->k; ++c)
        for (int j = 0; j < d; ++j) c0(c, j) = static_cast<V>(resume->centroids[std::size_t(c) * d + j]);
    } else if (params.init == Init::given) {
      c0 = detail::HostMatrix<V>("kkm::init_centers", params.k, d);
      for (int c = 0; c < params.k; ++c)
        for (int j = 0; j < d; ++j) c0(c, j) = static_cast<V>(params.initial_centroids[std::size_t(c) * d + j]);
    } else if (params.init == Init::random) {
      c0 = detail::init_random(space, x, params.k, seed, summary, comm);
    } else if (params.init == Init::kmeans_parallel) {
      c0 = detail::init_kmeans_parallel(space, x, metric, params.k, params.kmeanspp_trials, seed, summary, comm,
                                        weights);
    } else {
      c0 = detail::init_kmeanspp(space, x, metric, params.k, params.kmeanspp_trials, seed, summary, comm, weights);
    }
    Kokkos::Profiling::popRegion();
    t_init += ti.seconds();
    Result<V, typename ExecSpace::memory_space> run;
    if (params.mode == Mode::lloyd) {
      run = detail::lloyd_run(space, x, params, metric, comm, summary, c0, r, resume, weights);
    } else if constexpr (Metric::update != Update::median) {
      run = detail::minibatch_run(space, x, params, metric, comm, summary, c0, r, weights);
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
  best.seconds_epochs = t_epochs;
  Kokkos::Profiling::popRegion();
  return best;
}

/// Fits without sample weights (every row weighs 1).
template <class ExecSpace, class T, class... P, class Metric>
Result<std::remove_const_t<T>, typename ExecSpace::memory_space> fit(ExecSpace const& space,
                                                                      Kokkos::View<T**, P...> const& data,
                                                                      Parameters const& params, Metric const& metric,
                                                                      Communicator const& comm = Communicator{}) {
  return fit(space, data, Kokkos::View<std::remove_const_t<T> const*, typename ExecSpace::memory_space>(), params,
             metric, comm);
}

/// Fits with the default execution space.
template <class T, class... P, class Metric>
auto fit(Kokkos::View<T**, P...> const& data, Parameters const& params, Metric const& metric,
         Communicator const& comm = Communicator{}) {
  return fit(typename Kokkos::View<T**, P...>::execution_space{}, data, params, metric, comm);
}

/// Labels of the rows of `data` for given centroids (k × d, host): the nearest centroid by the
/// metric, ties → lowest index. If `inertia` is given it receives the local sum of distances.
template <class ExecSpace, class T, class... P, class Metric>
Kokkos::View<int*, typename ExecSpace::memory_space> predict(
    ExecSpace const& space, Kokkos::View<T**, P...> const& data,
    Kokkos::View<std::remove_const_t<T>**, Kokkos::LayoutRight, Kokkos::HostSpace> const& centroids,
    Metric const& metric, double* inertia = nullptr, std::int64_t batch_size = 0) {
  using V = std::remove_const_t<T>;
  using mem = typename ExecSpace::memory_space;
  detail::check_metric<Metric, V>();
  int const d = data.extent(1);
  KKM_REQUIRE(int(centroids.extent(1)) == d, "the model has " + std::to_string(centroids.extent(1)) +
                                                 " columns but the data has " + std::to_string(d));
  KKM_REQUIRE(centroids.extent(0) >= 1, "the model has no centroids");
  detail::check_metric_dimensions(metric, d);
  detail::DeviceMatrix<ExecSpace, V> x = data;
  Kokkos::View<V**, Kokkos::LayoutRight, mem> c("kkm::centroids", centroids.extent(0), d);
  Kokkos::deep_copy(space, c, centroids);
  Kokkos::View<int*, mem> labels(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::labels"), x.extent(0));
  Kokkos::View<double*, mem> scale("kkm::scale", d);
  detail::AssignWorkspace<ExecSpace, V> ws;
  double const s = detail::assign_rows<false>(space, x, detail::DeviceMatrix<ExecSpace, V>(c), scale,
                                              Kokkos::View<detail::fixed_t*, mem>(), labels, metric, detail::GemmKind::none,
                                              batch_size, ws);
  if (inertia) *inertia = s;
  return labels;
}


/// Distance of each row of `data` to the centroid its label names (e.g. the labels from predict).
template <class ExecSpace, class T, class... P, class Metric>
Kokkos::View<double*, typename ExecSpace::memory_space> assigned_distances(
    ExecSpace const& space, Kokkos::View<T**, P...> const& data,
    Kokkos::View<std::remove_const_t<T>**, Kokkos::LayoutRight, Kokkos::HostSpace> const& centroids,
    Kokkos::View<int*, typename ExecSpace::memory_space> const& labels, Metric const& metric) {
  using V = std::remove_const_t<T>;
  detail::check_metric<Metric, V>();
  int const d = data.extent(1);
  KKM_REQUIRE(int(centroids.extent(1)) == d, "the model's d differs from the data's");
  Kokkos::View<V**, Kokkos::LayoutRight, typename ExecSpace::memory_space> c("kkm::centroids", centroids.extent(0), d);
  Kokkos::deep_copy(space, c, centroids);
  return detail::assigned_distances_impl(space, detail::DeviceMatrix<ExecSpace, V>(data), c, labels, metric);
}

/// Distances of every row of `data` to every centroid (n × k): scikit-learn's transform. This is
/// an n × k array by design; use predict when only labels are needed.
template <class ExecSpace, class T, class... P, class Metric>
Kokkos::View<std::remove_const_t<T>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> transform(
    ExecSpace const& space, Kokkos::View<T**, P...> const& data,
    Kokkos::View<std::remove_const_t<T>**, Kokkos::LayoutRight, Kokkos::HostSpace> const& centroids,
    Metric const& metric) {
  using V = std::remove_const_t<T>;
  using mem = typename ExecSpace::memory_space;
  detail::check_metric<Metric, V>();
  int const d = data.extent(1);
  int const k = centroids.extent(0);
  KKM_REQUIRE(int(centroids.extent(1)) == d, "the model has " + std::to_string(centroids.extent(1)) +
                                                 " columns but the data has " + std::to_string(d));
  detail::check_metric_dimensions(metric, d);
  Kokkos::View<V**, Kokkos::LayoutRight, mem> c("kkm::centroids", k, d);
  Kokkos::deep_copy(space, c, centroids);
  return detail::transform_impl(space, detail::DeviceMatrix<ExecSpace, V>(data), c, metric);
}

}  // namespace kkm
