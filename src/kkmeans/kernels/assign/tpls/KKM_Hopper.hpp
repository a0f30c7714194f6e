#pragma once
/// \file KKM_Hopper.hpp
/// \brief The few Hopper (sm_90a) instructions the warp-group tensor-core kernel uses, each behind a
/// named function: shared-memory barriers with transaction counts (mbarrier), tensor-memory copies
/// (TMA) that fill them, and the warp-group matrix product (wgmma) with its shared-memory operand
/// descriptors. They compile to nothing outside an sm_90a device pass (KKM_HAVE_SM90A), so that a
/// translation unit built for several targets still builds; callers launch their kernels only where
/// sm90a_compiled() says the code is there.
#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdint>

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define KKM_HAVE_SM90A 1
#endif

namespace kkm::detail::hopper {

__device__ inline std::uint32_t smem_address(void const* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

/// A barrier in shared memory that `count` arrivals and `expect_tx`'s bytes complete.
__device__ inline void barrier_init(std::uint64_t* bar, unsigned count) {
#ifdef KKM_HAVE_SM90A
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_address(bar)), "r"(count) : "memory");
#endif
}

/// Makes initialised barriers visible to the tensor-memory copy engine.
__device__ inline void barrier_init_fence() {
#ifdef KKM_HAVE_SM90A
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}

/// One arrival that also announces `bytes` of copies the barrier must see land.
__device__ inline void barrier_expect_bytes(std::uint64_t* bar, unsigned bytes) {
#ifdef KKM_HAVE_SM90A
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_address(bar)), "r"(bytes)
               : "memory");
#endif
}

__device__ inline void barrier_arrive(std::uint64_t* bar) {
#ifdef KKM_HAVE_SM90A
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_address(bar)) : "memory");
#endif
}

/// Waits until the barrier's phase of the given parity has completed.
__device__ inline void barrier_wait(std::uint64_t* bar, unsigned parity) {
#ifdef KKM_HAVE_SM90A
  std::uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(smem_address(bar)), "r"(parity)
        : "memory");
  } while (!done);
#endif
}

/// A tensor-memory copy of the box at (x, y) — x along the contiguous dimension — of `map` into
/// shared memory at dst, completing `bytes` on bar.
__device__ inline void copy_box(void* dst, CUtensorMap const* map, int x, int y, std::uint64_t* bar) {
#ifdef KKM_HAVE_SM90A
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          smem_address(dst)),
      "l"(reinterpret_cast<std::uint64_t>(map)), "r"(x), "r"(y), "r"(smem_address(bar))
      : "memory");
#endif
}

/// The descriptor of a K-major operand in shared memory written by a 128-byte-swizzled copy: rows
/// of 128 bytes, groups of eight rows 1024 bytes apart, starting at p (a k-step's 32 bytes into a
/// 1024-byte-aligned tile).
__device__ inline std::uint64_t swizzled_operand(void const* p) {
  std::uint64_t const start = (smem_address(p) & 0x3FFFF) >> 4;
  std::uint64_t const leading = 1, stride = 1024 >> 4, swizzle_128b = 1;
  return start | leading << 16 | stride << 32 | swizzle_128b << 62;
}

__device__ inline void mma_fence() {
#ifdef KKM_HAVE_SM90A
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}

__device__ inline void mma_commit() {
#ifdef KKM_HAVE_SM90A
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}

/// Waits until at most N committed groups of the warp group's products are still running.
template <int N>
__device__ inline void mma_wait() {
#ifdef KKM_HAVE_SM90A
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}

/// Keeps the compiler from moving reads or writes of an accumulator across a wait.
template <int N>
__device__ inline void pin(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

/// d (+)= A·Bᵀ for a 64 × 8 TF32 block A and a 128 × 8 block B, both K-major in shared memory,
/// accumulated in FP32 by the warp group (accumulate = 0: d = A·Bᵀ). Thread (warp w, lane l) holds
/// d[4i + 2h + e] = row 16w + l/4 + 8h, column 8i + 2(l % 4) + e.
__device__ inline void mma_64x128x8(float (&d)[64], std::uint64_t desc_a, std::uint64_t desc_b, int accumulate) {
#ifdef KKM_HAVE_SM90A
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k8.f32.tf32.tf32 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63},"
      " %64, %65, p, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(desc_a), "l"(desc_b), "r"(accumulate));

#else
  (void)d, (void)desc_a, (void)desc_b, (void)accumulate;
#endif
}

}  // namespace kkm::detail::hopper
