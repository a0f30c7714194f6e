#pragma once
/// \file KKM_Assign.hpp
/// \brief The assignment step: for each row of a batch, the distance to every centroid through the
/// metric, the argmin (ties → lowest index), and (in a fit) the row added to its centroid's
/// fixed-point sums and count. No N×k buffer: the fused path keeps nothing per (row, centroid); the
/// GEMM path keeps a B×k buffer for one batch of B rows.
///
/// Layout of the accumulator (one flat array, which is also the allreduce payload):
///   [0, k·d)            per-cluster column sums of w·x, fixed point (see KKM_FixedPoint.hpp)
///   [k·d, k·d + k)      per-cluster row counts (weight sums in fixed point with sample weights)
///   [k·d + k]           number of rows whose label changed
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/kernels/KKM_Columns.hpp>
#include <kkmeans/kernels/KKM_FixedPoint.hpp>
#include <kkmeans/kernels/KKM_SortedSums.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>

#include <KokkosBlas3_gemm.hpp>
#include <Kokkos_Core.hpp>
#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOSKERNELS_ENABLE_TPL_CUBLAS)
#include <KokkosBlas_tpl_spec.hpp>  // the cuBLAS handle KokkosBlas::gemm uses
#define KKM_HAVE_TF32X3 1
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace kkm::detail {

/// How the GEMM path computes x·cᵀ: not at all (fused kernels), BLAS in the data's precision,
/// 3xTF32, or as a filter whose candidates are then measured exactly (checked; TF32 where available).
enum class GemmKind { none, fp32, tf32x3, checked };

/// The user-facing path (its name: to_string(AssignPath)) that runs a GemmKind.
constexpr AssignPath assign_path_of(GemmKind g) {
  return g == GemmKind::fp32      ? AssignPath::gemm
         : g == GemmKind::tf32x3  ? AssignPath::gemm_tf32x3
         : g == GemmKind::checked ? AssignPath::gemm_checked
                                  : AssignPath::fused;
}

/// Whether kkmeans calls cuBLAS itself on ExecSpace (CUDA builds with the cuBLAS TPL): TF32 math,
/// the product in row blocks by one strided-batched call (gemm_product).
template <class ExecSpace>
constexpr bool cublas_space() {
#ifdef KKM_HAVE_TF32X3
  return std::is_same_v<ExecSpace, Kokkos::Cuda>;
#else
  return false;
#endif
}

/// 3xTF32 runs where cuBLAS does, for float32 only.
template <class ExecSpace, class T>
constexpr bool tf32x3_available() {
  return cublas_space<ExecSpace>() && std::is_same_v<T, float>;
}

/// v rounded to the nearest TF32 value (10 mantissa bits; ties away from zero), so that the tensor
/// cores, which ignore the low 13 bits, see it exactly; v itself where rounding would overflow.
KOKKOS_INLINE_FUNCTION float tf32_round(float v) {
  std::uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  std::uint32_t const r = (b + 0x1000u) & 0xffffe000u;
  float out;
  std::memcpy(&out, &r, sizeof out);
  if ((r & 0x7f800000u) == 0x7f800000u) {  // rounded up to inf: truncate instead
    std::uint32_t const t = b & 0xffffe000u;
    std::memcpy(&out, &t, sizeof out);
  }
  return out;
}

/// 3xTF32 operands: row i of `in` (d columns) becomes the 3d columns [hi, hi, lo] (data side) or
/// [hi, lo, hi] (centroid side), hi = tf32_round(v), lo = v − hi (exact), so that the product of a
/// data row and a centroid row is x_hi·c_hi + x_hi·c_lo + x_lo·c_hi: x·c up to x_lo·c_lo (≈ 2⁻²²
/// relative) and the TF32 rounding of the lo parts.
template <class T, class Mem>
struct SplitTf32 {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> in;
  Kokkos::View<T**, Kokkos::LayoutRight, Mem> out;
  int d = 0;
  bool centroid_side = false;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t e) const {
    std::int64_t const i = e / d;
    int const j = static_cast<int>(e % d);
    T const v = in(i, j);
    T const hi = tf32_round(v), lo = v - hi;
    out(i, j) = hi;
    out(i, d + j) = centroid_side ? lo : hi;
    out(i, 2 * d + j) = centroid_side ? hi : lo;
  }
};

#ifdef KKM_HAVE_TF32X3
/// While alive, the cuBLAS handle KokkosBlas::gemm uses runs on `space`'s stream (so that the product
/// is ordered with the kernels around it and needs no fence) and, with tf32, on TF32 tensor cores;
/// the handle's stream and math mode are restored after.
class CublasScope {
 public:
  CublasScope(Kokkos::Cuda const& space, bool tf32) : h_(KokkosBlas::Impl::CudaBlasSingleton::singleton().handle) {
    cublasGetStream(h_, &old_stream_);
    cublasGetMathMode(h_, &old_math_);
    cublasSetStream(h_, space.cuda_stream());
    if (tf32) cublasSetMathMode(h_, CUBLAS_TF32_TENSOR_OP_MATH);
  }
  cublasHandle_t handle() const { return h_; }
  ~CublasScope() {
    cublasSetMathMode(h_, old_math_);
    cublasSetStream(h_, old_stream_);
  }
  CublasScope(CublasScope const&) = delete;
  CublasScope& operator=(CublasScope const&) = delete;

 private:
  cublasHandle_t h_;
  cudaStream_t old_stream_ = nullptr;
  cublasMath_t old_math_ = CUBLAS_DEFAULT_MATH;
};
#endif

KOKKOS_INLINE_FUNCTION std::size_t accumulator_size(int k, int d) {
  return static_cast<std::size_t>(k) * d + k + 1;
}

/// Entry e of the centroids zero-padded to D columns (the small-d kernel's layout): column e % D of
/// centroid e / D, 0 past d. The padding launch and the kernel's own load into scratch both use it.
template <class T, class C>
KOKKOS_INLINE_FUNCTION T padded_centroid(C const& c, int e, int d, int D) {
  int const q = e / D, j = e - q * D;
  return j < d ? c(q, j) : T(0);
}

/// A row or centroid of compile-time length D held in registers or scratch (the small-d kernel).
template <class T, int D>
struct FixedVectorRef {
  T const* data;
  KOKKOS_INLINE_FUNCTION T operator[](int j) const { return data[j]; }
  KOKKOS_INLINE_FUNCTION constexpr int size() const { return D; }
};

/// P values of T loaded or stored together (P · sizeof(T) bytes, aligned to that).
template <class T, int P>
struct alignas(P * sizeof(T)) Pack {
  T v[P];
};
/// 16 bytes of T, for vector loads of padded centroids from scratch.
template <class T>
using Chunk16 = Pack<T, 16 / sizeof(T)>;

/// The padded width used by the small-d kernel for d columns: 4, 8 or 16 for metrics whose distance
/// is unchanged by zero columns (every built-in metric), d itself for others when d is 4, 8 or 16;
/// 0: use the generic kernel.
template <class Metric>
int small_d_width(int d) {
  if (d > 16) return 0;
  int const D = d <= 4 ? 4 : d <= 8 ? 8 : 16;
  return (is_zero_padding_neutral<Metric>::value || D == d) ? D : 0;
}

/// Whether (v1, j1) is nearer than (v2, j2): the smaller value, ties → the lower index, so that
/// every path picks the centroid the sequential scan picks.
template <class T>
KOKKOS_INLINE_FUNCTION bool nearer(T v1, int j1, T v2, int j2) {
  return v1 < v2 || (v1 == v2 && j1 < j2);
}

/// The checked GEMM path's scan of one row: the N smallest (value, index) pairs v[0..N), j[0..N)
/// (ties → lower index) and the smallest value among all others, v[N], so that afterwards it is
/// known whether more than N centroids lie under a threshold.
template <class T, int N>
struct TopN {
  static constexpr int size = N;
  T v[N + 1];
  int j[N];
  KOKKOS_INLINE_FUNCTION TopN() {
    for (int m = 0; m <= N; ++m) v[m] = Kokkos::reduction_identity<T>::min();
    for (int m = 0; m < N; ++m) j[m] = Kokkos::reduction_identity<int>::min();
  }
  /// Adds (x, jx); a value above v[N] changes nothing (the scan tests that first).
  KOKKOS_INLINE_FUNCTION void push(T x, int jx) {
    for (int m = 0; m < N; ++m)  // insertion: what (x, jx) displaces moves one place down
      if (nearer(x, jx, v[m], j[m])) {
        T const tv = v[m];
        int const tj = j[m];
        v[m] = x;
        j[m] = jx;
        x = tv;
        jx = tj;
      }
    if (x < v[N]) v[N] = x;
  }
};

/// A candidate centroid and its distance; j < 0: none yet (worse than every candidate).
template <class T>
struct NearestPair {
  T v = 0;
  int j = -1;
  /// Keeps (v, j) if it is nearer (ties → the lower index).
  KOKKOS_INLINE_FUNCTION void take(T v_, int j_) {
    if (j < 0 || nearer(v_, j_, v, j)) {
      v = v_;
      j = j_;
    }
  }
};

/// A Kokkos reducer for NearestPair: the nearer of two candidates, ties → the lower index, so that
/// lanes joined in any order agree with the sequential scan in ascending index.
template <class T, class Space>
struct NearestReducer {
  using reducer = NearestReducer;
  using value_type = NearestPair<T>;
  using result_view_type = Kokkos::View<value_type, Space, Kokkos::MemoryUnmanaged>;

 private:
  result_view_type value_;
  bool references_scalar_ = false;

 public:
  KOKKOS_INLINE_FUNCTION explicit NearestReducer(value_type& v) : value_(&v), references_scalar_(true) {}
  KOKKOS_INLINE_FUNCTION explicit NearestReducer(result_view_type const& v) : value_(v) {}
  KOKKOS_INLINE_FUNCTION void join(value_type& dest, value_type const& src) const {
    if (src.j >= 0) dest.take(src.v, src.j);
  }
  KOKKOS_INLINE_FUNCTION void join(volatile value_type& dest, volatile value_type const& src) const {
    if (src.j >= 0 && (dest.j < 0 || nearer(T(src.v), int(src.j), T(dest.v), int(dest.j)))) {
      dest.v = src.v;
      dest.j = src.j;
    }
  }
  KOKKOS_INLINE_FUNCTION void init(value_type& v) const { v = value_type{}; }
  KOKKOS_INLINE_FUNCTION value_type& reference() const { return *value_.data(); }
  KOKKOS_INLINE_FUNCTION result_view_type view() const { return value_; }
  KOKKOS_INLINE_FUNCTION bool references_scalar() const { return references_scalar_; }
};

