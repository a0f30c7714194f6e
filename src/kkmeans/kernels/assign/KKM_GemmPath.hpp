#pragma once
/// \file KKM_GemmPath.hpp
/// \brief The GEMM paths of assign_rows (squared-Euclidean metrics): per batch, the product of the
/// rows with the centroids (KKM_GemmProduct.hpp; fused checked: only each row's candidate list,
/// KKM_CandidateList.hpp), then its scan (plain, or checked with the open-row launch in fit
/// epochs); per call, the operands the product reads — centroids padded to a multiple of 8
/// (checked: shifted by μ; 3xTF32: split) and their norms, rows prepared once per fit or per batch —
/// and in fit epochs the sum of distances from the cluster sums.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/kernels/assign/KKM_AssignDispatch.hpp>
#include <kkmeans/kernels/assign/KKM_AssignRun.hpp>
#include <kkmeans/kernels/assign/KKM_CandidateList.hpp>
#include <kkmeans/kernels/assign/KKM_CentroidGaps.hpp>
#include <kkmeans/kernels/assign/KKM_CheckedBound.hpp>
#include <kkmeans/kernels/assign/KKM_CheckedScan.hpp>
#include <kkmeans/kernels/assign/KKM_ClusterSums.hpp>
#include <kkmeans/kernels/assign/KKM_GemmProduct.hpp>
#include <kkmeans/kernels/assign/KKM_OpenRows.hpp>
#include <kkmeans/kernels/assign/KKM_ProductScan.hpp>
#include <kkmeans/kernels/assign/KKM_Tf32.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

namespace kkm::detail {

/// ‖c_j‖² for the plain GEMM paths.
template <class T, class Mem>
struct CentroidNorms {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> c;
  Kokkos::View<T*, Mem> out;
  int d;
  KOKKOS_INLINE_FUNCTION void operator()(int q) const {
    T s = 0;
    for (int e = 0; e < d; ++e) s += c(q, e) * c(q, e);
    out(q) = s;
  }
};

/// The largest of v(0 … n), for max ‖c'‖² of the checked bound.
template <class T, class Mem>
struct LargestEntry {
  Kokkos::View<T const*, Mem> v;
  KOKKOS_INLINE_FUNCTION void operator()(int q, T& m) const { m = v(q) > m ? v(q) : m; }
};

template <bool Accumulate, class ExecSpace, class T, class Metric>
class GemmPath {
 public:
  using Run = AssignRun<Accumulate, ExecSpace, T, Metric>;
  using mem = typename ExecSpace::memory_space;
  using Matrix = Kokkos::View<T const**, Kokkos::LayoutRight, mem>;
  /// Fit epochs: the sum of distances from the cluster sums, and each row's exact distance only
  /// where the product cannot decide its label (the checked argmin at d = 128, k = 1024 on an H200:
  /// 0.78 → 0.61–0.71 ms per 262144 rows).
  static constexpr bool sums_inertia = inertia_from_cluster_sums<Metric, Accumulate>();

  GemmPath(Run& run, GemmKind kind) : r_(run), ws_(run.ws), kind_(kind) {
    KKM_REQUIRE(kind != GemmKind::tf32x3 || (tf32x3_available<ExecSpace, T>()),
                "the 3xTF32 GEMM path needs the CUDA build with cuBLAS and float32 data");
    tensor_cores_ = kind == GemmKind::fused_checked ? fused_tf32_available<ExecSpace, T>(run.d)
                    : (kind == GemmKind::tf32x3 || kind == GemmKind::checked) && tf32x3_available<ExecSpace, T>();
  }

  /// Runs every batch and returns the sum of distances.
  double operator()() {
    prepare_centroids();
    std::int64_t const B = r_.launch_rows;
    if (fused()) {
      if (ws_.lists.extent(0) < std::size_t(B))
        ws_.lists = Kokkos::View<CandidateList<T>*, mem>(
            Kokkos::view_alloc(r_.space, Kokkos::WithoutInitializing, "kkm::candidate_lists"), B);
    } else if (ws_.dot.extent(0) < std::size_t(B) * kp_) {
      ws_.dot = Kokkos::View<T*, mem>(Kokkos::view_alloc(r_.space, Kokkos::WithoutInitializing, "kkm::gemm_dot"),
                                      std::size_t(B) * kp_);
    }
    prepare_rows_once();
    bound_ = CheckedBound::make(r_.d, Kokkos::Experimental::epsilon<T>::value / 2, tensor_cores_);
    for (std::int64_t b0 = 0; b0 < r_.n; b0 += B) run_batch(b0, std::min(r_.n, b0 + B));
    r_.column_sums();
    if constexpr (!sums_inertia) {
      return r_.total();
    } else {
      return inertia_from_sums();
    }
  }

