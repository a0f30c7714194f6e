// Mini-batch modes: scikit-learn-style learning rates reach Lloyd's inertia on blobs; the seed's
// update reproduces a two-batch example by hand, including a dropped centroid.
#include <KKM_TestHelpers.hpp>

#include <gtest/gtest.h>

namespace {

using namespace kkm_test;
using space = TEST_EXECSPACE;

kkm::Result<float, space::memory_space> run(std::vector<float> const& v, std::vector<double> const& init, kkm::Mode mode) {
  Matrix<float> x{std::int64_t(v.size()), 1, v};
  kkm::Parameters p;
  p.k = int(init.size());
  p.init = kkm::Init::given;
  p.initial_centroids = init;
  p.mode = mode;
  p.batch_size = 4;
  p.max_epochs = 1;  // 8 rows, batches of 4: two steps
  return kkm::fit(space{}, to_device<space>(x), p, kkm::SquaredEuclidean{});
}

TEST(TEST_CATEGORY, minibatch_seed_update_two_batches_by_hand) {
  // batch 1 = {0, 1, 10, 11} from centroids {0, 10}: means 0.5 and 10.5;
  // batch 2 = {2, 3, 12, 20} from {0.5, 10.5}: means 2.5 and 16.
  auto r = run({0, 1, 10, 11, 2, 3, 12, 20}, {0, 10}, kkm::Mode::seed);
  ASSERT_EQ(r.k_final, 2);
  EXPECT_EQ(r.centroids(0, 0), 2.5f);
  EXPECT_EQ(r.centroids(1, 0), 16.f);
  EXPECT_EQ(labels_to_host(r.labels), (std::vector<int>{0, 0, 1, 1, 0, 0, 1, 1}));
  // The same two batches with learning rates b/n: the running means of all rows seen, 1.5 and 13.25.
  auto m = run({0, 1, 10, 11, 2, 3, 12, 20}, {0, 10}, kkm::Mode::minibatch);
  EXPECT_EQ(m.centroids(0, 0), 1.5f);
  EXPECT_EQ(m.centroids(1, 0), 13.25f);
}

TEST(TEST_CATEGORY, minibatch_seed_update_drops_unreached_centroids) {
  auto r = run({0, 1, 2, 3, 4, 5, 6, 7}, {0, 100}, kkm::Mode::seed);
  ASSERT_EQ(r.k_final, 1);
  EXPECT_EQ(r.history[0].empty, 1);
  EXPECT_EQ(r.centroids(0, 0), 5.5f);  // batch 1 → 1.5, batch 2 → 5.5
}

TEST(TEST_CATEGORY, minibatch_reaches_lloyd_inertia_on_blobs) {
  auto x = blobs<float>(20000, 2, 8, 0.5, 61);
  auto xd = to_device<space>(x);
  kkm::Parameters p;
  p.k = 8;
  p.seed = 3;
  auto lloyd = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  p.mode = kkm::Mode::minibatch;
  p.batch_size = 512;
  p.max_epochs = 20;
  auto mb = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  EXPECT_LE(mb.inertia, 1.02 * lloyd.inertia) << "mini-batch " << mb.inertia << " vs Lloyd " << lloyd.inertia;
  EXPECT_EQ(mb.k_final, 8);
  // Deterministic.
  auto again = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  EXPECT_EQ(centroids_vector(mb), centroids_vector(again));
}

TEST(TEST_CATEGORY, minibatch_rejects_kmedians) {
  kkm::Parameters p;
  p.k = 2;
  p.mode = kkm::Mode::minibatch;
  auto x = uniform<float>(20, 2, 0, 1, 62);
  EXPECT_THROW(kkm::fit(space{}, to_device<space>(x), p, kkm::Manhattan{}), kkm::UserError);
}

}  // namespace
