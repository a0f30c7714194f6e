#pragma once
/// \file KKM_LloydRun.hpp
/// \brief One Lloyd run from given initial centroids. Each epoch, in FAISS' order:
///   assign (queued on the device, KKM_EpochQueue.hpp) → reduce (the one allreduce) → empty policy
///   (farthest: before the update) → update (the metric's rule) → empty policy (split, drop) →
///   stop test → checkpoint.
/// Every rank computes the same new centroids from the same integers, checks the same stopping
/// tests, and so stops at the same epoch.
#include <kkmeans/algorithms/detail/KKM_EmptyClusters.hpp>
#include <kkmeans/algorithms/detail/KKM_EpochQueue.hpp>
#include <kkmeans/algorithms/detail/KKM_Memory.hpp>
#include <kkmeans/algorithms/detail/KKM_Update.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/core/KKM_Result.hpp>
#include <kkmeans/kernels/KKM_Assign.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>
#include <kkmeans/parallel/KKM_DataSummary.hpp>
#include <kkmeans/parallel/KKM_EpochAllreduce.hpp>
#include <kkmeans/parallel/KKM_Median.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

namespace kkm::detail {

template <class ExecSpace, class T, class Metric>
class LloydRun {
 public:
  using mem = typename ExecSpace::memory_space;
  using C = compute_t<T>;  // the centroids' and the weights' type (T: the rows')

  LloydRun(ExecSpace const& space, DeviceMatrix<ExecSpace, T> x, Parameters const& p, Metric const& metric,
           Communicator const& comm, DataSummary const& s, HostMatrix<C> centroids, int run_index,
           Checkpoint const* resume, Kokkos::View<C const*, mem> w, RowsOnHost<T> const& host_rows)
      : space_(space), x_(x), p_(p), metric_(metric), comm_(comm), s_(s), centroids_(centroids), run_index_(run_index),
        w_(w), n_(x.extent(0)), d_(x.extent(1)), k_(centroids.extent(0)),
        scale_(Kokkos::view_alloc(space, "kkm::scale"), d_) {
    plan(host_rows);
    res_.k_requested = resume ? resume->k_requested : k_;
    res_.n_rows = s.n_total;
    res_.batch_size = plan_.batch;
    res_.path = to_string(assign_path_of(plan_.gemm));
    ws_.split_once = plan_.split_once;
    upload_column_facts();
    start_labels(resume);
  }

  Result<C, mem> operator()() {
    // Pipelined epochs: one rank (no allreduce between the sums and the update), the plain mean (its
    // device update is the host's own arithmetic) and the fused kernel (the same kernel restores the
    // labels of a discarded epoch exactly).
    // Not streamed: the device's own update would wait for the host's copies anyway.
    bool const pipelined = comm_.size() == 1 && Metric::update == Update::mean && plan_.gemm == GemmKind::none &&
                           !stream_ &&
                           (p_.pipeline == Pipeline::on || (p_.pipeline == Pipeline::automatic && !is_host_space<ExecSpace>()));
    EpochQueue<ExecSpace, T, Metric> queue(space_, x_, res_.labels, metric_, plan_.gemm, res_.batch_size, ws_, scale_, w_,
                                           s_.weight_scale, k_, d_, pipelined, stream_.get());
    Kokkos::Timer timer;
    epochs(queue);
    if (!res_.converged && res_.stop_reason.empty()) res_.stop_reason = "max epochs";
    // Final assignment: labels and inertia that match the final centroids.
    queue.upload(0, centroids_);
    double const local = queue.assign_only(0);
    res_.inertia = comm_.ordered_sum(local);
    res_.centroids = centroids_;
    res_.k_final = k_;
    res_.workspace_bytes = ws_.bytes() + (stream_ ? stream_->bytes() : 0);
    res_.seconds_epochs = timer.seconds();
    return std::move(res_);
  }

 private:
  using Queue = EpochQueue<ExecSpace, T, Metric>;
  using Queued = typename Queue::Queued;

  /// An epoch's global sums after the allreduce, and what the host derives from them.
  struct EpochSums {
    std::vector<fixed_t> buf;  // sums (k × d), counts (k), changed, then one slot per rank
    std::vector<std::int64_t> counts;
    std::int64_t changed = 0;
    int empty = 0;
    double inertia = 0;
    double t_assign = 0, t_allreduce = 0;
  };

