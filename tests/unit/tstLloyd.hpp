// Lloyd against a straightforward reference epoch by epoch; stopping rules; empty clusters;
// reproducibility across batch sizes, backends and runs; the GEMM path; bad input.
#include <KKM_TestHelpers.hpp>

#include <gtest/gtest.h>

namespace {

using namespace kkm_test;

std::vector<double> first_rows(Matrix<float> const& x, int k, int stride) {
  std::vector<double> c(std::size_t(k) * x.d);
  for (int q = 0; q < k; ++q)
    for (int j = 0; j < x.d; ++j) c[std::size_t(q) * x.d + j] = x(std::int64_t(q) * stride, j);
  return c;
}

TEST(TEST_CATEGORY, lloyd_matches_reference_epoch_by_epoch) {
  using space = TEST_EXECSPACE;
  auto x = blobs<float>(700, 3, 5, 2.5, 11);  // overlapping blobs: labels keep changing for a while
  int const k = 5, E = 8;
  auto c = first_rows(x, k, 1);
  kkm::Parameters p;
  p.k = k;
  p.init = kkm::Init::given;
  p.initial_centroids = c;
  p.max_epochs = E;
  p.tol = 0;
  p.stop_on_no_change = false;
  auto r = kkm::fit(space{}, to_device<space>(x), p, kkm::SquaredEuclidean{});
  ASSERT_EQ(r.k_final, k);

  std::vector<int> prev(x.n, -1);
  for (int e = 0; e < int(r.history.size()); ++e) {
    auto a = ref_assign(Ref::sqeuclidean, x, c, k);
    std::int64_t changed = 0;
    for (std::int64_t i = 0; i < x.n; ++i) changed += a.labels[i] != prev[i];
    prev = a.labels;
    EXPECT_NEAR(r.history[e].inertia, a.inertia, 1e-5 * a.inertia) << "epoch " << e + 1;
    EXPECT_EQ(r.history[e].changed, changed) << "epoch " << e + 1;
    auto next = ref_update(Ref::sqeuclidean, x, a.labels, c, k);
    double shift = 0;
    for (std::size_t i = 0; i < c.size(); ++i) shift += (next[i] - c[i]) * (next[i] - c[i]);
    EXPECT_NEAR(r.history[e].shift, shift, 1e-4 * shift + 1e-10) << "epoch " << e + 1;
    c = next;
  }
  EXPECT_EQ(r.epochs, int(r.history.size()));
  auto got = centroids_vector(r);
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_NEAR(got[i], c[i], 1e-5 * std::max(1.0, std::fabs(c[i])));
  auto final_ref = ref_assign(Ref::sqeuclidean, x, c, k);
  EXPECT_EQ(labels_to_host(r.labels), final_ref.labels);
  EXPECT_NEAR(r.inertia, final_ref.inertia, 1e-5 * final_ref.inertia);
}

TEST(TEST_CATEGORY, lloyd_stopping_rules) {
  using space = TEST_EXECSPACE;
  auto x = blobs<float>(400, 2, 4, 0.2, 12);
  auto xd = to_device<space>(x);
  kkm::Parameters p;
  p.k = 4;
  p.seed = 3;
  p.tol = 0;
  auto r = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.stop_reason, "no label changed");
  EXPECT_EQ(r.history.back().changed, 0);
  EXPECT_LT(r.epochs, p.max_epochs);

  p.max_epochs = 1;
  p.init = kkm::Init::random;
  auto r1 = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  EXPECT_FALSE(r1.converged);
  EXPECT_EQ(r1.stop_reason, "max epochs");
  EXPECT_EQ(r1.epochs, 1);

  p.max_epochs = 100;
  p.tol = 1e6;  // any shift is below this
  auto r2 = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  EXPECT_TRUE(r2.converged);
  EXPECT_EQ(r2.stop_reason, "shift below tol");
  EXPECT_EQ(r2.epochs, 1);
}

