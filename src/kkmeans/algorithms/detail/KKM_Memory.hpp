#pragma once
/// \file KKM_Memory.hpp
/// \brief How much memory the execution space can still allocate, and how much of it the fit's work
/// buffers may take (for batch = auto, and within a device-memory budget).
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_Bytes.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/init/detail/KKM_TrialPruning.hpp>
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

/// Bytes this rank's rows and their labels take where the fit runs; with the rows streamed from
/// host memory (DataIn::host), the labels only.
template <class T>
constexpr std::size_t resident_bytes(std::int64_t n_local, int d, bool streamed = false) {
  return static_cast<std::size_t>(n_local) * ((streamed ? 0 : static_cast<std::size_t>(d) * sizeof(T)) + sizeof(int));
}

/// Bytes the fit's work buffers may take on ExecSpace: its free memory, or with a budget (bytes for
/// everything, Parameters::device_memory; 0: none) what the budget leaves beside the resident rows
/// and labels, if that is less.
template <class ExecSpace, class T>
std::size_t work_memory(std::size_t budget, std::int64_t n_local, int d, bool streamed = false) {
  std::size_t const free_b = available_memory<ExecSpace>();
  if (budget == 0) return free_b;
  std::size_t const resident = resident_bytes<T>(n_local, d, streamed);
  return std::min(free_b, budget > resident ? budget - resident : 0);
}

/// Rows streamed from host memory: the rows of each of the two device chunk buffers (at most 256 MiB,
/// at least 256 rows where there are as many) and the assignment's plan for a chunk.
struct StreamPlan {
  std::int64_t chunk = 0;
  AssignPlan assign;
};
inline constexpr std::size_t most_chunk_bytes = std::size_t(256) << 20;
inline constexpr std::int64_t least_chunk_rows = 256;

/// The stream's plan within `have` bytes of work memory: beside the accumulator and centroids (on
/// the GEMM paths about twice: a chunk's own sums, see EpochQueue::assign_streamed), each
/// chunk row takes its place in the two buffers and, on a GEMM path, in the batch's product (a
/// chunk is at most one batch). The GEMM paths prepare rows per batch (a buffer holds other rows
/// each time).
template <class ExecSpace, class T, class Metric>
StreamPlan plan_stream(Parameters const& p, std::int64_t n_local, int d, int k, std::size_t have) {
  std::size_t const row = std::size_t(d) * sizeof(T);
  GemmKind const gemm = gemm_kind_for<ExecSpace, T, Metric>(p.assign, d, k);
  std::size_t const fixed =
      plan_work_bytes<T>(AssignPlan{}, 0, d, k) * (gemm == GemmKind::none ? 1 : 2) + centroid_gap_bytes<T>(gemm, k);
  std::size_t const per_row = 2 * row + gemm_row_bytes<T>(gemm, d, k);
  std::size_t const rows = std::min((have > fixed ? have - fixed : 0) / per_row, most_chunk_bytes / row);
  StreamPlan s;
  s.chunk = std::max(std::min<std::int64_t>(n_local, static_cast<std::int64_t>(rows)), std::min(n_local, least_chunk_rows));
  std::size_t const buffers = 2 * std::size_t(s.chunk) * row;
  s.assign = plan_assignment<ExecSpace, T, Metric>(p, s.chunk, d, k, [&] { return have > buffers ? have - buffers : 0; });
  s.assign.split_once = false;
  return s;
}

/// The chunk rows of a pass over streamed rows that runs the fused kernel or none (the data summary,
/// predict) within `device_memory` bytes (0: the free memory) beside n labels: the fused plan's.
template <class ExecSpace, class T, class Metric>
std::int64_t fused_chunk_rows(std::size_t device_memory, std::int64_t n, int d, int k) {
  Parameters p;
  p.k = k;
  p.assign = AssignPath::fused;
  return plan_stream<ExecSpace, T, Metric>(p, n, d, k, work_memory<ExecSpace, T>(device_memory, n, d, true)).chunk;
}

/// Device bytes a stream's plan takes: its two buffers, the assignment's work buffers and on the
/// GEMM paths a chunk's own accumulator.
template <class T>
std::size_t stream_work_bytes(StreamPlan const& s, int d, int k) {
  std::size_t const chunk_sums = s.assign.gemm == GemmKind::none ? 0 : (std::size_t(k) * d + k + 1) * sizeof(fixed_t);
  return 2 * std::size_t(s.chunk) * d * sizeof(T) + plan_work_bytes<T>(s.assign, s.chunk, d, k) + chunk_sums;
}

/// Bytes the initialisation `init` (resolved: not automatic) keeps per row beside the rows while it
/// runs: k-means++ each row's weight and its distance to each trial; k-means‖ the weight, the
/// nearest candidate's distance and index, a label and a flag; random rows and given centroids none.
template <class T, class Metric>
std::size_t init_row_bytes(Init init, int k, int trials) {
  using R = typename distance_result<Metric, compute_t<T>>::type;
  if (init == Init::kmeanspp) return sizeof(double) + std::size_t(kmeanspp_trial_count(k, trials)) * sizeof(R);
  if (init == Init::kmeans_parallel) return 2 * sizeof(double) + 3 * sizeof(int);
  return 0;
}