/// Where row r of a batch of nb rows starts in the batch's product with kp centroid columns, and
/// (step) how far apart its consecutive centroids' values are. block_rows = 0: batch × kp, row
/// major. block_rows = R > 0: the rows in blocks of R (the last one may be shorter), each block's
/// kp × (its rows) product row major, the blocks one after another — centroid j's values for a
/// block's rows are contiguous.
KOKKOS_INLINE_FUNCTION std::size_t product_offset(std::int64_t r, std::int64_t nb, std::int64_t block_rows, int kp,
                                                  std::size_t& step) {
  if (block_rows <= 0) {
    step = 1;
    return static_cast<std::size_t>(r) * kp;
  }
  std::int64_t const b0 = r / block_rows * block_rows;  // the block's first row
  step = static_cast<std::size_t>(nb - b0 < block_rows ? nb - b0 : block_rows);
  return static_cast<std::size_t>(b0) * kp + static_cast<std::size_t>(r - b0);
}

/// The checked GEMM path's error bound. The product ranks centroids by a_j = ‖c'_j‖² − 2x'·c'_j
/// (x' = x − μ, c' = c − μ), which differs from ‖x − c_j‖² − ‖x'‖² by at most
///   E = u·‖x'‖·max‖c'‖ + a·(‖x'‖ + max‖c'‖)²,
/// u = 2(2ρ + ρ² + 4(K + 2)ε) (the product: operands rounded to precision ρ — TF32: 2⁻¹¹, since
/// ShiftRows rounds them to the nearest TF32 value, so that whatever conversion the library applies
/// leaves them as they are (a truncating one would err by up to 2⁻¹⁰); else 0;
/// K = d terms accumulated with unit roundoff ε, four times the textbook γ_K for margin; the factor
/// 2 is the −2x·c) and a = (4d + 16)ε (‖c'‖², the shift, and the rounding of ‖x − c‖² itself, each
/// below (d + 2)ε of the squared norms). So every centroid whose a_j ≤ min a + 2E may be nearest,
/// and no other can be.
struct CheckedBound {
  double u = 0, a = 0;
  static CheckedBound make(int d, double eps, bool tf32) {
    double const rho = tf32 ? std::ldexp(1.0, -11) : 0.0;
    return {2 * (2 * rho + rho * rho + 4 * (d + 2) * eps), (4.0 * d + 16) * eps};
  }
};

/// Rows (or centroids, padded with zero rows up to `total`) shifted by μ for the checked GEMM path,
/// with their norms: out(i, ·) = in(i, ·) − μ, norm(i) = ‖out(i, ·)‖ (norm_squared: ‖·‖²); rows
/// [rows, total) of the output are zero. One vector of lanes per row (coalesced).
template <class ExecSpace, class T>
struct ShiftRows {
  using mem = typename ExecSpace::memory_space;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  Kokkos::View<T const**, Kokkos::LayoutRight, mem> in;
  Kokkos::View<T**, Kokkos::LayoutRight, mem> out;
  Kokkos::View<T const*, mem> mu;
  Kokkos::View<T*, mem> norm;
  std::int64_t rows = 0, total = 0;
  int d = 0;
  bool norm_squared = false;
  /// float only: store each shifted value rounded to the nearest TF32 value (tf32_round), so that
  /// tensor cores see it exactly, whatever conversion the library applies (a truncating one would
  /// double the error); the norms are those of the unrounded values.
  bool round_tf32 = false;
  int rows_per_team = 1;  // set by launch()
  KOKKOS_INLINE_FUNCTION void operator()(member const& t) const {
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, rows_per_team), [&](int r) {
      std::int64_t const i = std::int64_t(t.league_rank()) * rows_per_team + r;
      if (i >= total) return;
      T s = 0;
      Kokkos::parallel_reduce(
          Kokkos::ThreadVectorRange(t, d),
          [&](int j, T& acc) {
            T const v = i < rows ? T(in(i, j) - mu(j)) : T(0);
            if constexpr (std::is_same_v<T, float>)
              out(i, j) = round_tf32 ? tf32_round(v) : v;
            else
              out(i, j) = v;
            acc += v * v;
          },
          s);
      Kokkos::single(Kokkos::PerThread(t), [&]() { norm(i) = norm_squared ? s : T(Kokkos::Experimental::sqrt(s)); });
    });
  }
  void launch(ExecSpace const& space) {
    constexpr bool host = is_host_space<ExecSpace>();
    rows_per_team = host ? 1 : 8;
    Kokkos::TeamPolicy<ExecSpace> policy(space, static_cast<int>((total + rows_per_team - 1) / rows_per_team),
                                         rows_per_team, host ? 1 : 32);
    Kokkos::parallel_for("kkm::shift_rows", policy, *this);
  }
};

/// A row whose label the checked product leaves open (fit epochs): its index in the batch, its
/// candidates by the product — n of them (2 ≤ n ≤ open_candidates) in j[0..n), nearest first; n < 0:
/// more, every centroid whose product value is ≤ thr — and the threshold.
constexpr int open_candidates = 4;
template <class T>
struct PendingRow {
  std::int64_t row = 0;
  int j[open_candidates] = {};
  int n = -1;
  T thr = 0;
};

/// What the checked GEMM path's kernel needs besides the product (an empty struct elsewhere, so that
/// the other kernels' functors stay small enough to be passed as kernel parameters).
template <class T, class Mem>
struct CheckedArgs {
  Kokkos::View<T const*, Mem> xnorm;  // ‖x'‖ of row i at i − xnorm_off
  std::int64_t xnorm_off = 0;
  T cmax = 0;  // max ‖c'‖
  CheckedBound bound;
  /// Fit epochs (no row distances): the open rows, queued per team in scratch (at most queue_cap,
  /// then straight to the global list) and appended to `pending` (count at open_n(0)) at the team's
  /// end; a second launch (ResolveOpenRows) measures them with full warps.
  Kokkos::View<PendingRow<T>*, Mem> pending;
  Kokkos::View<fixed_t*, Mem> open_n;  // [0]: rows queued in `pending`; [1]: rows taken by the second launch
  int queue_cap = 0;
  /// The second launch's scratch per vector: open_candidates rows of stage_stride values (columns
  /// staged stage_cols at a time); vec16: rows and centroids read 16 bytes at a time (rows of whole
  /// 16-byte chunks, 16-byte aligned).
  int stage_cols = 0, stage_stride = 0;
  bool vec16 = false;
};
struct NoCheckedArgs {};

/// The assignment kernel: each team takes a range of rows; per row the nearest centroid (ties →
/// lowest index), the label, the distance, and (Accumulate) the row's contribution to the sums.
///
/// Gemm: the distances come from the product of the batch's rows with the centroids (see
/// product_offset for its layouts); one thread per row scans its k values. D > 0 (fused
/// only): the row is held in registers and the centroids, zero-padded to D columns, in scratch,
/// read 16 bytes at a time; the metric sees D columns (only for metrics whose
/// distances do not change with zero columns, see small_d_width). D = 0: the metric reads the row
/// and centroids in place.
///
/// Where the per-cluster sums go: `sums_here` adds each row to the k × d sums in this kernel, in team
/// scratch when they fit (acc_in_scratch), else with global atomics; otherwise a later
/// ColumnBlockSums launch adds them and this kernel only counts rows per cluster and changed labels.
/// Checked fit epochs leave the rows the product cannot decide to ResolveOpenRows (see `defers`).
template <class ExecSpace, class T, class Metric, bool Accumulate, bool Gemm, int D = 0, bool Checked = false>
struct AssignKernel {
  static constexpr int width = D;
  static constexpr bool gemm = Gemm;
  using mem = typename ExecSpace::memory_space;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;

  Kokkos::View<T const**, Kokkos::LayoutRight, mem> x;    // IN  local rows
  Kokkos::View<T const**, Kokkos::LayoutRight, mem> c;    // IN  k × d centroids
  Kokkos::View<T const*, mem> cpad;                       // IN  (D > 0) k × D centroids, zero-padded
  Kokkos::View<double const*, mem> scale;                 // IN  fixed-point scale per column
  Kokkos::View<T const*, mem> dot;                        // IN  (GEMM) the batch's product, laid out by block_rows
  std::int64_t block_rows = 0;                            // IN  (GEMM) its layout (product_offset)
  int kp = 0;                                             // IN  (GEMM) its centroid dimension (k padded)
  Kokkos::View<T const*, mem> cnorm;                      // IN  (GEMM) ‖c‖² (checked: ‖c'‖²)
  std::conditional_t<Checked, CheckedArgs<T, mem>, NoCheckedArgs> chk;  // IN (checked GEMM path)
  Kokkos::View<T const*, mem> ct;                         // IN  (host, squared Euclidean) d × k transposed centroids
  Kokkos::View<fixed_t*, mem> acc;                        // OUT accumulator (Accumulate only)
  Kokkos::View<int*, mem> labels;                         // IN previous labels / OUT new labels
  Kokkos::View<T const*, mem> w;                          // IN  sample weights (empty: all 1)
  double wscale = 1;                                      // IN  fixed-point scale of weights
  Metric metric;
  int k = 0, d = 0;
  std::int64_t begin = 0, end = 0;  // the batch: local rows [begin, end)
  std::int64_t rows_per_team = 1;
  int scratch_level = 0;
  bool c_in_scratch = false;
  bool acc_in_scratch = false;  // the scratch accumulator (sums_here: all of it; else counts + changed) fits
  bool sums_here = true;
  /// GEMM: measure the chosen centroid's exact distance for every row (the sum of distances is the
  /// result); false (fit epochs with the built-in squared Euclidean metric): only where the product
  /// cannot decide the label, and assign_rows takes the epoch's inertia from the cluster sums (see
  /// InertiaFromSums). A compile-time constant, so that each kernel has only the code it runs (under
  /// its 64-register bound).
  static constexpr bool row_distances = !(Accumulate && std::is_same_v<Metric, SquaredEuclidean>);

  /// Entries of the team's scratch accumulator: [sums k·d,] counts k, changed 1; or just changed.
  KOKKOS_INLINE_FUNCTION std::size_t acc_scratch_len() const {
    if (!acc_in_scratch) return 1;
    return (sums_here ? std::size_t(k) * d : std::size_t(0)) + k + 1;
  }
  KOKKOS_INLINE_FUNCTION int cwidth() const { return D > 0 ? D : d; }
  std::size_t scratch_bytes() const {
    std::size_t b = acc_scratch_len() * sizeof(fixed_t);
    if (c_in_scratch) b += static_cast<std::size_t>(k) * cwidth() * sizeof(T) + 16;
    if constexpr (defers) b += static_cast<std::size_t>(chk.queue_cap) * sizeof(PendingRow<T>) + 2 * sizeof(fixed_t) + 32;
    return b + 16;
  }

