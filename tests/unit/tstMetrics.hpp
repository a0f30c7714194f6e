// Every built-in metric against a naive double-precision host reference on random data:
// distances (transform), assignments (predict) and the updated centroids of one Lloyd epoch.
#include <KKM_TestHelpers.hpp>

#include <gtest/gtest.h>

namespace {

using namespace kkm_test;

template <class Metric>
void check_metric(Metric const& metric, Ref ref, Matrix<float> const& x, int k, int wh = 0) {
  using space = TEST_EXECSPACE;
  int const d = x.d;
  // Centroids: k data rows (distinct rows, so no cluster starts empty).
  std::vector<double> c(std::size_t(k) * d);
  for (int q = 0; q < k; ++q)
    for (int j = 0; j < d; ++j) c[std::size_t(q) * d + j] = x(q * 3, j);
  Kokkos::View<float**, Kokkos::LayoutRight, Kokkos::HostSpace> ch("c", k, d);
  for (int q = 0; q < k; ++q)
    for (int j = 0; j < d; ++j) ch(q, j) = static_cast<float>(c[std::size_t(q) * d + j]);
  auto xd = to_device<space>(x);

  // distances
  auto dist = kkm::transform(space{}, xd, ch, metric);
  auto dh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dist);
  std::vector<double> row(d);
  double max_err = 0;
  for (std::int64_t i = 0; i < x.n; ++i) {
    for (int j = 0; j < d; ++j) row[j] = x(i, j);
    for (int q = 0; q < k; ++q) {
      double const r = ref_distance(ref, row.data(), &c[std::size_t(q) * d], d, wh);
      max_err = std::max(max_err, std::fabs(dh(i, q) - r) / std::max(1.0, std::fabs(r)));
    }
  }
  EXPECT_LT(max_err, 2e-5) << "distances differ from the reference";

  // assignments: equal except where the reference's two best are within float rounding
  auto ra = ref_assign(ref, x, c, k, wh);
  double inertia = 0;
  auto labels = labels_to_host(kkm::predict(space{}, xd, ch, metric, &inertia));
  // Exact ties go to the lowest index on both sides; rows whose two best distances are within
  // float rounding of each other (but not equal) may go either way.
  int mismatches = 0, near_ties = 0;
  for (std::int64_t i = 0; i < x.n; ++i) {
    bool const near = ra.second[i] != ra.best[i] && ra.second[i] - ra.best[i] <= 1e-5 * std::max(1.0, ra.best[i]);
    near_ties += near;
    if (labels[i] != ra.labels[i] && !near) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_LT(near_ties, x.n / 20) << "too many near ties: the test would not test much";
  EXPECT_NEAR(inertia, ra.inertia, 1e-5 * std::max(1.0, ra.inertia));

  // one epoch: updated centroids by the metric's rule
  kkm::Parameters p;
  p.k = k;
  p.init = kkm::Init::given;
  p.initial_centroids = c;
  p.max_epochs = 1;
  p.tol = 0;
  auto res = kkm::fit(space{}, xd, p, metric);
  ASSERT_EQ(res.k_final, k) << "no cluster should be empty here";
  ASSERT_EQ(res.epochs, 1);
  auto expect = ref_update(ref, x, ra.labels, c, k);
  auto got = centroids_vector(res);
  for (std::size_t e = 0; e < got.size(); ++e) {
    if (ref == Ref::manhattan) {
      EXPECT_EQ(float(got[e]), float(expect[e])) << "median of cluster " << e / d << " column " << e % d;
    } else {
      EXPECT_NEAR(got[e], expect[e], 2e-6 * std::max(1.0, std::fabs(expect[e]))) << "centroid value " << e;
    }
  }
  EXPECT_NEAR(res.history[0].inertia, ra.inertia, 1e-5 * std::max(1.0, ra.inertia));
}

TEST(TEST_CATEGORY, metric_sqeuclidean) {
  check_metric(kkm::SquaredEuclidean{}, Ref::sqeuclidean, uniform<float>(517, 5, -3, 3, 1), 7);
}
TEST(TEST_CATEGORY, metric_euclidean) {
  check_metric(kkm::Euclidean{}, Ref::euclidean, uniform<float>(517, 5, -3, 3, 2), 7);
}
TEST(TEST_CATEGORY, metric_cosine) { check_metric(kkm::Cosine{}, Ref::cosine, uniform<float>(517, 6, -1, 1, 3), 6); }
TEST(TEST_CATEGORY, metric_manhattan) {
  check_metric(kkm::Manhattan{}, Ref::manhattan, uniform<float>(518, 4, -5, 5, 4), 5);
}
TEST(TEST_CATEGORY, metric_manhattan_negative_zero_and_ties) {
  // Integers with many repeats (median ties) and signed zeros.
  auto x = uniform<float>(400, 3, -4, 4, 5);
  for (auto& v : x.v) v = std::round(v);
  x(10, 0) = -0.0f;
  check_metric(kkm::Manhattan{}, Ref::manhattan, x, 4);
}
TEST(TEST_CATEGORY, metric_iou_wh) { check_metric(kkm::IoU{}, Ref::iou, uniform<float>(500, 2, 0.05, 1, 6), 9); }
TEST(TEST_CATEGORY, metric_iou_xywh) {
  check_metric(kkm::IoU{2}, Ref::iou, uniform<float>(500, 4, 0.05, 1, 7), 9, 2);
}

TEST(TEST_CATEGORY, metric_iou_rejects_too_few_columns) {
  using space = TEST_EXECSPACE;
  auto xd = to_device<space>(uniform<float>(10, 3, 0.1, 1, 8));
  kkm::Parameters p;
  p.k = 2;
  try {
    kkm::fit(space{}, xd, p, kkm::IoU{2});
    FAIL() << "expected kkm::UserError";
  } catch (kkm::UserError const& e) {
    EXPECT_NE(std::string(e.what()).find("columns 2 and 3"), std::string::npos) << e.what();
  }
}

// A metric written by a user: plugs in as a template argument.
struct Chebyshev {
  static constexpr kkm::Update update = kkm::Update::mean;
  template <class X, class C>
  KOKKOS_FUNCTION auto operator()(X const& x, C const& c) const {
    decltype(x[0] - c[0]) m = 0;
    for (int j = 0; j < x.size(); ++j) {
      auto const t = x[j] > c[j] ? x[j] - c[j] : c[j] - x[j];
      m = t > m ? t : m;
    }
    return m;
  }
};

TEST(TEST_CATEGORY, metric_user_defined) {
  using space = TEST_EXECSPACE;
  auto x = blobs<float>(300, 2, 3, 0.3, 9);
  auto xd = to_device<space>(x);
  kkm::Parameters p;
  p.k = 3;
  p.seed = 4;
  auto r = kkm::fit(space{}, xd, p, Chebyshev{});
  EXPECT_EQ(r.k_final, 3);
  EXPECT_TRUE(r.converged);
  // Every row is nearest (by L∞) to its own centroid.
  auto labels = labels_to_host(r.labels);
  for (std::int64_t i = 0; i < x.n; ++i) {
    double best = INFINITY;
    int bl = -1;
    for (int q = 0; q < 3; ++q) {
      double m = std::max(std::fabs(x(i, 0) - r.centroids(q, 0)), std::fabs(x(i, 1) - r.centroids(q, 1)));
      if (m < best) {
        best = m;
        bl = q;
      }
    }
    EXPECT_EQ(labels[i], bl);
  }
}

}  // namespace
