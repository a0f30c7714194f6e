#pragma once
/// \file KKM_Backend.hpp
/// \brief What differs between execution spaces and every layer needs: whether a space runs on the
/// host, where its small host copies live, a zero fill without a kernel launch, and marks in its
/// queue that the host can wait for one at a time.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Half.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

/// Before a short inner loop of independent lanes (e.g. one per k-means++ trial): asks the host
/// compiler to vectorise that loop. Without it GCC vectorises the outer loop instead, with shuffles,
/// at half the speed. The lanes stay independent, so results do not change.
#if defined(_OPENMP) && !defined(__CUDA_ARCH__)
#define KKM_SIMD_LANES _Pragma("omp simd")
#else
#define KKM_SIMD_LANES
#endif

namespace kkm::detail {

/// Rows or centroids as the kernels read them: n × d, row-major, in ExecSpace's memory.
template <class ExecSpace, class T>
using DeviceMatrix = Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space>;

/// The weights of a chunk's local rows r = [r0, r1) (no weights: none).
template <class WView>
WView chunk_weights(WView const& w, std::pair<std::int64_t, std::int64_t> r) {
  return w.extent(0) > 0 ? WView(Kokkos::subview(w, r)) : w;
}

/// Host spaces get one thread per team; devices a full team. (Callable in device code without
/// nvcc's relaxed constexpr, which a Kokkos 4 of a cluster need not enable.)
template <class ExecSpace>
KOKKOS_INLINE_FUNCTION constexpr bool is_host_space() {
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
}  // namespace kkm::detail
