#pragma once
/// \file KKM_MiniBatch.hpp
/// \brief Mini-batch modes. A step: every rank assigns its next local batch of B rows (its rows in
/// order, wrapping around), one allreduce of the batch's fixed-point sums, counts, changed labels
/// and inertia, and every rank moves the centroids the same way:
///  - Mode::minibatch (scikit-learn's MiniBatchKMeans): c ← c + (b_c / n_c)(mean_c − c), where b_c is
///    the batch's weight in cluster c and n_c all the weight c has seen; stops after 10 batches in a
///    row without improving the smoothed batch inertia, or when a batch's squared shift ≤ tol;
///  - Mode::seed: c ← the batch's mean of c, and centroids with no row in the batch are dropped.
/// An epoch is ⌈max local rows / B⌉ steps. The global batches depend on how rows are split over
/// ranks, so unlike Lloyd the result depends on the number of ranks (it is deterministic for a given
/// split). A final pass over all rows assigns the labels.
///
/// Rows the device may not read where they lie (DataIn::file) are read a batch at a time on the
/// host, in one contiguous read, into a device buffer of B rows; the final pass streams them.
#include <kkmeans/algorithms/detail/KKM_EmptyClusters.hpp>
#include <kkmeans/algorithms/detail/KKM_RowStream.hpp>
#include <kkmeans/algorithms/detail/KKM_Memory.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/core/KKM_Result.hpp>
#include <kkmeans/init/KKM_Init.hpp>
#include <kkmeans/kernels/KKM_Assign.hpp>
#include <kkmeans/parallel/KKM_EpochAllreduce.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

namespace kkm::detail {

/// One mini-batch run: its state and its steps. Every member is public: the steps read most of the
/// state, and nvcc refuses device lambdas in private or protected member functions.
template <class ExecSpace, class T, class Metric>
struct MiniBatchRun {
  using mem = typename ExecSpace::memory_space;
  using C = compute_t<T>;  // T: the rows'; C: the centroids' and the weights'
  using Rows = Kokkos::View<T const**, Kokkos::LayoutRight, mem>;
  using CRows = Kokkos::View<C const**, Kokkos::LayoutRight, mem>;
  using Weights = Kokkos::View<C const*, mem>;

  ExecSpace const& space;
  Rows x;
  Parameters const& p;
  Metric const& metric;
  Communicator const& comm;
  DataSummary const& s;
  HostMatrix<C> centroids;
  Weights w;
  std::int64_t const n;
  int const d;
  int k;
  int const P;
  std::int64_t const B;
  Result<C, mem> res;
  Kokkos::View<double*, mem> scale;
  AssignWorkspace<ExecSpace, T> ws;
  RowsOnHost<T> unaddressable;  // the rows where the device may not read them (DataIn::file), else none
  Kokkos::View<T**, Kokkos::LayoutRight, mem> batch_rows;           // unaddressable: the batch on the device
  Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::HostSpace> batch_read;  // unaddressable: the batch read
  std::unique_ptr<RowStream<ExecSpace, T>> stream;  // unaddressable: the final pass's chunks
  std::vector<double> seen;  // weight each centroid has absorbed (minibatch mode)
  std::int64_t steps_per_epoch = 1;
  double tol_abs = 0;
  double alpha = 0;
  double ewa = -1, best_ewa = INFINITY;
  int no_improvement = 0;
  bool stop = false;

