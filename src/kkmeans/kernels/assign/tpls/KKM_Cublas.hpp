#pragma once
/// \file KKM_Cublas.hpp
/// \brief kkmeans' own calls into cuBLAS (CUDA builds with Kokkos Kernels' cuBLAS TPL): the handle
/// KokkosBlas::gemm uses, put on the execution space's stream and into TF32 tensor-core math for
/// the length of a scope, and the strided-batched product KokkosBlas does not offer. Everything
/// vendor-specific of the assignment lives here; other backends never include cuBLAS.
#include <KokkosBlas3_gemm.hpp>  // (first: it defines KOKKOSKERNELS_ENABLE_TPL_CUBLAS, tested below)
#include <Kokkos_Core.hpp>
#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOSKERNELS_ENABLE_TPL_CUBLAS)
#include <KokkosBlas_tpl_spec.hpp>  // the cuBLAS handle KokkosBlas::gemm uses
#define KKM_HAVE_TF32X3 1
#endif

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace kkm::detail {

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

/// Block products of the GEMM path's blocked layout (see product_offset) in one cuBLAS call: for
/// each of `count` blocks of `rows` rows of xb (leading dimension ldx), the kp × rows product with
/// the centroids cb (leading dimension ldc) into out, block after block. Column major, block b is
/// C_b = X_bᵀ·C (rows × kp, leading dimension rows): the row-major kp × rows product of the layout.
template <class T>
void cublas_block_products(CublasScope const& scope, T const* xb, std::int64_t ldx, T const* cb, std::int64_t ldc,
                           int kp, int m, T* out, std::int64_t rows, std::int64_t count) {
  T const one = 1, zero = 0;
  cublasStatus_t st;
  if constexpr (std::is_same_v<T, float>)
    st = cublasSgemmStridedBatched(scope.handle(), CUBLAS_OP_T, CUBLAS_OP_N, int(rows), kp, m, &one, xb, int(ldx),
                                   rows * ldx, cb, int(ldc), 0, &zero, out, int(rows), rows * kp, int(count));
  else
    st = cublasDgemmStridedBatched(scope.handle(), CUBLAS_OP_T, CUBLAS_OP_N, int(rows), kp, m, &one, xb, int(ldx),
                                   rows * ldx, cb, int(ldc), 0, &zero, out, int(rows), rows * kp, int(count));
  if (st != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error("cuBLAS strided-batched GEMM failed (status " + std::to_string(int(st)) + ")");
}
#endif

}  // namespace kkm::detail