  /// Checked fit epochs: rows the product leaves open are measured by a second launch (ResolveOpenRows)
  /// instead of by their warp, whose other threads would wait (a warp of the scan measured whenever
  /// one of its 32 rows was open: 20 active threads per warp on average, W2 on an H200).
  static constexpr bool defers = Gemm && Checked && !row_distances;

  /// GEMM: the exact distance of row i to centroid j (the metric's own sums; see distances).
  KOKKOS_INLINE_FUNCTION T measure_one(std::int64_t i, int j) const {
    T const* const cr[1] = {&c(j, 0)};
    T out[1];
    distances(&x(i, 0), cr, out);
    return out[0];
  }
  /// Checked path: the label and exact distance of row i between candidates j1 and j2, both
  /// measured in one pass over the row (ties → the lower index).
  KOKKOS_INLINE_FUNCTION void measure_two(std::int64_t i, int j1, int j2, int& best, T& bestd) const {
    T const* const cr[2] = {&c(j1, 0), &c(j2, 0)};
    T dd[2];
    distances(&x(i, 0), cr, dd);
    best = j1;
    bestd = dd[0];
    if (nearer(dd[1], j2, bestd, best)) {
      best = j2;
      bestd = dd[1];
    }
  }
  /// Checked path, three or more candidates: each centroid whose product value is ≤ thr measured
  /// exactly, in ascending order.
  KOKKOS_INLINE_FUNCTION void measure_all(std::int64_t i, T const* pr, std::size_t step, T thr, int& best, T& bestd) const {
    bestd = Kokkos::reduction_identity<T>::min();
    scan_product(pr, step, cnorm.data(), [&](T v, int j) {
      if (v > thr) return;
      T const dj = measure_one(i, j);
      if (dj < bestd) {
        bestd = dj;
        best = j;
      }
    });
  }

  /// The second launch of checked fit epochs (ResolveOpenRows): each vector of `lanes` lanes takes
  /// open rows four at a time from a counter (open_n(1); so no vector waits on a fixed share while
  /// others are done) and finds the nearest of the row's candidates — the n the scan kept (nearly
  /// every open row), else every centroid whose product value is ≤ thr, gathered by the lanes from
  /// the product and measured open_candidates at a time — by their exact distances (measure_staged:
  /// the metric's own sums in its own order) and NearestReducer (ties → the lower index, so any
  /// grouping gives the sequential scan's pick; of more than n, only distances below the reduction
  /// identity count, and none gives j[0], as measure_all). The row's count and changed label go to
  /// the global accumulator (the first launch left them out); changed labels once per vector.
  KOKKOS_INLINE_FUNCTION void resolve_open(member const& t, int lanes) const {
    if constexpr (defers) {
      std::int64_t const open = static_cast<std::int64_t>(chk.open_n(0));
      std::size_t const kd = std::size_t(k) * d;
      fixed_t changed_here = 0;  // (lane 0) this vector's rows whose label changed
      // This vector's scratch: differences (open_candidates × stage_stride), the gathered
      // candidates (lanes × gather_rounds) and their number.
      std::size_t const per_vector = open_scratch_per_vector(lanes);
      char* const mine = static_cast<char*>(t.team_scratch(0).get_shmem_aligned(per_vector * t.team_size(), 16)) +
                         per_vector * t.team_rank();
      T* const stage = reinterpret_cast<T*>(mine);
      int* const list = reinterpret_cast<int*>(mine + std::size_t(open_candidates) * chk.stage_stride * sizeof(T));
      int* const list_n = list + lanes * gather_rounds;
      constexpr int take_rows = 4;
      for (;;) {
        std::int64_t e0 = 0;
        Kokkos::single(
            Kokkos::PerThread(t),
            [&](std::int64_t& v) { v = static_cast<std::int64_t>(Kokkos::atomic_fetch_add(&chk.open_n(1), fixed_t(take_rows))); },
            e0);
        if (e0 >= open) break;
        std::int64_t const e1 = e0 + take_rows < open ? e0 + take_rows : open;
        for (std::int64_t e = e0; e < e1; ++e) {
          PendingRow<T> const pr_ = chk.pending(e);
          std::int64_t const i = begin + pr_.row;
          int const prev = labels(i);
          NearestPair<T> near;
          if (pr_.n > 0) {
            Kokkos::single(Kokkos::PerThread(t), [&]() {
              for (int u = 0; u < open_candidates; ++u) list[u] = pr_.j[u];
            });
            measure_staged(t, lanes, i, list, pr_.n, stage, false, near);
          } else {
            // More than open_candidates: the lanes gather every j with a product value ≤ thr,
            // lanes × gather_rounds values per round (loads in flight together), then measure them.
            std::size_t step = 1;
            T const* const pr = dot.data() + product_offset(pr_.row, end - begin, block_rows, kp, step);
            T const* const cn = cnorm.data();
            Kokkos::single(Kokkos::PerThread(t), [&]() { *list_n = 0; });
            for (int j0 = 0; j0 < k; j0 += lanes * gather_rounds) {
              Kokkos::parallel_for(Kokkos::ThreadVectorRange(t, lanes), [&](int l) {
                T v[gather_rounds];
                for (int u = 0; u < gather_rounds; ++u) {
                  int const j = j0 + u * lanes + l;
                  v[u] = j < k ? product_value(cn[j], pr[std::size_t(j) * step]) : pr_.thr;
                }
                for (int u = 0; u < gather_rounds; ++u) {
                  int const j = j0 + u * lanes + l;
                  if (j < k && !(v[u] > pr_.thr)) list[Kokkos::atomic_fetch_add(list_n, 1)] = j;
                }
              });
              int m = 0;  // (lane 0 reads the count; every lane gets it)
              Kokkos::single(Kokkos::PerThread(t), [&](int& v) { v = *list_n; }, m);
              for (int c0 = 0; c0 < m; c0 += open_candidates)
                measure_staged(t, lanes, i, list + c0, m - c0 < open_candidates ? m - c0 : open_candidates, stage, true, near);
              // Lane 0 resets the count, then the vector synchronises (this single's __syncwarp; the
              // one above only shuffles): the next round's lanes add to the count and overwrite the
              // list the lanes have just read. (compute-sanitizer racecheck flagged both pairs.)
              Kokkos::single(Kokkos::PerThread(t), [&]() { *list_n = 0; });
            }
          }
          int const best = near.j >= 0 ? near.j : pr_.j[0];
          Kokkos::single(Kokkos::PerThread(t), [&]() {
            if (prev != best) ++changed_here;
            Kokkos::atomic_add(&acc(kd + best), fixed_count(w, i, wscale));
            labels(i) = best;
          });
        }
      }
      Kokkos::single(Kokkos::PerThread(t), [&]() {
        if (changed_here > 0) Kokkos::atomic_add(&acc(kd + k), changed_here);
      });
    }
  }

  /// The second launch: product values each lane reads per round of gathering candidates.
  static constexpr int gather_rounds = 8;
  /// The second launch's scratch per vector (see resolve_open).
  KOKKOS_INLINE_FUNCTION std::size_t open_scratch_per_vector(int lanes) const {
    std::size_t const b = std::size_t(open_candidates) * chk.stage_stride * sizeof(T) + (std::size_t(lanes) * gather_rounds + 1) * sizeof(int);
    return (b + 15) / 16 * 16;
  }

