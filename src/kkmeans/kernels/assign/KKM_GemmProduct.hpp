#pragma once
/// \file KKM_GemmProduct.hpp
/// \brief The GEMM paths' product x·cᵀ of a batch's rows with the centroids, and its layout in
/// memory (product_offset): the one place the product is written; the scan kernels only read it.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/kernels/assign/KKM_Tf32.hpp>
#include <kkmeans/kernels/assign/tpls/KKM_Cublas.hpp>

#include <KokkosBlas3_gemm.hpp>
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>

namespace kkm::detail {

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

/// out = a·bᵀ through KokkosBlas::gemm, in order with the work already on `space` and the work
/// enqueued after; tensor_cores: with cuBLAS' TF32 tensor-core math (CUDA, float32 only; otherwise
/// the flag must be false).
template <class ExecSpace, class A, class Bm, class C>
void gemm_nt(ExecSpace const& space, bool tensor_cores, A const& a, Bm const& b, C const& out) {
  using T = typename C::non_const_value_type;
  KKM_ASSERT(!tensor_cores || (tf32x3_available<ExecSpace, T>()));
#if KOKKOSKERNELS_VERSION >= 40000
  // Kokkos Kernels 4 runs the product on the instance it is given (cuBLAS included: it puts the
  // shared handle on that instance's stream for the call).
#ifdef KKM_HAVE_TF32X3
  std::optional<CublasScope> tf32;
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) tf32.emplace(space, tensor_cores);
#endif
  KokkosBlas::gemm(space, "N", "T", T(1), a, b, T(0), out);
#else
#ifdef KKM_HAVE_TF32X3
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
    // Every LayoutRight "N", "T" product of CUDA views goes to cuBLAS (KokkosBlas' TPL spec), on the
    // stream the scope gives the shared handle.
    CublasScope const scope(space, tensor_cores);
    KokkosBlas::gemm("N", "T", T(1), a, b, T(0), out);
    return;
  }
#endif
  // Kokkos Kernels 3's own kernels run on the default instance: fence on both sides.
  space.fence();
  KokkosBlas::gemm("N", "T", T(1), a, b, T(0), out);
  Kokkos::fence();
#endif
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
  if constexpr (cublas_space<ExecSpace>()) {
#ifdef KKM_HAVE_TF32X3
    // KokkosBlas has no strided-batched product: cuBLAS directly, one call for the full blocks.
    std::int64_t const full = nb / block_rows, rem = nb - full * block_rows;
    CublasScope const scope(space, tensor_cores);
    int const m = static_cast<int>(xb.extent(1));
    std::int64_t const ldx = xb.stride(0), ldc = cb.stride(0);
    if (full > 0) cublas_block_products(scope, xb.data(), ldx, cb.data(), ldc, kp, m, out, block_rows, full);
    if (rem > 0)
      cublas_block_products(scope, xb.data() + full * block_rows * ldx, ldx, cb.data(), ldc, kp, m,
                            out + full * block_rows * kp, rem, std::int64_t(1));
#endif
  } else {
    for (std::int64_t b0 = 0; b0 < nb; b0 += block_rows) {  // a product per block
      std::int64_t const rows = std::min(block_rows, nb - b0);
      gemm_nt(space, tensor_cores, cb, Kokkos::subview(xb, Kokkos::make_pair(b0, b0 + rows), Kokkos::ALL()),
              Out(out + b0 * kp, kp, rows));
    }
  }
}

}  // namespace kkm::detail
