#pragma once
/// \file KKM_HostRows.hpp
/// \brief Rows that stay in host memory while a device works on them: the address the device reads
/// them at, and copies of them to the device on a queue of their own, overlapped with the kernels.
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstring>
#include <future>
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

/// Rows at their host address host_rows where the device may not read them in place (DataIn::file):
/// the rows an initialisation or a policy picks from them are gathered on the host. Else nullptr: a
/// kernel reads them.
template <class T>
T const* rows_gathered_on_host(DataIn data_in, T const* host_rows) {
  return data_in == DataIn::file ? host_rows : nullptr;
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
/// queued so far has landed. On host spaces a copy is done when copy() returns. (CUDA copies from
/// pageable memory, such as a mapped file, return only once the driver has staged them: they are
/// issued from a thread of their own, so that the caller goes on to launch its kernels.)
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
      auto const issue = [=, s = stream_] { return cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s); };
      if (pageable) {
        int device = 0;
        cudaGetDevice(&device);  // (a new thread starts on device 0; the stream is on this one)
        staging_ = std::async(std::launch::async, [=] {
          cudaError_t const e = cudaSetDevice(device);
          return e == cudaSuccess ? issue() : e;
        });
      } else if (issue() != cudaSuccess) {
        throw std::runtime_error("cudaMemcpyAsync of " + std::to_string(bytes) + " bytes to the device failed");
      }
    } else
#endif
    {
      static_assert(is_host_space<ExecSpace>(), "HostToDevice: a device backend without a copy queue");
      std::memcpy(dst, src, bytes);
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
  cudaStream_t stream_ = nullptr;
  std::future<cudaError_t> staging_;  // a copy from pageable memory being issued, or none

  void land_staged() {
    if (staging_.valid() && staging_.get() != cudaSuccess)
      throw std::runtime_error("a copy from pageable host memory to the device failed");
  }
#endif
};

}  // namespace kkm::detail
