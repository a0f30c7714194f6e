#pragma once
/// \file KKM_AssignDispatch.hpp
/// \brief Which assignment path runs, decided from the metric's traits (never its type), the shape
/// of the problem and the backend: the GEMM paths for squared-Euclidean metrics, the small-d kernel
/// for metrics that zero columns leave unchanged, the generic fused kernel for everything else.
///
///   trait squared_euclidean    → GEMM paths allowed (automatic on devices, d ≥ 32, k ≥ 64: fused
///                                checked where Hopper's warp-group kernel takes d ≤ 128, else
///                                checked GEMM), host fast path over transposed
///                                centroids, fit inertia from the cluster sums on the GEMM paths
///   trait zero_padding_neutral → small-d kernel for d ≤ 16 (else only where d is 4, 8 or 16)
///   neither                    → generic fused kernel
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/kernels/assign/KKM_CentroidGaps.hpp>
#include <kkmeans/kernels/assign/KKM_Nearest.hpp>
#include <kkmeans/kernels/assign/KKM_Tf32.hpp>
#include <kkmeans/kernels/assign/tpls/KKM_FusedTf32.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace kkm::detail {

/// How the GEMM path computes x·cᵀ: not at all (fused kernels), BLAS in the data's precision,
/// 3xTF32, or as a filter whose candidates are then measured exactly (checked; TF32 where available)
/// — written to memory and scanned, or reduced to each row's candidate list as it is made
/// (fused_checked).
enum class GemmKind { none, fp32, tf32x3, checked, fused_checked };

/// Whether the GEMM path g ranks centroids by a checked bound (its labels are exact).
constexpr bool is_checked(GemmKind g) { return g == GemmKind::checked || g == GemmKind::fused_checked; }


/// The user-facing path (its name: to_string(AssignPath)) that runs a GemmKind.
constexpr AssignPath assign_path_of(GemmKind g) {
  return g == GemmKind::fp32            ? AssignPath::gemm
         : g == GemmKind::tf32x3        ? AssignPath::gemm_tf32x3
         : g == GemmKind::checked       ? AssignPath::gemm_checked
         : g == GemmKind::fused_checked ? AssignPath::fused_checked
                                        : AssignPath::fused;
}

/// The padded width used by the small-d kernel for d columns: 4, 8 or 16 for metrics whose distance
/// is unchanged by zero columns (every built-in metric), d itself for others when d is 4, 8 or 16;
/// 0: use the generic kernel.
template <class Metric>
int small_d_width(int d) {
  if (d > 16) return 0;
  int const D = d <= 4 ? 4 : d <= 8 ? 8 : 16;
  return (is_zero_padding_neutral<Metric>::value || D == d) ? D : 0;
}

/// The fused kernel a metric gets for d columns on ExecSpace.
enum class FusedVariant { generic, host_transposed, small_d4, small_d8, small_d16 };
template <class ExecSpace, class Metric>
FusedVariant fused_variant(int d) {
  if (is_host_space<ExecSpace>() && is_squared_euclidean<Metric>::value) return FusedVariant::host_transposed;
  int const D = small_d_width<Metric>(d);
  return D == 4 ? FusedVariant::small_d4 : D == 8 ? FusedVariant::small_d8 : D == 16 ? FusedVariant::small_d16 : FusedVariant::generic;
}

/// The widest rows `auto` gives the fused checked path (where the warp-group kernel runs): its
/// measured crossover with the checked GEMM.
inline constexpr int fused_auto_max_d = 128;

/// The most 16-bit rows of d columns a GEMM path widens to float at once where its caller sets no
/// batch (KKM_WidenedRows.hpp): 1 GiB of them as float (d = 128: 2²¹ rows). A fit's chunks are its
/// plan's batches, sized by its memory budget as every GEMM path's.
inline std::int64_t widened_chunk_rows(int d) {
  return std::max<std::int64_t>(1024, (std::int64_t(1) << 30) / (std::int64_t(std::max(d, 1)) * 4));
}

