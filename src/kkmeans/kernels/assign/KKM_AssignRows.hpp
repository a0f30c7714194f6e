#pragma once
/// \file KKM_AssignRows.hpp
/// \brief assign_rows: the assignment step over a rank's rows — for each row the nearest centroid
/// by the metric (ties → the lower index), its label, its distance, and in a fit its contribution to
/// the cluster sums — through the path the dispatch chooses (KKM_AssignDispatch.hpp).
#include <kkmeans/kernels/assign/KKM_AssignDispatch.hpp>
#include <kkmeans/kernels/assign/KKM_AssignRun.hpp>
#include <kkmeans/kernels/assign/KKM_FusedKernel.hpp>
#include <kkmeans/kernels/assign/KKM_GemmPath.hpp>
#include <kkmeans/kernels/assign/KKM_SmallDKernel.hpp>
#include <kkmeans/kernels/assign/KKM_WidenedRows.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>

namespace kkm::detail {

/// The small-d kernel with centroids padded to D columns: in each team's scratch where they fit
/// (the kernel pads them there: one launch less per epoch), else once into the workspace.
template <int D, bool Accumulate, class ExecSpace, class T, class Metric>
double run_small_d(AssignRun<Accumulate, ExecSpace, T, Metric>& run) {
  using mem = typename ExecSpace::memory_space;
  SmallDKernel<ExecSpace, T, Metric, Accumulate, D> kernel;
  run.configure(kernel);
  if (!kernel.c_in_scratch) {
    auto& ws = run.ws;
    if (ws.cpad.extent(0) != std::size_t(run.k) * D)
      ws.cpad = Kokkos::View<compute_t<T>*, mem>(
          Kokkos::view_alloc(run.space, Kokkos::WithoutInitializing, "kkm::cpad"), std::size_t(run.k) * D);
    Kokkos::parallel_for("kkm::pad_centroids", Kokkos::RangePolicy<ExecSpace>(run.space, 0, run.k * D),
                         PadCentroids<compute_t<T>, mem>{run.c, ws.cpad, run.d, D});
    kernel.cpad = ws.cpad;
  }
  return run.over_batches(kernel);
}

/// The fused kernels: no per-batch buffer, every metric.
template <bool Accumulate, class ExecSpace, class T, class Metric>
double run_fused(AssignRun<Accumulate, ExecSpace, T, Metric>& run) {
  using mem = typename ExecSpace::memory_space;
  switch (fused_variant<ExecSpace, Metric>(run.d)) {
    case FusedVariant::host_transposed: {
      // Hosts, squared-Euclidean metrics: the centroids transposed to d × k for the kernel.
      FusedKernel<ExecSpace, T, Metric, Accumulate> kernel;
      Kokkos::View<compute_t<T>*, mem> t(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::ct"), std::size_t(run.k) * run.d);
      for (int q = 0; q < run.k; ++q)
        for (int j = 0; j < run.d; ++j) t(std::size_t(j) * run.k + q) = run.c(q, j);
      kernel.ct = t;
      return run.over_batches(kernel);
    }
    case FusedVariant::small_d4: return run_small_d<4>(run);
    case FusedVariant::small_d8: return run_small_d<8>(run);
    case FusedVariant::small_d16: return run_small_d<16>(run);
    case FusedVariant::generic: break;
  }
  return run.over_batches(FusedKernel<ExecSpace, T, Metric, Accumulate>{});
}

/// Runs the assignment over local rows [0, n) and returns the local sum of distances. With
/// Accumulate, acc (zeroed by the caller) receives sums, counts and the changed count. gemm_kind
/// other than none runs a GEMM path for squared-Euclidean metrics (the fused kernels otherwise;
/// 16-bit rows widened chunk by chunk for it); rows go in launches of `batch` rows (≤ 0: one
/// launch).
template <bool Accumulate, class ExecSpace, class T, class Metric>
double assign_rows(ExecSpace const& space, DeviceMatrix<ExecSpace, T> x, DeviceMatrix<ExecSpace, compute_t<T>> c,
                   Kokkos::View<double const*, typename ExecSpace::memory_space> scale,
                   Kokkos::View<fixed_t*, typename ExecSpace::memory_space> acc,
                   Kokkos::View<int*, typename ExecSpace::memory_space> labels, Metric const& metric,
                   GemmKind gemm_kind, std::int64_t batch, AssignWorkspace<ExecSpace, T>& ws,
                   Kokkos::View<compute_t<T> const*, typename ExecSpace::memory_space> weights = {},
                   double wscale = 1) {
  if (x.extent(0) == 0) return 0.0;
  if constexpr (is_squared_euclidean<Metric>::value && is_16_bit_v<T>) {
    if (gemm_kind != GemmKind::none)
      return assign_widened<Accumulate>(space, x, acc, batch, ws, [&](auto rows, auto sums, auto r, auto& wide, auto b) {
        return assign_rows<Accumulate>(space, rows, c, scale, sums, Kokkos::subview(labels, r), metric, gemm_kind, b,
                                       wide, chunk_weights(weights, r), wscale);
      });
  }
  AssignRun<Accumulate, ExecSpace, T, Metric> run(space, x, c, scale, acc, labels, metric, gemm_kind != GemmKind::none,
                                                  batch, ws, weights, wscale);
  if constexpr (is_squared_euclidean<Metric>::value && !is_16_bit_v<T>) {
    if (gemm_kind != GemmKind::none) return GemmPath<Accumulate, ExecSpace, T, Metric>(run, gemm_kind)();
  }
  return run_fused(run);
}

}  // namespace kkm::detail
