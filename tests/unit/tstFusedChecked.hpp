// The fused checked path (the product reduced to each row's candidate list as it is made; tensor
// cores on CUDA float32 with d ≤ 256, a portable kernel elsewhere) gives exactly the fused kernel's
// labels and cluster sums on every edge of the shape — k below one tile of centroids, d not a
// multiple of a tile, one row — on data full of exact ties and on rows built to sit within rounding
// of the boundary between two centroids.
#include <KKM_TestHelpers.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace kkm_test;
using space = TEST_EXECSPACE;
using mem = space::memory_space;
using kkm::detail::fixed_t;
using kkm::detail::GemmKind;

struct Assigned {
  std::vector<int> labels;
  std::vector<fixed_t> acc;
  double inertia = 0;
  std::int64_t open_rows = 0;  // the last batch's rows the lists left open
};

// The assignment of x against c on the path `kind` outside a fit epoch: labels and the sum of each
// row's exact distance (rows with three or more candidates measured in the scan itself).
std::pair<std::vector<int>, double> labels_and_distances(Matrix<float> const& x, Matrix<float> const& c, GemmKind kind) {
  Kokkos::View<int*, mem> labels("labels", x.n);
  kkm::detail::AssignWorkspace<space, float> ws;
  double const s = kkm::detail::assign_rows<false>(
      space{}, kkm::detail::DeviceMatrix<space, float>(to_device<space>(x)),
      kkm::detail::DeviceMatrix<space, float>(to_device<space>(c)), Kokkos::View<double const*, mem>(),
      Kokkos::View<fixed_t*, mem>(), labels, kkm::SquaredEuclidean{}, kind, 0, ws);
  return {labels_to_host(labels), s};
}

// One fit epoch's assignment of x against c on the path `kind`, μ = 0 (the hardest case for the
// bound: nothing shifted), in batches of `batch` rows (0: one).
Assigned assign(Matrix<float> const& x, Matrix<float> const& c, GemmKind kind, std::int64_t batch = 0) {
  int const k = c.n;
  Kokkos::View<double*, mem> scale("scale", x.d);
  Kokkos::deep_copy(scale, std::ldexp(1.0, 24));
  Kokkos::View<fixed_t*, mem> acc("acc", kkm::detail::accumulator_size(k, x.d));
  Kokkos::View<int*, mem> labels("labels", x.n);
  Kokkos::deep_copy(labels, -1);
  kkm::detail::AssignWorkspace<space, float> ws;
  double const s = kkm::detail::assign_rows<true>(space{}, kkm::detail::DeviceMatrix<space, float>(to_device<space>(x)),
                                                  kkm::detail::DeviceMatrix<space, float>(to_device<space>(c)), scale,
                                                  acc, labels, kkm::SquaredEuclidean{}, kind, batch, ws);
  auto a = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), acc);
  std::int64_t open = 0;
  if (ws.open_n.is_allocated())
    open = static_cast<std::int64_t>(Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ws.open_n)(0));
  return {labels_to_host(labels), std::vector<fixed_t>(a.data(), a.data() + a.extent(0)), s, open};
}

// Rows on the bisector of two centroids, pushed towards one of them by a few units in the last place
// of their distance, or not at all (an exact tie where the arithmetic allows it).
Matrix<float> near_ties(Matrix<float> const& c, std::int64_t n, unsigned seed) {
  std::mt19937 g(seed);
  Matrix<float> x{n, c.d, std::vector<float>(std::size_t(n) * c.d)};
  for (std::int64_t i = 0; i < n; ++i) {
    int const a = int(g() % c.n), b = int(g() % c.n);
    float const push = float(int(g() % 7) - 3) * 3e-7f;
    for (int j = 0; j < c.d; ++j) x(i, j) = 0.5f * (c(a, j) + c(b, j)) + push * (c(a, j) - c(b, j));
  }
  return x;
}

Matrix<float> small_integers(std::int64_t n, int d, unsigned seed) {
  std::mt19937 g(seed);
  Matrix<float> m{n, d, std::vector<float>(std::size_t(n) * d)};
  for (auto& v : m.v) v = float(g() % 3);
  return m;
}

// Returns the rows left open when all go in one batch.
std::int64_t expect_same(Matrix<float> const& x, Matrix<float> const& c, std::string const& what) {
  auto const f = assign(x, c, GemmKind::none);
  std::int64_t open = 0;
  for (std::int64_t batch : {std::int64_t(0), std::int64_t(300)}) {
    auto const r = assign(x, c, GemmKind::fused_checked, batch);
    EXPECT_EQ(r.labels, f.labels) << what << ", batch " << batch;
    EXPECT_EQ(r.acc, f.acc) << what << ", batch " << batch;
    if (batch == 0) open = r.open_rows;
  }
  auto const fl = labels_and_distances(x, c, GemmKind::none), rl = labels_and_distances(x, c, GemmKind::fused_checked);
  EXPECT_EQ(rl.first, fl.first) << what << ", outside a fit epoch";
  // (each row's distance the same; their double sum may run in another order)
  EXPECT_NEAR(rl.second, fl.second, 1e-12 * fl.second) << what << ", outside a fit epoch";
  return open;
}