  ExecSpace const& space_;
  DeviceMatrix<ExecSpace, T> x_;
  Parameters const& p_;
  Metric const& metric_;
  Communicator const& comm_;
  DataSummary const& s_;
  HostMatrix<C> centroids_;
  int run_index_;
  Kokkos::View<C const*, mem> w_;
  std::int64_t n_;
  int d_, k_;
  AssignPlan plan_;
  std::unique_ptr<RowStream<ExecSpace, T>> stream_;  // the rows streamed from host memory, or none
  RowsOnHost<T> unaddressable_;  // the rows on the host where the device may not read them (DataIn::file), else none
  Kokkos::View<double*, mem> scale_;
  AssignWorkspace<ExecSpace, T> ws_;
  Result<C, mem> res_;
  int first_epoch_ = 1;

  /// The assignment's plan within the device memory; with rows on the host (host_rows), the stream
  /// that brings them chunk by chunk.
  void plan(RowsOnHost<T> const& host_rows) {
    if (!host_rows) {
      plan_ = plan_assignment<ExecSpace, T, Metric>(p_, n_, d_, k_, [&] { return work_memory<ExecSpace, T>(p_.device_memory, n_, d_); });
      res_.data_in = to_string(DataIn::device);
      return;
    }
    StreamPlan const sp =
        plan_stream<ExecSpace, T, Metric>(p_, n_, d_, k_, work_memory<ExecSpace, T>(p_.device_memory, n_, d_, true));
    plan_ = sp.assign;
    unaddressable_ = rows_gathered_on_host(p_.data_in, host_rows);
    stream_ = std::make_unique<RowStream<ExecSpace, T>>(space_, host_rows, n_, d_, sp.chunk);
    stream_->keep_next_pass_ready(true);  // (every epoch and the final assignment pass over the rows)
    res_.data_in = to_string(DataIn::host);
    res_.stream_chunk_rows = stream_->chunk_rows();
    res_.bytes_streamed_per_epoch = stream_->bytes_per_pass();
  }

  /// The fixed-point scales, and the GEMM paths' shift μ: the global column means, the same on every
  /// rank (the checked path's product and every GEMM path's inertia from the cluster sums are taken
  /// relative to it).
  void upload_column_facts() {
    KKM_ASSERT(s_.mean.size() == std::size_t(d_));
    if (plan_.gemm != GemmKind::none) ws_.set_shift(space_, s_.mean);
    auto h = Kokkos::create_mirror_view(scale_);
    for (int j = 0; j < d_; ++j) h(j) = s_.scale[j];
    Kokkos::deep_copy(space_, scale_, h);
  }

  /// Labels −1 (none yet), or a checkpoint's labels, history and epoch.
  void start_labels(Checkpoint const* resume) {
    res_.labels = Kokkos::View<int*, mem>(Kokkos::view_alloc(space_, Kokkos::WithoutInitializing, "kkm::labels"), n_);
    if (!resume) {
      Kokkos::deep_copy(space_, res_.labels, -1);
      return;
    }
    Kokkos::View<int const*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> h(resume->labels.data(), n_);
    Kokkos::deep_copy(space_, res_.labels, h);
    res_.history = resume->history;
    res_.epochs = resume->epoch;
    first_epoch_ = resume->epoch + 1;
  }

