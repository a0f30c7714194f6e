#pragma once
/// \file KKM_Memory.hpp
/// \brief How much memory the execution space can still allocate, and how much of it the fit's work
/// buffers may take (for batch = auto, and within a device-memory budget).
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_Bytes.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/kernels/assign/KKM_AssignDispatch.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>

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

/// Bytes the initialisation `init` (resolved: not automatic) keeps per row beside the rows while it
/// runs: k-means++ each row's weight and its distance to each trial; k-means‖ the weight, the
/// nearest candidate's distance and index, a label and a flag; random rows and given centroids none.
template <class T, class Metric>
std::size_t init_row_bytes(Init init, int k, int trials) {
  using R = typename distance_result<Metric, T>::type;
  if (init == Init::kmeanspp) return sizeof(double) + std::size_t(kmeanspp_trial_count(k, trials)) * sizeof(R);
  if (init == Init::kmeans_parallel) return 2 * sizeof(double) + 3 * sizeof(int);
  return 0;
}

/// The least a fit of this shape needs beside its rows and labels: the larger of the
/// initialisation's per-row buffers and the assignment's smallest work buffers (they are not alive
/// at once).
template <class ExecSpace, class T, class Metric>
std::size_t least_fit_bytes(Parameters const& p, Init init, std::int64_t n_local, int d) {
  return std::max(least_work_bytes<ExecSpace, T, Metric>(p.assign, n_local, d, p.k),
                  static_cast<std::size_t>(n_local) * init_row_bytes<T, Metric>(init, p.k, p.kmeanspp_trials));
}

/// With a device-memory budget (Parameters::device_memory > 0): refuses, before the fit starts, a
/// budget that leaves the initialisation `init` or the assignment's work buffers less than they
/// need beside this rank's rows and labels, naming the least budget that would do (the smallest
/// batches, on the GEMM paths).
template <class ExecSpace, class T, class Metric>
void require_device_memory(Parameters const& p, Init init, std::int64_t n_local, int d) {
  if (p.device_memory == 0) return;
  int const k = p.k;
  std::size_t const have = work_memory<ExecSpace, T>(p.device_memory, n_local, d);
  AssignPlan const plan = plan_assignment<ExecSpace, T, Metric>(p, n_local, d, k, [have] { return have; });
  std::size_t const init_need = static_cast<std::size_t>(n_local) * init_row_bytes<T, Metric>(init, k, p.kmeanspp_trials);
  std::size_t const need = std::max(plan_work_bytes<T>(plan, n_local, d, k), init_need);
  if (need <= have) return;
  std::size_t const resident = resident_bytes<T>(n_local, d);
  std::size_t const least = resident + least_fit_bytes<ExecSpace, T, Metric>(p, init, n_local, d);
  bool const smaller_batch = p.batch_size > 0 && least < p.device_memory;
  throw UserError("the device memory budget of " + bytes_text(double(p.device_memory)) + " leaves " +
                  bytes_text(double(have)) + " beside this rank's " + std::to_string(n_local) + " rows and labels (" +
                  bytes_text(double(resident)) + "); " +
                  (init_need >= need ? std::string("the ") + to_string(init) + " initialisation"
                                     : std::string("the ") + to_string(assign_path_of(plan.gemm)) + " assignment" +
                                           (plan.batch > 0 ? " of " + std::to_string(plan.batch) + "-row batches" : "")) +
                  " needs " + bytes_text(double(need)) +
                  (smaller_batch ? ": choose a smaller batch size" : ": allow at least " + bytes_text(double(least))));
}

}  // namespace kkm::detail
