#pragma once
/// \file KKM_FusedTf32.hpp
/// \brief The fused checked path's product on CUDA tensor cores (sm_80 and later, float32 rows of
/// at most 256 columns): each block keeps 128 shifted rows in shared memory and multiplies them with
/// all centroids, 128 at a time (16 columns per stage, four stages of copies in flight), in TF32
/// mma.sync tiles with FP32 accumulation — four warps, each 64 rows × 64 centroids — and reduces
/// every finished tile straight into each row's two best values per thread: the product is never
/// written. At the end the block merges each row's candidates into its CandidateList
/// (KKM_Nearest.hpp). The product's error is the one the checked bound states for any TF32 product
/// with FP32 accumulation, whatever the order of the sums (KKM_CheckedBound.hpp), so the checked
/// scan decides labels from these lists as from cuBLAS' product.
///
/// Other backends and devices never see this file's kernel: product_candidates runs its portable
/// kernel there.
#include <kkmeans/kernels/assign/KKM_Nearest.hpp>

#include <Kokkos_Core.hpp>

#if defined(KOKKOS_ENABLE_CUDA) && defined(__CUDACC__)
#include <cuda_runtime.h>
#define KKM_HAVE_FUSED_TF32 1
#endif
#ifdef KKM_HAVE_FUSED_WGMMA
#include <kkmeans/kernels/assign/tpls/KKM_FusedWgmma.hpp>
#endif

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace kkm::detail {

/// Whether ExecSpace and T may run the tensor-core product (the device is asked by fused_tf32_runs).
template <class ExecSpace, class T>
constexpr bool fused_tf32_space() {
#ifdef KKM_HAVE_FUSED_TF32
  return std::is_same_v<ExecSpace, Kokkos::Cuda> && std::is_same_v<T, float>;
#else
  return false;
#endif
}

/// The widest rows the tensor-core kernel keeps in shared memory (128 rows × 260 floats).
constexpr int fused_tf32_max_d = 256;

#ifdef KKM_HAVE_FUSED_TF32
namespace fused_tf32 {

constexpr int block_rows = 128;  // rows per block, resident in shared memory for the whole launch
constexpr int block_cols = 128;  // centroids per tile
constexpr int chunk = 16;        // columns per pipeline stage of a centroid tile
constexpr int stages = 4;        // centroid chunks in flight
constexpr int threads = 128;     // 4 warps: 2 along the rows (64 each) × 2 along the centroids (64 each)
constexpr int contributors = 8;  // per row: 4 lanes × 2 warps along the centroids
constexpr int row_pad = 16;      // the rows' stride in shared memory: dpad + 16 floats (see multiply_chunk)

struct Args {
  float const* x;  // shifted rows, TF32 values, nb × d (leading dimension ldx)
  std::int64_t ldx, nb;
  float const* c;  // shifted centroids, TF32 values, kp × d (leading dimension ldc), zero past k
  std::int64_t ldc;
  int kp, k, d, dpad;  // dpad: d rounded up to 32
  float const* cnorm;  // ‖c'‖²
  CandidateList<float>* out;
};

__device__ inline void mma_tf32(float (&acc)[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0,
                                unsigned b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#endif
}

/// Asynchronous copy of `bytes` (≤ Bytes) to shared memory, the rest of the Bytes zero-filled.
template <int Bytes>
__device__ inline void copy_async(float* dst, float const* src, int bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  unsigned const s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  if constexpr (Bytes == 16)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src), "r"(bytes));
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s), "l"(src), "r"(bytes));
#endif
}

__device__ inline void copy_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}

/// Waits until at most N committed groups of copies are still in flight.
template <int N>
__device__ inline void copy_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

/// The block's rows into As (block_rows × (dpad + row_pad)), zero past nb rows and d columns.
template <bool Vec16>
__device__ inline void stage_rows(Args const& a, float* As, std::int64_t row0) {
  constexpr int per = Vec16 ? 4 : 1;
  int const q_row = a.dpad / per;
  for (int q = threadIdx.x; q < block_rows * q_row; q += threads) {
    int const r = q / q_row, col = q % q_row * per;
    bool const in = row0 + r < a.nb && col < a.d;
    float const* src = in ? a.x + (row0 + r) * a.ldx + col : a.x;
    copy_async<4 * per>(As + r * (a.dpad + row_pad) + col, src, in ? 4 * per : 0);
  }
}