  /// Sets up the run: the result's fixed fields, the column scales on the device, labels −1, and the
  /// number of steps per epoch (one allreduce: the largest rank's row count). unaddressable_: x's
  /// rows on the host where the device may not read them in place (DataIn::file), else none.
  MiniBatchRun(ExecSpace const& space_, Rows x_, Parameters const& p_, Metric const& metric_,
               Communicator const& comm_, DataSummary const& s_, HostMatrix<C> centroids_, Weights w_,
               RowsOnHost<T> const& unaddressable_ = {})
      : space(space_), x(x_), p(p_), metric(metric_), comm(comm_), s(s_), centroids(centroids_), w(w_),
        n(x_.extent(0)), d(x_.extent(1)), k(centroids_.extent(0)), P(comm_.size()),
        B(p_.batch_size > 0 ? p_.batch_size : 1024), unaddressable(unaddressable_) {
    if (unaddressable) {
      std::int64_t const rows = std::min(B, n);
      batch_rows = decltype(batch_rows)(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::batch_rows"), rows, d);
      batch_read = decltype(batch_read)(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::batch_read"), rows, d);
      stream = std::make_unique<RowStream<ExecSpace, T>>(space, unaddressable, n, d,
                                                         fused_chunk_rows<ExecSpace, T, Metric>(p.device_memory, n, d, k));
    }
    res.k_requested = k;
    res.n_rows = s.n_total;
    res.path = "fused";
    res.batch_size = B;
    scale = Kokkos::View<double*, mem>("kkm::scale", d);
    {
      auto h = Kokkos::create_mirror_view(scale);
      for (int j = 0; j < d; ++j) h(j) = s.scale[j];
      Kokkos::deep_copy(space, scale, h);
    }
    res.labels = Kokkos::View<int*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::labels"), n);
    Kokkos::deep_copy(space, res.labels, -1);
    seen.assign(k, 0.0);
    std::int64_t max_local = n;
    comm.allreduce_max(&max_local, 1);
    steps_per_epoch = std::max<std::int64_t>(1, (max_local + B - 1) / B);
    tol_abs = p.tol * s.mean_variance;
    alpha = std::min(1.0, 2.0 * double(B) * P / (double(s.n_total) + 1));
    if (stream) {  // (an epoch's batches read from the file; the final pass streams in these chunks)
      res.bytes_streamed_per_epoch = std::size_t(steps_per_epoch) * batch_rows.extent(0) * d * sizeof(T);
      res.stream_chunk_rows = stream->chunk_rows();
    }
  }

  /// One epoch: steps_per_epoch steps (fewer if the run stops), then its history entry.
  void run_epoch(int epoch, int run_index) {
    Kokkos::Timer et;
    EpochStats st;
    st.epoch = epoch;
    for (std::int64_t step = 0; step < steps_per_epoch && !stop; ++step) run_step(epoch, step, st);
    st.k = k;
    st.seconds = et.seconds();
    res.history.push_back(st);
    res.epochs = epoch;
    if (p.on_epoch) p.on_epoch(run_index, res.history.back());
  }

  /// One step: this rank's next batch, rows [b0, b1) in order, wrapping around its rows; their
  /// assignment and the allreduce; the centroid update; then (seed mode) dropping the centroids the
  /// batch did not reach, or (minibatch mode) the early-stop test.
  void run_step(int epoch, std::int64_t step, EpochStats& st) {
    std::int64_t const global_step = (epoch - 1) * steps_per_epoch + step;
    std::int64_t b0 = 0, b1 = 0;
    if (n > 0) {
      b0 = (global_step * B) % n;
      b1 = std::min(n, b0 + B);
    }
    std::vector<fixed_t> buf;
    double const inertia = assign_batch(b0, b1, buf);
    st.inertia += inertia;
    st.changed += static_cast<std::int64_t>(buf[std::size_t(k) * d + k]);
    double batch_weight = 0, shift = 0;
    std::vector<int> keep;
    update_centroids(buf, batch_weight, shift, keep);
    st.shift += shift;
    if (int(keep.size()) < k) drop_unreached(keep, st);
    if (p.mode == Mode::minibatch) test_early_stop(inertia, batch_weight, shift);
  }

  /// Assigns rows [b0, b1) to the current centroids, accumulating their fixed-point sums, counts
  /// and changed labels, and allreduces them: `buf` receives the global sums (allreduce_accumulator's
  /// layout) and the batch's global inertia is returned.
  double assign_batch(std::int64_t b0, std::int64_t b1, std::vector<fixed_t>& buf) {
    Rows const xb = batch(b0, b1);
    auto lb = Kokkos::subview(res.labels, Kokkos::make_pair(b0, b1));
    Kokkos::View<C const*, mem> wb;
    if (w.extent(0) > 0) wb = Kokkos::subview(w, Kokkos::make_pair(b0, b1));
    Kokkos::View<C**, Kokkos::LayoutRight, mem> c_d("kkm::centroids", k, d);
    Kokkos::deep_copy(space, c_d, centroids);
    std::size_t const acc_len = accumulator_size(k, d);
    Kokkos::View<fixed_t*, mem> acc("kkm::accumulator", acc_len);
    double const local = assign_rows<true>(space, xb, CRows(c_d), scale, acc, Kokkos::View<int*, mem>(lb), metric,
                                           GemmKind::none, 0, ws, wb, s.weight_scale);
    buf = std::vector<fixed_t>(acc_len + P, 0);
    auto acc_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), acc);
    std::memcpy(buf.data(), acc_h.data(), acc_len * sizeof(fixed_t));
    return allreduce_accumulator(buf, acc_len, local, comm);
  }

  /// Rows [b0, b1) where the kernels read them: in place, or read on the host into the batch buffer.
  Rows batch(std::int64_t b0, std::int64_t b1) {
    auto const rows = std::make_pair(std::int64_t(0), b1 - b0);
    if (!unaddressable) return Kokkos::subview(x, Kokkos::make_pair(b0, b1), Kokkos::ALL());
    auto const read = Kokkos::subview(batch_read, rows, Kokkos::ALL());
    auto const on_device = Kokkos::subview(batch_rows, rows, Kokkos::ALL());
    if (b1 > b0) {  // (an empty rank reads nothing)
      unaddressable.read(b0, b1, d, read.data());
      Kokkos::deep_copy(space, on_device, read);
    }
    return on_device;
  }