/// Device bytes the initialisation `init` takes beside the resident rows and labels: its per-row
/// buffers and, streamed, the chunks of at least 256 rows (k-means‖'s with its rounds' blocks:
/// about 2k candidates).
template <class ExecSpace, class T, class Metric>
std::size_t init_bytes(Parameters const& p, Init init, std::int64_t n_local, int d, bool streamed) {
  std::size_t bytes = static_cast<std::size_t>(n_local) * init_row_bytes<T, Metric>(init, p.k, p.kmeanspp_trials);
  if (init == Init::kmeanspp && is_squared_euclidean<Metric>::value && pruning_pays<ExecSpace>(n_local, d))
    bytes += static_cast<std::size_t>(n_local) * (sizeof(int) + sizeof(compute_t<T>));  // each row's nearest centre and reach
  if (streamed && init == Init::kmeanspp)  // (rows the device may not read in place: two chunks)
    bytes += 2 * static_cast<std::size_t>(std::min(n_local, least_chunk_rows)) * d * sizeof(T);
  if (streamed && init == Init::kmeans_parallel) {
    StreamPlan least;
    least.chunk = std::min(n_local, least_chunk_rows);
    least.assign.gemm = gemm_kind_for<ExecSpace, T, Metric>(p.assign, d, 2 * p.k);
    bytes += stream_work_bytes<T>(least, d, 2 * p.k);
  }
  return bytes;
}

/// The least a fit of this shape needs beside its resident rows and labels: the larger of the
/// initialisation's per-row buffers and the assignment's smallest work buffers (they are not alive
/// at once); streamed, the assignment's with two chunks of the least rows.
template <class ExecSpace, class T, class Metric>
std::size_t least_fit_bytes(Parameters const& p, Init init, std::int64_t n_local, int d, bool streamed = false) {
  std::size_t assign = least_work_bytes<ExecSpace, T, Metric>(p.assign, n_local, d, p.k);
  if (streamed) {
    StreamPlan least;
    least.chunk = std::min(n_local, least_chunk_rows);
    least.assign.gemm = gemm_kind_for<ExecSpace, T, Metric>(p.assign, d, p.k);
    assign = stream_work_bytes<T>(least, d, p.k);
  }
  return std::max(assign, init_bytes<ExecSpace, T, Metric>(p, init, n_local, d, streamed));
}

/// The device bytes the Lloyd epochs' assignment needs within `have`: the plan's work buffers, and
/// streamed, the chunk buffers.
template <class ExecSpace, class T, class Metric>
std::size_t assign_need_bytes(Parameters const& p, std::int64_t n_local, int d, bool streamed, std::size_t have,
                              AssignPlan& plan) {
  if (streamed) {
    StreamPlan const s = plan_stream<ExecSpace, T, Metric>(p, n_local, d, p.k, have);
    plan = s.assign;
    return stream_work_bytes<T>(s, d, p.k);
  }
  plan = plan_assignment<ExecSpace, T, Metric>(p, n_local, d, p.k, [have] { return have; });
  return plan_work_bytes<T>(plan, n_local, d, p.k);
}

/// With a device-memory budget (Parameters::device_memory > 0): refuses, before the fit starts, a
/// budget that leaves the initialisation `init` or the assignment's work buffers less than they
/// need beside this rank's resident rows and labels, naming the least budget that would do (the
/// smallest batches, on the GEMM paths).
template <class ExecSpace, class T, class Metric>
void require_device_memory(Parameters const& p, Init init, std::int64_t n_local, int d, bool streamed = false) {
  if (p.device_memory == 0) return;
  std::size_t const have = work_memory<ExecSpace, T>(p.device_memory, n_local, d, streamed);
  AssignPlan plan;
  std::size_t const assign_need = assign_need_bytes<ExecSpace, T, Metric>(p, n_local, d, streamed, have, plan);
  std::size_t const init_need = init_bytes<ExecSpace, T, Metric>(p, init, n_local, d, streamed);
  std::size_t const need = std::max(assign_need, init_need);
  if (need <= have) return;
  std::size_t const resident = resident_bytes<T>(n_local, d, streamed);
  std::size_t const least = resident + least_fit_bytes<ExecSpace, T, Metric>(p, init, n_local, d, streamed);
  bool const smaller_batch = p.batch_size > 0 && least < p.device_memory;
  throw UserError("the device memory budget of " + bytes_text(double(p.device_memory)) + " leaves " +
                  bytes_text(double(have)) + " beside this rank's " + std::to_string(n_local) +
                  (streamed ? " labels (" : " rows and labels (") + bytes_text(double(resident)) + "); " +
                  (init_need >= need ? std::string("the ") + to_string(init) + " initialisation"
                                     : std::string("the ") + to_string(assign_path_of(plan.gemm)) + " assignment" +
                                           (plan.batch > 0 ? " of " + std::to_string(plan.batch) + "-row batches" : "") +
                                           (streamed ? " with its two chunk buffers" : "")) +
                  " needs " + bytes_text(double(need)) +
                  (smaller_batch ? ": choose a smaller batch size" : ": allow at least " + bytes_text(double(least))));
}

}  // namespace kkm::detail