/// Chunk `kc` of centroid tile `n0` (columns 16·kc …) into dst (block_cols × chunk), zero past kp
/// rows and d columns. Vec16: 16-byte copies (d and the leading dimensions multiples of 4, both
/// operands aligned; each thread the same column of four centroids 32 apart); else 4-byte ones.
template <bool Vec16>
__device__ inline void stage_centroids(Args const& a, float* dst, int n0, int kc) {
  if constexpr (Vec16) {
    int const n = threadIdx.x / 4, col = threadIdx.x % 4 * 4, cc = kc * chunk + col;
#pragma unroll
    for (int i = 0; i < block_cols / 32; ++i) {
      int const cn = n0 + n + 32 * i;
      bool const in = cn < a.kp && cc < a.d;
      copy_async<16>(dst + (n + 32 * i) * chunk + col, in ? a.c + std::int64_t(cn) * a.ldc + cc : a.c, in ? 16 : 0);
    }
  } else {
    for (int q = threadIdx.x; q < block_cols * chunk; q += threads) {
      int const n = q / chunk, col = q % chunk, cn = n0 + n, cc = kc * chunk + col;
      bool const in = cn < a.kp && cc < a.d;
      copy_async<4>(dst + n * chunk + col, in ? a.c + std::int64_t(cn) * a.ldc + cc : a.c, in ? 4 : 0);
    }
  }
}

/// A thread's running two best (value, centroid) for each of its eight rows, and the least of the
/// values it saw but does not keep.
struct TwoBest {
  float v1[8], v2[8];
  float rest[8];  // the least value of the others (kept: only values within the bound are candidates)
  int j1[8], j2[8];
  __device__ TwoBest() {
#pragma unroll
    for (int r = 0; r < 8; ++r) v1[r] = v2[r] = rest[r] = INFINITY, j1[r] = j2[r] = -1;
  }
  __device__ void take(int r, float v, int j) {  // j ascending: ties keep the lower index first
    rest[r] = fminf(rest[r], fmaxf(v, v2[r]));      // v, or the v2 it displaces
    if (v < v2[r]) {
      if (v < v1[r]) {
        v2[r] = v1[r], j2[r] = j1[r], v1[r] = v, j1[r] = j;
      } else {
        v2[r] = v, j2[r] = j;
      }
    }
  }
};

/// A thread's accumulators of a finished centroid tile into its rows' two best: its columns
/// n0 + 64·wn + 8·nt + 2t + e, its rows 64·wm + 16·mt + g + 8h (register 2h + e of tile (mt, nt)).
__device__ inline void take_tile(Args const& a, float const (&acc)[4][8][4], int n0, int wn, int t, TwoBest& best) {
#pragma unroll
  for (int nt = 0; nt < 8; ++nt)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      int const col = n0 + wn * 64 + nt * 8 + 2 * t + e;
      if (col >= a.k) continue;
      float const cn = __ldg(a.cnorm + col);
#pragma unroll
      for (int mt = 0; mt < 4; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) best.take(mt * 2 + h, cn - 2.f * acc[mt][nt][2 * h + e], col);
    }
}

/// The two values of k-step ks (slots t and t + 4) in a lane's 16-byte load: x, y for the first,
/// z, w for the second (multiply_chunk's column order).
__device__ inline float2 step_pair(float4 v, int ks) { return ks == 0 ? make_float2(v.x, v.y) : make_float2(v.z, v.w); }