  /// The second launch: row i's exact distances to the n ≤ open_candidates centroids js[0..n) (in
  /// this vector's scratch, so that lanes index them without local memory), taken
  /// into `near` (finite_only: only distances below the reduction identity). For each block of
  /// stage_cols columns, all lanes write the differences x − c of the n centroids into this vector's
  /// `stage` (coalesced loads, 16 bytes each where rows allow: stage_columns), then lane m adds the
  /// squares of centroid m's in column order: the metric's own sum (the same differences, the same
  /// fused multiply-adds in the same order), with every load of a row in flight at once instead of
  /// one lane's sixteen-byte steps.
  KOKKOS_INLINE_FUNCTION void measure_staged(member const& t, int lanes, std::int64_t i, int const* js, int n, T* stage,
                                             bool finite_only, NearestPair<T>& near) const {
    T sum[staged_per_lane] = {};
    for (int c0 = 0; c0 < d; c0 += chk.stage_cols) {
      int const cols = d - c0 < chk.stage_cols ? d - c0 : chk.stage_cols;
      if (chk.vec16)  // rows of whole 16-byte chunks, 16-byte aligned
        stage_columns<16 / sizeof(T)>(t, lanes, i, js, n, stage, c0, cols, sum);
      else
        stage_columns<1>(t, lanes, i, js, n, stage, c0, cols, sum);
    }
    NearestPair<T> mine;
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(t, lanes),
        [&](int l, NearestPair<T>& b) {
          for (int r = 0; r < staged_per_lane; ++r) {
            int const m = l + r * lanes;
            if (m >= n) break;
            if (!finite_only || sum[r] < Kokkos::reduction_identity<T>::min()) b.take(sum[r], js[m]);
          }
        },
        NearestReducer<T, mem>(mine));
    if (mine.j >= 0) near.take(mine.v, mine.j);
  }

  /// measure_staged's lane l sums the squares of centroids l, l + lanes, … (< n); a device's vector
  /// has at least open_candidates lanes.
  static constexpr int staged_per_lane = is_host_space<ExecSpace>() ? open_candidates : 1;

  /// measure_staged for columns [c0, c0 + cols) (cols a multiple of P): all lanes write the
  /// differences x − c of the n centroids into `stage`, P values per load and store, then each lane
  /// adds the squares of its centroids' into sum in column order.
  template <int P>
  KOKKOS_INLINE_FUNCTION void stage_columns(member const& t, int lanes, std::int64_t i, int const* js, int n, T* stage,
                                            int c0, int cols, T (&sum)[staged_per_lane]) const {
    using U = Pack<T, P>;
    int const ss = chk.stage_stride;
    int const cq = cols / P;
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(t, lanes), [&](int l) {
#pragma unroll 1
      for (int q = l; q < cq; q += lanes) {  // (one 16-byte chunk per lane at d ≤ 128 on a device)
        U const xu = reinterpret_cast<U const*>(&x(i, c0))[q];
        U cv[open_candidates];
        for (int m = 0; m < open_candidates; ++m)
          if (m < n) cv[m] = reinterpret_cast<U const*>(&c(js[m], c0))[q];
        for (int m = 0; m < open_candidates; ++m)
          if (m < n) {
            U dl;
            for (int z = 0; z < P; ++z) dl.v[z] = xu.v[z] - cv[m].v[z];
            reinterpret_cast<U*>(stage + std::size_t(m) * ss)[q] = dl;
          }
      }
    });
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(t, lanes), [&](int l) {
      for (int r = 0; r < staged_per_lane; ++r) {
        int const m = l + r * lanes;
        if (m >= n) break;
        auto const* da = reinterpret_cast<U const*>(stage + std::size_t(m) * ss);
        for (int q = 0; q < cq; ++q) {
          U const u = da[q];
          for (int z = 0; z < P; ++z) sum[r] += u.v[z] * u.v[z];
        }
      }
    });
  }

  /// GEMM: the value that ranks centroid j for a row, ‖c_j‖² − 2x·c_j, from its product entry p = x·c_j.
  /// One expression for the scan and the second launch, so that both compare the same value with thr.
  KOKKOS_INLINE_FUNCTION static T product_value(T cn_j, T p) { return cn_j - T(2) * p; }

  /// GEMM: take(‖c_j‖² − 2x·c_j, j) for j = 0, 1, …, k − 1 from a row's product values pr[j·step];
  /// the product is read U values ahead (independent loads in flight).
  template <class Take>
  KOKKOS_INLINE_FUNCTION void scan_product(T const* pr, std::size_t step, T const* cn, Take&& take) const {
    constexpr int U = 8;
    int j = 0;
    for (; j + U <= k; j += U) {
      T a[U];
      for (int u = 0; u < U; ++u) a[u] = pr[std::size_t(j + u) * step];
      for (int u = 0; u < U; ++u) take(product_value(cn[j + u], a[u]), j + u);
    }
    for (; j < k; ++j) take(product_value(cn[j], pr[std::size_t(j) * step]), j);
  }

  /// GEMM: the metric's distances between a row and centroids cr[0..N) (d values each). For the
  /// built-in squared Euclidean metric with 16-byte aligned rows of whole 16-byte chunks, the same
  /// sums in the same order, the row read once for all N and 16 bytes at a time: the thread of each
  /// row reads its own row, so a warp's load touches 32 rows, and 16-byte loads need a quarter of
  /// the memory transactions (the W2 argmin's exact distances measured 0.63 ms per 262144 rows
  /// with 4-byte loads, 0.45 with 16-byte loads; an H200).
  template <int N>
  KOKKOS_INLINE_FUNCTION void distances(T const* xr, T const* const (&cr)[N], T (&out)[N]) const {
    if constexpr (std::is_same_v<Metric, SquaredEuclidean>) {
      constexpr int per = 16 / sizeof(T);
      bool aligned = d % per == 0 && reinterpret_cast<std::uintptr_t>(xr) % 16 == 0;
      for (int m = 0; m < N; ++m) aligned = aligned && reinterpret_cast<std::uintptr_t>(cr[m]) % 16 == 0;
      if (aligned) {
        auto const* xa = reinterpret_cast<Chunk16<T> const*>(xr);
        for (int m = 0; m < N; ++m) out[m] = 0;
        for (int q = 0; q < d / per; ++q) {
          Chunk16<T> const u = xa[q];
          for (int m = 0; m < N; ++m) {
            Chunk16<T> const v = reinterpret_cast<Chunk16<T> const*>(cr[m])[q];
            for (int e = 0; e < per; ++e) {
              T const t = u.v[e] - v.v[e];
              out[m] += t * t;
            }
          }
        }
        return;
      }
    }
    for (int m = 0; m < N; ++m) out[m] = static_cast<T>(metric(VectorRef<T>{xr, d}, VectorRef<T>{cr[m], d}));
  }

  /// Rows per thread of the small-d kernel on a device: each centroid read from scratch serves R
  /// rows (R independent compare chains). 1 on hosts and in the other kernels, so that their rows
  /// are visited in the same order as before.
  static constexpr int rows_per_thread = (D > 0 && !Gemm && !is_host_space<ExecSpace>()) ? (D == 4 ? 4 : D == 8 ? 2 : 1) : 1;

  /// Small-d kernel: the nearest centroid of each of R rows, the metric over D columns (rows
  /// zero-padded in registers, centroids `cs` zero-padded to D columns, read 16 bytes at a time).
  template <int R>
  KOKKOS_INLINE_FUNCTION void nearest_rows(std::int64_t const* rows, T const* cs, int* best, T* bestd) const {
    static_assert(D > 0, "the small-d kernel only");
    T xr[R][D];
    for (int r = 0; r < R; ++r) {
      best[r] = 0;
      bestd[r] = T(0);
      for (int j = 0; j < D; ++j) xr[r][j] = j < d ? x(rows[r], j) : T(0);
    }
    constexpr int per = 16 / sizeof(T);
    auto const* cc = reinterpret_cast<Chunk16<T> const*>(cs);
    for (int q = 0; q < k; ++q) {
      T cr[D];
      for (int m = 0; m < D / per; ++m) {
        Chunk16<T> const v = cc[std::size_t(q) * (D / per) + m];
        for (int e = 0; e < per; ++e) cr[m * per + e] = v.v[e];
      }
      for (int r = 0; r < R; ++r) {
        T const dq = static_cast<T>(metric(FixedVectorRef<T, D>{xr[r]}, FixedVectorRef<T, D>{cr}));
        if (q == 0 || dq < bestd[r]) {
          bestd[r] = dq;
          best[r] = q;
        }
      }
    }
  }

  /// Generic kernel: the nearest centroid of row i by the metric over centroids `cs` (k × d).
  KOKKOS_INLINE_FUNCTION void nearest(std::int64_t i, T const* cs, int& best, T& bestd) const {
    best = 0;
    VectorRef<T> const xi{&x(i, 0), d};
    if constexpr (is_host_space<ExecSpace>() && std::is_same_v<Metric, SquaredEuclidean>) {
      if (ct.extent(0) > 0) {
        // Host, squared-Euclidean metrics: the same sums in the same order as the metric's
        // (Σ_j (x_j − c_j)², j ascending), over a transposed d × k copy of the centroids so
        // that the innermost loop runs over centroids and vectorises.
        constexpr int QB = 64;
        T acc_[QB];
        bestd = T(0);
        for (int q0 = 0; q0 < k; q0 += QB) {
          int const qn = k - q0 < QB ? k - q0 : QB;
          for (int q = 0; q < qn; ++q) acc_[q] = T(0);
          for (int j = 0; j < d; ++j) {
            T const xj = xi[j];
            T const* cj = ct.data() + std::size_t(j) * k + q0;
            for (int q = 0; q < qn; ++q) {
              T const t = xj - cj[q];
              acc_[q] += t * t;
            }
          }
          for (int q = 0; q < qn; ++q)
            if ((q0 == 0 && q == 0) || acc_[q] < bestd) {
              bestd = acc_[q];
              best = q0 + q;
            }
        }
        return;
      }
    }
    bestd = static_cast<T>(metric(xi, VectorRef<T>{cs, d}));
    for (int j = 1; j < k; ++j) {
      T const dj = static_cast<T>(metric(xi, VectorRef<T>{cs + std::size_t(j) * d, d}));
      if (dj < bestd) {
        bestd = dj;
        best = j;
      }
    }
  }

  KOKKOS_FUNCTION void operator()(member const& t, double& inertia) const {
    auto const len = acc_scratch_len();
    int const cw = cwidth();
    T const* cs = D > 0 ? cpad.data() : c.data();
    if (c_in_scratch) {
      // (D > 0: zero-padded here, from the k × d centroids; no padded copy in global memory)
      auto* s = static_cast<T*>(
          t.team_scratch(scratch_level).get_shmem_aligned(std::size_t(k) * cw * sizeof(T), 16));
      Kokkos::parallel_for(Kokkos::TeamVectorRange(t, k * cw), [&](int e) {
        if constexpr (D > 0) {
          s[e] = padded_centroid<T>(c, e, d, D);
        } else {
          s[e] = cs[e];
        }
      });
      cs = s;
    }
    auto* lacc = static_cast<fixed_t*>(t.team_scratch(scratch_level).get_shmem(len * sizeof(fixed_t)));
    Kokkos::parallel_for(Kokkos::TeamVectorRange(t, static_cast<int>(len)), [&](int e) { lacc[e] = 0; });
    // Checked fit epochs: the team's queue of open rows, its length and its place in the global list.
    PendingRow<T>* queue = nullptr;
    int* queue_n = nullptr;
    fixed_t* queue_at = nullptr;
    if constexpr (defers) {
      queue_at = static_cast<fixed_t*>(t.team_scratch(scratch_level).get_shmem(2 * sizeof(fixed_t)));
      queue_n = reinterpret_cast<int*>(queue_at + 1);
      queue = static_cast<PendingRow<T>*>(
          t.team_scratch(scratch_level).get_shmem(std::size_t(chk.queue_cap) * sizeof(PendingRow<T>)));
      Kokkos::single(Kokkos::PerTeam(t), [&]() { *queue_n = 0; });
    }
    t.team_barrier();

    // Where this team adds sums, counts and the changed-label count.
    std::size_t const kd = std::size_t(k) * d;
    fixed_t* const sums = acc_in_scratch ? lacc : acc.data();
    fixed_t* const counts = acc_in_scratch ? lacc + (sums_here ? kd : 0) : acc.data() + kd;
    fixed_t* const changed = acc_in_scratch ? counts + k : lacc;
    std::int64_t const i0 = begin + t.league_rank() * rows_per_team;
    std::int64_t const i1 = i0 + rows_per_team < end ? i0 + rows_per_team : end;

    // Row i is done: its label, its contribution to the sums, counts and changed count, its distance.
    auto finish = [&](std::int64_t i, int best, T bestd, double& ls) {
      Kokkos::single(Kokkos::PerThread(t), [&]() {
        double const wi = w.extent(0) > 0 ? static_cast<double>(w(i)) : 1.0;
        if constexpr (Accumulate) {
          if (labels(i) != best) Kokkos::atomic_add(changed, fixed_t(1));
          if (sums_here)
            for (int j = 0; j < d; ++j)
              Kokkos::atomic_add(&sums[std::size_t(best) * d + j], fixed_term(w, x, i, j, scale(j)));
          Kokkos::atomic_add(&counts[best], fixed_count(w, i, wscale));
        }
        labels(i) = best;
        ls += wi * static_cast<double>(bestd);
      });
    };

    // Each thread takes R rows: i0 + s + r·slots, r < R (coalesced for each r).
    constexpr int R = rows_per_thread;
    std::int64_t const slots = (i1 - i0 + R - 1) / R;
    double team_sum = 0;
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(t, slots),
        [&](std::int64_t s, double& ls) {
          if constexpr (Gemm) {
            // One thread per row scans the row's k values ‖c‖² − 2x·c of the product for the
            // smallest and the lowest index that attains it, then measures the exact distance of
            // that centroid. Checked: the two smallest and the third value, then the exact
            // distance of every centroid the bound cannot rule out.
            std::int64_t const i = i0 + s;
            std::size_t step = 1;
            T const* const pr = dot.data() + product_offset(i - begin, end - begin, block_rows, kp, step);
            T const* const cn = cnorm.data();
            int best = 0;
            T bestd = 0;
            if constexpr (!Checked) {
              T bv = Kokkos::reduction_identity<T>::min();
              scan_product(pr, step, cn, [&](T v, int j) {
                if (v < bv) {  // ascending j: ties keep the lowest index
                  bv = v;
                  best = j;
                }
              });
              if constexpr (row_distances) bestd = measure_one(i, best);
            } else {
              // Fit epochs keep open_candidates, so that the second launch knows every candidate
              // of nearly all open rows without reading the product again; elsewhere two.
              TopN<T, defers ? open_candidates : 2> tb;
              constexpr int N = decltype(tb)::size;
              scan_product(pr, step, cn, [&](T v, int j) {
                if (v <= tb.v[N]) tb.push(v, j);  // a value above the (N+1)-th smallest changes nothing
              });
              double const xn = static_cast<double>(chk.xnorm(i - chk.xnorm_off)), cm = static_cast<double>(chk.cmax);
              double const E = chk.bound.u * xn * cm + chk.bound.a * (xn + cm) * (xn + cm);
              // The threshold, raised by its own rounding to T (v1 may be negative: relative to |·|).
              double const thr_d = static_cast<double>(tb.v[0]) + 2 * E;
              T const thr = static_cast<T>(thr_d + 4 * Kokkos::Experimental::epsilon<T>::value * Kokkos::Experimental::fabs(thr_d) +
                                           4 * Kokkos::Experimental::norm_min<T>::value);
              if constexpr (defers) {
                if (!(tb.v[1] > thr)) {  // open: queued for the second launch
                  Kokkos::single(Kokkos::PerThread(t), [&]() {
                    PendingRow<T> e;
                    e.row = i - begin;
                    e.thr = thr;
                    e.n = tb.v[N] > thr ? 0 : -1;  // −1: more than N candidates
                    for (int m = 0; m < N; ++m) {
                      e.j[m] = tb.j[m];
                      if (e.n >= 0 && tb.v[m] <= thr) ++e.n;
                    }
                    int const slot = Kokkos::atomic_fetch_add(queue_n, 1);
                    if (slot < chk.queue_cap)
                      queue[slot] = e;
                    else
                      chk.pending(Kokkos::atomic_fetch_add(&chk.open_n(0), fixed_t(1))) = e;
                  });
                  return;
                }
                best = tb.j[0];
              } else if (tb.v[2] > thr) {  // at most two candidates
                best = tb.j[0];
                if (tb.v[1] <= thr) {  // both measured in one pass over the row
                  measure_two(i, tb.j[0], tb.j[1], best, bestd);
                } else if constexpr (row_distances) {
                  bestd = measure_one(i, best);
                }
              } else {  // three or more: each candidate measured exactly, in ascending order
                measure_all(i, pr, step, thr, best, bestd);
              }
            }
            finish(i, best, bestd, ls);
          } else if constexpr (D > 0) {
            std::int64_t rows[R];
            for (int r = 0; r < R; ++r) {
              std::int64_t const i = i0 + s + r * slots;
              rows[r] = i < i1 ? i : i0 + s;  // past the end: a valid row, computed and dropped
            }
            int best[R];
            T bestd[R];
            nearest_rows<R>(rows, cs, best, bestd);
            for (int r = 0; r < R; ++r)
              if (i0 + s + r * slots < i1) finish(rows[r], best[r], bestd[r], ls);
          } else {
            int best = 0;
            T bestd = 0;
            nearest(i0 + s, cs, best, bestd);
            finish(i0 + s, best, bestd, ls);
          }
        },
        team_sum);
    if constexpr (Accumulate) {
      t.team_barrier();
      if (acc_in_scratch) {
        std::size_t const off = sums_here ? 0 : kd;  // scratch entry e is acc(off + e)
        // TeamVectorRange: each entry once.
        Kokkos::parallel_for(Kokkos::TeamVectorRange(t, static_cast<int>(len)), [&](int e) {
          if (lacc[e] != 0) Kokkos::atomic_add(&acc(off + e), lacc[e]);
        });
      } else {
        Kokkos::single(Kokkos::PerTeam(t), [&]() {
          if (lacc[0] != 0) Kokkos::atomic_add(&acc(kd + k), lacc[0]);
        });
      }
    }
    if constexpr (defers) {  // the team's queue to the global list (after the barrier above)
      int const m = *queue_n < chk.queue_cap ? *queue_n : chk.queue_cap;
      Kokkos::single(Kokkos::PerTeam(t), [&]() {
        *queue_at = m > 0 ? Kokkos::atomic_fetch_add(&chk.open_n(0), fixed_t(m)) : fixed_t(0);
      });
      t.team_barrier();
      fixed_t const at = *queue_at;
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, m), [&](int e) { chk.pending(at + e) = queue[e]; });
    }
    Kokkos::single(Kokkos::PerTeam(t), [&]() { inertia += team_sum; });
  }
};