  /// The epoch loop; epoch e + 1 is queued ahead (pipelined) except where the host needs epoch e's
  /// labels afterwards (a checkpoint) or there is none.
  void epochs(Queue& queue) {
    Queued cur;
    bool queued = false;  // epoch `epoch` was queued ahead by the last iteration
    int slot = 0;         // the device set holding this epoch's centroids
    for (int epoch = first_epoch_; epoch <= p_.max_epochs; ++epoch) {
      Kokkos::Profiling::pushRegion("kkm::epoch");
      Kokkos::Timer et;
      if (!queued) {
        queue.upload(slot, centroids_);
        if (queue.pipelined()) queue.zero(epoch);  // (after a discarded epoch's sums)
        cur = queue.enqueue(epoch, slot);
      }
      // Asked before this epoch queues the next ahead: a preempted run checkpoints this epoch's state.
      bool const preempted = p_.stop_requested && comm_.any(p_.stop_requested());
      bool const checkpoint_due = (p_.checkpoint_every > 0 && p_.on_checkpoint && epoch % p_.checkpoint_every == 0 &&
                                   epoch < p_.max_epochs) ||
                                  (preempted && p_.on_checkpoint);
      bool ahead = queue.pipelined() && epoch < p_.max_epochs && !checkpoint_due;
      Queued next_q;
      if (ahead) next_q = queue.enqueue(epoch + 1, 1 - slot);

      EpochSums e = reduce(queue, cur, et);
      // Empty clusters (but under keep, which the device's update does as the host's): the host's
      // steps below need this epoch's labels and centroids on the device.
      if (ahead && e.empty > 0 && p_.empty != EmptyPolicy::keep) ahead = discard_ahead(queue, slot);
      auto const far = relocate_to_farthest(e, queue.centroids(slot));
      int relocated = static_cast<int>(far.size());
      std::vector<C> next = update(e, far);
      if (e.empty > 0 && p_.empty == EmptyPolicy::split) relocated = split_largest(next, e.counts, k_, d_);
      double const shift = centroid_shift(next);
      // The epoch queued ahead stands when the device's centroids are the host's, bit for bit.
      if (ahead && !queue.device_agrees(cur, next)) ahead = discard_ahead(queue, slot);
      commit(queue, next, e);
      Kokkos::Profiling::popRegion();

      res_.history.push_back(
          EpochStats{epoch, e.inertia, shift, e.changed, e.empty, k_, et.seconds(), relocated, e.t_assign, e.t_allreduce});
      if (p_.on_epoch) p_.on_epoch(run_index_, res_.history.back());
      res_.epochs = epoch;
      if (stopped(e.changed, shift)) break;
      if (checkpoint_due) checkpoint(epoch);
      if (preempted) {
        res_.stop_reason = "preempted";
        break;
      }
      queued = ahead;
      if (ahead) {
        cur = next_q;
        slot = 1 - slot;
        ++res_.epochs_pipelined;
      }
    }
  }

  /// A discarded epoch ahead: the labels restored to this epoch's (returns false: nothing ahead).
  bool discard_ahead(Queue& queue, int slot) {
    queue.restore_labels(slot, centroids_);
    ++res_.epochs_rerun;
    return false;
  }

  /// Waits for a queued epoch, then the one allreduce of the epoch: sums, counts, changed, and each
  /// rank's inertia bit for bit.
  EpochSums reduce(Queue& queue, Queued const& q, Kokkos::Timer const& et) {
    std::size_t const acc_len = accumulator_size(k_, d_);
    fixed_t const* acc_h = queue.wait(q);
    EpochSums e;
    e.buf.assign(acc_len + comm_.size(), 0);
    std::memcpy(e.buf.data(), acc_h, acc_len * sizeof(fixed_t));
    double const local_inertia = queue.local_distances(q);
    e.t_assign = et.seconds();
    e.inertia = allreduce_accumulator(e.buf, acc_len, local_inertia, comm_);
    e.t_allreduce = et.seconds() - e.t_assign;
    e.counts.resize(k_);
    for (int c = 0; c < k_; ++c) e.counts[c] = static_cast<std::int64_t>(e.buf[std::size_t(k_) * d_ + c]);
    e.changed = static_cast<std::int64_t>(e.buf[std::size_t(k_) * d_ + k_]);
    for (int c = 0; c < k_; ++c) e.empty += e.counts[c] == 0;
    return e;
  }

  /// EmptyPolicy::farthest, before the update: each empty cluster takes a farthest row (its sums
  /// moved in e.buf and e.counts); returns the rows taken, for the median update.
  template <class CView>
  std::vector<std::pair<int, std::vector<C>>> relocate_to_farthest(EpochSums& e, CView const& c_d) {
    if (e.empty == 0 || p_.empty != EmptyPolicy::farthest) return {};
    return relocate_farthest(space_, x_, c_d, res_.labels, metric_, w_, s_, comm_, k_, e.counts, e.buf, stream_.get(),
                             unaddressable_);
  }

  /// New centroids by the metric's update rule, from the same integers on every rank; a cluster
  /// without rows keeps its centroid.
  std::vector<C> update(EpochSums const& e, std::vector<std::pair<int, std::vector<C>>> const& far) {
    std::vector<C> next(std::size_t(k_) * d_);
    for (int c = 0; c < k_; ++c)
      for (int j = 0; j < d_; ++j) next[std::size_t(c) * d_ + j] = centroids_(c, j);
    if constexpr (Metric::update == Update::median) {
      cluster_medians(space_, x_, Kokkos::View<int const*, mem>(res_.labels), k_, e.counts, comm_, next, w_,
                      s_.weight_scale, stream_.get());
      for (auto const& [q, row] : far)
        for (int j = 0; j < d_; ++j) next[std::size_t(q) * d_ + j] = row[j];
    } else {
      for (int c = 0; c < k_; ++c)
        if (e.counts[c] > 0)
          mean_row<Metric::update>(e.buf, s_.scale, c, d_, e.counts[c], s_.weight_scale, next.data() + std::size_t(c) * d_);
    }
    return next;
  }

