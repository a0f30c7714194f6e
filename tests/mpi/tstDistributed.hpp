// Distributed fits at any rank count give bit for bit the centroids and labels of a one-process
// fit of the whole data, with N not divisible by the rank count and the last rank holding no rows.
#include <KKM_TestHelpers.hpp>

#include <gtest/gtest.h>

namespace {

using namespace kkm_test;

#if KKMEANS_ENABLE_MPI
kkm::Communicator world() { return kkm::Communicator(MPI_COMM_WORLD); }
#else
kkm::Communicator world() { return kkm::Communicator(); }
#endif

/// Uneven split: rank r < P−1 gets a share that grows with r; the last rank gets nothing when P > 1.
void uneven_split(std::int64_t n, int rank, int size, std::int64_t& r0, std::int64_t& count) {
  if (size == 1) {
    r0 = 0;
    count = n;
    return;
  }
  int const parts = size - 1;  // the last rank holds 0 rows
  std::int64_t const total_w = std::int64_t(parts) * (parts + 1) / 2;
  std::int64_t start = 0;
  for (int r = 0; r < rank && r < parts; ++r) start += n * (r + 1) / total_w;
  count = rank < parts ? (rank == parts - 1 ? n - start : n * (rank + 1) / total_w) : 0;
  r0 = rank < parts ? start : n;
}

template <class Metric>
void check_distributed(Metric const& metric, kkm::Parameters const& p, Matrix<float> const& x,
                       std::vector<float> const& weights = {}) {
  using space = TEST_EXECSPACE;
  using mem = typename space::memory_space;
  auto comm = world();
  std::int64_t r0, count;
  uneven_split(x.n, comm.rank(), comm.size(), r0, count);
  auto local = to_device<space>(x, r0, count);
  Kokkos::View<float const*, mem> wl, wall;
  if (!weights.empty()) {
    Matrix<float> wm{x.n, 1, weights};
    wl = Kokkos::subview(to_device<space>(wm, r0, count), Kokkos::ALL(), 0);
    wall = Kokkos::subview(to_device<space>(wm), Kokkos::ALL(), 0);
  }
  auto dist = [&] {
    if (p.data_in != kkm::DataIn::file) return kkm::fit(space{}, local, wl, p, metric, comm);
    // Streamed from host memory the device is never given an address for (as from a mapped file).
    Kokkos::View<float**, Kokkos::LayoutRight, kkm::detail::staging_space_t<space>> rows("rows", count, x.d);
    for (std::int64_t i = 0; i < count; ++i)
      for (int j = 0; j < x.d; ++j) rows(i, j) = x(r0 + i, j);
    return kkm::fit(space{}, rows, wl, p, metric, comm);
  }();
  // Reference: every rank fits the whole data alone, in place.
  auto in_place = p;
  in_place.data_in = kkm::DataIn::device;
  in_place.device_memory = 0;
  auto whole = kkm::fit(space{}, to_device<space>(x), wall, in_place, metric, kkm::Communicator{});

  EXPECT_EQ(dist.n_rows, x.n);
  EXPECT_EQ(dist.k_final, whole.k_final);
  EXPECT_EQ(dist.epochs, whole.epochs);
  EXPECT_EQ(centroids_vector(dist), centroids_vector(whole)) << "centroids differ from the one-process fit";
  auto all = labels_to_host(whole.labels);
  auto mine = labels_to_host(dist.labels);
  ASSERT_EQ(std::int64_t(mine.size()), count);
  EXPECT_TRUE(std::equal(mine.begin(), mine.end(), all.begin() + r0)) << "labels differ from the one-process fit";
  EXPECT_NEAR(dist.inertia, whole.inertia, 1e-9 * whole.inertia);
  // Every rank saw the same history.
  std::vector<double> h;
  for (auto const& e : dist.history) h.push_back(e.inertia);
  double first = h.empty() ? 0 : h.front();
  double mx = first;
  comm.allreduce_max(&mx, 1);
  EXPECT_EQ(mx, first);
}

TEST(TEST_CATEGORY, distributed_sqeuclidean_kmeanspp) {
  kkm::Parameters p;
  p.k = 7;
  p.seed = 5;
  check_distributed(kkm::SquaredEuclidean{}, p, blobs<float>(1001, 3, 7, 1.2, 31));
}

// k-means++ pruning rows on each rank (KKM_TrialPruning.hpp) chooses the one-process centres.
TEST(TEST_CATEGORY, distributed_pruned_kmeanspp) {
  using space = TEST_EXECSPACE;
  using mem = typename space::memory_space;
  using kkm::detail::TrialPruning;
  auto comm = world();
  auto const x = blobs<float>(3001, 20, 16, 0.4, 32);
  std::int64_t r0, count;
  uneven_split(x.n, comm.rank(), comm.size(), r0, count);
  kkm::detail::DeviceMatrix<space, float> local = to_device<space>(x, r0, count), whole = to_device<space>(x);
  Kokkos::View<float const*, mem> no_weights;
  kkm::Communicator self;
  auto const sl = kkm::detail::summarize(space{}, local, no_weights, comm);
  auto const sw = kkm::detail::summarize(space{}, whole, no_weights, self);
  auto const got = kkm::detail::init_kmeanspp(space{}, local, kkm::SquaredEuclidean{}, 16, 0, 3, sl, comm, no_weights,
                                              kkm::detail::TrialKernel::automatic, TrialPruning::on);
  auto const want = kkm::detail::init_kmeanspp(space{}, whole, kkm::SquaredEuclidean{}, 16, 0, 3, sw, self, no_weights,
                                               kkm::detail::TrialKernel::automatic, TrialPruning::off);
  for (int q = 0; q < 16; ++q)
    for (int j = 0; j < x.d; ++j) ASSERT_EQ(got(q, j), want(q, j)) << "centre " << q << " column " << j;
}

TEST(TEST_CATEGORY, distributed_random_init_restarts) {
  kkm::Parameters p;
  p.k = 6;
  p.seed = 6;
  p.n_init = 3;
  p.init = kkm::Init::random;
  check_distributed(kkm::Euclidean{}, p, blobs<float>(997, 2, 6, 1.0, 32));
}

TEST(TEST_CATEGORY, distributed_streamed_from_file) {
  // data_in = file: the rows an initialisation picks are gathered on the host and summed over ranks;
  // every pass over them streams (the last rank holds none).
  kkm::Parameters p;
  p.k = 8;
  p.seed = 13;
  p.data_in = kkm::DataIn::file;
  p.device_memory = 64 << 10;
  auto x = blobs<float>(1501, 3, 8, 1.0, 40);
  std::vector<float> w(x.n);
  for (std::int64_t i = 0; i < x.n; ++i) w[i] = float(1 + i % 3);
  p.init = kkm::Init::kmeans_parallel;
  check_distributed(kkm::SquaredEuclidean{}, p, x, w);
  p.init = kkm::Init::random;
  p.n_init = 2;
  check_distributed(kkm::Cosine{}, p, x);
  // k-means++ (its measuring passes streamed, its trials gathered on the host) and the median
  // update (its radix passes streamed) from the file too.
  p.n_init = 1;
  p.init = kkm::Init::kmeanspp;
  check_distributed(kkm::SquaredEuclidean{}, p, x, w);
  p.init = kkm::Init::random;
  check_distributed(kkm::Manhattan{}, p, x, w);
}

TEST(TEST_CATEGORY, distributed_kmeans_parallel) {
  kkm::Parameters p;
  p.k = 8;
  p.seed = 12;
  p.init = kkm::Init::kmeans_parallel;
  auto x = blobs<float>(1501, 3, 8, 1.0, 39);
  check_distributed(kkm::SquaredEuclidean{}, p, x);
  std::vector<float> w(x.n);
  for (std::int64_t i = 0; i < x.n; ++i) w[i] = float(1 + i % 3);
  check_distributed(kkm::Manhattan{}, p, x, w);
}

TEST(TEST_CATEGORY, distributed_minibatch_converges) {
  using space = TEST_EXECSPACE;
  auto comm = world();
  auto x = blobs<float>(12001, 2, 6, 0.5, 40);
  std::int64_t r0, count;
  uneven_split(x.n, comm.rank(), comm.size(), r0, count);
  auto local = to_device<space>(x, r0, count);
  kkm::Parameters p;
  p.k = 6;
  p.seed = 4;
  auto lloyd = kkm::fit(space{}, local, p, kkm::SquaredEuclidean{}, comm);
  p.mode = kkm::Mode::minibatch;
  p.batch_size = 300;
  p.max_epochs = 30;
  auto mb = kkm::fit(space{}, local, p, kkm::SquaredEuclidean{}, comm);
  EXPECT_LE(mb.inertia, 1.02 * lloyd.inertia);
  double first = mb.centroids(0, 0), mx = first;  // every rank holds the same centroids
  comm.allreduce_max(&mx, 1);
  EXPECT_EQ(mx, first);
  // From rows the device is never given an address for (as from a file): each batch read on the
  // host, the same fit on the same split; the last rank, which holds no rows, reads none.
  Kokkos::View<float**, Kokkos::LayoutRight, kkm::detail::staging_space_t<space>> rows("rows", count, x.d);
  for (std::int64_t i = 0; i < count; ++i)
    for (int j = 0; j < x.d; ++j) rows(i, j) = x(r0 + i, j);
  p.init = kkm::Init::kmeanspp;  // (automatic would be k-means‖ from a file)
  auto const in_place = kkm::fit(space{}, local, p, kkm::SquaredEuclidean{}, comm);
  p.data_in = kkm::DataIn::file;
  auto const mf = kkm::fit(space{}, rows, p, kkm::SquaredEuclidean{}, comm);
  EXPECT_EQ(mf.data_in, "file");
  EXPECT_EQ(centroids_vector(mf), centroids_vector(in_place));
  EXPECT_EQ(labels_to_host(mf.labels), labels_to_host(in_place.labels));
}

TEST(TEST_CATEGORY, distributed_cosine) {
  kkm::Parameters p;
  p.k = 5;
  p.seed = 7;
  check_distributed(kkm::Cosine{}, p, blobs<float>(803, 4, 5, 2.0, 33));
}

TEST(TEST_CATEGORY, distributed_manhattan_medians) {
  kkm::Parameters p;
  p.k = 5;
  p.seed = 8;
  check_distributed(kkm::Manhattan{}, p, blobs<float>(899, 3, 5, 1.5, 34));
}

TEST(TEST_CATEGORY, distributed_iou) {
  kkm::Parameters p;
  p.k = 6;
  p.seed = 9;
  check_distributed(kkm::IoU{}, p, uniform<float>(1003, 2, 0.05, 1.0, 35));
}

TEST(TEST_CATEGORY, distributed_weighted_kmeanspp_and_medians) {
  auto x = blobs<float>(1201, 3, 6, 1.3, 37);
  std::vector<float> w(x.n);
  for (std::int64_t i = 0; i < x.n; ++i) w[i] = float((i * 7919) % 13) * 0.25f;  // includes zeros
  kkm::Parameters p;
  p.k = 6;
  p.seed = 10;
  check_distributed(kkm::SquaredEuclidean{}, p, x, w);
  check_distributed(kkm::Manhattan{}, p, x, w);
}

TEST(TEST_CATEGORY, distributed_empty_cluster_split_and_farthest) {
  auto x = blobs<float>(700, 2, 3, 0.3, 38);
  x(401, 0) = 50.f;  // farthest row, on a middle rank at np > 2
  kkm::Parameters p;
  p.k = 5;
  p.init = kkm::Init::given;
  for (int q = 0; q < 3; ++q)
    for (int j = 0; j < 2; ++j) p.initial_centroids.push_back(x(q, j));
  for (double v : {1e4, 1e4, -1e4, -1e4}) p.initial_centroids.push_back(v);
  for (auto policy : {kkm::EmptyPolicy::split, kkm::EmptyPolicy::farthest}) {
    p.empty = policy;
    check_distributed(kkm::SquaredEuclidean{}, p, x);
    check_distributed(kkm::Manhattan{}, p, x);
  }
}

TEST(TEST_CATEGORY, distributed_empty_cluster_drop) {
  auto x = blobs<float>(500, 2, 3, 0.2, 36);
  kkm::Parameters p;
  p.k = 4;
  p.init = kkm::Init::given;
  for (int q = 0; q < 3; ++q)
    for (int j = 0; j < 2; ++j) p.initial_centroids.push_back(x(q, j));
  p.initial_centroids.push_back(1e4);
  p.initial_centroids.push_back(-1e4);
  check_distributed(kkm::SquaredEuclidean{}, p, x);
}

// Ranks whose rows have different numbers of columns: every rank refuses (none waits in a collective
// the others never reach), naming d and its range; a rank with d = 0 among them included.
TEST(TEST_CATEGORY, distributed_different_columns_refused_on_every_rank) {
  using space = TEST_EXECSPACE;
  auto comm = world();
  if (comm.size() == 1) GTEST_SKIP() << "needs two ranks or more";
  int const d = comm.rank() == 0 ? 3 : comm.rank() == 1 ? 0 : 2;
  Matrix<float> x{20, d, std::vector<float>(std::size_t(20) * d, 1.0f)};
  kkm::Parameters p;
  p.k = 2;
  try {
    kkm::fit(space{}, to_device<space>(x), p, kkm::SquaredEuclidean{}, comm);
    ADD_FAILURE() << "a fit over ranks with different d ran";
  } catch (kkm::UserError const& e) {
    EXPECT_EQ(std::string(e.what()), "ranks disagree on the fit's parameters: the number of columns d ranges from 0 to 3 "
                                     "(every rank must pass the same)");
  }
}

}  // namespace
