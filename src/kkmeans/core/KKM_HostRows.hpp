#pragma once
/// \file KKM_HostRows.hpp
/// \brief Rows that stay in host memory while a device works on them: the address the device reads
/// them at, and copies of them to the device on a queue of their own, overlapped with the kernels.
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_ParallelCopy.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/core/KKM_RowSource.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace kkm::detail {

/// Whether rows in memory space `Mem` are host memory that ExecSpace reaches across a link (CUDA's
/// page-locked memory) rather than its own memory.
template <class ExecSpace, class Mem>
constexpr bool rows_on_host() {
  return Kokkos::SpaceAccessibility<Kokkos::HostSpace, Mem>::accessible && !is_host_space<ExecSpace>();
}

/// The address ExecSpace's kernels read host memory `p` at: on CUDA the mapped device pointer of
/// page-locked memory (the same address on every current system, asked for rather than assumed);
/// `p` itself elsewhere, and for memory CUDA does not know as page-locked.
template <class ExecSpace, class T>
T* device_address(T* p) {
#if defined(KOKKOS_ENABLE_CUDA)
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
    void* dp = nullptr;
    if (p != nullptr && cudaHostGetDevicePointer(&dp, const_cast<std::remove_const_t<T>*>(p), 0) == cudaSuccess)
      return static_cast<T*>(dp);
    (void)cudaGetLastError();  // (not page-locked: the error is expected and cleared)
  }
#endif
  return p;
}

/// The rows of `data` as the kernels read them: the View itself in the space's own memory, else
/// (host memory the device reaches across a link) an unmanaged View at their device address.
template <class ExecSpace, class View>
DeviceMatrix<ExecSpace, typename View::non_const_value_type> device_rows(View const& data) {
  if constexpr (std::is_same_v<typename View::memory_space, typename ExecSpace::memory_space>) {
    return data;
  } else {
    return DeviceMatrix<ExecSpace, typename View::non_const_value_type>(device_address<ExecSpace>(data.data()),
                                                                        data.extent(0), data.extent(1));
  }
}

/// Whether a fit or predict over rows in memory space Mem streams them (DataIn::host or file, or
/// automatic where they lie in host memory across a link); never where the host cannot read them.
template <class ExecSpace, class Mem>
bool streams_rows(DataIn data_in) {
  if constexpr (!Kokkos::SpaceAccessibility<Kokkos::HostSpace, Mem>::accessible) return false;
  return data_in == DataIn::host || data_in == DataIn::file ||
         (data_in == DataIn::automatic && rows_on_host<ExecSpace, Mem>());
}

/// While alive, host memory [p, p + bytes) is page-locked and mapped for ExecSpace's device (CUDA:
/// cudaHostRegister), so that kernels read it across the link and copies from it run asynchronously;
/// memory already page-locked is left as it is. Nothing elsewhere. (Rows a caller owns, e.g. a numpy
/// array, streamed without a copy.)
template <class ExecSpace>
class PinnedRegistration {
 public:
  PinnedRegistration(void const* p, std::size_t bytes) {
#if defined(KOKKOS_ENABLE_CUDA)
    if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
      if (p == nullptr || bytes == 0) return;
      void* const q = const_cast<void*>(p);
      cudaError_t const e = cudaHostRegister(q, bytes, cudaHostRegisterPortable | cudaHostRegisterMapped);
      if (e == cudaSuccess) {
        p_ = q;
      } else if (e == cudaErrorHostMemoryAlreadyRegistered) {
        (void)cudaGetLastError();
      } else {
        (void)cudaGetLastError();
        throw std::runtime_error(std::string("cannot page-lock the rows in host memory: ") + cudaGetErrorString(e));
      }
    }
#else
    (void)p;
    (void)bytes;
#endif
  }
  PinnedRegistration(PinnedRegistration const&) = delete;
  PinnedRegistration& operator=(PinnedRegistration const&) = delete;
  ~PinnedRegistration() {
#if defined(KOKKOS_ENABLE_CUDA)
    if (p_ != nullptr) cudaHostUnregister(p_);
#endif
  }

 private:
  void* p_ = nullptr;
};