/// The second launch of checked fit epochs: AssignKernel::resolve_open, vectors of `lanes` lanes
/// taking the queued rows from a counter.
template <class Kernel>
struct ResolveOpenRows {
  Kernel kernel;
  int lanes = 1;
  KOKKOS_INLINE_FUNCTION void operator()(typename Kernel::member const& t) const { kernel.resolve_open(t, lanes); }
};

/// Per-cluster column sums of w·x (fixed point) for labelled rows, when they do not fit a team's
/// scratch whole: each team takes a block of `cb` columns and a range of rows and adds into a k × cb
/// scratch block (or, if even one column of k sums does not fit, straight into the global sums).
/// Integer sums, so the result is the same as adding row by row.
template <class ExecSpace, class T>
struct ColumnBlockSums {
  using mem = typename ExecSpace::memory_space;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  Kokkos::View<T const**, Kokkos::LayoutRight, mem> x;
  Kokkos::View<int const*, mem> labels;
  Kokkos::View<T const*, mem> w;
  Kokkos::View<double const*, mem> scale;
  Kokkos::View<fixed_t*, mem> acc;
  int k = 0, d = 0, cb = 1, blocks = 1;
  std::int64_t n = 0, rows_per_team = 1;
  int scratch_level = 0;
  bool in_scratch = true;

  std::size_t scratch_bytes() const { return (in_scratch ? std::size_t(k) * cb * sizeof(fixed_t) : 0) + 16; }

  KOKKOS_FUNCTION void operator()(member const& t) const {
    int const b = t.league_rank() % blocks;
    std::int64_t const chunk = t.league_rank() / blocks;
    int const j0 = b * cb;
    int const nc = d - j0 < cb ? d - j0 : cb;
    std::int64_t const i0 = chunk * rows_per_team;
    std::int64_t const i1 = i0 + rows_per_team < n ? i0 + rows_per_team : n;
    if (i0 >= i1) return;
    fixed_t* s = nullptr;
    if (in_scratch) {
      s = static_cast<fixed_t*>(t.team_scratch(scratch_level).get_shmem(std::size_t(k) * cb * sizeof(fixed_t)));
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, k * cb), [&](int e) { s[e] = 0; });
      t.team_barrier();
    }
    // Thread r of the team takes entries e = r, r + T, r + 2T, … of the (row, column) block in row
    // order; its row and column advance by T / nc and T % nc (with carry) instead of a 64-bit
    // division per entry.
    int const T_ = t.team_size();
    int const di = T_ / nc, dj = T_ % nc;
    std::int64_t i = i0 + t.team_rank() / nc;
    int jj = t.team_rank() % nc;
    for (; i < i1; i += di) {
      int const j = j0 + jj;
      fixed_t const q = fixed_term(w, x, i, j, scale(j));
      if (q != 0) {
        if (in_scratch)
          Kokkos::atomic_add(&s[std::size_t(labels(i)) * cb + jj], q);
        else
          Kokkos::atomic_add(&acc(std::size_t(labels(i)) * d + j), q);
      }
      jj += dj;
      if (jj >= nc) {
        jj -= nc;
        ++i;
      }
    }
    if (in_scratch) {
      t.team_barrier();
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, k * nc), [&](int e) {
        int const q = e / nc, jj = e % nc;
        fixed_t const v = s[std::size_t(q) * cb + jj];
        if (v != 0) Kokkos::atomic_add(&acc(std::size_t(q) * d + j0 + jj), v);
      });
    }
  }
};

/// Zero-padded copy of the k × d centroids with D columns (the small-d kernel's layout).
template <class T, class Mem>
struct PadCentroids {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> c;
  Kokkos::View<T*, Mem> out;
  int d, D;
  KOKKOS_INLINE_FUNCTION void operator()(int e) const { out(e) = padded_centroid<T>(c, e, d, D); }
};

/// labels(i) ← remap(labels(i)) after empty clusters were dropped (negative labels: unassigned, kept).
template <class Mem>
struct Relabel {
  Kokkos::View<int*, Mem> labels;
  Kokkos::View<int*, Mem> remap;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    int const l = labels(i);
    labels(i) = l >= 0 ? remap(l) : l;
  }
};

/// ‖c_j‖² for the GEMM path.
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

/// Σ_i w_i ‖x_i − μ‖² in double (w empty: all 1), the first term of InertiaFromSums.
template <class T, class Mem>
struct ShiftedSquareSum {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> x;
  Kokkos::View<T const*, Mem> mu, w;
  int d = 0;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, double& s) const {
    double r = 0;
    for (int j = 0; j < d; ++j) {
      double const t = static_cast<double>(x(i, j)) - static_cast<double>(mu(j));
      r += t * t;
    }
    s += (w.extent(0) > 0 ? static_cast<double>(w(i)) : 1.0) * r;
  }
};