  /// Moves each centroid the batch reached towards the batch's mean of it: c ← c + lr (mean − c), with
  /// the per-centroid rate lr = b_c / n_c in minibatch mode (b_c: the batch's weight in c, n_c: all the
  /// weight c has seen) and lr = 1 in seed mode. Adds up the batch's weight and the squared shift, and
  /// lists in `keep` the centroids that stay (every one in minibatch mode, the reached ones in seed mode).
  void update_centroids(std::vector<fixed_t> const& buf, double& batch_weight, double& shift,
                        std::vector<int>& keep) {
    for (int c = 0; c < k; ++c) {
      double const bw = static_cast<double>(static_cast<long long>(buf[std::size_t(k) * d + c])) / s.weight_scale;
      batch_weight += bw;
      if (bw == 0) {
        if (p.mode == Mode::minibatch) keep.push_back(c);
        continue;
      }
      keep.push_back(c);
      double lr = 1.0;
      if (p.mode == Mode::minibatch) {
        seen[c] += bw;
        lr = bw / seen[c];
      }
      for (int j = 0; j < d; ++j) {
        double const mean = from_fixed(buf[std::size_t(c) * d + j], s.scale[j]) / bw;
        double const old = centroids(c, j);
        auto const now = static_cast<C>(old + lr * (mean - old));
        shift += (double(now) - old) * (double(now) - old);
        centroids(c, j) = now;
      }
    }
  }

  /// Seed mode: drops the centroids the batch did not reach (those not in `keep`) and renumbers the
  /// labels of every row to match.
  void drop_unreached(std::vector<int> const& keep, EpochStats& st) {
    st.empty += k - int(keep.size());
    HostMatrix<C> kept("kkm::centroids", keep.size(), d);
    std::vector<int> remap(k, -1);
    for (std::size_t q = 0; q < keep.size(); ++q) {
      remap[keep[q]] = int(q);
      for (int j = 0; j < d; ++j) kept(q, j) = centroids(keep[q], j);
    }
    Kokkos::View<int*, mem> remap_d("kkm::remap", k);
    auto rh = Kokkos::create_mirror_view(remap_d);
    for (int c = 0; c < k; ++c) rh(c) = remap[c];
    Kokkos::deep_copy(space, remap_d, rh);
    auto labels = res.labels;
    Kokkos::parallel_for("kkm::relabel", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n),
                         Relabel<mem>{labels, remap_d});
    centroids = kept;
    k = int(keep.size());
  }

  /// Minibatch mode: scikit-learn's early stopping, a smoothed per-row batch inertia that stops
  /// improving for 10 batches, or a batch's squared shift ≤ tol.
  void test_early_stop(double inertia, double batch_weight, double shift) {
    double const per_row = batch_weight > 0 ? inertia / batch_weight : 0;
    ewa = ewa < 0 ? per_row : ewa * (1 - alpha) + per_row * alpha;
    if (ewa < best_ewa) {
      best_ewa = ewa;
      no_improvement = 0;
    } else if (++no_improvement >= 10) {
      stop = true;
      res.converged = true;
      res.stop_reason = "no improvement in 10 batches";
    }
    if (!stop && p.tol > 0 && shift <= tol_abs) {
      stop = true;
      res.converged = true;
      res.stop_reason = "shift below tol";
    }
  }

  /// The final pass: every row assigned to the final centroids, and the result's last fields.
  void assign_all() {
    Kokkos::View<C**, Kokkos::LayoutRight, mem> c_d("kkm::centroids", k, d);
    Kokkos::deep_copy(space, c_d, centroids);
    double local = 0;
    for_each_row_range(x, stream.get(), [&](Rows rows, std::int64_t r0, std::int64_t r1) {
      auto const r = std::make_pair(r0, r1);
      ws.forget_rows();  // (a chunk's buffer holds other rows each time)
      local += assign_rows<false>(space, rows, CRows(c_d), scale, Kokkos::View<fixed_t*, mem>(),
                                  Kokkos::subview(res.labels, r), metric, GemmKind::none, 0, ws, chunk_weights(w, r),
                                  s.weight_scale);
    });
    res.inertia = comm.ordered_sum(local);
    res.centroids = centroids;
    res.k_final = k;
    res.workspace_bytes = ws.bytes() + (stream ? stream->bytes() + batch_rows.span() * sizeof(T) : 0);
  }
};

template <class ExecSpace, class T, class Metric>
Result<compute_t<T>, typename ExecSpace::memory_space> minibatch_run(
    ExecSpace const& space, Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
    Parameters const& p, Metric const& metric, Communicator const& comm, DataSummary const& s,
    HostMatrix<compute_t<T>> centroids, int run_index,
    Kokkos::View<compute_t<T> const*, typename ExecSpace::memory_space> w, RowsOnHost<T> const& unaddressable = {}) {
  static_assert(Metric::update != Update::median, "mini-batch modes need a mean update");
  MiniBatchRun<ExecSpace, T, Metric> run(space, x, p, metric, comm, s, centroids, w, unaddressable);
  Kokkos::Timer timer;
  for (int epoch = 1; epoch <= p.max_epochs && !run.stop; ++epoch) run.run_epoch(epoch, run_index);
  if (!run.res.converged) run.res.stop_reason = "max epochs";
  run.assign_all();
  run.res.seconds_epochs = timer.seconds();
  return std::move(run.res);
}

}  // namespace kkm::detail