TEST(TEST_CATEGORY, lloyd_empty_cluster_is_dropped) {
  using space = TEST_EXECSPACE;
  auto x = blobs<float>(300, 2, 3, 0.2, 13);
  auto c = first_rows(x, 3, 1);
  c.push_back(1e4);  // a fourth centroid far from every row: it attracts nothing
  c.push_back(1e4);
  kkm::Parameters p;
  p.k = 4;
  p.init = kkm::Init::given;
  p.initial_centroids = c;
  auto r = kkm::fit(space{}, to_device<space>(x), p, kkm::SquaredEuclidean{});
  EXPECT_EQ(r.k_requested, 4);
  EXPECT_EQ(r.k_final, 3);
  EXPECT_EQ(r.history[0].empty, 1);
  EXPECT_EQ(r.history[0].k, 3);
  ASSERT_EQ(r.centroids.extent(0), 3u);
  for (int l : labels_to_host(r.labels)) EXPECT_TRUE(l >= 0 && l < 3);
  for (std::size_t q = 0; q < 3; ++q) EXPECT_LT(std::fabs(r.centroids(q, 0)), 100.0);
}

TEST(TEST_CATEGORY, lloyd_empty_cluster_is_kept) {
  using space = TEST_EXECSPACE;
  auto x = blobs<float>(300, 2, 3, 0.2, 13);
  auto c = first_rows(x, 3, 1);
  c.push_back(1e4);  // a fourth centroid far from every row: it attracts nothing and stays
  c.push_back(-1e4);
  kkm::Parameters p;
  p.k = 4;
  p.init = kkm::Init::given;
  p.initial_centroids = c;
  p.empty = kkm::EmptyPolicy::keep;
  auto r = kkm::fit(space{}, to_device<space>(x), p, kkm::SquaredEuclidean{});
  EXPECT_EQ(r.k_final, 4);
  EXPECT_EQ(r.history[0].empty, 1);
  EXPECT_EQ(r.history[0].relocated, 0);
  EXPECT_EQ(r.history[0].k, 4);
  ASSERT_EQ(r.centroids.extent(0), 4u);
  EXPECT_EQ(r.centroids(3, 0), 1e4f);
  EXPECT_EQ(r.centroids(3, 1), -1e4f);
  for (int l : labels_to_host(r.labels)) EXPECT_TRUE(l >= 0 && l < 3);
}

template <class Metric>
void expect_identical(Metric const& m, kkm::Parameters p, Matrix<float> const& x) {
  using space = TEST_EXECSPACE;
  auto xd = to_device<space>(x);
  auto a = kkm::fit(space{}, xd, p, m);
  auto b = kkm::fit(space{}, xd, p, m);
  p.batch_size = 37;  // many batches and launches: another order of accumulation
  auto c = kkm::fit(space{}, xd, p, m);
  EXPECT_EQ(centroids_vector(a), centroids_vector(b));
  EXPECT_EQ(centroids_vector(a), centroids_vector(c));
  EXPECT_EQ(labels_to_host(a.labels), labels_to_host(b.labels));
  EXPECT_EQ(labels_to_host(a.labels), labels_to_host(c.labels));
  EXPECT_EQ(a.epochs, c.epochs);
#if defined(KOKKOS_ENABLE_SERIAL)
  // Another host backend (one thread) gives the same bits. (Not a device: its default initialisation
  // is k-means‖ and its compiler contracts products into FMAs.)
  if constexpr (kkm::detail::is_host_space<space>()) {
    auto hx = to_device<Kokkos::Serial>(x);
    auto s = kkm::fit(Kokkos::Serial{}, hx, p, m);
    EXPECT_EQ(centroids_vector(a), centroids_vector(s));
    EXPECT_EQ(labels_to_host(a.labels), labels_to_host(s.labels));
  }
#endif
}

TEST(TEST_CATEGORY, lloyd_bitwise_reproducible) {
  auto x = blobs<float>(1500, 4, 6, 1.5, 14);
  kkm::Parameters p;
  p.k = 6;
  p.seed = 99;
  expect_identical(kkm::SquaredEuclidean{}, p, x);
  expect_identical(kkm::Cosine{}, p, x);
  expect_identical(kkm::Manhattan{}, p, x);
  p.init = kkm::Init::random;
  expect_identical(kkm::Euclidean{}, p, x);
}

TEST(TEST_CATEGORY, lloyd_seed_changes_result) {
  using space = TEST_EXECSPACE;
  auto xd = to_device<space>(uniform<float>(500, 2, 0, 1, 15));
  kkm::Parameters p;
  p.k = 10;
  p.seed = 1;
  auto a = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  p.seed = 2;
  auto b = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  EXPECT_NE(centroids_vector(a), centroids_vector(b));
}