 private:
  Run& r_;
  AssignWorkspace<ExecSpace, T>& ws_;
  GemmKind kind_;
  bool tensor_cores_ = false;
  /// The product and ‖c‖² have kp = k rounded up to 8 columns (zero centroids past k, never chosen):
  /// the product's dimensions stay multiples of 8 (32 bytes) whatever k is (e.g. after empty
  /// clusters were dropped), which cuBLAS' fast kernels need.
  int kp_ = (r_.k + 7) / 8 * 8;
  Matrix cg_;   // the centroids the product reads (kp × d, or c itself)
  T cmax_ = 0;  // checked: max ‖c − μ‖
  CheckedBound bound_;

  bool checked() const { return is_checked(kind_); }
  bool fused() const { return kind_ == GemmKind::fused_checked; }
  bool tf32x3() const { return kind_ == GemmKind::tf32x3; }
  bool prepared() const { return tf32x3() || checked(); }

  /// ‖c‖² and the centroids as the product reads them; checked: shifted by μ, with max ‖c'‖.
  void prepare_centroids() {
    auto const& space = r_.space;
    int const k = r_.k, d = r_.d;
    if (ws_.cnorm.extent(0) != std::size_t(kp_))
      ws_.cnorm = Kokkos::View<T*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::cnorm"), kp_);
    cg_ = r_.c;
    // μ, for the checked product and the inertia from the cluster sums: set by the caller, else 0.
    if ((checked() || sums_inertia) && ws_.shift.extent(0) != std::size_t(d))
      ws_.shift = Kokkos::View<T*, mem>(Kokkos::view_alloc(space, "kkm::shift"), d);
    if (checked()) {
      ensure_matrix(space, ws_.gemm_centroids, kp_, d, "kkm::gemm_centroids");
      ShiftRows<ExecSpace, T>{r_.c, ws_.gemm_centroids, ws_.shift, ws_.cnorm, k, kp_, d, true, tensor_cores_}.launch(space);
      T m2 = 0;
      Kokkos::parallel_reduce("kkm::max_centroid_norm", Kokkos::RangePolicy<ExecSpace>(space, 0, k),
                              LargestEntry<T, mem>{ws_.cnorm}, Kokkos::Max<T>(m2));
      cmax_ = static_cast<T>(std::sqrt(static_cast<double>(m2)) * (1 + 1e-6));
      cg_ = ws_.gemm_centroids;
    } else {
      if (kp_ != k) {
        ensure_matrix(space, ws_.gemm_centroids, kp_, d, "kkm::gemm_centroids");
        Kokkos::deep_copy(space, Kokkos::subview(ws_.gemm_centroids, Kokkos::make_pair(0, k), Kokkos::ALL()), r_.c);
        Kokkos::deep_copy(space, Kokkos::subview(ws_.gemm_centroids, Kokkos::make_pair(k, kp_), Kokkos::ALL()), T(0));
        cg_ = ws_.gemm_centroids;
      }
      Kokkos::parallel_for("kkm::centroid_norms", Kokkos::RangePolicy<ExecSpace>(space, 0, kp_),
                           CentroidNorms<T, mem>{cg_, ws_.cnorm, d});
    }
    if (fused() && k <= max_gap_centroids) {
      ensure_matrix(space, ws_.centroid_gaps, k, k, "kkm::centroid_gaps");
      Kokkos::parallel_for("kkm::centroid_gaps",
                           Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, std::int64_t(k) * k),
                           CentroidGaps<T, mem>{r_.c, ws_.centroid_gaps, k, d});
    }
    if (tf32x3()) {
      ensure_matrix(space, ws_.split_centroids, kp_, 3 * d, "kkm::tf32x3_centroids");
      Kokkos::parallel_for("kkm::split_tf32_centroids", Kokkos::RangePolicy<ExecSpace>(space, 0, std::int64_t(kp_) * d),
                           SplitTf32<T, mem>{cg_, ws_.split_centroids, d, true});
    }
  }