/// The sum of squared distances of labelled rows to their centroids from the cluster sums: with
/// c' = c − μ, S'_q = S_q − W_q·μ (S_q = Σ w·x and W_q = Σ w over the rows of cluster q, exact
/// integer sums, see KKM_FixedPoint.hpp),
///   Σ_i w_i ‖x_i − c_{l(i)}‖² = Σ_i w_i ‖x_i − μ‖² + Σ_q c'_q · (W_q c'_q − 2 S'_q),
/// an identity, here evaluated in double; this functor adds cluster q's term. μ (the column means)
/// keeps the cancellation small. The GEMM paths' fit epochs use it instead of each row's exact
/// distance, which the product does not give.
template <class T, class Mem>
struct InertiaFromSums {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> c;
  Kokkos::View<fixed_t const*, Mem> acc;
  Kokkos::View<double const*, Mem> scale;
  Kokkos::View<T const*, Mem> mu;
  double wscale = 1;
  int k = 0, d = 0;
  KOKKOS_INLINE_FUNCTION void operator()(int q, double& s) const {
    std::size_t const kd = std::size_t(k) * d;
    auto const cnt = static_cast<long long>(acc(kd + q));
    if (cnt == 0) return;
    double const W = static_cast<double>(cnt) / wscale;
    double t = 0;
    for (int j = 0; j < d; ++j) {
      double const m = static_cast<double>(mu(j));
      double const cp = static_cast<double>(c(q, j)) - m;
      double const sp = static_cast<double>(static_cast<long long>(acc(std::size_t(q) * d + j))) / scale(j) - W * m;
      t += cp * (W * cp - 2 * sp);
    }
    s += t;
  }
};

/// The one allreduce of an epoch (or mini-batch step). `buf` holds this rank's accumulator in its
/// first acc_len entries and room for one slot per rank after it; each rank's inertia travels bit
/// for bit in its slot and all ranks add them in rank order, so the returned global inertia is the
/// same everywhere. On return `buf` holds the global sums, counts and changed-label count.
inline double allreduce_accumulator(std::vector<fixed_t>& buf, std::size_t acc_len, double local_inertia,
                                    Communicator const& comm) {
  int const P = comm.size();
  KKM_ASSERT(buf.size() == acc_len + std::size_t(P));
  std::memcpy(&buf[acc_len + comm.rank()], &local_inertia, sizeof(double));
  comm.allreduce_sum(buf.data(), buf.size());
  double inertia = 0;
  for (int r = 0; r < P; ++r) {
    double v;
    std::memcpy(&v, &buf[acc_len + r], sizeof(double));
    inertia += v;
  }
  return inertia;
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

/// Device buffers of one assignment setup, reused across batches and epochs.
template <class ExecSpace, class T>
struct AssignWorkspace {
  using mem = typename ExecSpace::memory_space;
  Kokkos::View<T*, mem> dot;                          // GEMM only: the batch's product, batch × kp (k rounded up to 8) entries
  /// GEMM: the product's layout (product_offset): blocks of 256 rows where one cuBLAS call makes
  /// them (CUDA: a warp's threads, one per row, read 128 contiguous bytes per centroid and a team
  /// streams through its block), else 0 (a host thread reads its row contiguously; elsewhere each
  /// block would be a product of its own). Either works on any backend.
  std::int64_t block_rows = cublas_space<ExecSpace>() ? 256 : 0;
  Kokkos::View<T*, mem> cnorm;                        // GEMM only: kp
  Kokkos::View<T**, Kokkos::LayoutRight, mem> cpadg;  // GEMM only, k not a multiple of 8 or checked: kp × d, zero rows past k
  Kokkos::View<T*, mem> cpad;                       // small-d kernel: k × D padded centroids
  Kokkos::View<T**, Kokkos::LayoutRight, mem> xs;   // 3xTF32: batch (split_once: all n) × 3d split rows; checked: × d shifted
  Kokkos::View<T**, Kokkos::LayoutRight, mem> cs;   // 3xTF32 only: kp × 3d split centroids
  Kokkos::View<T*, mem> xnorm;                      // checked only: ‖x − μ‖ of the rows in xs
  Kokkos::View<T*, mem> shift;                      // checked, and GEMM fit epochs: μ (d), set by the caller (else zero)
  Kokkos::View<double*, mem> partial;               // each launch's sum of distances when there are several (or defer_total)
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
  Kokkos::View<double*, staging_space_t<ExecSpace>> partial_h;
  /// The deferred launches' distances added in launch order (after a fence; assign_rows' own sum of
  /// several launches too).
  double deferred_total() const { return launch_total(partial_h.data(), deferred); }
  bool split_once = false;         // 3xTF32 / checked: prepare all rows once (the caller checked that they fit)
  T const* split_of = nullptr;     // the rows whose split xs holds (split_once), nullptr: none yet
  /// GEMM fit epochs: Σ w‖x − μ‖² (ShiftedSquareSum) of the rows at x2_of (x2_rows of them, weights
  /// at x2_w), made once per fit (the rows, weights and μ never change within one).
  double x2 = 0;
  T const* x2_of = nullptr;
  T const* x2_w = nullptr;
  std::int64_t x2_rows = -1;
  /// Column sums in label order (sorted_column_sums): its buffers, and when to use it: 1 always, 0
  /// never (ColumnBlockSums), −1 (auto) on devices where one column of k sums per team's scratch
  /// cannot hold all d columns (W2 on an H200: see KKM_SortedSums.hpp).
  SortedSumsBuffers<ExecSpace> sorted;
  /// Checked fit epochs: the batch's rows the product leaves open, and their count.
  Kokkos::View<PendingRow<T>*, mem> pending;
  Kokkos::View<fixed_t*, mem> open_n;  // [0] queued, [1] taken by the second launch
  int open_queue = 256;  // entries of a team's queue of open rows (more go straight to the list)
  int sorted_sums = -1;
  int sorted_lanes = 256;  // hosts (one thread per team): the lanes it runs in turn (devices: the team)
  /// Bytes held now (the buffers only grow within a fit, so after the final assignment: the peak).
  std::size_t bytes() const {
    return (dot.span() + cnorm.span() + cpadg.span() + cpad.span() + xs.span() + cs.span() + xnorm.span() + shift.span()) *
               sizeof(T) +
           partial.span() * sizeof(double) + sorted.bytes() + pending.span() * sizeof(PendingRow<T>) +
           open_n.span() * sizeof(fixed_t);
  }
};

/// out = a·bᵀ through KokkosBlas::gemm, in order with the work already on `space` and the work
/// enqueued after; tensor_cores: with cuBLAS' TF32 tensor-core math (CUDA, float32 only; otherwise
/// the flag must be false).
template <class ExecSpace, class A, class Bm, class C>
void gemm_nt(ExecSpace const& space, bool tensor_cores, A const& a, Bm const& b, C const& out) {
  using T = typename C::non_const_value_type;
  KKM_ASSERT(!tensor_cores || (tf32x3_available<ExecSpace, T>()));
#ifdef KKM_HAVE_TF32X3
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
    // Every LayoutRight "N", "T" product of CUDA views goes to cuBLAS (KokkosBlas' TPL spec).
    CublasScope const scope(space, tensor_cores);
    KokkosBlas::gemm("N", "T", T(1), a, b, T(0), out);
    return;
  }
#endif
  // KokkosBlas' own kernels run on the default instance: fence on both sides.
  space.fence();
  KokkosBlas::gemm("N", "T", T(1), a, b, T(0), out);
  Kokkos::fence();
}

/// The product of a batch's rows xb (nb × m) with the centroids cb (kp × m) into `out`, laid out by
/// block_rows (product_offset), in order with the work on `space`; tensor_cores as for gemm_nt.
template <class ExecSpace, class T, class Mem>
void gemm_product(ExecSpace const& space, bool tensor_cores, Kokkos::View<T const**, Kokkos::LayoutRight, Mem> xb,
                  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> cb, T* out, std::int64_t block_rows) {
  std::int64_t const nb = xb.extent(0);
  int const kp = cb.extent(0);
  using Out = Kokkos::View<T**, Kokkos::LayoutRight, Mem>;
  if (block_rows <= 0) {
    gemm_nt(space, tensor_cores, xb, cb, Out(out, nb, kp));
    return;
  }
#ifdef KKM_HAVE_TF32X3
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
    std::int64_t const full = nb / block_rows, rem = nb - full * block_rows;
    // KokkosBlas has no strided-batched product: cuBLAS directly, one call for the full blocks.
    // Column major, block b is C_b = X_bᵀ·C (rows × kp, leading dimension rows): the row-major
    // kp × rows product of the layout.
    CublasScope const scope(space, tensor_cores);
    T const one = 1, zero = 0;
    int const m = static_cast<int>(xb.extent(1));
    auto call = [&](T const* a, T* c, std::int64_t rows, std::int64_t count) {
      cublasStatus_t st;
      if constexpr (std::is_same_v<T, float>)
        st = cublasSgemmStridedBatched(scope.handle(), CUBLAS_OP_T, CUBLAS_OP_N, int(rows), kp, m, &one, a, int(xb.stride(0)),
                                       rows * xb.stride(0), cb.data(), int(cb.stride(0)), 0, &zero, c, int(rows), rows * kp,
                                       int(count));
      else
        st = cublasDgemmStridedBatched(scope.handle(), CUBLAS_OP_T, CUBLAS_OP_N, int(rows), kp, m, &one, a, int(xb.stride(0)),
                                       rows * xb.stride(0), cb.data(), int(cb.stride(0)), 0, &zero, c, int(rows), rows * kp,
                                       int(count));
      if (st != CUBLAS_STATUS_SUCCESS)
        throw std::runtime_error("cuBLAS strided-batched GEMM failed (status " + std::to_string(int(st)) + ")");
    };
    if (full > 0) call(xb.data(), out, block_rows, full);
    if (rem > 0) call(xb.data() + full * block_rows * xb.stride(0), out + full * block_rows * kp, rem, 1);
  } else
#endif
  {
    for (std::int64_t b0 = 0; b0 < nb; b0 += block_rows) {  // a product per block
      std::int64_t const rows = std::min(block_rows, nb - b0);
      gemm_nt(space, tensor_cores, cb, Kokkos::subview(xb, Kokkos::make_pair(b0, b0 + rows), Kokkos::ALL()),
              Out(out + b0 * kp, kp, rows));
    }
  }
}