TEST(TEST_CATEGORY, lloyd_gemm_path_agrees_with_fused) {
  using space = TEST_EXECSPACE;
  // k = 70: the product is padded to 72 columns, which the argmin skips; k = 72: no padding.
  for (int k : {70, 72}) {
    auto x = blobs<float>(2000, 40, k, 0.5, 16);
    auto xd = to_device<space>(x);
    kkm::Parameters p;
    p.k = k;
    p.seed = 5;
    p.assign = kkm::AssignPath::fused;
    auto f = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
    p.assign = kkm::AssignPath::gemm;
    p.batch_size = 300;  // several GEMM batches
    auto g = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
    EXPECT_EQ(f.path, "fused");
    EXPECT_EQ(g.path, "gemm");
    EXPECT_EQ(labels_to_host(f.labels), labels_to_host(g.labels)) << "k " << k;
    EXPECT_NEAR(f.inertia, g.inertia, 1e-6 * f.inertia);
    auto cf = centroids_vector(f), cg = centroids_vector(g);
    ASSERT_EQ(cf.size(), cg.size());
    for (std::size_t i = 0; i < cf.size(); ++i) EXPECT_NEAR(cf[i], cg[i], 1e-5 * std::max(1.0, std::fabs(cf[i])));
    // Checked GEMM (TF32 filter on CUDA float32, BLAS elsewhere), then exact distances: the fused labels.
    p.assign = kkm::AssignPath::gemm_checked;
    auto h = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
    EXPECT_EQ(h.path, "gemm-checked");
    EXPECT_EQ(labels_to_host(f.labels), labels_to_host(h.labels)) << "k " << k;
    // The same labels and each row's distance summed in the same order (the GEMM path measures
    // the chosen centroid's distance as the metric does); only the double sum over rows runs in
    // another order (batches, teams).
    EXPECT_NEAR(f.inertia, h.inertia, 1e-12 * f.inertia);
    EXPECT_EQ(cf, centroids_vector(h)) << "k " << k;  // the same labels give the same integer sums
    // The product fused with each row's candidate list (tensor cores on CUDA float32): the same.
    p.assign = kkm::AssignPath::fused_checked;
    auto fc = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
    EXPECT_EQ(fc.path, "fused-checked");
    EXPECT_EQ(labels_to_host(f.labels), labels_to_host(fc.labels)) << "k " << k;
    EXPECT_NEAR(f.inertia, fc.inertia, 1e-12 * f.inertia);
    EXPECT_EQ(cf, centroids_vector(fc)) << "k " << k;
    // 3xTF32 (CUDA builds): the same labels on these well-separated blobs; elsewhere a clear error.
    p.assign = kkm::AssignPath::gemm_tf32x3;
    if constexpr (kkm::detail::tf32x3_available<space, float>()) {
      auto t = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
      EXPECT_EQ(t.path, "gemm-tf32x3");
      EXPECT_EQ(labels_to_host(f.labels), labels_to_host(t.labels)) << "k " << k;
      EXPECT_NEAR(f.inertia, t.inertia, 1e-6 * f.inertia);
      auto ct = centroids_vector(t);
      ASSERT_EQ(cf.size(), ct.size());
      for (std::size_t i = 0; i < cf.size(); ++i) EXPECT_NEAR(cf[i], ct[i], 1e-5 * std::max(1.0, std::fabs(cf[i])));
    } else {
      EXPECT_THROW(kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{}), kkm::UserError);
    }
  }
}

// Clusters dropped mid-fit leave a k that is not a multiple of 8 on the GEMM path: the product is
// padded to the next multiple (zero centroids past k, never chosen); the result equals the fused path's.
TEST(TEST_CATEGORY, lloyd_gemm_path_after_dropped_clusters) {
  using space = TEST_EXECSPACE;
  auto x = blobs<float>(2000, 40, 70, 0.5, 16);
  auto xd = to_device<space>(x);
  auto c = first_rows(x, 70, 7);
  for (int e = 0; e < 2 * 40; ++e) c.push_back(1e4);  // two centroids that attract nothing
  kkm::Parameters p;
  p.k = 72;
  p.init = kkm::Init::given;
  p.initial_centroids = c;
  p.assign = kkm::AssignPath::fused;
  auto f = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  p.assign = kkm::AssignPath::gemm;
  p.batch_size = 300;
  auto g = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  ASSERT_LT(f.k_final, 72);
  ASSERT_NE(f.k_final % 8, 0);  // the padded layout is exercised
  EXPECT_EQ(g.k_final, f.k_final);
  // The FP32 path ranks by ‖c‖² − 2x·c in float: a row whose two nearest centroids lie within that
  // rounding may take the other one (an H200's strided-batched SGEMM moved at least one row here);
  // a broken padded layout would move most rows.
  auto const lf = labels_to_host(f.labels), lg = labels_to_host(g.labels);
  ASSERT_EQ(lf.size(), lg.size());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < lf.size(); ++i) differ += lf[i] != lg[i];
  EXPECT_LE(differ, lf.size() / 100);
  EXPECT_NEAR(f.inertia, g.inertia, 1e-6 * f.inertia);
  // The checked path gives the fused labels exactly, padded product included.
  p.assign = kkm::AssignPath::gemm_checked;
  auto h = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  EXPECT_EQ(h.k_final, f.k_final);
  EXPECT_EQ(lf, labels_to_host(h.labels));
  EXPECT_EQ(f.epochs, h.epochs);
}

