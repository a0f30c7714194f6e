#pragma once
/// \file KKM_AssignWorkspace.hpp
/// \brief The device buffers one assignment set-up reuses across batches and epochs, and how the
/// rows are cut into launches (batches).
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/kernels/KKM_SortedSums.hpp>
#include <kkmeans/kernels/assign/KKM_CheckedScan.hpp>
#include <kkmeans/kernels/assign/tpls/KKM_Cublas.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kkm::detail {

/// (Re)allocates v as rows × cols (at least rows when !exact); true if it did.
template <class V, class ExecSpace>
bool ensure_matrix(ExecSpace const& space, V& v, std::size_t rows, std::size_t cols, char const* label, bool exact = true) {
  if ((exact ? v.extent(0) != rows : v.extent(0) < rows) || v.extent(1) != cols) {
    v = V(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string(label)), rows, cols);
    return true;
  }
  return false;
}

/// The rows of one launch (batch) of assign_rows over n rows in batches of `batch` (≤ 0: all in one).
inline std::int64_t batch_rows(std::int64_t n, std::int64_t batch) { return std::min<std::int64_t>(batch > 0 ? batch : n, n); }

/// The launches (batches) of assign_rows over n > 0 rows in batches of `batch` rows (≤ 0: all in one).
inline std::size_t assign_launches(std::int64_t n, std::int64_t batch) {
  if (n <= 0) return 0;
  std::int64_t const rows = batch_rows(n, batch);
  return static_cast<std::size_t>((n + rows - 1) / rows);
}

/// The launches' sums of distances, added in launch order (the slots of defer_total).
inline double launch_total(double const* slots, std::size_t launches) {
  double sum = 0;
  for (std::size_t b = 0; b < launches; ++b) sum += slots[b];
  return sum;
}

/// Device buffers of one assignment set-up, reused across batches and epochs (they only grow within
/// a fit), and the caller's choices of how assign_rows hands back the sum of distances.
template <class ExecSpace, class T>
struct AssignWorkspace {
  using mem = typename ExecSpace::memory_space;
  using C = compute_t<T>;  // T: the rows'; the buffers hold centroids, products and prepared rows in C

  // --- GEMM paths -------------------------------------------------------------------------------
  /// The batch's product, batch × kp entries (kp: k rounded up to 8).
  Kokkos::View<C*, mem> dot;
  /// Fused checked: the batch's candidate lists in place of the product.
  Kokkos::View<CandidateList<C>*, mem> lists;
  /// Fused checked: the squared distances between the centroids (KKM_CentroidGaps.hpp), k × k.
  Kokkos::View<C**, Kokkos::LayoutRight, mem> centroid_gaps;
  /// The product's layout (product_offset): blocks of 256 rows where one cuBLAS call makes them
  /// (CUDA: a warp's threads, one per row, read 128 contiguous bytes per centroid and a team streams
  /// through its block), else 0 (a host thread reads its row contiguously; elsewhere each block
  /// would be a product of its own). Either works on any backend.
  std::int64_t block_rows = cublas_space<ExecSpace>() ? 256 : 0;
  Kokkos::View<C*, mem> cnorm;                                 // ‖c‖² (checked: ‖c − μ‖²), kp entries
  Kokkos::View<C**, Kokkos::LayoutRight, mem> gemm_centroids;  // kp × d: zero rows past k (checked: shifted by μ)
  Kokkos::View<C**, Kokkos::LayoutRight, mem> split_centroids;  // 3xTF32: kp × 3d hi/lo split centroids
  /// The rows as the product reads them: 3xTF32 split (× 3d) or checked shifted (× d), for one batch
  /// or (split_once) all rows, with the checked path's ‖x − μ‖.
  Kokkos::View<C**, Kokkos::LayoutRight, mem> prepared_rows;
  Kokkos::View<C*, mem> xnorm;
  bool split_once = false;           // set by the caller: prepare all rows once (it checked that they fit)
  T const* prepared_of = nullptr;    // the rows prepared_rows holds (split_once), nullptr: none yet
  /// μ (d): the checked product's shift and the origin of the inertia from the cluster sums; set by
  /// the caller to the global column means (else zero).
  Kokkos::View<C*, mem> shift;
  /// Σ w‖x − μ‖² (ShiftedSquareSum) of the rows at x2_of (x2_rows of them, weights at x2_w), made
  /// once per fit (the rows, weights and μ never change within one).
  double x2 = 0;
  T const* x2_of = nullptr;
  C const* x2_w = nullptr;
  std::int64_t x2_rows = -1;
  /// Checked fit epochs: the batch's rows the product leaves open, and their count.
  Kokkos::View<PendingRow<C>*, mem> pending;
  Kokkos::View<fixed_t*, mem> open_n;  // [0] queued, [1] taken by the second launch
  int open_queue = 256;  // entries of a team's queue of open rows (more go straight to the list)