/// Runs the assignment over local rows [begin, end) and returns the local sum of distances.
/// With Accumulate, acc (zeroed by the caller) receives sums, counts and the changed count.
template <bool Accumulate, class ExecSpace, class T, class Metric>
double assign_rows(ExecSpace const& space,
                   Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                   Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> c,
                   Kokkos::View<double const*, typename ExecSpace::memory_space> scale,
                   Kokkos::View<fixed_t*, typename ExecSpace::memory_space> acc,
                   Kokkos::View<int*, typename ExecSpace::memory_space> labels, Metric const& metric, GemmKind gemm_kind,
                   std::int64_t batch, AssignWorkspace<ExecSpace, T>& ws,
                   Kokkos::View<T const*, typename ExecSpace::memory_space> weights = {}, double wscale = 1) {
  using mem = typename ExecSpace::memory_space;
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  int const k = c.extent(0);
  if (n == 0) return 0.0;
  bool const gemm = gemm_kind != GemmKind::none;
  constexpr bool host = is_host_space<ExecSpace>();
  int const level = host ? 1 : 0;
  std::size_t const smax = Kokkos::TeamPolicy<ExecSpace>::scratch_size_max(level);
  int const team = host ? 1 : 256;
  std::int64_t const teams_target = host ? 8 * space.concurrency() : std::max(1, 2 * space.concurrency() / team);
  // Whole accumulator in each team's scratch (sums too), or only counts + changed there and the sums
  // by ColumnBlockSums afterwards. The GEMM path always leaves the sums to ColumnBlockSums.
  bool const whole_fits = accumulator_size(k, d) * sizeof(fixed_t) + 8 <= smax / 2;
  bool const sums_here = Accumulate && !gemm && whole_fits;

  // With several launches (batches), each reduces its rows' distances into its own device slot, so
  // that no batch waits for the host; the slots are read and added in launch order once, at the end
  // (or by the caller after its own fence: defer_total). A single launch without defer_total
  // reduces straight to the host (Kokkos' own result path: W1 with a device slot read by a fence of
  // its own measured 0.202 ms per epoch against 0.180).
  std::int64_t const launch_rows = batch_rows(n, batch);
  std::size_t const launches = assign_launches(n, batch);
  bool const to_slots = launches > 1 || ws.defer_total;
  bool const caller_copies = ws.defer_total && ws.caller_copies;
  KKM_ASSERT(!caller_copies || (ws.partial.extent(0) >= launches && ws.partial_h.extent(0) >= launches));
  ws.deferred = 0;
  if (to_slots && ws.partial.extent(0) < launches)
    ws.partial = Kokkos::View<double*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::batch_distances"),
                                            launches);
  std::size_t launch = 0;
  double single = 0;
  auto total = [&]() {
    KKM_ASSERT(launch == launches);
    if (!to_slots) return single;
    // The slots to the host (deferred: read after the caller's fence; else after this one).
    if (ws.partial_h.extent(0) < launches)
      ws.partial_h = Kokkos::View<double*, staging_space_t<ExecSpace>>(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::batch_distances_host"), launches);
    auto const r = Kokkos::make_pair(std::size_t(0), launches);
    if (!caller_copies) Kokkos::deep_copy(space, Kokkos::subview(ws.partial_h, r), Kokkos::subview(ws.partial, r));
    ws.deferred = launches;
    if (ws.defer_total) return 0.0;
    space.fence();
    double const sum = ws.deferred_total();
    ws.deferred = 0;
    return sum;
  };
  // The kernel's inputs and where its accumulator and centroids live (scratch or global memory).
  auto configure = [&](auto& kernel) {
    kernel.x = x;
    kernel.c = c;
    kernel.scale = scale;
    kernel.acc = acc;
    kernel.labels = labels;
    kernel.w = weights;
    kernel.wscale = wscale;
    kernel.metric = metric;
    kernel.k = k;
    kernel.d = d;
    kernel.scratch_level = level;
    kernel.sums_here = sums_here;
    kernel.acc_in_scratch = Accumulate && (sums_here ? whole_fits : (std::size_t(k) + 1) * sizeof(fixed_t) + 8 <= smax / 2);
    std::size_t const acc_bytes = kernel.acc_scratch_len() * sizeof(fixed_t) + 16;
    std::size_t const c_bytes = std::size_t(k) * kernel.cwidth() * sizeof(T) + 16;
    kernel.c_in_scratch = !host && !gemm && acc_bytes + c_bytes <= smax;
  };
  auto run = [&](auto kernel, std::int64_t b0, std::int64_t b1) {
    configure(kernel);
    kernel.begin = b0;
    kernel.end = b1;
    std::int64_t rows = (b1 - b0 + teams_target - 1) / teams_target;
    constexpr int R = decltype(kernel)::rows_per_thread;
    if (!host) rows = ((rows + team * R - 1) / (team * R)) * (team * R);
    kernel.rows_per_team = std::max<std::int64_t>(rows, 1);
    std::int64_t const league = (b1 - b0 + kernel.rows_per_team - 1) / kernel.rows_per_team;
    char const* label = gemm ? "kkm::assign_gemm" : "kkm::assign_fused";
    auto go = [&](auto policy) {
      policy.set_scratch_size(level, Kokkos::PerTeam(kernel.scratch_bytes()));
      if (!to_slots)
        Kokkos::parallel_reduce(label, policy, kernel, single);
      else
        Kokkos::parallel_reduce(label, policy, kernel, Kokkos::subview(ws.partial, launch));
    };
    if constexpr (decltype(kernel)::gemm && !host) {
      // At most 64 registers (4 teams of 256 per SM): the FP32 path's argmin measured 0.82 → 0.64
      // ms per 262144 W2 rows on an H200 (the checked one uses 56 either way).
      go(Kokkos::TeamPolicy<ExecSpace, Kokkos::LaunchBounds<256, 4>>(space, static_cast<int>(league), team));
    } else {
      go(Kokkos::TeamPolicy<ExecSpace>(space, static_cast<int>(league), team));
    }
    ++launch;
    return kernel;
  };
  // The per-cluster column sums of all n rows from their (new) labels.
  auto column_sums = [&]() {
    if (!Accumulate || sums_here) return;
    int const fit_cols = static_cast<int>((smax - 64) / (std::size_t(k) * sizeof(fixed_t)));
    if (ws.sorted_sums == 1 || (ws.sorted_sums < 0 && !host && fit_cols < d)) {
      sorted_column_sums<ExecSpace, T>(space, x, labels, weights, scale, acc, k, team, host ? ws.sorted_lanes : team,
                                       teams_target, ws.sorted);
      return;
    }
    ColumnBlockSums<ExecSpace, T> cs;
    cs.x = x;
    cs.labels = labels;
    cs.w = weights;
    cs.scale = scale;
    cs.acc = acc;
    cs.k = k;
    cs.d = d;
    cs.n = n;
    cs.scratch_level = level;
    cs.in_scratch = fit_cols >= 1;
    cs.cb = std::max(1, std::min(d, fit_cols));
    cs.blocks = (d + cs.cb - 1) / cs.cb;
    std::int64_t const chunks = std::max<std::int64_t>(1, teams_target / cs.blocks);
    cs.rows_per_team = (n + chunks - 1) / chunks;
    std::int64_t const league = cs.blocks * ((n + cs.rows_per_team - 1) / cs.rows_per_team);
    Kokkos::TeamPolicy<ExecSpace> policy(space, static_cast<int>(league), team);
    policy.set_scratch_size(level, Kokkos::PerTeam(cs.scratch_bytes()));
    Kokkos::parallel_for("kkm::column_sums", policy, cs);
  };

  if (gemm) {
    if constexpr (is_squared_euclidean<Metric>::value) {
      std::int64_t const B = launch_rows;
      bool const tf32x3 = gemm_kind == GemmKind::tf32x3, checked = gemm_kind == GemmKind::checked;
      // Fit epochs with the built-in squared Euclidean metric: the sum of distances from the cluster
      // sums, and each row's exact distance only where the product cannot decide its label (the
      // checked argmin on an H200: 0.78 → 0.61–0.71 ms per 262144 W2 rows).
      constexpr bool sums_inertia = !AssignKernel<ExecSpace, T, Metric, Accumulate, true>::row_distances;
      KKM_REQUIRE(!tf32x3 || (tf32x3_available<ExecSpace, T>()),
                  "the 3xTF32 GEMM path needs the CUDA build with cuBLAS and float32 data");
      // The product and ‖c‖² have kp = k rounded up to 8 columns (zero centroids past k, never
      // chosen): the product's dimensions stay multiples of 8 (32 bytes) whatever k is (e.g. after
      // empty clusters were dropped), which cuBLAS' fast kernels need.
      int const kp = (k + 7) / 8 * 8;
      // v as rows × cols (at least rows when !exact), (re)allocated if needed; true if it was.
      auto ensure = [&](auto& v, std::size_t rows, std::size_t cols, char const* label, bool exact = true) {
        using V = std::decay_t<decltype(v)>;
        if ((exact ? v.extent(0) != rows : v.extent(0) < rows) || v.extent(1) != cols) {
          v = V(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string(label)), rows, cols);
          return true;
        }
        return false;
      };
      bool const tensor_cores = (tf32x3 || checked) && tf32x3_available<ExecSpace, T>();
      if (ws.cnorm.extent(0) != std::size_t(kp))
        ws.cnorm = Kokkos::View<T*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::cnorm"), kp);
      Kokkos::View<T const**, Kokkos::LayoutRight, mem> cg = c;
      T cmax = 0;
      // μ, for the checked product and the inertia from the cluster sums: set by the caller, else 0.
      if ((checked || sums_inertia) && ws.shift.extent(0) != std::size_t(d))
        ws.shift = Kokkos::View<T*, mem>(Kokkos::view_alloc(space, "kkm::shift"), d);
      if (checked) {
        // Centroids shifted by μ (zero rows past k), ‖c'‖², and max ‖c'‖ for the bound.
        ensure(ws.cpadg, kp, d, "kkm::gemm_centroids");
        ShiftRows<ExecSpace, T>{c, ws.cpadg, ws.shift, ws.cnorm, k, kp, d, true, tensor_cores}.launch(space);
        T m2 = 0;
        auto cn = ws.cnorm;
        Kokkos::parallel_reduce("kkm::max_centroid_norm", Kokkos::RangePolicy<ExecSpace>(space, 0, k),
                                KOKKOS_LAMBDA(int q, T& m) { m = cn(q) > m ? cn(q) : m; }, Kokkos::Max<T>(m2));
        cmax = static_cast<T>(std::sqrt(static_cast<double>(m2)) * (1 + 1e-6));
        cg = ws.cpadg;
      } else {
        if (kp != k) {
          ensure(ws.cpadg, kp, d, "kkm::gemm_centroids");
          Kokkos::deep_copy(space, Kokkos::subview(ws.cpadg, Kokkos::make_pair(0, k), Kokkos::ALL()), c);
          Kokkos::deep_copy(space, Kokkos::subview(ws.cpadg, Kokkos::make_pair(k, kp), Kokkos::ALL()), T(0));
          cg = ws.cpadg;
        }
        Kokkos::parallel_for("kkm::centroid_norms", Kokkos::RangePolicy<ExecSpace>(space, 0, kp),
                             CentroidNorms<T, mem>{cg, ws.cnorm, d});
      }
      if (ws.dot.extent(0) < std::size_t(B) * kp)
        ws.dot = Kokkos::View<T*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::gemm_dot"),
                                       std::size_t(B) * kp);
      // Rows prepared for the product (3xTF32: split; checked: shifted, with norms): all n once
      // per fit (split_once) or each batch.
      bool const prepared = tf32x3 || checked;
      int const xcols = tf32x3 ? 3 * d : d;
      auto prepare = [&](std::int64_t r0, std::int64_t r1, std::int64_t o0) {  // rows [r0, r1) into xs from o0
        auto in = Kokkos::subview(x, Kokkos::make_pair(r0, r1), Kokkos::ALL());
        auto out = Kokkos::subview(ws.xs, Kokkos::make_pair(o0, o0 + (r1 - r0)), Kokkos::ALL());
        if (tf32x3) {
          Kokkos::parallel_for("kkm::split_tf32_rows", Kokkos::RangePolicy<ExecSpace>(space, 0, (r1 - r0) * d),
                               SplitTf32<T, mem>{in, out, d, false});
        } else {
          auto xn = Kokkos::subview(ws.xnorm, Kokkos::make_pair(o0, o0 + (r1 - r0)));
          ShiftRows<ExecSpace, T>{in, out, ws.shift, xn, r1 - r0, r1 - r0, d, false, tensor_cores}.launch(space);
        }
      };
      if (prepared) {
        std::int64_t const rows = ws.split_once ? n : B;
        bool fresh = ensure(ws.xs, rows, xcols, tf32x3 ? "kkm::tf32x3_rows" : "kkm::shifted_rows", false);
        if (checked && ws.xnorm.extent(0) < std::size_t(rows)) {
          ws.xnorm = Kokkos::View<T*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::row_norms"), rows);
          fresh = true;
        }
        if (fresh) ws.split_of = nullptr;
        if (ws.split_once && ws.split_of != x.data()) {  // the rows never change within a fit
          prepare(0, n, 0);
          ws.split_of = x.data();
        }
      }
      if (tf32x3) {
        ensure(ws.cs, kp, 3 * d, "kkm::tf32x3_centroids");
        Kokkos::parallel_for("kkm::split_tf32_centroids", Kokkos::RangePolicy<ExecSpace>(space, 0, std::int64_t(kp) * d),
                             SplitTf32<T, mem>{cg, ws.cs, d, true});
      }
      CheckedBound const bound = CheckedBound::make(d, Kokkos::Experimental::epsilon<T>::value / 2, tensor_cores);
      for (std::int64_t b0 = 0; b0 < n; b0 += B) {
        std::int64_t const b1 = std::min(n, b0 + B);
        std::int64_t const nb = b1 - b0;
        Kokkos::View<T const**, Kokkos::LayoutRight, mem> xb = Kokkos::subview(x, Kokkos::make_pair(b0, b1), Kokkos::ALL());
        std::int64_t const o0 = ws.split_once ? b0 : 0;  // where the batch's prepared rows are
        if (prepared) {
          if (!ws.split_once) prepare(b0, b1, 0);
          xb = Kokkos::subview(ws.xs, Kokkos::make_pair(o0, o0 + (b1 - b0)), Kokkos::ALL());
        }
        Kokkos::View<T const**, Kokkos::LayoutRight, mem> const cb = tf32x3 ? Kokkos::View<T const**, Kokkos::LayoutRight, mem>(ws.cs) : cg;
        gemm_product(space, tensor_cores, xb, cb, ws.dot.data(), ws.block_rows);
        auto with_product = [&](auto kernel) {  // the batch's product and ‖c‖²
          kernel.dot = Kokkos::subview(ws.dot, Kokkos::make_pair(std::size_t(0), std::size_t(nb) * kp));
          kernel.block_rows = ws.block_rows;
          kernel.kp = kp;
          kernel.cnorm = ws.cnorm;
          return kernel;
        };
        if (checked) {
          auto kernel = with_product(AssignKernel<ExecSpace, T, Metric, Accumulate, true, 0, true>{});
          kernel.chk.xnorm = ws.xnorm;
          kernel.chk.xnorm_off = b0 - o0;
          kernel.chk.cmax = cmax;
          kernel.chk.bound = bound;
          if constexpr (decltype(kernel)::defers) {
            if (ws.pending.extent(0) < std::size_t(B)) {
              ws.pending = Kokkos::View<PendingRow<T>*, mem>(
                  Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::open_rows"), B);
              ws.open_n = Kokkos::View<fixed_t*, mem>(Kokkos::view_alloc(space, "kkm::open_rows_count"), 2);
            }
            zero_fill(space, ws.open_n);
            kernel.chk.pending = ws.pending;
            kernel.chk.open_n = ws.open_n;
            kernel.chk.queue_cap = ws.open_queue;
            // The second launch: vectors of 32 lanes (a warp) on devices, 8 per team, as many as
            // the device runs at once (they take the open rows, whose number only the device knows,
            // from a counter); on hosts one lane per thread. At most 64 registers (4 teams per SM):
            // it waits on memory, so more warps in flight.
            int const lanes = host ? 1 : 32, per_team = host ? 1 : 8;
            static_assert(open_candidates <= 32, "measure_staged: a device lane per candidate");
            // Its staged columns: up to 256 at a time (a multiple of 4), as many as a team's scratch
            // holds (Kokkos 3.4 on CUDA: 48 KiB per team; float64 at d ≥ 256 would need more).
            std::int64_t const per_vector_max =
                static_cast<std::int64_t>(Kokkos::TeamPolicy<ExecSpace>::scratch_size_max(0) / per_team) - 64 -
                static_cast<std::int64_t>((lanes * decltype(kernel)::gather_rounds + 1) * sizeof(int));
            std::int64_t const fit_cols =
                std::min<std::int64_t>(per_vector_max / std::int64_t(open_candidates * sizeof(T)), 1 << 20) - 4;
            kernel.chk.stage_cols = std::max(4, std::min({d, 256, static_cast<int>(fit_cols / 4 * 4)}));
            kernel.chk.stage_stride = kernel.chk.stage_cols + 4;  // (rows 16 bytes apart beyond a multiple of 128 bytes for float)
            kernel.chk.vec16 = d % (16 / sizeof(T)) == 0 && kernel.chk.stage_cols % (16 / sizeof(T)) == 0 &&
                               reinterpret_cast<std::uintptr_t>(x.data()) % 16 == 0 &&
                               reinterpret_cast<std::uintptr_t>(c.data()) % 16 == 0;
            auto const k2 = run(kernel, b0, b1);
            std::int64_t const groups = std::max<std::int64_t>(1, std::min<std::int64_t>(nb, space.concurrency() / lanes));
            Kokkos::TeamPolicy<ExecSpace, Kokkos::LaunchBounds<256, 4>> policy(
                space, static_cast<int>((groups + per_team - 1) / per_team), per_team, lanes);
            policy.set_scratch_size(0, Kokkos::PerTeam(k2.open_scratch_per_vector(lanes) * per_team + 16));
            Kokkos::parallel_for("kkm::assign_open_rows", policy, ResolveOpenRows<decltype(k2)>{k2, lanes});
          } else {
            run(kernel, b0, b1);
          }
        } else {
          run(with_product(AssignKernel<ExecSpace, T, Metric, Accumulate, true>{}), b0, b1);
        }
      }
      column_sums();
      if (!sums_inertia) return total();
      // The sum of distances from the cluster sums (InertiaFromSums); Σ w‖x − μ‖² once per fit.
      Kokkos::View<T const*, mem> const mu = ws.shift;
      if (ws.x2_of != x.data() || ws.x2_rows != n || ws.x2_w != weights.data()) {
        ws.x2 = 0;
        Kokkos::parallel_reduce("kkm::row_square_sum",
                                Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n),
                                ShiftedSquareSum<T, mem>{x, mu, weights, d}, ws.x2);
        ws.x2_of = x.data();
        ws.x2_rows = n;
        ws.x2_w = weights.data();
      }
      double terms = 0;
      Kokkos::parallel_reduce("kkm::inertia_from_sums", Kokkos::RangePolicy<ExecSpace>(space, 0, k),
                              InertiaFromSums<T, mem>{c, acc, scale, mu, weights.extent(0) > 0 ? wscale : 1.0, k, d}, terms);
      return std::max(0.0, ws.x2 + terms);  // ≥ 0 as every sum of squares (rounding could dip below)
    }
  }
  std::int64_t const B = launch_rows;
  auto fused_over_batches = [&](auto fused) {
    for (std::int64_t b0 = 0; b0 < n; b0 += B) run(fused, b0, std::min(n, b0 + B));
    column_sums();
    return total();
  };
  // Host fast path for the built-in squared Euclidean (its formula is what the kernel reproduces).
  if constexpr (host && std::is_same_v<Metric, SquaredEuclidean>) {
    AssignKernel<ExecSpace, T, Metric, Accumulate, false> fused;
    Kokkos::View<T*, mem> t(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::ct"), std::size_t(k) * d);
    for (int q = 0; q < k; ++q)
      for (int j = 0; j < d; ++j) t(std::size_t(j) * k + q) = c(q, j);
    fused.ct = t;
    return fused_over_batches(fused);
  } else {
    // Small d: rows in registers, zero-padded centroids read 16 bytes at a time.
    int const D = small_d_width<Metric>(d);
    auto padded = [&](auto fused) {
      constexpr int W = decltype(fused)::width;
      // Centroids in each team's scratch: the kernel pads them there (one launch less per epoch).
      configure(fused);
      if (fused.c_in_scratch) return fused_over_batches(fused);
      if (ws.cpad.extent(0) != std::size_t(k) * W)
        ws.cpad = Kokkos::View<T*, mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::cpad"),
                                        std::size_t(k) * W);
      Kokkos::parallel_for("kkm::pad_centroids", Kokkos::RangePolicy<ExecSpace>(space, 0, k * W),
                           PadCentroids<T, mem>{c, ws.cpad, d, W});
      fused.cpad = ws.cpad;
      return fused_over_batches(fused);
    };
    if (D == 4) return padded(AssignKernel<ExecSpace, T, Metric, Accumulate, false, 4>{});
    if (D == 8) return padded(AssignKernel<ExecSpace, T, Metric, Accumulate, false, 8>{});
    if (D == 16) return padded(AssignKernel<ExecSpace, T, Metric, Accumulate, false, 16>{});
    return fused_over_batches(AssignKernel<ExecSpace, T, Metric, Accumulate, false>{});
  }
}

}  // namespace kkm::detail