/// One chunk of 16 columns: two k-steps of 4 × 8 mma tiles per warp. The sum over the chunk's
/// columns may take them in any order as long as rows and centroids agree: k-step s gives lane
/// (g, t) columns 4t + 2s and 4t + 2s + 1 (where the mma's layout says t and t + 4), so that a lane
/// reads both k-steps' values of a row with one 16-byte load. Strides of 16 floats past a multiple
/// of 32 keep each quarter warp's loads on distinct banks. Tiles go two centroid groups at a time,
/// both k-steps' products of an accumulator eight mma apart (not back to back: each waits for the
/// one before).
__device__ inline void multiply_chunk(float const* a_lane, int a_stride, float const* b_lane, float (&acc)[4][8][4]) {
  float4 a[4][2];  // [mt][row g, row g + 8]
#pragma unroll
  for (int mt = 0; mt < 4; ++mt) {
    a[mt][0] = *reinterpret_cast<float4 const*>(a_lane + mt * 16 * a_stride);
    a[mt][1] = *reinterpret_cast<float4 const*>(a_lane + (mt * 16 + 8) * a_stride);
  }
#pragma unroll
  for (int np = 0; np < 8; np += 2) {
    float4 const b[2] = {*reinterpret_cast<float4 const*>(b_lane + np * 8 * chunk),
                         *reinterpret_cast<float4 const*>(b_lane + (np + 1) * 8 * chunk)};
#pragma unroll
    for (int ks = 0; ks < 2; ++ks)
#pragma unroll
      for (int u = 0; u < 2; ++u)
#pragma unroll
        for (int mt = 0; mt < 4; ++mt) {
          float2 const g0 = step_pair(a[mt][0], ks), g8 = step_pair(a[mt][1], ks), bc = step_pair(b[u], ks);
          mma_tf32(acc[mt][np + u], __float_as_uint(g0.x), __float_as_uint(g8.x), __float_as_uint(g0.y),
                   __float_as_uint(g8.y), __float_as_uint(bc.x), __float_as_uint(bc.y));
        }
  }
}

/// The block's rows' candidates merged from every contributor's two best (in shared memory `v`,
/// `j`: block_rows × 2·contributors; `rest`: block_rows × contributors, the least value each did not
/// keep) into their CandidateLists: the union's four smallest, and as the bound on unlisted values
/// the least of the union's fifth and every contributor's rest.
__device__ inline void write_lists(Args const& a, float const* v, int const* j, float const* rest) {
  for (int r = threadIdx.x; r < block_rows; r += threads) {
    std::int64_t const row = std::int64_t(blockIdx.x) * block_rows + r;
    if (row >= a.nb) return;
    float bound = INFINITY;
    for (int q = 0; q < contributors; ++q) bound = fminf(bound, rest[r * contributors + q]);
    CandidateListBuilder<float> list;
    for (int e = 0; e < 2 * contributors; ++e) list.offer(v[r * 2 * contributors + e], j[r * 2 * contributors + e]);
    list.write(a.out[row], bound);
  }
}

template <bool Vec16>
__global__ void __launch_bounds__(threads, 2) candidates_kernel(Args a) {
  extern __shared__ __align__(16) float smem[];
  int const a_stride = a.dpad + row_pad;
  float* const As = smem;                          // block_rows × a_stride
  float* const Bs = smem + block_rows * a_stride;  // stages × block_cols × chunk
  int const lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int const g = lane >> 2, t = lane & 3, wm = warp >> 1, wn = warp & 1;
  std::int64_t const row0 = std::int64_t(blockIdx.x) * block_rows;
  int const chunks = a.dpad / chunk, tiles = (a.k + block_cols - 1) / block_cols, steps = tiles * chunks;
  float const* const a_lane = As + (wm * 64 + g) * a_stride + 4 * t;
  int const b_lane = (wn * 64 + g) * chunk + 4 * t;

  stage_rows<Vec16>(a, As, row0);
  for (int s = 0; s < stages - 1; ++s) {  // (the rows go with the first group)
    if (s < steps) stage_centroids<Vec16>(a, Bs + s * block_cols * chunk, s / chunks * block_cols, s % chunks);
    copy_commit();
  }
  float acc[4][8][4];
  TwoBest best;
  int tile = 0, kc = 0;
  for (int s = 0; s < steps; ++s) {
    copy_wait<stages - 2>();
    __syncthreads();  // chunk s landed; the buffer refilled next was read by all in step s − 1
    int const next = s + stages - 1;
    if (next < steps)
      stage_centroids<Vec16>(a, Bs + next % stages * block_cols * chunk, next / chunks * block_cols, next % chunks);
    copy_commit();
    if (kc == 0)
#pragma unroll
      for (int mt = 0; mt < 4; ++mt)
#pragma unroll
        for (int nt = 0; nt < 8; ++nt)
#pragma unroll
          for (int r = 0; r < 4; ++r) acc[mt][nt][r] = 0.f;
    multiply_chunk(a_lane + kc * chunk, a_stride, Bs + s % stages * block_cols * chunk + b_lane, acc);
    if (++kc == chunks) {
      take_tile(a, acc, tile * block_cols, wn, t, best);
      kc = 0;
      ++tile;
    }
  }
  copy_wait<0>();
  __syncthreads();  // every read of the tiles is done: shared memory takes the candidates
  float* const cv = smem;
  int* const cj = reinterpret_cast<int*>(smem + block_rows * 2 * contributors);
  float* const cr = smem + block_rows * 4 * contributors;
  int const q = wn * 4 + t;
#pragma unroll
  for (int mt = 0; mt < 4; ++mt)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      int const r = wm * 64 + mt * 16 + g + 8 * h, at = r * 2 * contributors + 2 * q;
      cv[at] = best.v1[mt * 2 + h], cj[at] = best.j1[mt * 2 + h];
      cv[at + 1] = best.v2[mt * 2 + h], cj[at + 1] = best.j2[mt * 2 + h];
      cr[r * contributors + q] = best.rest[mt * 2 + h];
    }
  __syncthreads();
  write_lists(a, cv, cj, cr);
}

