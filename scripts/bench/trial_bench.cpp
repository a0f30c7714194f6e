// The k-means++ step's kernels alone, on random float32 rows in device memory: the trial pass
// (init/detail/KKM_TrialDistances.hpp: every row against 8 trials, distances stored, potentials
// summed) in ms and in GB/s of the bytes it must move, and whole greedy k-means++ runs, whose time
// per step less the trial pass is the update-and-races pass and the waits. Built by the CMake
// target kkmeans_trial_bench (not part of `all`):
//   ninja -C build-cuda-HOPPER90 kkmeans_trial_bench
//   build-cuda-HOPPER90/apps/kkmeans_trial_bench [N [D [K]]]      (default 10000000 128 64)
// The trial pass is the device kernel (TiledTrials) on every backend: on hosts it is slow.
#include <kkmeans/init/KKM_KMeansPP.hpp>
#include <kkmeans/parallel/KKM_DataSummary.hpp>

#include <Kokkos_Core.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {

using Space = Kokkos::DefaultExecutionSpace;
using mem = Space::memory_space;
using Metric = kkm::SquaredEuclidean;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Kokkos::View<float**, Kokkos::LayoutRight, mem> random_rows(std::int64_t n, int d) {
  Kokkos::View<float**, Kokkos::LayoutRight, mem> x(Kokkos::view_alloc(Kokkos::WithoutInitializing, "x"), n, d);
  Kokkos::parallel_for("fill", Kokkos::RangePolicy<Space, Kokkos::IndexType<std::int64_t>>(0, n), KOKKOS_LAMBDA(std::int64_t i) {
    for (int j = 0; j < d; ++j) x(i, j) = float(kkm::detail::uniform01(11, std::uint64_t(j), std::uint64_t(i)));
  });
  Kokkos::fence();
  return x;
}

void trial_pass(Kokkos::View<float const**, Kokkos::LayoutRight, mem> x, int reps) {
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  kkm::detail::TrialPass<Space, float, Metric> pass;
  pass.x = x;
  pass.dist = Kokkos::View<float**, Kokkos::LayoutRight, mem>("dist", kkm::detail::race_width, n);
  Kokkos::View<double*, mem> D("D", n);
  Kokkos::deep_copy(D, 1e30);
  pass.D = D;
  pass.d = d;
  pass.m = kkm::detail::race_width;
  for (int t = 0; t < pass.m; ++t) pass.own_row[t] = (n / pass.m) * t;
  pass.scale = kkm::detail::fixed_point_scale(double(d), double(n));
  kkm::detail::measure_trials(Space(), pass, kkm::detail::TrialKernel::tiled);  // warm-up
  Kokkos::fence();
  auto const t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) kkm::detail::measure_trials(Space(), pass, kkm::detail::TrialKernel::tiled);
  double const s = seconds_since(t0) / reps;
  double const bytes = double(n) * (d * sizeof(float) + pass.m * sizeof(float) + sizeof(double));
  std::printf("trial pass: n %lld d %d: %.3f ms, %.0f GB/s of %.2f GB\n", (long long)n, d, 1e3 * s, bytes / s / 1e9,
              bytes / 1e9);
}

void kmeanspp(Kokkos::View<float const**, Kokkos::LayoutRight, mem> x, int k) {
  kkm::Communicator const comm;
  auto const s = kkm::detail::summarize(Space(), x, Kokkos::View<float const*, mem>(), comm);
  for (int rep = 0; rep < 2; ++rep) {
    auto const t0 = std::chrono::steady_clock::now();
    auto const c = kkm::detail::init_kmeanspp(Space(), x, Metric{}, k, 8, 7, s, comm);
    double const t = seconds_since(t0);
    std::printf("k-means++ k %d (8 trials per step): %.3f s, %.3f ms per step (%d rows)\n", k, t, 1e3 * t / (k - 1),
                int(c.extent(0)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::ScopeGuard guard(argc, argv);
  std::int64_t const n = argc > 1 ? std::atoll(argv[1]) : 10000000;
  int const d = argc > 2 ? std::atoi(argv[2]) : 128;
  int const k = argc > 3 ? std::atoi(argv[3]) : 64;
  auto const x = random_rows(n, d);
  trial_pass(x, 20);
  kmeanspp(x, k);
  return 0;
}
