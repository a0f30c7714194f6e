// Quality on Fränti's benchmark sets (../shared/data/sipu): best-of-R k-means++ inertia within 1%
// of scikit-learn's (same k, same R; golden values from scripts/golden/sipu_sklearn.py, provenance
// in tests/golden/sipu_sklearn.json), and centroid index 0 against the label-mean centroids on S1–S4.
#include <KKM_TestHelpers.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

namespace {

using namespace kkm_test;

void check_set(std::string const& name, bool check_ci) {
  using space = TEST_EXECSPACE;
  std::string const dir = KKMEANS_SIPU_DIR;
  std::vector<double> values, labels;
  int d = 0, one = 0;
  if (!read_text_table(dir + "/" + name + ".data.gz", values, d) ||
      !read_text_table(dir + "/" + name + ".labels0.gz", labels, one)) {
    if (std::getenv("KKMEANS_REQUIRE_SIPU")) FAIL() << "sipu data missing in " << dir;
    GTEST_SKIP() << "sipu data not found in " << dir << " (configure -DKKMEANS_SIPU_DIR=...)";
  }
  std::ifstream gf(std::string(KKMEANS_GOLDEN_DIR) + "/sipu_sklearn.json");
  ASSERT_TRUE(gf.good()) << "golden file missing";
  auto const golden = nlohmann::json::parse(gf);
  auto const& g = golden.at("sets").at(name);
  int const k = g.at("k");
  std::int64_t const n = labels.size();
  ASSERT_EQ(std::int64_t(values.size()), n * d);

  Matrix<float> x{n, d, std::vector<float>(values.begin(), values.end())};
  kkm::Parameters p;
  p.k = k;
  p.n_init = golden.at("n_init");
  p.seed = 0;
  auto r = kkm::fit(space{}, to_device<space>(x), p, kkm::SquaredEuclidean{});
  double const sk = g.at("inertia");
  EXPECT_LE(r.inertia, 1.01 * sk) << name << ": kkmeans " << r.inertia << " vs scikit-learn " << sk;
  EXPECT_EQ(r.k_final, k);
  if (check_ci) {
    std::vector<double> gt(std::size_t(k) * d, 0.0);
    std::vector<int> cnt(k, 0);
    for (std::int64_t i = 0; i < n; ++i) {
      int const l = int(labels[i]) - 1;  // labels0 are 1-based
      ++cnt[l];
      for (int j = 0; j < d; ++j) gt[std::size_t(l) * d + j] += values[std::size_t(i) * d + j];
    }
    for (int q = 0; q < k; ++q)
      for (int j = 0; j < d; ++j) gt[std::size_t(q) * d + j] /= cnt[q];
    EXPECT_EQ(centroid_index(centroids_vector(r), gt, d), 0) << name;
  }
}

// k-means‖ against k-means++ (best of 5 each): within a few percent.
void check_parallel_init(std::string const& name) {
  using space = TEST_EXECSPACE;
  std::vector<double> values, labels;
  int d = 0, one = 0;
  std::string const dir = KKMEANS_SIPU_DIR;
  if (!read_text_table(dir + "/" + name + ".data.gz", values, d) ||
      !read_text_table(dir + "/" + name + ".labels0.gz", labels, one)) {
    if (std::getenv("KKMEANS_REQUIRE_SIPU")) FAIL() << "sipu data missing in " << dir;
    GTEST_SKIP() << "sipu data not found in " << dir;
  }
  int k = 0;
  for (double l : labels) k = std::max(k, int(l));
  Matrix<float> x{std::int64_t(labels.size()), d, std::vector<float>(values.begin(), values.end())};
  auto xd = to_device<space>(x);
  kkm::Parameters p;
  p.k = k;
  p.n_init = 5;
  auto pp = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  p.init = kkm::Init::kmeans_parallel;
  auto par = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  EXPECT_LE(par.inertia, 1.03 * pp.inertia) << name << ": k-means|| " << par.inertia << " vs k-means++ " << pp.inertia;
}

TEST(TEST_CATEGORY, quality_kmeans_parallel_s1_s4_a1) {
  for (auto name : {"s1", "s2", "s3", "s4", "a1"}) check_parallel_init(name);
}

TEST(TEST_CATEGORY, quality_s1) { check_set("s1", true); }
TEST(TEST_CATEGORY, quality_s2) { check_set("s2", true); }
TEST(TEST_CATEGORY, quality_s3) { check_set("s3", true); }
TEST(TEST_CATEGORY, quality_s4) { check_set("s4", true); }
TEST(TEST_CATEGORY, quality_a1) { check_set("a1", false); }
TEST(TEST_CATEGORY, quality_a2) { check_set("a2", false); }
TEST(TEST_CATEGORY, quality_a3) { check_set("a3", false); }
TEST(TEST_CATEGORY, quality_unbalance) { check_set("unbalance", false); }
TEST(TEST_CATEGORY, quality_birch1) { check_set("birch1", false); }

}  // namespace