/// Rows on the host (host_rows) where the device may not read them in place (DataIn::file): the
/// rows an initialisation or a policy picks from them are gathered on the host. Else none: a kernel
/// reads them.
template <class T>
RowsOnHost<T> rows_gathered_on_host(DataIn data_in, RowsOnHost<T> const& host_rows) {
  return data_in == DataIn::file ? host_rows : RowsOnHost<T>();
}

/// Refuses DataIn::host and file for rows the host cannot read (host_readable false: the device's own
/// memory).
inline void require_streamable(DataIn data_in, bool host_readable) {
  KKM_REQUIRE((data_in != DataIn::host && data_in != DataIn::file) || host_readable,
              "data_in = " + std::string(data_in == DataIn::file ? "file" : "host") +
                  " needs rows in host memory; these are in the device's own memory");
}

/// Copies from host to ExecSpace's memory on a queue of their own (CUDA: a stream besides the
/// kernels'), so that a copy runs while kernels work on earlier data; wait() returns when every copy
/// queued so far has landed. On host spaces a copy is done when copy() returns.
///
/// CUDA copies from pageable memory (rows mapped from their file) go through page-locked staging
/// slots: several threads fill a slot from the source (ParallelCopy) while the link empties the one
/// filled before, all issued from a thread of their own so that the caller goes on to launch its
/// kernels. (Handed pageable memory itself, the driver stages it with one thread at a fraction of
/// the link's rate.) Rows a RowSource reads (copy_read) take the same slots, read into them.
template <class ExecSpace>
class HostToDevice {
 public:
  HostToDevice() {
#if defined(KOKKOS_ENABLE_CUDA)
    if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>)
      if (cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking) != cudaSuccess)
        throw std::runtime_error("cudaStreamCreate failed");
#endif
  }
  HostToDevice(HostToDevice const&) = delete;
  HostToDevice& operator=(HostToDevice const&) = delete;
  ~HostToDevice() {
#if defined(KOKKOS_ENABLE_CUDA)
    if (staging_.valid()) staging_.wait();
    if (stream_ != nullptr) {
      cudaStreamSynchronize(stream_);
      cudaStreamDestroy(stream_);
    }
    for (auto& e : slot_free_)
      if (e != nullptr) cudaEventDestroy(e);
    if (slots_ != nullptr) cudaFreeHost(slots_);
#endif
  }

  /// Queues a copy of `bytes` bytes from host memory `src` to ExecSpace's memory `dst`.
  void copy(void* dst, void const* src, std::size_t bytes) {
    if (bytes == 0) return;
#if defined(KOKKOS_ENABLE_CUDA)
    if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
      land_staged();
      cudaPointerAttributes a{};
      bool const pageable = cudaPointerGetAttributes(&a, src) != cudaSuccess || a.type == cudaMemoryTypeUnregistered;
      (void)cudaGetLastError();
      if (pageable) {
        make_slots(1);
        char const* const from = static_cast<char const*>(src);
        return stage_async(dst, bytes, 1,
                           [this, from](char* out, std::size_t off, std::size_t n) { (*fill_)(out, from + off, n); });
      }
      if (cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_) != cudaSuccess)
        throw std::runtime_error("cudaMemcpyAsync of " + std::to_string(bytes) + " bytes to the device failed");
    } else
#endif
    {
      static_assert(is_host_space<ExecSpace>(), "HostToDevice: a device backend without a copy queue");
      std::memcpy(dst, src, bytes);
    }
  }

  /// Queues a copy to ExecSpace's memory `dst` of `bytes` bytes that read(out, offset, n) writes
  /// (bytes [offset, offset + n) of what is copied into `out`, n a multiple of `granule` but for the
  /// last piece): the rows of a RowSource. On CUDA the reads run on the thread that issues the
  /// copies, into the staging slots; elsewhere read() writes `dst` before this returns. A read's
  /// exception reaches the caller from wait() or the next copy.
  template <class Read>
  void copy_read(void* dst, std::size_t bytes, std::size_t granule, Read read) {
    if (bytes == 0) return;
#if defined(KOKKOS_ENABLE_CUDA)
    if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
      land_staged();
      make_slots(granule);
      stage_async(dst, bytes, granule, std::move(read));
    } else