TEST(TEST_CATEGORY, lloyd_restarts_keep_the_best) {
  using space = TEST_EXECSPACE;
  auto xd = to_device<space>(blobs<float>(600, 2, 8, 1.0, 17));
  kkm::Parameters p;
  p.k = 8;
  p.n_init = 4;
  p.init = kkm::Init::random;
  auto r = kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{});
  ASSERT_EQ(r.restart_inertia.size(), 4u);
  EXPECT_EQ(r.inertia, *std::min_element(r.restart_inertia.begin(), r.restart_inertia.end()));
  EXPECT_EQ(r.inertia, r.restart_inertia[r.best_restart]);
}

template <class F>
std::string user_error(F f) {
  try {
    f();
  } catch (kkm::UserError const& e) {
    return e.what();
  }
  return "";
}

TEST(TEST_CATEGORY, lloyd_rejects_bad_input) {
  using space = TEST_EXECSPACE;
  auto x = uniform<float>(20, 2, 0, 1, 18);
  auto xd = to_device<space>(x);
  kkm::Parameters p;
  p.k = 21;
  EXPECT_NE(user_error([&] { kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{}); }).find("exceeds the number of rows"),
            std::string::npos);
  p.k = 0;
  EXPECT_NE(user_error([&] { kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{}); }).find("k must be at least 1"),
            std::string::npos);
  p.k = 2;
  p.batch_size = -1;
  EXPECT_NE(user_error([&] { kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{}); }).find("batch size"), std::string::npos);
  p.batch_size = 0;
  p.pipeline = static_cast<kkm::Pipeline>(7);  // (an enum set from an unchecked integer)
  EXPECT_NE(user_error([&] { kkm::fit(space{}, xd, p, kkm::SquaredEuclidean{}); }).find("pipeline must be"),
            std::string::npos);
  p.pipeline = kkm::Pipeline::automatic;
  x(7, 1) = NAN;
  x(9, 0) = INFINITY;
  auto bad = to_device<space>(x);
  auto msg = user_error([&] { kkm::fit(space{}, bad, p, kkm::SquaredEuclidean{}); });
  EXPECT_NE(msg.find("2 NaN or infinite"), std::string::npos) << msg;
  EXPECT_NE(msg.find("row 7, column 1"), std::string::npos) << msg;
  Kokkos::View<float**, Kokkos::LayoutRight, typename space::memory_space> empty("empty", 0, 2);
  EXPECT_NE(user_error([&] { kkm::fit(space{}, empty, p, kkm::SquaredEuclidean{}); }).find("no rows"), std::string::npos);
  Kokkos::View<float**, Kokkos::LayoutRight, Kokkos::HostSpace> model("m", 2, 3);
  EXPECT_NE(user_error([&] { kkm::predict(space{}, xd, model, kkm::SquaredEuclidean{}); }).find("3 columns"),
            std::string::npos);
}

TEST(TEST_CATEGORY, lloyd_single_row_and_identical_rows) {
  using space = TEST_EXECSPACE;
  Matrix<float> one{1, 3, {1.f, 2.f, 3.f}};
  kkm::Parameters p;
  p.k = 1;
  auto r = kkm::fit(space{}, to_device<space>(one), p, kkm::SquaredEuclidean{});
  EXPECT_EQ(r.k_final, 1);
  EXPECT_EQ(r.centroids(0, 2), 3.f);
  EXPECT_EQ(r.inertia, 0.0);
  // All rows identical, k = 3: k-means++ can only pick duplicates; the duplicates empty and drop.
  Matrix<float> same{50, 2, std::vector<float>(100, 4.5f)};
  p.k = 3;
  auto s = kkm::fit(space{}, to_device<space>(same), p, kkm::SquaredEuclidean{});
  EXPECT_EQ(s.k_final, 1);
  EXPECT_EQ(s.centroids(0, 0), 4.5f);
  EXPECT_EQ(s.inertia, 0.0);
}

