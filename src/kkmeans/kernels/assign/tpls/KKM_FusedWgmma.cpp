/// \file KKM_FusedWgmma.cpp
/// \brief The warp-group tensor-core kernel's launch (KKM_FusedWgmma.hpp), built for sm_90a.
#include <kkmeans/kernels/assign/tpls/KKM_FusedWgmma.hpp>
#include <kkmeans/kernels/assign/tpls/KKM_FusedWgmmaKernel.hpp>

#include <limits>

namespace kkm::detail {

bool fused_wgmma_device() {
  static bool const hopper = [] {
    int dev = 0, major = 0, minor = 0;
    return cudaGetDevice(&dev) == cudaSuccess &&
           cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
           cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) == cudaSuccess && major == 9 &&
           minor == 0 && fused_wgmma::sm90a_compiled();
  }();
  return hopper;
}

bool fused_wgmma_takes(int d) { return d >= 1 && d <= fused_wgmma::max_d && d % 4 == 0; }

bool fused_wgmma_runs(float const* x, std::int64_t ldx, std::int64_t nb, float const* c, std::int64_t ldc, int d) {
  auto const aligned = [](void const* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  bool const addressable = nb <= std::int64_t(std::numeric_limits<int>::max()) - 4 * fused_wgmma::group_rows;
  return fused_wgmma_device() && fused_wgmma_takes(d) && addressable && ldx % 4 == 0 && ldc % 4 == 0 &&
         aligned(x) && aligned(c);
}

void fused_wgmma_candidates(cudaStream_t stream, float const* x, std::int64_t ldx, std::int64_t nb, float const* c,
                            std::int64_t ldc, int kp, int k, int d, float const* cnorm, CandidateList<float>* out) {
  using namespace fused_wgmma;
  Args const a{nb, k, (d + chunk - 1) / chunk, consumers_for(d), cnorm, out};
  CUtensorMap const rows = tensor_map(x, nb, d, ldx, group_rows);
  CUtensorMap const cents = tensor_map(c, kp, d, ldc, tile_cols);
  int const smem = static_cast<int>(Layout{a.slots()}.bytes());
  static int const processors = [] {
    int dev = 0, n = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev);
    return n;
  }();
  std::int64_t const blocks = a.row_blocks() < processors ? a.row_blocks() : processors;
  auto launch = [&](auto kernel, int threads) {
    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    kernel<<<static_cast<unsigned>(blocks), threads, smem, stream>>>(rows, cents, a);
  };
  if (a.consumers == 4)
    launch(candidates_kernel<4>, threads_for(4));
  else
    launch(candidates_kernel<2>, threads_for(2));
  cudaError_t const err = cudaGetLastError();
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("the warp-group candidate kernel did not launch: ") + cudaGetErrorString(err));
}

}  // namespace kkm::detail