#endif
    {
      static_assert(is_host_space<ExecSpace>(), "HostToDevice: a device backend without a copy queue");
      read(static_cast<char*>(dst), std::size_t(0), bytes);
    }
  }

  /// Returns when every copy queued so far has landed.
  void wait() {
#if defined(KOKKOS_ENABLE_CUDA)
    land_staged();
    if (stream_ != nullptr && cudaStreamSynchronize(stream_) != cudaSuccess)
      throw std::runtime_error("a copy to the device failed");
#endif
  }

 private:
#if defined(KOKKOS_ENABLE_CUDA)
  // Three slots of 32 MiB (or one read's granule, where larger): one filled by the threads, one
  // crossing the link, one spare (the link takes about 0.6 ms a slot, the threads about as long).
  static constexpr std::size_t least_slot_bytes = std::size_t(32) << 20;
  static constexpr int slot_count = 3;
  cudaStream_t stream_ = nullptr;
  std::future<cudaError_t> staging_;  // a copy through the slots being issued, or none
  char* slots_ = nullptr;             // slot_count × slot_bytes_ of page-locked memory, made on first use
  std::size_t slot_bytes_ = 0;
  cudaEvent_t slot_free_[slot_count] = {};  // recorded after each slot's copy to the device
  int next_slot_ = 0;
  std::unique_ptr<ParallelCopy> fill_;

  // Slots that hold `granule` bytes at least (the copies queued before are landed first where the
  // slots must grow).
  void make_slots(std::size_t granule) {
    if (slots_ != nullptr && slot_bytes_ >= granule) return;
    if (slots_ != nullptr) {
      wait();
      cudaFreeHost(slots_);
      slots_ = nullptr;
    }
    slot_bytes_ = std::max(least_slot_bytes, granule);
    if (cudaHostAlloc(reinterpret_cast<void**>(&slots_), slot_count * slot_bytes_, cudaHostAllocPortable) != cudaSuccess) {
      slots_ = nullptr;
      (void)cudaGetLastError();
      throw std::runtime_error("cannot allocate " + std::to_string(slot_count * slot_bytes_ >> 20) +
                               " MiB of page-locked staging memory");
    }
    for (auto& e : slot_free_)
      if (e == nullptr && cudaEventCreateWithFlags(&e, cudaEventDisableTiming) != cudaSuccess)
        throw std::runtime_error("cudaEventCreate failed");
    if (!fill_) fill_ = std::make_unique<ParallelCopy>(ParallelCopy::default_threads());
  }

  // stage(), issued from a thread of its own so that the caller goes on to launch its kernels.
  template <class Read>
  void stage_async(void* dst, std::size_t bytes, std::size_t granule, Read read) {
    int device = 0;
    cudaGetDevice(&device);  // (a new thread starts on device 0; the stream is on this one)
    staging_ = std::async(std::launch::async, [this, dst, bytes, granule, device, read = std::move(read)] {
      cudaError_t const e = cudaSetDevice(device);
      return e == cudaSuccess ? stage(static_cast<char*>(dst), bytes, granule, read) : e;
    });
  }

  // [0, bytes) as read() writes it to dst, a slot at a time (pieces a multiple of granule): a slot
  // is refilled once its previous copy to the device has landed.
  template <class Read>
  cudaError_t stage(char* dst, std::size_t bytes, std::size_t granule, Read const& read) {
    std::size_t const piece = slot_bytes_ / granule * granule;
    for (std::size_t off = 0; off < bytes; off += piece) {
      std::size_t const n = std::min(piece, bytes - off);
      int const s = next_slot_;
      next_slot_ = (s + 1) % slot_count;
      char* const slot = slots_ + s * slot_bytes_;
      cudaError_t e = cudaEventSynchronize(slot_free_[s]);
      if (e != cudaSuccess) return e;
      read(slot, off, n);
      if ((e = cudaMemcpyAsync(dst + off, slot, n, cudaMemcpyHostToDevice, stream_)) != cudaSuccess) return e;
      if ((e = cudaEventRecord(slot_free_[s], stream_)) != cudaSuccess) return e;
    }
    return cudaSuccess;
  }

  void land_staged() {
    if (staging_.valid() && staging_.get() != cudaSuccess)
      throw std::runtime_error("a copy of rows in host memory to the device failed");
  }
#endif
};

}  // namespace kkm::detail