  // --- 16-bit rows on the GEMM paths (KKM_WidenedRows.hpp) ---------------------------------------
  Kokkos::View<C**, Kokkos::LayoutRight, mem> widened;  // a chunk of the rows as C (split_once: all rows)
  T const* widened_of = nullptr;                         // split_once: the rows `widened` holds
  Kokkos::View<fixed_t*, mem> chunk_acc;                 // fit epochs: the chunk's own sums
  std::shared_ptr<AssignWorkspace<ExecSpace, C>> wide;   // the C path's workspace for the chunks

  // --- fused paths ------------------------------------------------------------------------------
  Kokkos::View<C*, mem> cpad;  // small-d kernel: k × D padded centroids (where they miss scratch)

  // --- cluster sums -----------------------------------------------------------------------------
  /// Column sums in label order (sorted_column_sums): its buffers, and when to use it: 1 always, 0
  /// never (ColumnBlockSums), −1 (auto) on devices where one column of k sums per team's scratch
  /// cannot hold all d columns (see KKM_SortedSums.hpp).
  SortedSumsBuffers<ExecSpace> sorted;
  int sorted_sums = -1;
  int sorted_lanes = 256;  // hosts (one thread per team): the lanes it runs in turn (devices: the team)

  // --- the sum of distances -----------------------------------------------------------------------
  Kokkos::View<double*, mem> partial;  // each launch's sum of distances when there are several (or defer_total)
  Kokkos::View<double*, staging_space_t<ExecSpace>> partial_h;
  /// Set by the caller: the launches' sums of distances stay in `partial` and are copied to
  /// `partial_h` without waiting; assign_rows then returns 0 and sets `deferred` to the number of
  /// launches, and after its next fence the caller takes the sum with deferred_total(). So a Lloyd
  /// epoch waits for the device once (the sums, counts and distances together) instead of twice.
  /// Paths whose distance sum needs the cluster sums (GEMM fit epochs) return it as before
  /// (deferred = 0).
  bool defer_total = false;
  /// With defer_total, set by the caller: `partial` and `partial_h` lie in the caller's own buffers
  /// (at least assign_launches slots), which it copies to the host itself after assign_rows, so
  /// that the epoch has one copy from the device (Lloyd: the accumulator's tail).
  bool caller_copies = false;
  std::size_t deferred = 0;
  /// The deferred launches' distances added in launch order (after a fence; assign_rows' own sum of
  /// several launches too).
  double deferred_total() const { return launch_total(partial_h.data(), deferred); }

  /// μ := `mean` (the global column means), for the GEMM paths.
  void set_shift(ExecSpace const& space, std::vector<double> const& mean) {
    shift = Kokkos::View<C*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::shift"), mean.size());
    auto h = Kokkos::create_mirror_view(shift);
    for (std::size_t j = 0; j < mean.size(); ++j) h(j) = static_cast<C>(mean[j]);
    Kokkos::deep_copy(space, shift, h);
  }

  /// Forgets what was made from the rows at an address (the prepared rows, Σ w‖x − μ‖²): the
  /// next rows there are others (rows streamed through a buffer).
  void forget_rows() {
    prepared_of = nullptr;
    x2_of = nullptr;
    widened_of = nullptr;
  }

  /// Bytes held now (the buffers only grow within a fit, so after the final assignment: the peak).
  std::size_t bytes() const {
    return (wide ? wide->bytes() : 0) + widened.span() * sizeof(C) + chunk_acc.span() * sizeof(fixed_t) +
           (dot.span() + cnorm.span() + gemm_centroids.span() + cpad.span() + prepared_rows.span() +
            split_centroids.span() + xnorm.span() + shift.span() + centroid_gaps.span()) *
               sizeof(C) +
           partial.span() * sizeof(double) + sorted.bytes() + pending.span() * sizeof(PendingRow<C>) +
           lists.span() * sizeof(CandidateList<C>) +
           open_n.span() * sizeof(fixed_t);
  }
};

}  // namespace kkm::detail
