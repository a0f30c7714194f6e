#pragma once
/// \file KKM_EpochQueue.hpp
/// \brief How a Lloyd epoch's device work is queued and its sums brought back: the centroids
/// uploaded, the assignment into the accumulator, one copy of the accumulator (with the launches'
/// sums of distances in its tail) to page-locked host memory, and a mark the host waits on.
///
/// Pipelined epochs (Parameters::pipeline): epoch e + 1 is queued, with centroids the device updated
/// itself (EpochEnd, the host's own arithmetic: KKM_Update.hpp), before the host waits for epoch
/// e's sums, so that the device does not idle while the host checks and updates. Two sets of
/// centroids and two accumulators alternate; an epoch queued ahead that the host's update does not
/// confirm bit for bit is discarded and its labels restored by the same kernel
/// (restore_labels), so the results are the same with and without.
///
/// Rows streamed from host memory (a RowStream): each assignment runs chunk by chunk into the same
/// accumulator; its integer sums, and each row's label, are those of one pass over all rows.
#include <kkmeans/algorithms/detail/KKM_RowStream.hpp>
#include <kkmeans/algorithms/detail/KKM_Update.hpp>
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/init/KKM_Init.hpp>
#include <kkmeans/kernels/KKM_Assign.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kkm::detail {

/// The end of a pipelined epoch on the device, one launch: the epoch's accumulator and slots
/// (`len` entries) written to page-locked host memory, the next epoch's accumulator zeroed, and the
/// mean update (mean_entry, the host's own arithmetic) into the next epoch's centroids and their
/// host copy. A cluster without rows keeps its centroid (EmptyPolicy::keep; under the other
/// policies the host updates itself).
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
      T const v = count == 0 ? c(q, j) : mean_entry<T>(acc(i), scale(j), count, wscale);
      next(q, j) = v;
      next_h(i) = v;
    }
  }
};

/// The device side of one Lloyd run's epochs. Buffers are sized for the initial k, allocated once;
/// k only shrinks (set_k).
template <class ExecSpace, class T, class Metric>
class EpochQueue {
 public:
  using mem = typename ExecSpace::memory_space;
  using staging = staging_space_t<ExecSpace>;
  using C = compute_t<T>;  // the centroids' and the weights' type (T: the rows')
  using Centroids = Kokkos::View<C**, Kokkos::LayoutRight, mem>;

  /// What enqueue() queued: its buffers' parity and where its sum of distances is.
  struct Queued {
    int parity = 0;
    double local = 0;          // assign_rows' return (0 when the distances are deferred to the slots)
    std::size_t deferred = 0;  // the slots holding the distances
  };

