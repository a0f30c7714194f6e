// Uses the installed library: two well-separated groups, k = 2, checks the centroids.
#include <kkmeans/kkmeans.hpp>

#include <cmath>
#include <cstdio>

int main(int argc, char* argv[]) {
#if KKMEANS_ENABLE_MPI
  MPI_Init(&argc, &argv);
#endif
  int rc = 1;
  {
    Kokkos::ScopeGuard guard(argc, argv);
    Kokkos::View<float**, Kokkos::LayoutRight, Kokkos::HostSpace> h("x", 6, 1);
    float const v[6] = {0.f, 1.f, 2.f, 100.f, 101.f, 102.f};
    for (int i = 0; i < 6; ++i) h(i, 0) = v[i];
    auto x = Kokkos::create_mirror_view_and_copy(Kokkos::DefaultExecutionSpace::memory_space{}, h);
    kkm::Parameters p;
    p.k = 2;
    auto r = kkm::fit(Kokkos::DefaultExecutionSpace{}, x, p, kkm::SquaredEuclidean{});
    double lo = std::fmin(r.centroids(0, 0), r.centroids(1, 0)), hi = std::fmax(r.centroids(0, 0), r.centroids(1, 0));
    std::printf("downstream: kkmeans %s, centroids %g %g\n", kkm::version().c_str(), lo, hi);
    rc = (lo == 1.0 && hi == 101.0) ? 0 : 1;
  }
#if KKMEANS_ENABLE_MPI
  MPI_Finalize();
#endif
  return rc;
}