TEST(TEST_CATEGORY, lloyd_float64) {
  using space = TEST_EXECSPACE;
  auto xf = blobs<double>(500, 3, 4, 1.0, 19);
  kkm::Parameters p;
  p.k = 4;
  p.init = kkm::Init::given;
  std::vector<double> c(12);
  for (int q = 0; q < 4; ++q)
    for (int j = 0; j < 3; ++j) c[q * 3 + j] = xf(q, j);
  p.initial_centroids = c;
  p.max_epochs = 3;
  p.tol = 0;
  p.stop_on_no_change = false;
  auto r = kkm::fit(space{}, to_device<space>(xf), p, kkm::SquaredEuclidean{});
  for (int e = 0; e < 3; ++e) {
    auto a = ref_assign(Ref::sqeuclidean, xf, c, 4);
    EXPECT_NEAR(r.history[e].inertia, a.inertia, 1e-12 * a.inertia);
    c = ref_update(Ref::sqeuclidean, xf, a.labels, c, 4);
  }
  auto got = centroids_vector(r);
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_NEAR(got[i], c[i], 1e-12 * std::max(1.0, std::fabs(c[i])));
}

}  // namespace

namespace {

using namespace kkm_test;

kkm::Parameters far_away_start(Matrix<float> const& x, kkm::EmptyPolicy policy) {
  kkm::Parameters p;
  p.k = 4;
  p.init = kkm::Init::given;
  for (int q = 0; q < 3; ++q)
    for (int j = 0; j < 2; ++j) p.initial_centroids.push_back(x(q * 2, j));
  p.initial_centroids.push_back(1e4);  // attracts nothing in epoch 1
  p.initial_centroids.push_back(1e4);
  p.empty = policy;
  p.max_epochs = 1;
  p.tol = 0;
  return p;
}

TEST(TEST_CATEGORY, empty_policy_split) {
  using space = TEST_EXECSPACE;
  auto x = blobs<float>(300, 2, 3, 0.3, 51);
  auto p = far_away_start(x, kkm::EmptyPolicy::split);
  auto r = kkm::fit(space{}, to_device<space>(x), p, kkm::SquaredEuclidean{});
  ASSERT_EQ(r.k_final, 4);
  EXPECT_EQ(r.history[0].empty, 1);
  EXPECT_EQ(r.history[0].relocated, 1);
  // Centroid 3 is the largest cluster's mean times (1 ± 1/1024), and that centroid the mirror image.
  int big = 0;
  auto a = ref_assign(Ref::sqeuclidean, x, std::vector<double>(p.initial_centroids.begin(), p.initial_centroids.end() - 2), 3);
  std::vector<int> count(3, 0);
  for (int l : a.labels) ++count[l];
  for (int c = 1; c < 3; ++c)
    if (count[c] > count[big]) big = c;
  auto mean = ref_update(Ref::sqeuclidean, x, a.labels, std::vector<double>(6, 0.0), 3);
  EXPECT_FLOAT_EQ(r.centroids(3, 0), float(mean[big * 2] * (1 + 1.0 / 1024)));
  EXPECT_FLOAT_EQ(r.centroids(3, 1), float(mean[big * 2 + 1] * (1 - 1.0 / 1024)));
  EXPECT_FLOAT_EQ(r.centroids(big, 0), float(mean[big * 2] * (1 - 1.0 / 1024)));
  EXPECT_FLOAT_EQ(r.centroids(big, 1), float(mean[big * 2 + 1] * (1 + 1.0 / 1024)));
}

TEST(TEST_CATEGORY, empty_policy_farthest) {
  using space = TEST_EXECSPACE;
  auto x = blobs<float>(300, 2, 3, 0.3, 52);
  x(77, 0) = 40.f;  // an outlier: the farthest row from every centroid
  x(77, 1) = -40.f;
  auto p = far_away_start(x, kkm::EmptyPolicy::farthest);
  auto r = kkm::fit(space{}, to_device<space>(x), p, kkm::SquaredEuclidean{});
  ASSERT_EQ(r.k_final, 4);
  EXPECT_EQ(r.history[0].empty, 1);
  EXPECT_EQ(r.history[0].relocated, 1);
  EXPECT_EQ(r.centroids(3, 0), 40.f);
  EXPECT_EQ(r.centroids(3, 1), -40.f);
  // The outlier left its old cluster: that mean no longer includes it.
  auto a = ref_assign(Ref::sqeuclidean, x, std::vector<double>(p.initial_centroids.begin(), p.initial_centroids.end() - 2), 3);
  int const old = a.labels[77];
  a.labels[77] = 3;
  auto mean = ref_update(Ref::sqeuclidean, x, a.labels, std::vector<double>(8, 0.0), 4);
  EXPECT_NEAR(r.centroids(old, 0), mean[old * 2], 1e-5);
  EXPECT_NEAR(r.centroids(old, 1), mean[old * 2 + 1], 1e-5);
  EXPECT_EQ(labels_to_host(r.labels)[77], 3);
}


// Pipelined epochs (Pipeline::on: epoch e + 1 queued with the device's centroids before the host has
// checked epoch e) against unpipelined ones (Pipeline::off): the same history, centroids, labels,
// inertia and checkpoints bit for bit, whether the epochs queued ahead stand or are discarded and
// run again (an empty cluster under drop, split or farthest: the host needs epoch e's labels).
struct PipelineRun {
  kkm::Result<float, TEST_EXECSPACE::memory_space> r;
  std::vector<std::pair<int, std::vector<int>>> checkpoints;  // epoch, labels
};

PipelineRun fit_pipelined(kkm::Parameters p, kkm::Pipeline pipeline, Matrix<float> const& x,
                          std::vector<float> const& w) {
  using space = TEST_EXECSPACE;
  using mem = space::memory_space;
  PipelineRun out;
  p.pipeline = pipeline;
  if (p.checkpoint_every > 0)
    p.on_checkpoint = [&out](kkm::Checkpoint const& ck) { out.checkpoints.push_back({ck.epoch, ck.labels}); };
  Kokkos::View<float*, mem> wd("w", w.size());
  auto wh = Kokkos::create_mirror_view(wd);
  for (std::size_t i = 0; i < w.size(); ++i) wh(i) = w[i];
  Kokkos::deep_copy(wd, wh);
  out.r = kkm::fit(space{}, to_device<space>(x), Kokkos::View<float const*, mem>(wd), p, kkm::SquaredEuclidean{});
  return out;
}

void expect_pipeline_changes_nothing(kkm::Parameters const& p, Matrix<float> const& x, int rerun,
                                     std::vector<float> const& w = {}) {
  auto a = fit_pipelined(p, kkm::Pipeline::off, x, w);
  auto b = fit_pipelined(p, kkm::Pipeline::on, x, w);
  EXPECT_EQ(a.r.epochs_pipelined, 0);
  EXPECT_EQ(b.r.epochs_rerun, rerun);
  ASSERT_EQ(a.r.history.size(), b.r.history.size());
  for (std::size_t e = 0; e < a.r.history.size(); ++e) {
    auto const &u = a.r.history[e], &v = b.r.history[e];
    EXPECT_EQ(u.inertia, v.inertia) << "epoch " << e + 1;
    EXPECT_EQ(u.shift, v.shift) << "epoch " << e + 1;
    EXPECT_EQ(u.changed, v.changed) << "epoch " << e + 1;
    EXPECT_EQ(u.empty, v.empty) << "epoch " << e + 1;
    EXPECT_EQ(u.k, v.k) << "epoch " << e + 1;
    EXPECT_EQ(u.relocated, v.relocated) << "epoch " << e + 1;
  }
  EXPECT_EQ(a.r.epochs, b.r.epochs);
  EXPECT_EQ(a.r.stop_reason, b.r.stop_reason);
  EXPECT_EQ(centroids_vector(a.r), centroids_vector(b.r));
  EXPECT_EQ(labels_to_host(a.r.labels), labels_to_host(b.r.labels));
  EXPECT_EQ(a.r.inertia, b.r.inertia);
  EXPECT_EQ(a.checkpoints, b.checkpoints);
  // Every epoch but the first, those after a checkpoint and those run again was queued ahead.
  int const after_checkpoint = p.checkpoint_every > 0 ? (b.r.epochs - 1) / p.checkpoint_every : 0;
  EXPECT_EQ(b.r.epochs_pipelined, b.r.epochs - 1 - after_checkpoint - rerun);
}

TEST(TEST_CATEGORY, lloyd_pipelined_epochs_change_nothing) {
  auto x = blobs<float>(2000, 4, 6, 2.0, 21);  // overlapping blobs: labels change for many epochs
  kkm::Parameters p;
  p.k = 6;
  p.seed = 5;
  p.max_epochs = 12;
  p.tol = 0;
  p.stop_on_no_change = false;
  expect_pipeline_changes_nothing(p, x, 0);
  p.batch_size = 300;  // several launches: the distances in several slots
  expect_pipeline_changes_nothing(p, x, 0);
  p.batch_size = 0;
  p.checkpoint_every = 4;  // no epoch queued past a checkpoint: its labels are the epoch's own
  expect_pipeline_changes_nothing(p, x, 0);
  p.checkpoint_every = 0;
  std::vector<float> w(x.n);
  for (std::int64_t i = 0; i < x.n; ++i) w[i] = 0.25f * float(1 + i % 7);
  expect_pipeline_changes_nothing(p, x, 0, w);
  // The stopping rules: the epoch queued after the last one is dropped.
  p.max_epochs = 300;
  p.tol = 1e-4;
  p.stop_on_no_change = true;
  expect_pipeline_changes_nothing(p, x, 0);
}

TEST(TEST_CATEGORY, lloyd_pipelined_epochs_after_empty_clusters) {
  // A fifth centroid far from every row attracts nothing in epoch 1: epoch 2, queued ahead with the
  // device's centroids, is discarded (the host relocates, splits or drops first) and run again.
  auto x = blobs<float>(900, 2, 4, 2.5, 22);
  x(5, 0) = 60.f;  // an outlier for farthest
  x(5, 1) = -60.f;
  kkm::Parameters p;
  p.k = 5;
  p.init = kkm::Init::given;
  for (int q = 0; q < 4; ++q)
    for (int j = 0; j < 2; ++j) p.initial_centroids.push_back(x(q + 10, j));
  p.initial_centroids.push_back(1e4);
  p.initial_centroids.push_back(1e4);
  p.max_epochs = 8;
  p.tol = 0;
  p.stop_on_no_change = false;
  for (auto policy : {kkm::EmptyPolicy::drop, kkm::EmptyPolicy::split, kkm::EmptyPolicy::farthest}) {
    SCOPED_TRACE(kkm::to_string(policy));
    p.empty = policy;
    expect_pipeline_changes_nothing(p, x, 1);
  }
  // keep: the device keeps the empty centroid as the host does; nothing is run again.
  p.empty = kkm::EmptyPolicy::keep;
  expect_pipeline_changes_nothing(p, x, 0);
  // Metrics other than the plain mean update are never pipelined.
  kkm::Parameters q = p;
  q.pipeline = kkm::Pipeline::on;
  auto r = kkm::fit(TEST_EXECSPACE{}, to_device<TEST_EXECSPACE>(x), q, kkm::Cosine{});
  EXPECT_EQ(r.epochs_pipelined, 0);
}

// stop_requested (a batch system's warning signal): every rank finishes the epoch it was asked
// before, hands that epoch's state to on_checkpoint and stops with "preempted".
TEST(TEST_CATEGORY, stop_requested_checkpoints_that_epoch_and_stops) {
  auto x = blobs<float>(2000, 3, 6, 1.0, 12);
  kkm::Parameters p;
  p.k = 6;
  p.tol = 0;
  p.stop_on_no_change = false;
  p.max_epochs = 50;
  int asked = 0, checkpointed = -1;
  p.stop_requested = [&asked] { return ++asked == 4; };  // asked before epochs 1, 2, 3, 4
  p.on_checkpoint = [&checkpointed](kkm::Checkpoint const& ck) { checkpointed = ck.epoch; };
  auto const r = kkm::fit(TEST_EXECSPACE{}, to_device<TEST_EXECSPACE>(x), p, kkm::SquaredEuclidean{});
  EXPECT_EQ(r.stop_reason, "preempted");
  EXPECT_FALSE(r.converged);
  EXPECT_EQ(r.epochs, 4);
  EXPECT_EQ(checkpointed, 4);
  EXPECT_EQ(r.history.size(), 4u);
}

}  // namespace