  /// The assignment's inputs (rows, labels, metric, path, batch, workspace, scale, weights) as the
  /// Lloyd run holds them; `pipelined`: two sets of centroids and accumulators; `stream`: the rows
  /// go through it chunk by chunk (not pipelined), else the kernels read x.
  EpochQueue(ExecSpace const& space, DeviceMatrix<ExecSpace, T> x, Kokkos::View<int*, mem> labels, Metric const& metric,
             GemmKind gemm, std::int64_t batch, AssignWorkspace<ExecSpace, T>& ws, Kokkos::View<double*, mem> scale,
             Kokkos::View<C const*, mem> w, double wscale, int k, int d, bool pipelined,
             RowStream<ExecSpace, T>* stream = nullptr)
      : space_(space), x_(x), labels_(labels), metric_(metric), gemm_(gemm), batch_(batch), ws_(ws), scale_(scale),
        w_(w), wscale_(wscale), k_(k), d_(d), parities_(pipelined ? 2 : 1), stream_(stream) {
    KKM_ASSERT(!(pipelined && stream));
    c_dev_[0] = Centroids(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::centroids"), k, d);
    c_dev_[1] = Centroids(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::centroids_next"), pipelined ? k : 0, d);
    // The accumulator, then the assignment's slots for its launches' sums of distances (doubles in
    // fixed_t-sized entries), copied to the host together: one copy from the device per epoch.
    static_assert(sizeof(double) == sizeof(fixed_t), "a slot is one accumulator entry");
    slots_ = stream ? 0 : assign_launches(x.extent(0), batch);
    acc_stride_ = accumulator_size(k, d) + slots_;
    acc_all_ = Kokkos::View<fixed_t*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::accumulator"),
                                           parities_ * acc_stride_);
    // Page-locked on CUDA (staging_space): the epoch's copies do not wait for the device one by one.
    acc_host_ = Kokkos::View<fixed_t*, staging>(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::accumulator_host"),
                                                parities_ * acc_stride_);
    next_host_ = Kokkos::View<C*, staging>(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::next_host"),
                                           pipelined ? 2 * std::size_t(k) * d : 0);
    c_host_ = Kokkos::View<C**, Kokkos::LayoutRight, staging>(
        Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::centroids_host"), k, d);
    ws_.defer_total = !stream;  // one wait per epoch: the distances arrive with the accumulator
    ws_.caller_copies = !stream;
    zero_fill(space, accumulator(0, accumulator_size(k, d)));
  }

  bool pipelined() const { return parities_ == 2; }
  void set_k(int k) { k_ = k; }

  /// Device set `slot`'s first k centroids (k × d).
  auto centroids(int slot) const { return Kokkos::subview(c_dev_[slot], Kokkos::make_pair(0, k_), Kokkos::ALL()); }

  /// The host's centroids (k × d) to device set `slot`, after everything queued before.
  template <class HostCentroids>
  void upload(int slot, HostCentroids const& host) {
    auto c_h = Kokkos::subview(c_host_, Kokkos::make_pair(0, k_), Kokkos::ALL());
    for (int c = 0; c < k_; ++c)  // (c_host's last copy ended: the epoch it fed was waited for)
      for (int j = 0; j < d_; ++j) c_h(c, j) = host(c, j);
    Kokkos::deep_copy(space_, centroids(slot), c_h);
  }

  /// Zeroes epoch `epoch`'s accumulator (pipelined, after a discarded epoch's sums).
  void zero(int epoch) { zero_fill(space_, accumulator(epoch % parities_, accumulator_size(k_, d_))); }

  /// Queues one epoch with the centroids in set `slot`: the assignment into the accumulator, its
  /// copy (and the slots') to the host and the accumulator zeroed for the next epoch — pipelined,
  /// EpochEnd, with the device's update into the other set — and a mark.
  Queued enqueue(int epoch, int slot) {
    std::size_t const acc_len = accumulator_size(k_, d_);
    Queued q{epoch % parities_};
    std::size_t const off = q.parity * acc_stride_;
    auto c_d = centroids(slot);
    auto acc = accumulator(q.parity, acc_len);
    if (stream_) {
      q.local = assign_streamed<true>(c_d, acc);
    } else {
      ws_.partial = Kokkos::View<double*, mem, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
          reinterpret_cast<double*>(acc_all_.data() + off + acc_len), slots_);
      ws_.partial_h = Kokkos::View<double*, staging, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
          reinterpret_cast<double*>(acc_host_.data() + off + acc_len), slots_);
      q.local = assign_rows<true>(space_, x_, DeviceMatrix<ExecSpace, C>(c_d), scale_, acc, labels_, metric_, gemm_,
                                  batch_, ws_, w_, wscale_);
      q.deferred = ws_.deferred;
    }
    std::size_t const len = acc_len + slots_;
    if (pipelined()) {
      end_on_device(q.parity, slot, len);
    } else {
      Kokkos::deep_copy(space_, Kokkos::subview(acc_host_, Kokkos::make_pair(off, off + len)), accumulator(q.parity, len));
      // The next epoch's accumulator zeroed after this copy (k only shrinks: this epoch's entries
      // cover the next one's).
      zero_fill(space_, acc);
    }
    marks_.record(space_, q.parity);
    return q;
  }

  /// Waits for a queued epoch and returns its accumulator on the host (accumulator_size entries).
  fixed_t const* wait(Queued const& q) {
    marks_.wait(space_, q.parity);
    return acc_host_.data() + q.parity * acc_stride_;
  }

  /// A waited-for epoch's local sum of distances.
  double local_distances(Queued const& q) const {
    if (q.deferred == 0) return q.local;
    auto const* slots = reinterpret_cast<double const*>(acc_host_.data() + q.parity * acc_stride_ + accumulator_size(k_, d_));
    return launch_total(slots, q.deferred);
  }

  /// Whether the device's own update of a waited-for pipelined epoch equals the host's `next`.
  bool device_agrees(Queued const& q, std::vector<C> const& next) const {
    return std::memcmp(next_host_.data() + q.parity * std::size_t(k_) * d_, next.data(), next.size() * sizeof(C)) == 0;
  }

  /// Labels and the local sum of distances for the centroids in set `slot`, without an
  /// accumulator; assign_rows brings the distances to the host itself (not via the epoch buffers).
  double assign_only(int slot) {
    ws_.partial = {};  // (unmanaged views into the epoch buffers: assign_rows takes its own)
    ws_.partial_h = {};
    ws_.defer_total = ws_.caller_copies = false;
    if (stream_) return assign_streamed<false>(centroids(slot), Kokkos::View<fixed_t*, mem>());
    return assign_rows<false>(space_, x_, DeviceMatrix<ExecSpace, C>(centroids(slot)), scale_,
                              Kokkos::View<fixed_t*, mem>(), labels_, metric_, gemm_, batch_, ws_, w_, wscale_);
  }

