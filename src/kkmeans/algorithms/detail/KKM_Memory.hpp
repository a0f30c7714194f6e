#pragma once
/// \file KKM_Memory.hpp
/// \brief How much memory the execution space can still allocate, and how much of it the fit's work
/// buffers may take (for batch = auto, and within a device-memory budget).
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_Bytes.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/kernels/assign/KKM_AssignDispatch.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
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

/// Bytes this rank's rows and their labels take where the fit runs.
template <class T>
constexpr std::size_t resident_bytes(std::int64_t n_local, int d) {
  return static_cast<std::size_t>(n_local) * (static_cast<std::size_t>(d) * sizeof(T) + sizeof(int));
}

/// Bytes the fit's work buffers may take on ExecSpace: its free memory, or with a budget (bytes for
/// everything, Parameters::device_memory; 0: none) what the budget leaves beside the rows and
/// labels, if that is less.
template <class ExecSpace, class T>
std::size_t work_memory(std::size_t budget, std::int64_t n_local, int d) {
  std::size_t const free_b = available_memory<ExecSpace>();
  if (budget == 0) return free_b;
  std::size_t const resident = resident_bytes<T>(n_local, d);
  return std::min(free_b, budget > resident ? budget - resident : 0);
}

/// With a device-memory budget (Parameters::device_memory > 0): refuses, before the fit starts, a
/// budget that leaves the assignment's work buffers less than they need beside this rank's rows and
/// labels, naming the least budget that would do (the smallest batches, on the GEMM paths).
template <class ExecSpace, class T, class Metric>
void require_device_memory(Parameters const& p, std::int64_t n_local, int d, int k) {
  if (p.device_memory == 0) return;
  std::size_t const have = work_memory<ExecSpace, T>(p.device_memory, n_local, d);
  AssignPlan const plan = plan_assignment<ExecSpace, T, Metric>(p, n_local, d, k, [have] { return have; });
  std::size_t const need = plan_work_bytes<T>(plan, n_local, d, k);
  if (need <= have) return;
  std::size_t const resident = resident_bytes<T>(n_local, d);
  std::size_t const least = resident + least_work_bytes<ExecSpace, T, Metric>(p.assign, n_local, d, k);
  bool const smaller_batch = p.batch_size > 0 && least < p.device_memory;
  throw UserError("the device memory budget of " + bytes_text(double(p.device_memory)) + " leaves " +
                  bytes_text(double(have)) + " beside this rank's " + std::to_string(n_local) + " rows and labels (" +
                  bytes_text(double(resident)) + "); the " + to_string(assign_path_of(plan.gemm)) +
                  " assignment" + (plan.batch > 0 ? " of " + std::to_string(plan.batch) + "-row batches" : "") +
                  " needs " + bytes_text(double(need)) +
                  (smaller_batch ? ": choose a smaller batch size" : ": allow at least " + bytes_text(double(least))));
}

}  // namespace kkm::detail