  /// Rows [r0, r1) prepared for the product (3xTF32: split; checked: shifted, with norms) into
  /// prepared_rows from row o0.
  void prepare(std::int64_t r0, std::int64_t r1, std::int64_t o0) {
    int const d = r_.d;
    auto in = Kokkos::subview(r_.x, Kokkos::make_pair(r0, r1), Kokkos::ALL());
    auto out = Kokkos::subview(ws_.prepared_rows, Kokkos::make_pair(o0, o0 + (r1 - r0)), Kokkos::ALL());
    if (tf32x3()) {
      Kokkos::parallel_for("kkm::split_tf32_rows", Kokkos::RangePolicy<ExecSpace>(r_.space, 0, (r1 - r0) * d),
                           SplitTf32<T, mem>{in, out, d, false});
    } else {
      auto xn = Kokkos::subview(ws_.xnorm, Kokkos::make_pair(o0, o0 + (r1 - r0)));
      ShiftRows<ExecSpace, T>{in, out, ws_.shift, xn, r1 - r0, r1 - r0, d, false, tensor_cores_}.launch(r_.space);
    }
  }

  /// The prepared rows' buffers, and with split_once all rows prepared (once per fit: the rows
  /// never change within one).
  void prepare_rows_once() {
    if (!prepared()) return;
    std::int64_t const rows = ws_.split_once ? r_.n : r_.launch_rows;
    bool fresh = ensure_matrix(r_.space, ws_.prepared_rows, rows, tf32x3() ? 3 * r_.d : r_.d,
                               tf32x3() ? "kkm::tf32x3_rows" : "kkm::shifted_rows", false);
    if (checked() && ws_.xnorm.extent(0) < std::size_t(rows)) {
      ws_.xnorm = Kokkos::View<T*, mem>(Kokkos::view_alloc(r_.space, Kokkos::WithoutInitializing, "kkm::row_norms"), rows);
      fresh = true;
    }
    if (fresh) ws_.prepared_of = nullptr;
    if (ws_.split_once && ws_.prepared_of != r_.x.data()) {
      prepare(0, r_.n, 0);
      ws_.prepared_of = r_.x.data();
    }
  }

  /// A scan kernel with the batch's product (fused checked: none, its lists go in run_batch) and ‖c‖².
  template <class Kernel>
  Kernel with_product(Kernel kernel, std::int64_t nb) const {
    if (!fused()) kernel.dot = Kokkos::subview(ws_.dot, Kokkos::make_pair(std::size_t(0), std::size_t(nb) * kp_));
    kernel.block_rows = ws_.block_rows;
    kernel.kp = kp_;
    kernel.cnorm = ws_.cnorm;
    return kernel;
  }

  /// One batch, rows [b0, b1): the product, then its scan.
  void run_batch(std::int64_t b0, std::int64_t b1) {
    std::int64_t const nb = b1 - b0;
    Matrix xb = Kokkos::subview(r_.x, Kokkos::make_pair(b0, b1), Kokkos::ALL());
    std::int64_t const o0 = ws_.split_once ? b0 : 0;  // where the batch's prepared rows are
    if (prepared()) {
      if (!ws_.split_once) prepare(b0, b1, 0);
      xb = Kokkos::subview(ws_.prepared_rows, Kokkos::make_pair(o0, o0 + nb), Kokkos::ALL());
    }
    Matrix const cb = tf32x3() ? Matrix(ws_.split_centroids) : cg_;
    Kokkos::View<CandidateList<T>*, mem> lists;
    if (fused()) {
      lists = Kokkos::subview(ws_.lists, Kokkos::make_pair(std::int64_t(0), nb));
      product_candidates(r_.space, xb, cg_, Kokkos::View<T const*, mem>(ws_.cnorm), r_.k, lists);
    } else {
      gemm_product(r_.space, tensor_cores_, xb, cb, ws_.dot.data(), ws_.block_rows);
    }
    if (!checked()) {
      r_.run(with_product(GemmScanKernel<ExecSpace, T, Metric, Accumulate>{}, nb), b0, b1);
      return;
    }
    auto kernel = with_product(CheckedScanKernel<ExecSpace, T, Metric, Accumulate>{}, nb);
    kernel.chk.xnorm = ws_.xnorm;
    kernel.chk.xnorm_off = b0 - o0;
    kernel.chk.cmax = cmax_;
    kernel.chk.bound = bound_;
    kernel.chk.lists = lists;
    if (fused() && r_.k <= max_gap_centroids) kernel.chk.gap = GapTest<T, mem>::make(ws_.centroid_gaps, r_.d);
    if constexpr (decltype(kernel)::defers) {
      run_checked_fit_batch(kernel, b0, b1);
    } else {
      r_.run(kernel, b0, b1);
    }
  }

