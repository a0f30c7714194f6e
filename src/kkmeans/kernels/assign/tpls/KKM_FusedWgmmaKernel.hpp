#pragma once
/// \file KKM_FusedWgmmaKernel.hpp
/// \brief The fused checked path's product on Hopper's warp-group tensor cores (sm_90a, float32 rows
/// of at most 256 columns, a multiple of 4): the same candidate lists as KKM_FusedTf32.hpp's
/// mma.sync kernel, at up to Hopper's TF32 rate.
///
/// The kernel itself: built only in KKM_FusedWgmma.cpp, for sm_90a (KKM_FusedWgmma.hpp says why).
///
/// Shape: one block per multiprocessor walks blocks of 256 rows (128 past d = 128). A producer
/// thread fills shared memory by tensor-memory copies (128-byte swizzle): the block's rows, as
/// 64-row × 32-column slots that stay for all centroids, and the centroids, 128 × 32 at a time,
/// through a ring of stages. Four (two) consumer warp groups each own 64 rows (wgmma m64n128k8, FP32
/// accumulators in registers); each leaves one stage's products running while it issues the next,
/// and reduces every finished tile of 128 centroids into its rows' candidates while the other
/// groups' products keep the tensor cores busy. Each thread keeps, per row and across all tiles, its
/// two nearest (value, centroid) and the least value it saw but did not keep; at the end of a row
/// block the four threads of a row merge theirs into the row's CandidateList.
/// The product's error is the checked bound's for any TF32 product with FP32 accumulation
/// (KKM_CheckedBound.hpp), whatever the order of the sums, so the checked scan decides labels from
/// these lists as from the other kernels'.
#include <kkmeans/kernels/assign/KKM_CandidateOrder.hpp>
#include <kkmeans/kernels/assign/tpls/KKM_Hopper.hpp>