  /// Σ over centroids of their squared shift.
  double centroid_shift(std::vector<C> const& next) const {
    double shift = 0;
    for (int c = 0; c < k_; ++c)
      for (int j = 0; j < d_; ++j) {
        double const t = double(next[std::size_t(c) * d_ + j]) - double(centroids_(c, j));
        shift += t * t;
      }
    return shift;
  }

  /// The new centroids become the run's; under EmptyPolicy::drop empty clusters are removed (k
  /// shrinks) and the labels renumbered.
  void commit(Queue& queue, std::vector<C> const& next, EpochSums const& e) {
    if (e.empty == 0 || p_.empty != EmptyPolicy::drop) {
      for (int c = 0; c < k_; ++c)
        for (int j = 0; j < d_; ++j) centroids_(c, j) = next[std::size_t(c) * d_ + j];
      return;
    }
    std::vector<int> remap(k_, -1);
    int kk = 0;
    for (int c = 0; c < k_; ++c)
      if (e.counts[c] > 0) remap[c] = kk++;
    HostMatrix<C> kept("kkm::centroids", kk, d_);
    for (int c = 0; c < k_; ++c)
      if (remap[c] >= 0)
        for (int j = 0; j < d_; ++j) kept(remap[c], j) = next[std::size_t(c) * d_ + j];
    Kokkos::View<int*, mem> remap_d("kkm::remap", k_);
    auto remap_h = Kokkos::create_mirror_view(remap_d);
    for (int c = 0; c < k_; ++c) remap_h(c) = remap[c];
    Kokkos::deep_copy(space_, remap_d, remap_h);
    Kokkos::parallel_for("kkm::relabel", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space_, 0, n_),
                         Relabel<mem>{res_.labels, remap_d});
    space_.fence();  // (the only work of the epoch after the accumulator's copy; remap_d ends here)
    centroids_ = kept;
    k_ = kk;
    queue.set_k(kk);
  }

  /// The stopping tests: no label changed (if asked), or the shift at or below tol (tol 0: never).
  bool stopped(std::int64_t changed, double shift) {
    double const tol_abs = p_.tol * s_.mean_variance;
    if (p_.stop_on_no_change && changed == 0) {
      res_.converged = true;
      res_.stop_reason = "no label changed";
    } else if (p_.tol > 0 && shift <= tol_abs) {
      res_.converged = true;
      res_.stop_reason = "shift below tol";
    }
    return res_.converged;
  }

  /// The run's state after `epoch`, handed to Parameters::on_checkpoint.
  void checkpoint(int epoch) {
    Checkpoint ck;
    ck.run = run_index_;
    ck.epoch = epoch;
    ck.k = k_;
    ck.d = d_;
    ck.k_requested = res_.k_requested;
    ck.centroids.resize(std::size_t(k_) * d_);
    for (int c = 0; c < k_; ++c)
      for (int j = 0; j < d_; ++j) ck.centroids[std::size_t(c) * d_ + j] = static_cast<double>(centroids_(c, j));
    auto lh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), res_.labels);
    ck.labels.assign(lh.data(), lh.data() + n_);
    ck.label_offset = s_.row_offset;
    ck.n_rows = s_.n_total;
    ck.history = res_.history;
    ck.fingerprint.assign(s_.fingerprint.begin(), s_.fingerprint.end());
    ck.seed = p_.seed;
    p_.on_checkpoint(ck);
  }
};

/// One Lloyd run from given initial centroids. host_rows: x's rows on the host, to stream them
/// (DataIn::host, file), or none: the kernels read x.
template <class ExecSpace, class T, class Metric>
Result<compute_t<T>, typename ExecSpace::memory_space> lloyd_run(ExecSpace const& space, DeviceMatrix<ExecSpace, T> x,
                                                     Parameters const& p, Metric const& metric,
                                                     Communicator const& comm, DataSummary const& s,
                                                     HostMatrix<compute_t<T>> centroids, int run_index = 0,
                                                     Checkpoint const* resume = nullptr,
                                                     Kokkos::View<compute_t<T> const*, typename ExecSpace::memory_space> w = {},
                                                     RowsOnHost<T> const& host_rows = {}) {
  return LloydRun<ExecSpace, T, Metric>(space, x, p, metric, comm, s, centroids, run_index, resume, w, host_rows)();
}

}  // namespace kkm::detail
