// Sample weights: weight w on a row equals w copies of it (bit for bit), weight 0 equals removing
// the row, equal weights equal none, bad weights are refused, and k-means++ draws in proportion to weight.
#include <KKM_TestHelpers.hpp>

#include <gtest/gtest.h>

namespace {

using namespace kkm_test;
using space = TEST_EXECSPACE;
using mem = space::memory_space;

template <class Metric>
void weight_equals_copies(Metric const& metric) {
  auto x = blobs<float>(300, 3, 4, 1.5, 41);
  std::vector<float> w(300, 1.f);
  w[5] = 2.f;
  w[17] = 3.f;
  w[40] = 0.f;
  Matrix<float> dup = x;  // row 5 once more, row 17 twice more, row 40 removed
  dup.v.erase(dup.v.begin() + 40 * 3, dup.v.begin() + 41 * 3);
  for (int r : {5, 17, 17})
    for (int j = 0; j < 3; ++j) dup.v.push_back(x(r, j));
  dup.n = 300 - 1 + 3;
  kkm::Parameters p;
  p.k = 4;
  p.init = kkm::Init::given;
  for (int q = 0; q < 4; ++q)
    for (int j = 0; j < 3; ++j) p.initial_centroids.push_back(x(q, j));
  p.max_epochs = 20;
  auto a = kkm::fit(space{}, to_device<space>(x), to_device_weights<space>(w), p, metric);
  auto b = kkm::fit(space{}, to_device<space>(dup), p, metric);
  EXPECT_EQ(centroids_vector(a), centroids_vector(b));
  EXPECT_EQ(a.epochs, b.epochs);
  EXPECT_NEAR(a.inertia, b.inertia, 1e-12 * b.inertia);
  auto la = labels_to_host(a.labels), lb = labels_to_host(b.labels);
  for (int i = 0, r = 0; i < 300; ++i) {
    if (i == 40) continue;
    EXPECT_EQ(la[i], lb[r++]) << "row " << i;
  }
}

TEST(TEST_CATEGORY, weights_equal_copies_sqeuclidean) { weight_equals_copies(kkm::SquaredEuclidean{}); }
TEST(TEST_CATEGORY, weights_equal_copies_manhattan) { weight_equals_copies(kkm::Manhattan{}); }
TEST(TEST_CATEGORY, weights_equal_copies_cosine) { weight_equals_copies(kkm::Cosine{}); }

std::string fit_error(std::vector<float> const& w, std::int64_t n = 50) {
  auto x = uniform<float>(n, 2, 0, 1, 42);
  kkm::Parameters p;
  p.k = 2;
  try {
    kkm::fit(space{}, to_device<space>(x), to_device_weights<space>(w), p, kkm::SquaredEuclidean{});
  } catch (kkm::UserError const& e) {
    return e.what();
  }
  return "";
}

TEST(TEST_CATEGORY, weights_rejected) {
  std::vector<float> w(50, 1.f);
  w[7] = -1.f;
  w[9] = NAN;
  auto m = fit_error(w);
  EXPECT_NE(m.find("2 sample weight(s) are negative, NaN or infinite; the first at row 7 is -1"), std::string::npos) << m;
  EXPECT_NE(fit_error(std::vector<float>(50, 0.f)).find("all sample weights are 0"), std::string::npos);
  EXPECT_NE(fit_error(std::vector<float>(49, 1.f)).find("49 weights for 50 rows"), std::string::npos);
}

TEST(TEST_CATEGORY, weights_kmeanspp_first_centre_follows_weight) {
  auto x = uniform<float>(400, 2, 0, 1, 43);
  std::vector<float> w(400, 1e-6f);
  w[123] = 1e6f;
  kkm::Communicator comm;
  auto xd = to_device<space>(x);
  kkm::detail::DeviceMatrix<space, float> cx = xd;
  auto wd = to_device_weights<space>(w);
  auto s = kkm::detail::summarize(space{}, cx, wd, comm);
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    auto c = kkm::detail::init_kmeanspp(space{}, cx, kkm::SquaredEuclidean{}, 3, 0, seed, s, comm, wd);
    EXPECT_EQ(c(0, 0), x(123, 0));
    EXPECT_EQ(c(0, 1), x(123, 1));
  }
}

// Weights that are all the same change nothing: every initialisation and the whole fit equal the
// unweighted one bit for bit (scikit-learn's check that sample_weight=ones is sample_weight=None).
TEST(TEST_CATEGORY, weights_all_equal_give_the_unweighted_fit) {
  auto x = blobs<float>(500, 3, 6, 1.0, 44);
  for (float const value : {1.f, 2.5f}) {
    std::vector<float> w(500, value);
    for (auto init : {kkm::Init::kmeanspp, kkm::Init::kmeans_parallel, kkm::Init::random}) {
      kkm::Parameters p;
      p.k = 6;
      p.init = init;
      p.seed = 3;
      auto a = kkm::fit(space{}, to_device<space>(x), to_device_weights<space>(w), p, kkm::SquaredEuclidean{});
      auto b = kkm::fit(space{}, to_device<space>(x), p, kkm::SquaredEuclidean{});
      EXPECT_EQ(centroids_vector(a), centroids_vector(b)) << "weight " << value << ", init " << kkm::to_string(init);
      EXPECT_EQ(labels_to_host(a.labels), labels_to_host(b.labels));
    }
  }
}

}  // namespace
