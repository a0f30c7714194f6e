#pragma once
/// \file KKM_RowStream.hpp
/// \brief A pass over rows that stay on the host (Parameters::data_in = host or file: in host memory,
/// mapped from their file, or read by a RowSource): chunk by chunk through two device buffers, the
/// copy of chunk c + 1 queued before the work on chunk c, so that the link and the kernels overlap.
///
/// Each chunk's work is done (the space fenced) before its buffer is filled again two chunks later;
/// a host fence per chunk costs tens of microseconds against the milliseconds a chunk of up to
/// 256 MiB takes to cross the link.
///
/// A stream that makes several passes (the Lloyd epochs) may queue the next pass's first chunk
/// behind the last chunk of a pass (keep_next_pass_ready): the link then carries it while the last
/// chunk's work, the epoch's update and the host's checks run, instead of idling through them and
/// making the next pass wait a whole chunk before its first kernel. The rows never change between
/// passes, so the chunk copied early is the chunk the next pass would copy; after the last pass it
/// is one chunk's copy wasted. Not for rows a RowSource reads: its reads must not run beside what
/// the caller does between passes (an HDF5 library without thread safety, a checkpoint written).
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_HostRows.hpp>
#include <kkmeans/core/KKM_RowSource.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace kkm::detail {

template <class ExecSpace, class T>
class RowStream {
 public:
  using mem = typename ExecSpace::memory_space;
  using Buffer = Kokkos::View<T**, Kokkos::LayoutRight, mem>;

  /// `rows`: n × d at their host address (the copies read it there) or read by a RowSource; chunks
  /// of `chunk_rows` rows (≥ 1; a source's are cut to whole blocks of its rows where they hold one).
  RowStream(ExecSpace const& space, RowsOnHost<T> rows, std::int64_t n, int d, std::int64_t chunk_rows)
      : space_(space), rows_(rows), n_(n), d_(d), chunk_(std::max<std::int64_t>(1, std::min(chunk_rows, n))) {
    if (std::int64_t const block = rows_.block_rows(); chunk_ > block) chunk_ = chunk_ / block * block;
    for (auto& b : buf_) b = Buffer(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::row_chunk"), chunk_, d);
  }

  std::int64_t chunk_rows() const { return chunk_; }
  /// Whether each pass ends by queuing the next pass's first chunk (off until asked).
  void keep_next_pass_ready(bool on) { prefetch_ = on; }
  /// Device bytes of the two buffers.
  std::size_t bytes() const { return 2 * std::size_t(chunk_) * d_ * sizeof(T); }
  /// Bytes one pass copies to the device.
  std::size_t bytes_per_pass() const { return std::size_t(n_) * d_ * sizeof(T); }

  /// Calls f(chunk, r0, r1) for the rows [r0, r1) of each chunk in order, chunk a device View of
  /// them; returns when the last chunk's work is done.
  template <class F>
  void for_each_chunk(F&& f) {
    std::int64_t const chunks = (n_ + chunk_ - 1) / chunk_;
    if (chunks == 0) return;
    if (!first_ready_) queue_copy(0, first_);
    first_ready_ = false;  // (until this pass ends: a pass cut short by an exception leaves it unknown)
    for (std::int64_t c = 0; c < chunks; ++c) {
      copies_.wait();  // chunk c is on the device
      // The next copy goes into the buffer chunk c − 1 used, whose work is done: this pass's chunk
      // c + 1, or after its last chunk the next pass's first.
      int const next = (first_ + c + 1) % 2;
      if (c + 1 < chunks) queue_copy(c + 1, next);
      else if (prefetch_ && rows_.address()) queue_copy(0, next);
      auto const [r0, r1] = range(c);
      f(DeviceMatrix<ExecSpace, T>(
            Kokkos::subview(buf_[(first_ + c) % 2], std::make_pair(std::int64_t(0), r1 - r0), Kokkos::ALL())),
        r0, r1);
      space_.fence();
    }
    first_ = (first_ + chunks) % 2;
    first_ready_ = prefetch_ && rows_.address();
  }

 private:
  ExecSpace space_;  // (a copy: an instance is a handle, and a caller's may be a temporary)
  RowsOnHost<T> rows_;
  std::int64_t n_;
  int d_;
  std::int64_t chunk_;
  Buffer buf_[2];
  int first_ = 0;             // the buffer the next pass's first chunk goes into
  bool prefetch_ = false;     // keep_next_pass_ready
  bool first_ready_ = false;  // the next pass's first chunk is queued into buf_[first_]
  HostToDevice<ExecSpace> copies_;

  std::pair<std::int64_t, std::int64_t> range(std::int64_t c) const { return {c * chunk_, std::min(n_, (c + 1) * chunk_)}; }

  void queue_copy(std::int64_t c, int buffer) {
    auto const [r0, r1] = range(c);
    std::size_t const row_bytes = std::size_t(d_) * sizeof(T), bytes = std::size_t(r1 - r0) * row_bytes;
    if (rows_.address()) return copies_.copy(buf_[buffer].data(), rows_.address() + std::size_t(r0) * d_, bytes);
    // A source's reads in whole blocks of its rows where a block is not too large for a staging slot.
    std::size_t const block = row_bytes * std::size_t(rows_.block_rows());
    std::size_t const granule = block <= (std::size_t(64) << 20) ? block : row_bytes;
    copies_.copy_read(buf_[buffer].data(), bytes, granule,
                      [rows = rows_, r0 = r0, d = d_, row_bytes](char* out, std::size_t off, std::size_t n) {
                        std::int64_t const first = r0 + std::int64_t(off / row_bytes);
                        rows.read(first, first + std::int64_t(n / row_bytes), d, reinterpret_cast<T*>(out));
                      });
  }
};

/// Calls f(rows, r0, r1) for all n rows of x: x itself at once where there is no stream (its rows are
/// where the kernels read them), else the stream's chunks in order.
template <class ExecSpace, class T, class F>
void for_each_row_range(DeviceMatrix<ExecSpace, T> const& x, RowStream<ExecSpace, T>* stream, F&& f) {
  if (stream) return stream->for_each_chunk(f);
  f(x, std::int64_t(0), std::int64_t(x.extent(0)));
}

}  // namespace kkm::detail