#include <cudaTypedefs.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace kkm::detail {
namespace fused_wgmma {

constexpr int group_rows = 64;                           // rows of one wgmma: one consumer warp group's
constexpr int tile_cols = 128;                           // centroids per wgmma
constexpr int chunk = 32;                                // columns per stage: one swizzled 128-byte row
constexpr int slot_chunks = 16;                          // the rows' slots: 16 × 8 KB = 128 KB
constexpr int max_d = 256;                               // (two consumer groups of 64 rows)
constexpr int stages = 6;                                // centroid chunks in the ring
constexpr unsigned slot_bytes = group_rows * chunk * 4;  // 8 KB
constexpr unsigned stage_bytes = tile_cols * chunk * 4;  // 16 KB

/// Consumer warp groups for rows of d columns: four (256-row blocks) while their rows fit the
/// slots, up to d = 128; two (128-row blocks) up to d = 256. Fewer rows a block read the centroids
/// more often, so the most that fit.
inline int consumers_for(int d) { return (d + chunk - 1) / chunk <= slot_chunks / 4 ? 4 : 2; }
/// Threads of a block with `consumers` consumer warp groups and the producer's.
constexpr int threads_for(int consumers) { return (consumers + 1) * 128; }

struct Args {
  std::int64_t nb;     // rows
  int k, chunks;       // centroids; column chunks (d / 32 rounded up)
  int consumers;       // consumer warp groups (consumers_for(d))
  float const* cnorm;  // ‖c'‖², k values
  CandidateList<float>* out;
  __host__ __device__ int block_rows() const { return consumers * group_rows; }
  __host__ __device__ int tiles() const { return (k + tile_cols - 1) / tile_cols; }
  __host__ __device__ int steps() const { return tiles() * chunks; }  // stages per row block
  __host__ __device__ int slots() const { return consumers * chunks; }
  __host__ __device__ std::int64_t row_blocks() const { return (nb + block_rows() - 1) / block_rows(); }
};

/// Where a block's shared memory keeps what (offsets from a 1024-byte-aligned base).
struct Layout {
  int slots;
  __host__ __device__ unsigned rows_at() const { return 0; }
  __host__ __device__ unsigned stages_at() const { return slots * slot_bytes; }
  __host__ __device__ unsigned barriers_at() const { return stages_at() + stages * stage_bytes; }
  __host__ __device__ unsigned bytes() const { return barriers_at() + 8 * (2 * stages + 2 * slots) + 1024; }
};

/// The rows' slot of consumer warp group `wg`, column chunk `c`.
__device__ inline int slot_of(Args const& a, int wg, int c) { return wg * a.chunks + c; }

/// The barriers of the ring (full: the copy landed; empty: every consumer has read it) and of the
/// rows' slots.
struct Barriers {
  std::uint64_t *full_b, *empty_b, *full_a, *empty_a;
};

/// The producer: every row block's row slots (each when its consumer has released it) and, for
/// every tile and chunk, the centroid stage, in the order the consumers take them.
__device__ inline void produce(Args const& a, CUtensorMap const* rows, CUtensorMap const* cents, unsigned char* base,
                               Barriers const& bar) {
  Layout const lay{a.slots()};
  unsigned stage = 0;
  int it = 0;
  for (std::int64_t rb = blockIdx.x; rb < a.row_blocks(); rb += gridDim.x, ++it)
    for (int t = 0; t < a.tiles(); ++t)
      for (int c = 0; c < a.chunks; ++c) {
        if (t == 0)
          for (int wg = 0; wg < a.consumers; ++wg) {
            int const s = slot_of(a, wg, c);
            if (it > 0) hopper::barrier_wait(bar.empty_a + s, (it - 1) & 1);
            hopper::barrier_expect_bytes(bar.full_a + s, slot_bytes);
            int const row = static_cast<int>(rb * a.block_rows() + wg * group_rows);
            hopper::copy_box(base + lay.rows_at() + s * slot_bytes, rows, c * chunk, row, bar.full_a + s);
          }
        unsigned const b = stage % stages;
        if (stage >= stages) hopper::barrier_wait(bar.empty_b + b, (stage / stages - 1) & 1);
        hopper::barrier_expect_bytes(bar.full_b + b, stage_bytes);
        hopper::copy_box(base + lay.stages_at() + b * stage_bytes, cents, c * chunk, t * tile_cols, bar.full_b + b);
        ++stage;
      }
}

/// A thread's two nearest (value, centroid) of one row so far, and the least value it saw but
/// does not keep: only values within that bound can be other candidates. (Keeping one would leave
/// a row's list the four threads' nearest only, too short for most rows' checks.)
struct Nearest2 {
  float v1 = INFINITY, v2 = INFINITY, rest = INFINITY;
  int j1 = -1, j2 = -1;
  __device__ void take(float x, int col) {  // col ascending: ties keep the lower index first
    rest = fminf(rest, fmaxf(x, v2));          // x, or the v2 it displaces
    bool const first = x < v1, second = x < v2;
    float const nv2 = first ? v1 : second ? x : v2;
    int const nj2 = first ? j1 : second ? col : j2;
    v1 = first ? x : v1;
    j1 = first ? col : j1;
    v2 = nv2;
    j2 = nj2;
  }
  /// take() of a value at or above v2: all it changes is rest.
  __device__ void take_unkept(float x) { rest = fminf(rest, x); }
};

/// The accumulators of tile t into the thread's two rows' nearest: d[4i + 2r + e] is row r's
/// product with centroid 128t + 8i + 2(lane % 4) + e.
///
/// Most values are no nearer than a thread's second nearest, and for those take() only lowers
/// `rest`. The reduction competes with the products for issue slots, so a column whose values no
/// lane of the warp keeps takes that one instruction instead of the whole insertion.
__device__ inline void take_tile(Args const& a, float const (&d)[64], int t, Nearest2 (&best)[2]) {
  int const col0 = t * tile_cols + 2 * (threadIdx.x & 3);
#pragma unroll
  for (int i = 0; i < 16; ++i) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      int const col = col0 + 8 * i + e;
      float const cn = col < a.k ? __ldg(a.cnorm + col) : INFINITY;
      float const x0 = fmaf(-2.f, d[4 * i + e], cn), x1 = fmaf(-2.f, d[4 * i + 2 + e], cn);
      if (__any_sync(0xffffffffu, x0 < best[0].v2 || x1 < best[1].v2)) {
        best[0].take(x0, col);
        best[1].take(x1, col);
      } else {
        best[0].take_unkept(x0);
        best[1].take_unkept(x1);
      }
    }
  }
}