  /// Checked fit epochs: the scan queues the open rows, a second launch resolves them.
  template <class Kernel>
  void run_checked_fit_batch(Kernel kernel, std::int64_t b0, std::int64_t b1) {
    auto const& space = r_.space;
    constexpr bool host = Run::host;
    std::int64_t const B = r_.launch_rows, nb = b1 - b0;
    if (ws_.pending.extent(0) < std::size_t(B)) {
      ws_.pending = Kokkos::View<PendingRow<T>*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::open_rows"), B);
      ws_.open_n = Kokkos::View<fixed_t*, mem>(Kokkos::view_alloc(space, "kkm::open_rows_count"), 2);
    }
    zero_fill(space, ws_.open_n);
    kernel.chk.pending = ws_.pending;
    kernel.chk.open_n = ws_.open_n;
    kernel.chk.queue_cap = ws_.open_queue;
    // The second launch: vectors of 32 lanes (a warp) on devices, 8 per team, as many as the device
    // runs at once (they take the open rows, whose number only the device knows, from a counter); on
    // hosts one lane per thread. At most 64 registers (4 teams per SM): it waits on memory, so more
    // warps in flight.
    int const lanes = host ? 1 : 32, per_team = host ? 1 : 8;
    static_assert(open_candidates <= 32, "measure_staged: a device lane per candidate");
    using Resolve = ResolveOpenRows<Kernel>;
    stage_open_columns(kernel.chk, lanes, per_team, Resolve::gather_rounds);
    auto const scanned = r_.run(kernel, b0, b1);
    std::int64_t const groups = std::max<std::int64_t>(1, std::min<std::int64_t>(nb, space.concurrency() / lanes));
    Kokkos::TeamPolicy<ExecSpace, Kokkos::LaunchBounds<256, 4>> policy(
        space, static_cast<int>((groups + per_team - 1) / per_team), per_team, lanes);
    policy.set_scratch_size(0, Kokkos::PerTeam(Resolve::scratch_per_vector(scanned.chk.stage_stride, lanes) * per_team + 16));
    Kokkos::parallel_for("kkm::assign_open_rows", policy, Resolve{scanned, lanes});
  }

  /// The open-row launch's staged columns: up to 256 at a time (a multiple of 4), as many as a
  /// team's scratch holds (Kokkos 3.4 on CUDA: 48 KiB per team; float64 at d ≥ 256 would need
  /// more); vec16 where rows and centroids can be read 16 bytes at a time.
  void stage_open_columns(CheckedArgs<T, mem>& chk, int lanes, int per_team, int gather_rounds) const {
    int const d = r_.d;
    std::int64_t const per_vector_max =
        static_cast<std::int64_t>(Kokkos::TeamPolicy<ExecSpace>::scratch_size_max(0) / per_team) - 64 -
        static_cast<std::int64_t>((lanes * gather_rounds + 1) * sizeof(int));
    std::int64_t const fit_cols = std::min<std::int64_t>(per_vector_max / std::int64_t(open_candidates * sizeof(T)), 1 << 20) - 4;
    chk.stage_cols = std::max(4, std::min({d, 256, static_cast<int>(fit_cols / 4 * 4)}));
    chk.stage_stride = chk.stage_cols + 4;  // (rows 16 bytes apart beyond a multiple of 128 bytes for float)
    chk.vec16 = d % (16 / sizeof(T)) == 0 && chk.stage_cols % (16 / sizeof(T)) == 0 &&
                reinterpret_cast<std::uintptr_t>(r_.x.data()) % 16 == 0 &&
                reinterpret_cast<std::uintptr_t>(r_.c.data()) % 16 == 0;
  }

  /// The sum of distances from the cluster sums (InertiaFromSums); Σ w‖x − μ‖² once per fit.
  double inertia_from_sums() {
    auto const& space = r_.space;
    Kokkos::View<T const*, mem> const mu = ws_.shift;
    if (ws_.x2_of != r_.x.data() || ws_.x2_rows != r_.n || ws_.x2_w != r_.weights.data()) {
      ws_.x2 = 0;
      Kokkos::parallel_reduce("kkm::row_square_sum",
                              Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, r_.n),
                              ShiftedSquareSum<T, mem>{r_.x, mu, r_.weights, r_.d}, ws_.x2);
      ws_.x2_of = r_.x.data();
      ws_.x2_rows = r_.n;
      ws_.x2_w = r_.weights.data();
    }
    double terms = 0;
    Kokkos::parallel_reduce(
        "kkm::inertia_from_sums", Kokkos::RangePolicy<ExecSpace>(space, 0, r_.k),
        InertiaFromSums<T, mem>{r_.c, r_.acc, r_.scale, mu, r_.weights.extent(0) > 0 ? r_.wscale : 1.0, r_.k, r_.d}, terms);
    return std::max(0.0, ws_.x2 + terms);  // ≥ 0 as every sum of squares (rounding could dip below)
  }
};

}  // namespace kkm::detail