/// Shared memory of a block: the rows and the centroid stages (at least the merge's lists).
inline std::size_t shared_bytes(int dpad) {
  std::size_t const tiles =
      (std::size_t(block_rows) * (dpad + row_pad) + std::size_t(stages) * block_cols * chunk) * sizeof(float);
  std::size_t const lists = std::size_t(block_rows) * contributors * (3 * sizeof(float) + 2 * sizeof(int));
  return tiles > lists ? tiles : lists;
}

}  // namespace fused_tf32

/// Whether the tensor-core kernel runs rows of d columns on the current device (sm_80 or later).
inline bool fused_tf32_runs(int d) {
  static int const major = [] {
    int dev = 0, m = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&m, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess)
      return 0;
    return m;
  }();
  return major >= 8 && d >= 1 && d <= fused_tf32_max_d;
}

/// The candidate lists of nb shifted rows x against the kp shifted centroids c (k of them real) into
/// out, on `stream`; both operands TF32 values (ShiftRows' round_tf32).
inline void fused_tf32_candidates(cudaStream_t stream, float const* x, std::int64_t ldx, std::int64_t nb,
                                  float const* c, std::int64_t ldc, int kp, int k, int d, float const* cnorm,
                                  CandidateList<float>* out) {
  using namespace fused_tf32;
  int const dpad = (d + 31) / 32 * 32;
  Args const a{x, ldx, nb, c, ldc, kp, k, d, dpad, cnorm, out};
  std::size_t const smem = shared_bytes(dpad);
  bool const vec16 = d % 4 == 0 && ldc % 4 == 0 && ldx % 4 == 0 && reinterpret_cast<std::uintptr_t>(c) % 16 == 0 &&
                     reinterpret_cast<std::uintptr_t>(x) % 16 == 0;
  auto const kernel = vec16 ? candidates_kernel<true> : candidates_kernel<false>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  unsigned const blocks = static_cast<unsigned>((nb + block_rows - 1) / block_rows);
  kernel<<<blocks, threads, smem, stream>>>(a);
  cudaError_t const err = cudaGetLastError();
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("the tensor-core candidate kernel did not launch: ") +
                             cudaGetErrorString(err));
}
#endif

/// Whether the fused checked path runs this file's kernel for rows of d columns on ExecSpace (else
/// its portable one): the one test both the kernel's launch and the TF32 rounding of its operands
/// follow.
template <class ExecSpace, class T>
bool fused_tf32_available(int d) {
#ifdef KKM_HAVE_FUSED_TF32
  if constexpr (fused_tf32_space<ExecSpace, T>()) return fused_tf32_runs(d);
#endif
  (void)d;
  return false;
}

/// Whether the fused checked path runs Hopper's warp-group kernel (KKM_FusedWgmma.hpp) for rows of
/// d columns on ExecSpace: the build has it, the device is a 9.0 one, and d suits it.
template <class ExecSpace, class T>
bool fused_wgmma_available(int d) {
#if defined(KKM_HAVE_FUSED_TF32) && defined(KKM_HAVE_FUSED_WGMMA)
  if constexpr (fused_tf32_space<ExecSpace, T>()) return fused_wgmma_device() && fused_wgmma_takes(d);
#endif
  (void)d;
  return false;
}

}  // namespace kkm::detail
