// The fused checked path's tensor-core kernels alone — mma.sync (tpls/KKM_FusedTf32.hpp) and, on
// Hopper, wgmma (tpls/KKM_FusedWgmma.hpp): ms per launch and TFLOP/s (2·n·k·d per launch) on random
// TF32 rows and centroids, and each checked row's candidate list against a float64 reference — the
// nearest listed first (or within 1e-3 of it), its value, and no unlisted centroid below the list's
// bound. Builds with nvcc alone:
//   nvcc -std=c++17 -O3 -gencode=arch=compute_90a,code=sm_90a -Iscripts/bench/fused_tf32 -Isrc \
//     scripts/bench/fused_tf32/kernel_bench.cu -x cu src/kkmeans/kernels/assign/tpls/KKM_FusedWgmma.cpp -o kb
//   ./kb N D K [launches] [rows checked] [mma|wgmma|both]     e.g. ./kb 10000000 128 1024 5 300 both
#include <kkmeans/kernels/assign/tpls/KKM_FusedTf32.hpp>
#include <kkmeans/kernels/assign/tpls/KKM_FusedWgmma.hpp>  // built from KKM_FusedWgmma.cpp (below)

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

using kkm::detail::CandidateList;

static float tf32(float v) {
  unsigned b;
  std::memcpy(&b, &v, 4);
  b = (b + 0x1000u) & 0xffffe000u;
  float o;
  std::memcpy(&o, &b, 4);
  return o;
}

// Whether row i's list agrees with the float64 product values of every centroid.
static bool list_holds(CandidateList<float> const& o, std::vector<float> const& x, std::vector<float> const& c,
                       std::vector<float> const& cn, long i, int d, int k) {
  std::vector<std::pair<double, int>> v(k);
  for (int j = 0; j < k; ++j) {
    double p = 0;
    for (int e = 0; e < d; ++e) p += double(x[i * d + e]) * c[std::size_t(j) * d + e];
    v[j] = {double(cn[j]) - 2 * p, j};
  }
  std::sort(v.begin(), v.end());
  double const tol = 1e-3 * (std::fabs(v[0].first) + 1);
  bool ok = (o.j[0] == v[0].second || v[1].first - v[0].first < tol) && std::fabs(o.v[0] - v[0].first) < tol;
  for (int j = 0; j < k; ++j) {
    bool listed = false;
    for (int m = 0; m < kkm::detail::open_candidates; ++m) listed |= o.j[m] == v[j].second && o.v[m] < o.v[4];
    if (!listed && v[j].first < o.v[4] - tol) ok = false;
  }
  return ok;
}

int main(int argc, char** argv) {
  long const n = argc > 1 ? atol(argv[1]) : 200000;
  int const d = argc > 2 ? atoi(argv[2]) : 128, k = argc > 3 ? atoi(argv[3]) : 1024;
  int const reps = argc > 4 ? atoi(argv[4]) : 5;
  long const check = std::min<long>(n, argc > 5 ? atol(argv[5]) : 2000);
  if (!kkm::detail::fused_tf32_runs(d)) {
    std::printf("the kernel does not run here (sm_80 or later, d ≤ %d)\n", kkm::detail::fused_tf32_max_d);
    return 1;
  }
  int const kp = (k + 7) / 8 * 8;
  std::mt19937 g(1);
  std::normal_distribution<float> nd;
  std::vector<float> x(std::size_t(n) * d), c(std::size_t(kp) * d, 0.f), cn(kp, 0.f);
  for (auto& v : x) v = tf32(nd(g));
  for (int j = 0; j < k; ++j) {
    double s = 0;
    for (int e = 0; e < d; ++e) s += double(c[std::size_t(j) * d + e] = tf32(nd(g))) * c[std::size_t(j) * d + e];
    cn[j] = float(s);
  }
  float *dx, *dc, *dcn;
  CandidateList<float>* dout;
  cudaMalloc(&dx, x.size() * 4);
  cudaMalloc(&dc, c.size() * 4);
  cudaMalloc(&dcn, kp * 4);
  cudaMalloc(&dout, n * sizeof(CandidateList<float>));
  cudaMemcpy(dx, x.data(), x.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dc, c.data(), c.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dcn, cn.data(), kp * 4, cudaMemcpyHostToDevice);
  std::string const which = argc > 6 ? argv[6] : "both";
  bool const hopper = kkm::detail::fused_wgmma_runs(dx, d, n, dc, d, d);
  long failures = 0;
  for (std::string kernel : {"mma", "wgmma"}) {
    if (which != "both" && which != kernel) continue;
    if (kernel == "wgmma" && !hopper) {
      std::printf("wgmma: does not run here (sm_90a code, a 9.0 device, d <= 256 and a multiple of 4)\n");
      continue;
    }
    auto launch = [&] {
      if (kernel == "mma")
        kkm::detail::fused_tf32_candidates(0, dx, d, n, dc, d, kp, k, d, dcn, dout);
      else
        kkm::detail::fused_wgmma_candidates(0, dx, d, n, dc, d, kp, k, d, dcn, dout);
    };
    cudaMemset(dout, 0xff, n * sizeof(CandidateList<float>));
    launch();
    cudaDeviceSynchronize();
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    cudaEventRecord(a);
    for (int r = 0; r < reps; ++r) launch();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    ms /= reps;
    std::printf("%s n %ld d %d k %d: %.3f ms per launch, %.1f TFLOP/s (%s)\n", kernel.c_str(), n, d, k, ms,
                2.0 * n * k * d / ms / 1e9, cudaGetErrorString(cudaGetLastError()));
    std::vector<CandidateList<float>> out(n);
    cudaMemcpy(out.data(), dout, n * sizeof(CandidateList<float>), cudaMemcpyDeviceToHost);
    long bad = 0, short_lists = 0, shown = 0;
    // Rows spread over the whole batch (the first, the last and evenly between), so that every block
    // position and the last partial block are checked.
    for (long q = 0; q < check; ++q) {
      long const i = check > 1 ? q * (n - 1) / (check - 1) : 0;
      bool const ok = list_holds(out[i], x, c, cn, i, d, k);
      bad += !ok;
      short_lists += out[i].v[2] >= out[i].v[4];
      if (!ok && shown++ < 3)
        std::printf("  row %ld: j %d %d %d %d v %g %g %g %g bound %g\n", i, out[i].j[0], out[i].j[1], out[i].j[2],
                    out[i].j[3], out[i].v[0], out[i].v[1], out[i].v[2], out[i].v[3], out[i].v[4]);
    }
    std::printf("%s: %ld rows checked: %ld lists wrong, %ld with fewer than three certain entries\n", kernel.c_str(),
                check, bad, short_lists);
    failures += bad;
  }
  return failures != 0;
}
