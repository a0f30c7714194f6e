// The fused checked path's tensor-core kernel alone (tpls/KKM_FusedTf32.hpp): ms per launch and
// TFLOP/s (2·n·k·d per launch) on random TF32 rows and centroids, and each checked row's candidate
// list against a float64 reference — the nearest listed first (or within 1e-3 of it), its value,
// and no unlisted centroid below the list's bound. Builds with nvcc alone:
//   nvcc -std=c++17 -O3 -arch=sm_90 -Iscripts/bench/fused_tf32 -Isrc scripts/bench/fused_tf32/kernel_bench.cu -o kb
//   ./kb N D K [launches] [rows checked]        e.g. ./kb 10000000 128 1024 5 300
#include <kkmeans/kernels/assign/tpls/KKM_FusedTf32.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
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
  auto launch = [&] { kkm::detail::fused_tf32_candidates(0, dx, d, n, dc, d, kp, k, d, dcn, dout); };
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
  std::printf("n %ld d %d k %d: %.3f ms per launch, %.1f TFLOP/s (%s)\n", n, d, k, ms, 2.0 * n * k * d / ms / 1e9,
              cudaGetErrorString(cudaGetLastError()));
  std::vector<CandidateList<float>> out(n);
  cudaMemcpy(out.data(), dout, n * sizeof(CandidateList<float>), cudaMemcpyDeviceToHost);
  long bad = 0, short_lists = 0;
  for (long i = 0; i < check; ++i) {
    bad += !list_holds(out[i], x, c, cn, i, d, k);
    short_lists += out[i].v[2] >= out[i].v[4];
  }
  std::printf("%ld rows checked: %ld lists wrong, %ld with fewer than three certain entries\n", check, bad, short_lists);
  return bad != 0;
}