/// The four threads of each row (lanes 4g … 4g + 3) pool their nearest; the first of the four
/// writes row g's list, the second row g + 8's.
__device__ inline void write_rows(Args const& a, std::int64_t rb, int wg, Nearest2 const (&best)[2]) {
  int const lane = threadIdx.x & 31, warp = (threadIdx.x >> 5) & 3, quad = lane & ~3;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float v[8], rest[4];
    int j[8];
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      v[2 * q] = __shfl_sync(0xffffffffu, best[r].v1, quad + q);
      j[2 * q] = __shfl_sync(0xffffffffu, best[r].j1, quad + q);
      v[2 * q + 1] = __shfl_sync(0xffffffffu, best[r].v2, quad + q);
      j[2 * q + 1] = __shfl_sync(0xffffffffu, best[r].j2, quad + q);
      rest[q] = __shfl_sync(0xffffffffu, best[r].rest, quad + q);
    }
    std::int64_t const row = rb * a.block_rows() + wg * group_rows + 16 * warp + (lane >> 2) + 8 * r;
    if ((lane & 3) != r || row >= a.nb) continue;
    // (as KKM_FusedTf32.hpp's write_lists: the union's four smallest; bound: its fifth or a rest)
    CandidateListBuilder<float> list;
    for (int e = 0; e < 8; ++e) list.offer(v[e], j[e]);
    list.write(a.out[row], fminf(fminf(rest[0], rest[1]), fminf(rest[2], rest[3])));
  }
}

/// A consumer warp group: for each of its row blocks, its 64 rows through every stage — one step's
/// products left running while the next is issued — and each finished tile reduced into the rows'
/// nearest. Tiles of the four groups need not end together: while one group reduces, the others'
/// products keep the tensor cores busy.
__device__ inline void consume(Args const& a, unsigned char* base, Barriers const& bar, int wg) {
  Layout const lay{a.slots()};
  bool const signals = (threadIdx.x & 31) == 0;  // one arrival per warp releases what it read
  int const T = a.steps(), last_tile = a.tiles() - 1;
  unsigned char* const rows = base + lay.rows_at();
  unsigned char* const cents = base + lay.stages_at();
  float acc[64];
  unsigned stage0 = 0;  // the ring's count at the current row block's first stage
  int it = 0;
  for (std::int64_t rb = blockIdx.x; rb < a.row_blocks(); rb += gridDim.x, ++it, stage0 += T) {
    Nearest2 best[2];
    auto release = [&](int s) {  // what step s read: its stage, and on the last tile its row slot
      if (!signals) return;
      hopper::barrier_arrive(bar.empty_b + (stage0 + s) % stages);
      if (s / a.chunks == last_tile) hopper::barrier_arrive(bar.empty_a + slot_of(a, wg, s % a.chunks));
    };
    // Step s's products: wait for its operands, issue them, commit. (Every path into the chunk
    // loop below leaves a group running, so the compiler never waits for one of its own accord.)
    auto issue = [&](int s) {
      int const c = s % a.chunks;
      hopper::barrier_wait(bar.full_b + (stage0 + s) % stages, ((stage0 + s) / stages) & 1);
      if (s < a.chunks) hopper::barrier_wait(bar.full_a + slot_of(a, wg, c), it & 1);
      unsigned char const* ap = rows + slot_of(a, wg, c) * slot_bytes;
      unsigned char const* bp = cents + (stage0 + s) % stages * stage_bytes;
      hopper::pin(acc);
      hopper::mma_fence();
#pragma unroll
      for (int ks = 0; ks < chunk / 8; ++ks)
        hopper::mma_64x128x8(acc, hopper::swizzled_operand(ap + 32 * ks), hopper::swizzled_operand(bp + 32 * ks),
                             c > 0 || ks > 0);
      hopper::mma_commit();
      hopper::pin(acc);
    };
    for (int t = 0; t < a.tiles(); ++t) {
      int const s0 = t * a.chunks;
      issue(s0);
      for (int c = 1; c < a.chunks; ++c) {  // step s0 + c − 1 finishes while s0 + c is issued
        issue(s0 + c);
        hopper::mma_wait<1>();
        hopper::pin(acc);
        release(s0 + c - 1);
      }
      hopper::mma_wait<0>();  // the tile is complete: reduce it
      hopper::pin(acc);
      release(s0 + a.chunks - 1);
      take_tile(a, acc, t, best);
    }
    write_rows(a, rb, wg, best);
  }
}

