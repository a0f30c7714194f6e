// Kernel choice follows a metric's traits, never its type: a user's copy of a built-in metric,
// declaring the same traits, gets the same assignment path and the same results bit for bit —
// centroids, labels, inertia and history — on every path (fused generic, small-d, host transposed,
// GEMM, checked GEMM).
#include <KKM_TestHelpers.hpp>

#include <gtest/gtest.h>

namespace user_metrics {

// Outside the library, written as a user would: the built-in metrics' arithmetic, their traits.
struct MySquaredEuclidean {
  static constexpr kkm::Update update = kkm::Update::mean;
  static constexpr bool squared_euclidean = true;
  static constexpr bool zero_padding_neutral = true;
  template <class X, class C>
  KOKKOS_INLINE_FUNCTION auto operator()(X const& x, C const& c) const {
    decltype(x[0] - c[0]) s = 0;
    for (int j = 0; j < x.size(); ++j) {
      auto const t = x[j] - c[j];
      s += t * t;
    }
    return s;
  }
};

struct MyCosine {
  static constexpr kkm::Update update = kkm::Update::normalized_mean;
  static constexpr bool zero_padding_neutral = true;
  template <class X, class C>
  KOKKOS_INLINE_FUNCTION auto operator()(X const& x, C const& c) const {
    using V = decltype(x[0] * c[0]);
    V dot = 0, xx = 0, cc = 0;
    for (int j = 0; j < x.size(); ++j) {
      dot += x[j] * c[j];
      xx += x[j] * x[j];
      cc += c[j] * c[j];
    }
    V const den = kkm::math::sqrt(xx * cc);
    return den > V(0) ? V(1) - dot / den : V(1);
  }
};

}  // namespace user_metrics

namespace {

using namespace kkm_test;

template <class Builtin, class User>
void expect_same_fit(Matrix<float> const& x, kkm::AssignPath path, std::int64_t batch) {
  using space = TEST_EXECSPACE;
  kkm::Parameters p;
  p.k = 9;
  p.seed = 4;
  p.max_epochs = 6;
  p.tol = 0;
  p.assign = path;
  p.batch_size = batch;
  auto xd = to_device<space>(x);
  auto a = kkm::fit(space{}, xd, p, Builtin{});
  auto b = kkm::fit(space{}, xd, p, User{});
  std::string const what = "d = " + std::to_string(x.d) + ", path " + kkm::to_string(path) + ", batch " +
                           std::to_string(batch);
  EXPECT_EQ(a.path, b.path) << what;
  ASSERT_EQ(a.centroids.extent(0), b.centroids.extent(0)) << what;
  for (std::size_t q = 0; q < a.centroids.extent(0); ++q)
    for (int j = 0; j < x.d; ++j) ASSERT_EQ(a.centroids(q, j), b.centroids(q, j)) << what << ", centroid " << q;
  EXPECT_EQ(labels_to_host(a.labels), labels_to_host(b.labels)) << what;
  EXPECT_EQ(a.inertia, b.inertia) << what;
  ASSERT_EQ(a.history.size(), b.history.size()) << what;
  for (std::size_t e = 0; e < a.history.size(); ++e) {
    EXPECT_EQ(a.history[e].inertia, b.history[e].inertia) << what << ", epoch " << e;
    EXPECT_EQ(a.history[e].changed, b.history[e].changed) << what << ", epoch " << e;
  }
}

TEST(TEST_CATEGORY, user_squared_euclidean_equals_builtin_on_every_path) {
  for (int d : {3, 12, 40}) {  // small-d padding (3, 12: widths 4 and 16), generic / GEMM (40)
    auto const x = blobs<float>(1200, d, 9, 1.5, 17 + d);
    for (auto path : {kkm::AssignPath::automatic, kkm::AssignPath::fused, kkm::AssignPath::gemm,
                      kkm::AssignPath::gemm_checked, kkm::AssignPath::fused_checked})
      for (std::int64_t batch : {0, 500})
        expect_same_fit<kkm::SquaredEuclidean, user_metrics::MySquaredEuclidean>(x, path, batch);
  }
}

TEST(TEST_CATEGORY, user_cosine_equals_builtin) {
  for (int d : {3, 8, 40}) {
    auto const x = blobs<float>(1200, d, 9, 1.5, 29 + d);
    for (auto path : {kkm::AssignPath::automatic, kkm::AssignPath::fused})
      expect_same_fit<kkm::Cosine, user_metrics::MyCosine>(x, path, 0);
  }
}

}  // namespace