/// The GemmKind a fit runs, from the requested path and the metric's traits. 16-bit rows take the
/// float paths (the GEMM paths run on them widened: KKM_WidenedRows.hpp).
template <class ExecSpace, class T, class Metric>
GemmKind gemm_kind_for(AssignPath requested, int d, int k) {
  if constexpr (is_16_bit_v<T>) {
    return gemm_kind_for<ExecSpace, compute_t<T>, Metric>(requested, d, k);
  } else if constexpr (is_squared_euclidean<Metric>::value) {
    KKM_REQUIRE(requested != AssignPath::gemm_tf32x3 || (tf32x3_available<ExecSpace, T>()),
                "the 3xTF32 GEMM path (gemm-tf32x3) needs the CUDA build and float32 precision");
    // auto: on a GPU with d ≥ 32 and k ≥ 64, a checked path (the fused kernel's labels, from a
    // tensor-core product where there is one): the fused checked path where Hopper's warp-group
    // kernel takes the rows with its four consumer groups (d ≤ 128), else the checked GEMM; below
    // that the fused kernel. On an H100 at N = 1e7, d = 128, k = 1024 the fused checked epoch took
    // 29.1 ms against the checked GEMM's 38.8; at d = 256, k = 20000 (two groups) it was no faster,
    // as the mma.sync kernel was not at either shape (docs/PERFORMANCE.md).
    bool const large = requested == AssignPath::automatic && !is_host_space<ExecSpace>() && d >= 32 && k >= 64;
    bool const fused = requested == AssignPath::fused_checked ||
                       (large && d <= fused_auto_max_d && fused_wgmma_available<ExecSpace, T>(d));
    return requested == AssignPath::gemm_tf32x3 ? GemmKind::tf32x3
           : requested == AssignPath::gemm      ? GemmKind::fp32
           : fused                              ? GemmKind::fused_checked
           : large || requested == AssignPath::gemm_checked ? GemmKind::checked
                                                            : GemmKind::none;
  } else {
    KKM_REQUIRE(requested != AssignPath::gemm && requested != AssignPath::gemm_tf32x3 &&
                    requested != AssignPath::gemm_checked && requested != AssignPath::fused_checked,
                "the GEMM assignment path needs a squared-Euclidean metric");
    return GemmKind::none;
  }
}

/// What a fit's assignments run: the path, the rows per launch (0: all local rows in one) and
/// whether the GEMM paths' prepared rows are made once per fit.
struct AssignPlan {
  GemmKind gemm = GemmKind::none;
  std::int64_t batch = 0;
  /// 3xTF32, checked: the prepared rows (hi/lo split, n_local × 3d; shifted with norms,
  /// n_local × (d + 1); 16-bit rows: also widened, n_local × d) fit a quarter of the free memory, so
  /// they are made once per fit instead of once per batch and epoch (the rows never change).
  bool split_once = false;
};

/// Device bytes the GEMM path `g` keeps per row prepared for its product (3xTF32: split into
/// 3d; checked: shifted, with its norm; 16-bit rows: also widened); 0 for the fused kernels.
template <class T>
std::size_t prepared_row_bytes(GemmKind g, int d) {
  if (g == GemmKind::none) return 0;
  std::size_t const widened = is_16_bit_v<T> ? std::size_t(d) : 0;
  return (widened + (g == GemmKind::tf32x3 ? 3 * std::size_t(d) : is_checked(g) ? std::size_t(d) + 1 : 0)) *
         sizeof(compute_t<T>);
}

/// Device bytes the GEMM path `g` writes per row of a batch as its product: the k values, or
/// (fused_checked) the row's candidate list.
template <class T>
std::size_t product_row_bytes(GemmKind g, int k) {
  return g == GemmKind::fused_checked ? sizeof(CandidateList<compute_t<T>>) : std::size_t(k) * sizeof(compute_t<T>);
}

/// Device bytes the GEMM path `g` takes per row of a batch: its product, the row prepared for it
/// and, checked, its place in the list of rows the product leaves open. 0 for the fused kernels.
template <class T>
std::size_t gemm_row_bytes(GemmKind g, int d, int k) {
  if (g == GemmKind::none) return 0;
  return product_row_bytes<T>(g, k) + prepared_row_bytes<T>(g, d) + (is_checked(g) ? 32 : 0);
}