/// The kernel with Consumers (= a.consumers) consumer warp groups.
template <int Consumers>
__global__ void __launch_bounds__(threads_for(Consumers), 1)
    candidates_kernel(__grid_constant__ CUtensorMap const rows, __grid_constant__ CUtensorMap const cents, Args given) {
  Args a = given;
  a.consumers = Consumers;  // (a constant to the compiler: fewer registers than the argument)
  extern __shared__ unsigned char smem_raw[];
  unsigned char* const base = reinterpret_cast<unsigned char*>(
      (reinterpret_cast<std::uintptr_t>(smem_raw) + 1023) & ~std::uintptr_t(1023));
  Layout const lay{a.slots()};
  auto* const bars = reinterpret_cast<std::uint64_t*>(base + lay.barriers_at());
  Barriers const bar{bars, bars + stages, bars + 2 * stages, bars + 2 * stages + a.slots()};
  if (threadIdx.x == 0) {
    for (int b = 0; b < stages; ++b) {
      hopper::barrier_init(bar.full_b + b, 1);
      hopper::barrier_init(bar.empty_b + b, Consumers * 4);  // each consumer warp
    }
    for (int s = 0; s < a.slots(); ++s) {
      hopper::barrier_init(bar.full_a + s, 1);
      hopper::barrier_init(bar.empty_a + s, 4);  // its consumer's warps
    }
    hopper::barrier_init_fence();
  }
  __syncthreads();
  // The warp group's index, read from lane 0 so that the compiler knows it is the same across the
  // warp (else it treats the consumers' products as divergent code and serialises them).
  int const group = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x / 128), 0);
  if (group == Consumers) {
    if (threadIdx.x == Consumers * 128) produce(a, &rows, &cents, base, bar);
  } else {
    consume(a, base, bar, group);
  }
}

/// Whether this build holds the kernel's sm_90a code (asked once, by a one-thread probe).
__global__ void probe_kernel(int* has) {
#ifdef KKM_HAVE_SM90A
  *has = 1;
#else
  *has = 0;
#endif
}

inline bool sm90a_compiled() {
  static bool const has = [] {
    int* d = nullptr;
    int h = 0;
    if (cudaMalloc(&d, sizeof(int)) != cudaSuccess) return false;
    probe_kernel<<<1, 1>>>(d);
    bool const ok = cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess;
    cudaFree(d);
    return ok && h == 1;
  }();
  return has;
}

/// A row-major float32 matrix of `rows` × `cols` (leading dimension ld) as 32-column × box_rows
/// tensor-memory boxes, 128-byte swizzled, zero past its edges.
inline CUtensorMap tensor_map(float const* p, std::int64_t rows, int cols, std::int64_t ld, int box_rows) {
  static PFN_cuTensorMapEncodeTiled_v12000 const encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult q{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
      fn = nullptr;
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  if (!encode) throw std::runtime_error("the CUDA driver does not offer cuTensorMapEncodeTiled");
  CUtensorMap map{};
  cuuint64_t const dims[2] = {cuuint64_t(cols), cuuint64_t(rows)};
  cuuint64_t const strides[1] = {cuuint64_t(ld) * sizeof(float)};
  cuuint32_t const box[2] = {cuuint32_t(chunk), cuuint32_t(box_rows)};
  cuuint32_t const unit[2] = {1, 1};
  CUresult const r = encode(&map, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 2, const_cast<float*>(p), dims, strides, box, unit,
                            CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                            CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) throw std::runtime_error("cuTensorMapEncodeTiled refused the operand (" + std::to_string(r) + ")");
  return map;
}

}  // namespace fused_wgmma

}  // namespace kkm::detail
