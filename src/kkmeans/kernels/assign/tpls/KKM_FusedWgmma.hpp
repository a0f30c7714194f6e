#pragma once
/// \file KKM_FusedWgmma.hpp
/// \brief The fused checked path's product on Hopper's warp-group tensor cores (wgmma, fed by
/// tensor-memory copies): the candidate lists of KKM_FusedTf32.hpp's kernel at up to Hopper's TF32
/// rate (the kernel: KKM_FusedWgmmaKernel.hpp). Those instructions exist only in sm_90a code, and
/// nvcc_wrapper takes one architecture per translation unit, so the kernel is built apart from
/// Kokkos' flags in KKM_FusedWgmma.cpp — where CMake builds it, it defines KKM_HAVE_FUSED_WGMMA.
#include <kkmeans/kernels/assign/KKM_CandidateOrder.hpp>

#include <cuda_runtime.h>

#include <cstdint>

namespace kkm::detail {

/// Whether the current device runs the warp-group kernel: compute capability 9.0, and its sm_90a
/// code loaded (asked once).
bool fused_wgmma_device();

/// Whether the kernel takes rows of d columns: d ≤ 256 (its rows stay in shared memory) and a
/// multiple of 4 (tensor-memory copies move whole 16 bytes).
bool fused_wgmma_takes(int d);

/// Whether the warp-group kernel runs with these operands on the current device: both above, nb
/// rows that tensor-memory coordinates (32-bit) can address, and 16-byte aligned operands with
/// leading dimensions of whole 16 bytes.
bool fused_wgmma_runs(float const* x, std::int64_t ldx, std::int64_t nb, float const* c, std::int64_t ldc, int d);

/// The candidate lists of nb shifted rows x against the kp shifted centroids c (k of them real) into
/// out, on `stream`, where fused_wgmma_runs holds; both operands TF32 values.
void fused_wgmma_candidates(cudaStream_t stream, float const* x, std::int64_t ldx, std::int64_t nb, float const* c,
                            std::int64_t ldc, int kp, int k, int d, float const* cnorm, CandidateList<float>* out);

}  // namespace kkm::detail
