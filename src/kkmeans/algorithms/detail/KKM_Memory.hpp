#pragma once
/// \file KKM_Memory.hpp
/// \brief How much memory the execution space can still allocate (for batch = auto).
#include <kkmeans/core/KKM_Backend.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <unistd.h>

namespace kkm::detail {

/// Free bytes of the memory `ExecSpace` allocates from: the device's free memory for CUDA, the
/// available physical memory of the host otherwise.
template <class ExecSpace>
std::size_t available_memory() {
#if defined(KOKKOS_ENABLE_CUDA)
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
    std::size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) return free_b;
    return std::size_t(1) << 30;
  }
#endif
  long const pages = sysconf(_SC_AVPHYS_PAGES);
  long const page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page);
  return std::size_t(1) << 30;
}

}  // namespace kkm::detail