/// Chooses the assignment path and the batch size for this problem; free_bytes() is asked only
/// where a GEMM path needs memory per batch.
template <class ExecSpace, class T, class Metric, class FreeBytes>
AssignPlan plan_assignment(Parameters const& p, std::int64_t n_local, int d, int k, FreeBytes&& free_bytes) {
  AssignPlan plan;
  plan.gemm = gemm_kind_for<ExecSpace, T, Metric>(p.assign, d, k);
  bool const gemm = plan.gemm != GemmKind::none;
  std::size_t const free_b = gemm ? free_bytes() : 0;
  std::size_t const prep = prepared_row_bytes<T>(plan.gemm, d);
  plan.split_once = prep > 0 && std::size_t(n_local) * prep <= free_b / 4;
  if (p.batch_size > 0) {
    plan.batch = p.batch_size;
  } else if (gemm) {
    // The B × k distance buffer (and with 3xTF32, unless split once, the B × 3d split rows) may take
    // a quarter of the free memory, at most 1 GiB — on a device at most what as many rows as it runs
    // threads need, if that is more: its argmin gives each row one thread (d = 256, k = 20000 in
    // 13421-row batches under 1 GiB: 53 teams of 256 threads for 132 SMs, 406 ms per epoch on an
    // H200).
    std::size_t const per_row = product_row_bytes<T>(plan.gemm, k) + (plan.split_once ? 0 : prep);
    std::size_t cap = std::size_t(1) << 30;
    if constexpr (!is_host_space<ExecSpace>()) cap = std::max(cap, std::size_t(ExecSpace().concurrency()) * per_row);
    std::size_t const budget = std::min<std::size_t>(free_b / 4, cap);
    plan.batch = std::max<std::int64_t>(1024, static_cast<std::int64_t>(budget / per_row));
  } else {
    plan.batch = 0;  // the fused kernel keeps no per-batch buffer: one launch over all local rows
  }
  if constexpr (is_16_bit_v<T>) {  // the chunks widened at once (the row buffers count them: prepared_row_bytes)
    if (gemm && !plan.split_once && p.batch_size <= 0)
      plan.batch = std::min<std::int64_t>(plan.batch > 0 ? plan.batch : n_local, widened_chunk_rows(d));
  }
  if (plan.batch > n_local) plan.batch = 0;
  return plan;
}

/// Device bytes the fused checked path keeps for the gaps between centroids (KKM_CentroidGaps.hpp),
/// whatever its batches; 0 on other paths.
template <class T>
std::size_t centroid_gap_bytes(GemmKind g, int k) {
  return g == GemmKind::fused_checked && k <= max_gap_centroids ? std::size_t(k) * k * sizeof(compute_t<T>) : 0;
}

/// Device bytes a plan's work buffers take, about: the accumulator (k × d sums, counts) and the
/// centroids with their norms; on the GEMM paths a batch's rows (gemm_row_bytes), their prepared
/// rows for all n_local rows where the plan prepares them once; fused checked: the centroids' gaps.
template <class T>
std::size_t plan_work_bytes(AssignPlan const& plan, std::int64_t n_local, int d, int k) {
  std::size_t const kk = static_cast<std::size_t>(k), dd = static_cast<std::size_t>(d);
  std::size_t bytes = (kk * dd + kk + 1) * sizeof(fixed_t) + kk * (dd + 2) * sizeof(compute_t<T>);
  if (plan.gemm == GemmKind::none) return bytes;
  bytes += centroid_gap_bytes<T>(plan.gemm, k);
  std::size_t const rows = static_cast<std::size_t>(plan.batch > 0 ? plan.batch : n_local);
  bytes += rows * gemm_row_bytes<T>(plan.gemm, d, k);
  if (plan.split_once) bytes += (static_cast<std::size_t>(n_local) - rows) * prepared_row_bytes<T>(plan.gemm, d);
  return bytes;
}

/// The least work memory a fit of this shape runs with: its path with batches of at most 1024 rows,
/// prepared per batch.
template <class ExecSpace, class T, class Metric>
std::size_t least_work_bytes(AssignPath assign, std::int64_t n_local, int d, int k) {
  AssignPlan least;
  least.gemm = gemm_kind_for<ExecSpace, T, Metric>(assign, d, k);
  least.batch = std::max<std::int64_t>(1, std::min<std::int64_t>(n_local, 1024));
  return plan_work_bytes<T>(least, n_local, d, k);
}

}  // namespace kkm::detail
