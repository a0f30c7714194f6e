// The k-means++ step's kernels alone, on float32 rows in device memory: the trial pass
// (init/detail/KKM_TrialDistances.hpp: every row against 8 trials, distances stored, potentials
// summed) in ms and in GB/s of the bytes it must move, and whole greedy k-means++ runs with and
// without pruning (init/detail/KKM_TrialPruning.hpp), whose time per step less the trial pass is
// the update-and-races pass and the waits. Rows are uniform in [0, 1), or with BLOBS > 0 drawn
// around BLOBS centres uniform in [−10, 10]^D with unit spread (the shape of `kkmeans generate`'s
// blobs, where pruning pays). Built by the CMake target kkmeans_trial_bench (not part of `all`):
//   ninja -C build-cuda-HOPPER90 kkmeans_trial_bench
//   build-cuda-HOPPER90/apps/kkmeans_trial_bench [N [D [K [BLOBS]]]]   (default 10000000 128 64 0)
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

Kokkos::View<float**, Kokkos::LayoutRight, mem> random_rows(std::int64_t n, int d, int blobs) {
  Kokkos::View<float**, Kokkos::LayoutRight, mem> x(Kokkos::view_alloc(Kokkos::WithoutInitializing, "x"), n, d);
  Kokkos::parallel_for("fill", Kokkos::RangePolicy<Space, Kokkos::IndexType<std::int64_t>>(0, n), KOKKOS_LAMBDA(std::int64_t i) {
    using kkm::detail::uniform01;
    for (int j = 0; j < d; ++j) {
      std::uint64_t const c = std::uint64_t(j) << 8;
      if (blobs == 0) {
        x(i, j) = float(uniform01(11, c, std::uint64_t(i)));
        continue;
      }
      double const centre = 20 * uniform01(12, c, std::uint64_t(i % blobs)) - 10;
      double noise = -2;  // about normal: the sum of 4 uniforms, centred and scaled
      for (std::uint64_t u = 0; u < 4; ++u) noise += uniform01(13, c + u, std::uint64_t(i));
      x(i, j) = float(centre + noise * 1.7320508075688772);
    }
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
  using kkm::detail::TrialPruning;
  kkm::Communicator const comm;
  auto const s = kkm::detail::summarize(Space(), x, Kokkos::View<float const*, mem>(), comm);
  for (int rep = 0; rep < 2; ++rep)
    for (TrialPruning pruning : {TrialPruning::off, TrialPruning::on}) {
      auto const t0 = std::chrono::steady_clock::now();
      kkm::detail::GreedyKMeansPP<Space, float, Metric> pp(Space(), x, Metric{}, k, 8, 7, s, comm, {},
                                                            kkm::detail::TrialKernel::automatic, pruning);
      auto const c = pp();
      double const t = seconds_since(t0);
      std::printf("k-means++ k %d (8 trials per step), pruning %s: %.3f s, %.3f ms per step, %.1f%% of rows skipped "
                  "(first centre %g)\n",
                  k, pruning == TrialPruning::on ? "on " : "off", t, 1e3 * t / (k - 1),
                  100.0 * double(pp.rows_skipped()) / (double(x.extent(0)) * (k - 1)), double(c(0, 0)));
    }
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::ScopeGuard guard(argc, argv);
  std::int64_t const n = argc > 1 ? std::atoll(argv[1]) : 10000000;
  int const d = argc > 2 ? std::atoi(argv[2]) : 128;
  int const k = argc > 3 ? std::atoi(argv[3]) : 64;
  int const blobs = argc > 4 ? std::atoi(argv[4]) : 0;
  auto const x = random_rows(n, d, blobs);
  trial_pass(x, 20);
  kmeanspp(x, k);
  return 0;
}