// (d = 4, 8, 36, 96, 128, 200 and 256 also run Hopper's warp-group kernel, which takes multiples of 4
// up to 256: four consumer groups up to 128, two beyond)
TEST(TEST_CATEGORY, fused_checked_equals_fused_on_every_shape) {
  for (int d : {1, 3, 4, 8, 33, 36, 96, 128, 200, 256})
    for (int k : {1, 2, 5, 61, 130, 257})
      for (std::int64_t n : {std::int64_t(1), std::int64_t(129), std::int64_t(700)}) {
        std::string const what = "d " + std::to_string(d) + ", k " + std::to_string(k) + ", n " + std::to_string(n);
        auto const c = small_integers(k, d, 100 + d + k);
        expect_same(small_integers(n, d, 7 * d + k), c, "exact ties, " + what);
        auto const cb = blobs<float>(k, d, k, 1.0, 3 + d);
        expect_same(near_ties(cb, n, unsigned(d * k)), cb, "near ties, " + what);
      }
}

// More rows than one wave of blocks takes: the tensor-core kernels' blocks walk several row blocks
// each, refilling the rows they keep while the centroids stream on.
TEST(TEST_CATEGORY, fused_checked_equals_fused_over_many_row_blocks) {
  for (int d : {32, 100, 200}) {
    int const k = 130;
    auto const c = blobs<float>(k, d, k, 1.0, 11 + d);
    expect_same(near_ties(c, 70001, 5u + d), c, "d " + std::to_string(d));
  }
}

// auto takes the fused checked path exactly where Hopper's warp-group kernel runs (large d and k on
// a GPU), else the checked GEMM there, and the fused kernel at small d or k and on hosts.
TEST(TEST_CATEGORY, auto_picks_fused_checked_where_the_warp_group_kernel_runs) {
  using kkm::AssignPath;
  using kkm::detail::gemm_kind_for;
  using Sq = kkm::SquaredEuclidean;
  bool const device = !kkm::detail::is_host_space<space>();
  for (int d : {4, 16, 32, 128, 200, 256, 300, 512}) {
    bool const wgmma = kkm::detail::fused_wgmma_available<space, float>(d);
    EXPECT_TRUE(!wgmma || (device && d % 4 == 0 && d <= 256)) << "d " << d;
    GemmKind const expected = !device || d < 32                                      ? GemmKind::none
                              : wgmma && d <= kkm::detail::fused_auto_max_d ? GemmKind::fused_checked
                                                                             : GemmKind::checked;
    EXPECT_EQ(int(gemm_kind_for<space, float, Sq>(AssignPath::automatic, d, 1024)), int(expected)) << "d " << d;
    EXPECT_EQ(int(gemm_kind_for<space, float, Sq>(AssignPath::automatic, d, 63)), int(GemmKind::none)) << "d " << d;
    EXPECT_EQ(int(gemm_kind_for<space, float, Sq>(AssignPath::gemm_checked, d, 1024)), int(GemmKind::checked));
    EXPECT_EQ(int(gemm_kind_for<space, float, Sq>(AssignPath::fused_checked, d, 1024)), int(GemmKind::fused_checked));
  }
}

// The bound is wide where data sit far from the origin and are not shifted: many rows have more
// candidates than a list holds (each then measured against every centroid).
TEST(TEST_CATEGORY, fused_checked_lists_too_short_far_from_origin) {
  for (int d : {40, 128}) {
    int const k = 300;
    auto c = blobs<float>(k, d, k, 0.05, 5 + d);
    for (auto& v : c.v) v += 3000.0f;
    auto const x = near_ties(c, 2000, 9u + d);
    EXPECT_GT(expect_same(x, c, "d " + std::to_string(d)), 1000) << "d " << d;  // most rows decided exactly
  }
}

// Centroids that crowd: eight within 10⁻³ of each of 16 centres, so that nearly every row has more
// candidates than its list holds; those rows skip the centroids the gaps between centroids put
// farther than their nearest listed one (KKM_CentroidGaps.hpp) — rows from the blobs, and rows on the
// bisector of two crowded centroids, where a skipped centroid would tie.
TEST(TEST_CATEGORY, fused_checked_where_centroids_crowd) {
  for (int d : {16, 64}) {
    auto const centres = blobs<float>(16, d, 16, 1.0, 21 + d);
    Matrix<float> c{128, d, std::vector<float>(std::size_t(128) * d)};
    std::mt19937 g{unsigned(d)};
    std::uniform_real_distribution<float> tiny(-1e-3f, 1e-3f);
    for (int q = 0; q < 128; ++q)
      for (int j = 0; j < d; ++j) c(q, j) = centres(q % 16, j) + tiny(g);
    auto x = blobs<float>(3000, d, 16, 1.0, 21 + d);
    auto const ties = near_ties(c, 1000, 33u + d);
    x.v.insert(x.v.end(), ties.v.begin(), ties.v.end());
    x.n += ties.n;
    EXPECT_GT(expect_same(x, c, "d " + std::to_string(d)), 2000) << "d " << d;  // most rows open
  }
}

}  // namespace