  /// A discarded epoch ahead: wait for it, then give the labels back the values epoch e left them
  /// (the same kernel with epoch e's centroids `host`, which go back to set `slot`).
  template <class HostCentroids>
  void restore_labels(int slot, HostCentroids const& host) {
    space_.fence();
    upload(slot, host);
    assign_only(slot);
    ws_.defer_total = ws_.caller_copies = true;
  }

 private:
  ExecSpace const& space_;
  DeviceMatrix<ExecSpace, T> x_;
  Kokkos::View<int*, mem> labels_;
  Metric const& metric_;
  GemmKind gemm_;
  std::int64_t batch_;
  AssignWorkspace<ExecSpace, T>& ws_;
  Kokkos::View<double*, mem> scale_;
  Kokkos::View<C const*, mem> w_;
  double wscale_;
  int k_, d_, parities_;
  std::size_t slots_ = 0, acc_stride_ = 0;
  Centroids c_dev_[2];  // pipelined: epoch e reads one, its device update writes the other
  Kokkos::View<fixed_t*, mem> acc_all_;
  Kokkos::View<fixed_t*, staging> acc_host_;
  Kokkos::View<C*, staging> next_host_;  // pipelined: the device's new centroids, per parity
  Kokkos::View<C**, Kokkos::LayoutRight, staging> c_host_;
  StreamMarks<ExecSpace> marks_;

  RowStream<ExecSpace, T>* stream_;

  Kokkos::View<fixed_t*, mem> chunk_acc_;  // streamed GEMM epochs: one chunk's sums

  /// The assignment chunk by chunk through the stream, each chunk's distances summed on the host
  /// in chunk order. The workspace forgets the rows it prepared: a chunk's buffer holds other rows
  /// each time. The GEMM paths take a fit epoch's distances from its cluster sums, so there each
  /// chunk sums into an accumulator of its own, added to the epoch's after (integers: the same sums).
  template <bool Accumulate, class CView>
  double assign_streamed(CView const& c_d, Kokkos::View<fixed_t*, mem> acc) {
    bool const own = Accumulate && gemm_ != GemmKind::none;
    if (own && chunk_acc_.extent(0) < acc.extent(0))
      chunk_acc_ = Kokkos::View<fixed_t*, mem>(Kokkos::view_alloc(space_, Kokkos::WithoutInitializing, "kkm::chunk_sums"),
                                               acc.extent(0));
    Kokkos::View<fixed_t*, mem> sums = acc;
    if (own) sums = Kokkos::subview(chunk_acc_, Kokkos::make_pair(std::size_t(0), acc.extent(0)));
    double local = 0;
    stream_->for_each_chunk([&](DeviceMatrix<ExecSpace, T> rows, std::int64_t r0, std::int64_t r1) {
      ws_.forget_rows();
      auto const r = std::make_pair(r0, r1);
      if (own) zero_fill(space_, sums);
      local += assign_rows<Accumulate>(space_, rows, DeviceMatrix<ExecSpace, C>(c_d), scale_, sums,
                                       Kokkos::subview(labels_, r), metric_, gemm_, batch_, ws_, chunk_weights(w_, r),
                                       wscale_);
      if (own)
        Kokkos::parallel_for("kkm::add_chunk_sums",
                             Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space_, 0, acc.extent(0)),
                             AddSums<mem>{acc, sums});
    });
    return local;
  }

  Kokkos::View<fixed_t*, mem> accumulator(int parity, std::size_t len) const {
    return Kokkos::subview(acc_all_, Kokkos::make_pair(parity * acc_stride_, parity * acc_stride_ + len));
  }

  /// Pipelined: EpochEnd of the epoch with parity `parity` and centroids in set `slot`.
  void end_on_device(int parity, int slot, std::size_t len) {
    std::size_t const kd = std::size_t(k_) * d_, off = parity * acc_stride_;
    Kokkos::parallel_for("kkm::epoch_end", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space_, 0, std::max(len, kd)),
                         EpochEnd<C, mem, staging>{accumulator(parity, len), accumulator(1 - parity, len),
                                                   Kokkos::subview(acc_host_, Kokkos::make_pair(off, off + len)), scale_,
                                                   centroids(slot), centroids(1 - slot),
                                                   Kokkos::subview(next_host_, Kokkos::make_pair(parity * kd, parity * kd + kd)),
                                                   k_, d_, std::int64_t(len), wscale_});
  }
};

}  // namespace kkm::detail
