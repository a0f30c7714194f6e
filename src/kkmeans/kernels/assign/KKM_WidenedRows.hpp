#pragma once
/// \file KKM_WidenedRows.hpp
/// \brief 16-bit rows on the GEMM paths: the rows are widened to float in a device buffer and the
/// float path assigns them. Widening is exact, so the labels are those of the float path on the
/// same values (the checked paths': exact). Where the plan finds room for all rows widened and
/// prepared (split_once, the rule of the float path's prepared rows) they are widened once per
/// fit, and an epoch costs what it costs with float rows; else chunk by chunk (a fit's batch), and
/// only a chunk is ever float.
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/kernels/assign/KKM_AssignDispatch.hpp>
#include <kkmeans/kernels/assign/KKM_AssignWorkspace.hpp>
#include <kkmeans/kernels/assign/KKM_ClusterSums.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace kkm::detail {

/// out(i, :) = x(r0 + i, :) in the compute type.
template <class T, class Mem>
struct WidenRows {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> x;
  Kokkos::View<compute_t<T>**, Kokkos::LayoutRight, Mem> out;
  std::int64_t r0;
  int d;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t e) const {
    std::int64_t const i = e / d;
    int const j = static_cast<int>(e - i * d);
    out(i, j) = static_cast<compute_t<T>>(x(r0 + i, j));
  }
};

/// The float path's workspace for the widened rows, with the caller's settings (μ, the sums'
/// method). Chunk by chunk it forgets the rows it prepared, as the buffer holds other rows each
/// chunk; with split_once the buffer holds all rows for the whole fit, and the float path prepares
/// them once too.
template <class ExecSpace, class T>
AssignWorkspace<ExecSpace, compute_t<T>>& widened_workspace(AssignWorkspace<ExecSpace, T>& ws) {
  if (!ws.wide) ws.wide = std::make_shared<AssignWorkspace<ExecSpace, compute_t<T>>>();
  auto& w = *ws.wide;
  w.shift = ws.shift;
  w.sorted_sums = ws.sorted_sums;
  w.sorted_lanes = ws.sorted_lanes;
  w.open_queue = ws.open_queue;
  w.block_rows = ws.block_rows;
  w.split_once = ws.split_once;
  w.defer_total = w.caller_copies = false;
  if (!ws.split_once) w.forget_rows();
  return w;
}

/// split_once: all n rows widened into ws.widened, unless it holds them already (the rows never
/// change within a fit; forget_rows() says when they did).
template <class ExecSpace, class T>
void widen_all_once(ExecSpace const& space, DeviceMatrix<ExecSpace, T> x, AssignWorkspace<ExecSpace, T>& ws) {
  using mem = typename ExecSpace::memory_space;
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  bool const fresh = ensure_matrix(space, ws.widened, std::size_t(n), std::size_t(d), "kkm::widened_rows");
  if (!fresh && ws.widened_of == x.data()) return;
  Kokkos::parallel_for("kkm::widen_rows",
                       Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n * d),
                       WidenRows<T, mem>{x, ws.widened, 0, d});
  ws.widened_of = x.data();
  if (ws.wide) ws.wide->forget_rows();  // (what it prepared came from the buffer's earlier rows)
}

/// assign_rows for 16-bit rows on a GEMM path, by assign_float(rows, sums, r, workspace, batch) —
/// assign_rows on the float path — which returns its sum of distances. With split_once (the plan
/// found room for all rows widened and prepared) the rows are widened once per fit and the float
/// path runs on all of them in batches of `batch`, as on float rows. Else each chunk of rows
/// [r0, r1) (`batch` rows; widened_chunk_rows without one) is widened and assigned in turn; in fit
/// epochs a GEMM path takes the distances from the cluster sums, so each chunk sums into an
/// accumulator of its own, added to acc after (integers: the same sums).
template <bool Accumulate, class ExecSpace, class T, class AssignFloat>
double assign_widened(ExecSpace const& space, DeviceMatrix<ExecSpace, T> x,
                      Kokkos::View<fixed_t*, typename ExecSpace::memory_space> acc, std::int64_t batch,
                      AssignWorkspace<ExecSpace, T>& ws, AssignFloat&& assign_float) {
  using mem = typename ExecSpace::memory_space;
  using C = compute_t<T>;
  using Range = Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>;
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  ws.deferred = 0;  // (the distances are summed here, not left in the caller's slots)
  if (ws.split_once) {
    widen_all_once(space, x, ws);
    return assign_float(DeviceMatrix<ExecSpace, C>(ws.widened), acc, std::make_pair(std::int64_t(0), n),
                        widened_workspace(ws), batch);
  }
  std::int64_t const chunk = std::min(n, batch > 0 ? batch : widened_chunk_rows(d));
  ensure_matrix(space, ws.widened, std::size_t(chunk), std::size_t(d), "kkm::widened_rows", false);
  ws.widened_of = nullptr;
  Kokkos::View<fixed_t*, mem> sums = acc;
  if constexpr (Accumulate) {
    if (ws.chunk_acc.extent(0) < acc.extent(0))
      ws.chunk_acc = Kokkos::View<fixed_t*, mem>(
          Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::chunk_sums"), acc.extent(0));
    sums = Kokkos::subview(ws.chunk_acc, std::make_pair(std::size_t(0), acc.extent(0)));
  }
  double local = 0;
  for (std::int64_t r0 = 0; r0 < n; r0 += chunk) {
    std::int64_t const r1 = std::min(n, r0 + chunk);
    auto const rows = Kokkos::subview(ws.widened, std::make_pair(std::int64_t(0), r1 - r0), Kokkos::ALL());
    Kokkos::parallel_for("kkm::widen_rows", Range(space, 0, (r1 - r0) * d), WidenRows<T, mem>{x, rows, r0, d});
    if constexpr (Accumulate) zero_fill(space, sums);
    local += assign_float(DeviceMatrix<ExecSpace, C>(rows), sums, std::make_pair(r0, r1), widened_workspace(ws), 0);
    if constexpr (Accumulate)
      Kokkos::parallel_for("kkm::add_chunk_sums", Range(space, 0, std::int64_t(acc.extent(0))), AddSums<mem>{acc, sums});
  }
  return local;
}

}  // namespace kkm::detail
