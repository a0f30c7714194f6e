// Initialisation: deterministic for a seed, distinct rows, and k-means++ spreads over the blobs.
#include <KKM_TestHelpers.hpp>

#include <gtest/gtest.h>

#include <set>

namespace {

using namespace kkm_test;

template <class Space>
kkm::detail::HostMatrix<float> init(Matrix<float> const& x, kkm::Init how, int k, std::uint64_t seed) {
  auto xd = to_device<Space>(x);
  kkm::Communicator comm;
  kkm::detail::DeviceMatrix<Space, float> cx = xd;
  auto s = kkm::detail::summarize(Space{}, cx, Kokkos::View<float const*, typename Space::memory_space>(), comm);
  if (how == kkm::Init::random) return kkm::detail::init_random(Space{}, cx, k, seed, s, comm);
  if (how == kkm::Init::kmeans_parallel)
    return kkm::detail::init_kmeans_parallel(Space{}, cx, kkm::SquaredEuclidean{}, k, 0, seed, s, comm);
  return kkm::detail::init_kmeanspp(Space{}, cx, kkm::SquaredEuclidean{}, k, 0, seed, s, comm);
}

std::set<std::vector<float>> rows_of(kkm::detail::HostMatrix<float> const& c) {
  std::set<std::vector<float>> s;
  for (std::size_t q = 0; q < c.extent(0); ++q) {
    std::vector<float> r;
    for (std::size_t j = 0; j < c.extent(1); ++j) r.push_back(c(q, j));
    s.insert(r);
  }
  return s;
}

TEST(TEST_CATEGORY, init_random_distinct_rows_deterministic) {
  auto x = uniform<float>(300, 3, 0, 1, 21);
  auto a = init<TEST_EXECSPACE>(x, kkm::Init::random, 25, 7);
  auto b = init<TEST_EXECSPACE>(x, kkm::Init::random, 25, 7);
  auto c = init<TEST_EXECSPACE>(x, kkm::Init::random, 25, 8);
  auto ra = rows_of(a);
  EXPECT_EQ(ra.size(), 25u) << "rows must be distinct";
  EXPECT_EQ(ra, rows_of(b));
  EXPECT_NE(ra, rows_of(c));
  std::set<std::vector<float>> data;
  for (std::int64_t i = 0; i < x.n; ++i) data.insert({x(i, 0), x(i, 1), x(i, 2)});
  for (auto const& r : ra) EXPECT_TRUE(data.count(r)) << "an initial centroid is not a data row";
  // k = N takes every row.
  EXPECT_EQ(rows_of(init<TEST_EXECSPACE>(x, kkm::Init::random, 300, 1)), data);
}

void one_centre_per_blob(kkm::Init how) {
  int const k = 10;
  std::vector<int> truth;
  Matrix<double> centres;
  auto x = blobs<float>(2000, 2, k, 0.05, 22, &truth, &centres);
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    auto c = init<TEST_EXECSPACE>(x, how, k, seed);
    std::vector<double> got(std::size_t(k) * 2);
    for (int q = 0; q < k; ++q)
      for (int j = 0; j < 2; ++j) got[q * 2 + j] = c(q, j);
    EXPECT_EQ(centroid_index(got, centres.v, 2), 0) << "seed " << seed;
    auto again = init<TEST_EXECSPACE>(x, how, k, seed);
    EXPECT_EQ(rows_of(c), rows_of(again));
  }
}

TEST(TEST_CATEGORY, init_kmeanspp_one_centre_per_blob) { one_centre_per_blob(kkm::Init::kmeanspp); }
TEST(TEST_CATEGORY, init_kmeans_parallel_one_centre_per_blob) { one_centre_per_blob(kkm::Init::kmeans_parallel); }

}  // namespace
