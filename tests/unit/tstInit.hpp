// Initialisation: deterministic for a seed, distinct rows, and k-means++ spreads over the blobs;
// the engine's one-pass k-means++ chooses the rows of the textbook algorithm (one race and one
// potential pass per trial) with the same draws; its device trial kernel gives exact distances and
// potentials with teams of several threads; pruning rows changes no centre; k-means‖ is the same on
// every assignment path and batch size.
#include <KKM_TestHelpers.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
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


/// Integer-valued rows in [-6, 6]: every float sum of the metrics is exact, so any backend's kernels
/// and this host reference compute the same distances bit for bit.
Matrix<float> integer_rows(std::int64_t n, int d, unsigned seed) {
  auto m = uniform<float>(n, d, -6, 7, seed);
  for (auto& v : m.v) v = std::floor(v);
  return m;
}

/// Sample weights in Space's memory (none: an empty View).
template <class Space, class T>
Kokkos::View<T const*, typename Space::memory_space> weights_to_device(std::vector<T> const& w) {
  Kokkos::View<T*, typename Space::memory_space> wd("w", w.size());
  Kokkos::deep_copy(wd, Kokkos::View<T const*, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>(w.data(), w.size()));
  return wd;
}

/// The textbook greedy k-means++ with kkmeans' draws, written without the library's kernels: per
/// step, each trial by its own exponential race over every row, each trial's potential by its own
/// pass (fixed point, scale from max D), the least potential kept (ties → the earlier trial).
template <class Metric>
std::vector<std::int64_t> reference_kmeanspp(Matrix<float> const& x, std::vector<float> const& w, Metric const& metric,
                                             int k, int trials, std::uint64_t seed) {
  using namespace kkm::detail;
  std::int64_t const n = x.n;
  int const d = x.d;
  constexpr bool sq = is_squared_euclidean<Metric>::value;
  auto dist = [&](std::int64_t i, std::int64_t c) {
    return static_cast<double>(metric(kkm::VectorRef<float>{&x.v[i * d], d}, kkm::VectorRef<float>{&x.v[c * d], d}));
  };
  auto weight = [&](std::int64_t i, double v) { return (w.empty() ? 1.0 : double(w[i])) * (sq ? v : v * v); };
  auto race = [&](std::vector<double> const& D, std::uint64_t stream) {
    std::int64_t best = -1;
    double key_best = std::numeric_limits<double>::infinity();
    for (std::int64_t i = 0; i < n; ++i) {
      if (!(D[i] > 0)) continue;
      double const key = -std::log(uniform01(seed, stream, std::uint64_t(i))) / D[i];
      if (key < key_best) key_best = key, best = i;
    }
    return best;
  };
  if (trials <= 0) trials = 2 + static_cast<int>(std::log(double(k)));
  std::int64_t first = static_cast<std::int64_t>(uniform_below(seed, stream_first_center, 0, n));
  if (!w.empty()) first = race(std::vector<double>(w.begin(), w.end()), stream_first_center);
  std::vector<std::int64_t> centres{first};
  std::vector<double> D(n);
  for (std::int64_t i = 0; i < n; ++i) D[i] = weight(i, dist(i, first));
  for (int step = 1; step < k; ++step) {
    double const max_d = *std::max_element(D.begin(), D.end());
    double const scale = fixed_point_scale(max_d, double(n));
    int best = 0;
    long long best_pot = 0;
    std::vector<std::int64_t> picks;
    for (int t = 0; t < trials; ++t) {
      std::uint64_t const stream = stream_kmeanspp + (std::uint64_t(step) << 8) + t;
      std::int64_t pick = race(D, stream);
      if (pick < 0) pick = static_cast<std::int64_t>(uniform_below(seed, stream, 0, n));
      picks.push_back(pick);
      fixed_t pot = 0;
      for (std::int64_t i = 0; i < n; ++i) pot += to_fixed(std::min(weight(i, dist(i, pick)), D[i]), scale);
      if (t == 0 || static_cast<long long>(pot) < best_pot) best = t, best_pot = static_cast<long long>(pot);
    }
    centres.push_back(picks[best]);
    for (std::int64_t i = 0; i < n; ++i) D[i] = std::min(D[i], weight(i, dist(i, picks[best])));
  }
  return centres;
}

template <class Metric>
void kmeanspp_equals_reference(Metric const& metric, int d, int trials, bool weighted) {
  using Space = TEST_EXECSPACE;
  using mem = typename Space::memory_space;
  std::int64_t const n = 700;
  int const k = 9;
  auto x = integer_rows(n, d, 40 + d);
  std::vector<float> w;
  if (weighted)
    for (std::int64_t i = 0; i < n; ++i) w.push_back(float(1 + i % 3));
  kkm::Communicator comm;
  kkm::detail::DeviceMatrix<Space, float> cx = to_device<Space>(x);
  Kokkos::View<float const*, mem> const cw = weights_to_device<Space>(w);
  auto const s = kkm::detail::summarize(Space{}, cx, cw, comm);
  using kkm::detail::TrialKernel;
  for (std::uint64_t seed : {3u, 4u}) {
    auto const want = reference_kmeanspp(x, w, metric, k, trials, seed);
    // The kernels this backend picks, and the device kernels (teams) wherever it runs.
    for (TrialKernel kernel : {TrialKernel::automatic, TrialKernel::tiled}) {
      auto const got = kkm::detail::init_kmeanspp(Space{}, cx, metric, k, trials, seed, s, comm, cw, kernel);
      for (int q = 0; q < k; ++q)
        for (int j = 0; j < d; ++j)
          ASSERT_EQ(got(q, j), x(want[q], j))
              << "centre " << q << " column " << j << ", seed " << seed << ", kernel " << int(kernel);
    }
  }
}

TEST(TEST_CATEGORY, init_kmeanspp_equals_reference_sqeuclidean) {
  kmeanspp_equals_reference(kkm::SquaredEuclidean{}, 3, 0, false);
  kmeanspp_equals_reference(kkm::SquaredEuclidean{}, 37, 0, true);  // column blocks of the tiled kernel
}
TEST(TEST_CATEGORY, init_kmeanspp_equals_reference_more_trials_than_one_pass) {
  kmeanspp_equals_reference(kkm::SquaredEuclidean{}, 5, 11, false);
  kmeanspp_equals_reference(kkm::Manhattan{}, 5, 11, true);
}
TEST(TEST_CATEGORY, init_kmeanspp_equals_reference_other_metrics) {
  kmeanspp_equals_reference(kkm::Manhattan{}, 6, 0, false);
  kmeanspp_equals_reference(kkm::Euclidean{}, 4, 0, true);
}

// The device kernel of the k-means++ trial pass, run by teams of several threads (a GPU's are 128):
// every row's distance to each trial and each trial's potential, against a host reference (integer
// rows: exact sums in any order) — with 16-byte and with single-element loads, a last column block
// shorter than the others, and rows not a multiple of a team's.
template <class Space, int Team, int Lanes>
void tiled_trials_match_reference(Matrix<float> const& x, int m) {
  using mem = typename Space::memory_space;
  using Pass = kkm::detail::TrialPass<Space, float, kkm::SquaredEuclidean>;
  using Kernel = kkm::detail::TiledTrials<Space, float, kkm::SquaredEuclidean, Team, Lanes>;
  using kkm::detail::race_width;
  std::int64_t const n = x.n;
  int const d = x.d;
  Pass pass;
  auto xd = to_device<Space>(x);
  pass.x = xd;
  ASSERT_TRUE(Lanes == 1 || Kernel::packs_fit(pass.x));
  for (int t = 0; t < race_width; ++t) pass.own_row[t] = t < m ? 97 * t + 3 : -1;
  pass.dist = Kokkos::View<float**, Kokkos::LayoutRight, mem>("dist", race_width, n);
  Kokkos::View<double*, mem> D("D", n);
  auto hD = Kokkos::create_mirror_view(D);
  for (std::int64_t i = 0; i < n; ++i) hD(i) = double((i * 37) % 500);
  Kokkos::deep_copy(D, hD);
  pass.D = D;
  pass.d = d;
  pass.m = m;
  pass.scale = 16;
  auto const p = kkm::detail::run_tiled<Kernel>(Space{}, pass);
  auto dist = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace{}, pass.dist);
  for (int t = 0; t < m; ++t) {
    kkm::detail::fixed_t want = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      float v = 0;
      for (int j = 0; j < d; ++j) v += (x(i, j) - x(pass.own_row[t], j)) * (x(i, j) - x(pass.own_row[t], j));
      ASSERT_EQ(dist(t, i), v) << "row " << i << ", trial " << t << ", d = " << d << ", team " << Team;
      want += kkm::detail::to_fixed(std::min<double>(v, hD(i)), pass.scale);
    }
    EXPECT_EQ(p.p[t], want) << "trial " << t << ", d = " << d << ", team " << Team;
  }
}

TEST(TEST_CATEGORY, kmeanspp_trial_pass_by_teams_of_several_threads) {
  using Space = TEST_EXECSPACE;
  constexpr bool host = kkm::detail::is_host_space<Space>();
  constexpr int team = host ? 2 : 128;
  for (int d : {8, 40}) {  // 16-byte loads; 40: a last block of 8 columns
    auto const x = integer_rows(701, d, 90 + d);
    tiled_trials_match_reference<Space, 1, 4>(x, 5);
    if (Space().concurrency() >= team) tiled_trials_match_reference<Space, team, 4>(x, 5);
  }
  auto const x = integer_rows(701, 37, 127);  // single-element loads
  tiled_trials_match_reference<Space, 1, 1>(x, 8);
  if (Space().concurrency() >= team) tiled_trials_match_reference<Space, team, 1>(x, 8);
}

// k-means++ with pruning (rows no trial can move are not read) chooses the same centres, bit for
// bit, as without: on clustered data, where it skips most rows; on small-integer rows, where
// distances tie exactly and trials sit at the pruning bound; on rows mixing magnitudes, where the
// float sums round; weighted; with each trial kernel and more trials than one pass.
template <class T>
void pruned_kmeanspp_equals_unpruned(Matrix<T> const& x, int k, int trials, bool weighted, bool expect_skips) {
  using Space = TEST_EXECSPACE;
  using mem = typename Space::memory_space;
  using kkm::detail::TrialKernel;
  using kkm::detail::TrialPruning;
  std::vector<T> w;
  for (std::int64_t i = 0; weighted && i < x.n; ++i) w.push_back(T(0.5 + i % 4));
  kkm::Communicator comm;
  kkm::detail::DeviceMatrix<Space, T> cx = to_device<Space>(x);
  Kokkos::View<T const*, mem> const cw = weights_to_device<Space>(w);
  auto const s = kkm::detail::summarize(Space{}, cx, cw, comm);
  for (TrialKernel kernel : {TrialKernel::automatic, TrialKernel::tiled}) {
    auto run = [&](TrialPruning pruning, std::int64_t* skipped) {
      kkm::detail::GreedyKMeansPP<Space, T, kkm::SquaredEuclidean> pp(Space{}, cx, kkm::SquaredEuclidean{}, k, trials,
                                                                     9, s, comm, cw, kernel, pruning);
      auto c = pp();
      *skipped = pp.rows_skipped();
      return c;
    };
    std::int64_t none = -1, some = -1;
    auto const want = run(TrialPruning::off, &none);
    auto const got = run(TrialPruning::on, &some);
    EXPECT_EQ(none, 0);
    if (expect_skips) EXPECT_GT(some, x.n * (k - 1) / 4) << "pruning skipped too few rows, kernel " << int(kernel);
    for (int q = 0; q < k; ++q)
      for (int j = 0; j < x.d; ++j)
        ASSERT_EQ(got(q, j), want(q, j)) << "centre " << q << " column " << j << ", kernel " << int(kernel);
  }
}

// The pruning test itself: whenever it calls trial t harmless to row x (nearest centre c), the
// computed squared distance of x to t is at least that to c — with x and t collinear on one side
// of c (the worst case: ‖x − t‖ = ‖c − t‖ − ‖x − c‖) at ratios ‖c − t‖ / ‖x − c‖ around the
// bound's 2, at every magnitude from near underflow to 10¹⁵; and it does prune past a ratio of 2.01.
template <class T>
void pruning_bound_holds(int d, double magnitude, unsigned seed) {
  auto const bound = kkm::detail::PruneBound::of<T>(d);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(-1, 1), ratio(1.9, 2.1);
  auto sum = [&](std::vector<T> const& a, std::vector<T> const& b) {  // the kernels' sum, in T
    T s = 0;
    for (int j = 0; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
    return s;
  };
  int pruned_past = 0, past = 0;
  for (int rep = 0; rep < 1000; ++rep) {
    std::vector<T> c(d), x(d), t(d);
    std::vector<double> u(d);
    double norm = 0;
    for (int j = 0; j < d; ++j) u[j] = unit(rng), norm += u[j] * u[j];
    double const rho = ratio(rng), a = magnitude * (0.5 + unit(rng) / 4);
    for (int j = 0; j < d; ++j) {
      c[j] = T(magnitude * unit(rng));
      x[j] = T(c[j] + a * u[j] / std::sqrt(norm));
      t[j] = T(c[j] + rho * a * u[j] / std::sqrt(norm) * (1 + 1e-3 * unit(rng)));
    }
    double ct = 0;
    for (int j = 0; j < d; ++j) ct += (double(t[j]) - double(c[j])) * (double(t[j]) - double(c[j]));
    T const sxc = sum(x, c), sxt = sum(x, t);
    bool const pruned = bound.separation(ct) >= double(bound.template reach<T>(double(sxc)));
    if (pruned) ASSERT_GE(sxt, sxc) << "d " << d << ", magnitude " << magnitude << ", ratio " << rho;
    if (rho > 2.01) ++past, pruned_past += pruned;
  }
  if (magnitude > 1e-15) EXPECT_EQ(pruned_past, past) << "d " << d << ", magnitude " << magnitude;
}

TEST(TEST_CATEGORY, kmeanspp_pruning_bound_holds) {
  for (int d : {1, 3, 37, 128, 1000})
    for (double magnitude : {1e-19, 1e-6, 1.0, 1e3, 1e15}) {
      pruning_bound_holds<float>(d, magnitude, 7 + d);
      pruning_bound_holds<double>(d, magnitude * magnitude, 8 + d);
    }
}

TEST(TEST_CATEGORY, init_kmeanspp_pruned_equals_unpruned) {
  pruned_kmeanspp_equals_unpruned(blobs<float>(3000, 37, 24, 0.3, 61), 24, 0, false, true);
  pruned_kmeanspp_equals_unpruned(blobs<float>(3000, 8, 24, 0.3, 62), 40, 11, true, true);
  pruned_kmeanspp_equals_unpruned(blobs<double>(2000, 16, 12, 0.3, 63), 12, 0, true, true);
  pruned_kmeanspp_equals_unpruned(integer_rows(2000, 3, 64), 30, 0, false, false);
  auto mixed = blobs<float>(2000, 9, 10, 1.0, 65);
  for (std::int64_t i = 0; i < mixed.n; ++i)
    for (int j = 0; j < mixed.d; ++j) mixed(i, j) = mixed(i, j) * (j % 3 == 0 ? 1e4f : 1e-3f) + 7.f;
  pruned_kmeanspp_equals_unpruned(mixed, 20, 0, true, false);
}

TEST(TEST_CATEGORY, init_kmeans_parallel_same_on_every_assignment_path_and_batch) {
  using Space = TEST_EXECSPACE;
  auto x = integer_rows(3000, 40, 77);
  kkm::Communicator comm;
  kkm::detail::DeviceMatrix<Space, float> cx = to_device<Space>(x);
  Kokkos::View<float const*, typename Space::memory_space> none;
  auto const s = kkm::detail::summarize(Space{}, cx, none, comm);
  std::set<std::vector<float>> first;
  for (kkm::AssignPath path : {kkm::AssignPath::fused, kkm::AssignPath::gemm_checked, kkm::AssignPath::fused_checked,
                               kkm::AssignPath::automatic})
    for (std::int64_t batch : {0, 256}) {
      kkm::Parameters p;
      p.assign = path;
      p.batch_size = batch;
      auto c = kkm::detail::init_kmeans_parallel(Space{}, cx, kkm::SquaredEuclidean{}, 16, 0, 9, s, comm, none, 5, 2.0, p);
      ASSERT_EQ(c.extent(0), 16u);
      if (first.empty()) first = rows_of(c);
      EXPECT_EQ(rows_of(c), first) << kkm::to_string(path) << ", batch " << batch;
    }
}

// The default initialisation is k-means‖ on devices and k-means++ on hosts, and a fit reports which ran.
TEST(TEST_CATEGORY, init_auto_is_kmeans_parallel_on_devices_kmeanspp_on_hosts) {
  using Space = TEST_EXECSPACE;
  kkm::Parameters p;
  EXPECT_EQ(p.init, kkm::Init::automatic);
  kkm::Init const want = kkm::detail::is_host_space<Space>() ? kkm::Init::kmeanspp : kkm::Init::kmeans_parallel;
  EXPECT_EQ(kkm::detail::init_for<Space>(kkm::Init::automatic), want);
  EXPECT_EQ(kkm::detail::init_for<Space>(kkm::Init::random), kkm::Init::random);
  auto x = blobs<float>(600, 3, 4, 0.1, 5);
  p.k = 4;
  auto const r = kkm::fit(Space{}, to_device<Space>(x), p, kkm::SquaredEuclidean{});
  EXPECT_EQ(r.init, kkm::to_string(want));
  // The same centroids as asking for that initialisation by name.
  kkm::Parameters named = p;
  named.init = want;
  auto const n = kkm::fit(Space{}, to_device<Space>(x), named, kkm::SquaredEuclidean{});
  for (int q = 0; q < 4; ++q)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(r.centroids(q, j), n.centroids(q, j));
}

// Given centroids must be numbers the working precision holds: the library refuses the first bad
// value by row and column (fit's initial centroids, predict's model) instead of clustering with it.
TEST(TEST_CATEGORY, given_centroids_must_be_representable) {
  using Space = TEST_EXECSPACE;
  auto x = blobs<float>(100, 2, 2, 0.1, 3);
  auto const xd = to_device<Space>(x);
  kkm::Parameters p;
  p.k = 2;
  p.init = kkm::Init::given;
  auto fit_message = [&](double bad) {
    p.initial_centroids = {0, 0, 1, bad};
    try {
      kkm::fit(Space{}, xd, p, kkm::SquaredEuclidean{});
    } catch (kkm::UserError const& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(fit_message(std::nan("")), "initial centroid 1, column 1 is NaN");
  EXPECT_EQ(fit_message(-HUGE_VAL), "initial centroid 1, column 1 is infinite");
  EXPECT_NE(fit_message(1e39).find("beyond the range of float32"), std::string::npos);
  EXPECT_EQ(fit_message(2.0), "accepted");
  kkm::detail::HostMatrix<float> c("c", 2, 2);
  c(1, 0) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(kkm::predict(Space{}, xd, c, kkm::SquaredEuclidean{}), kkm::UserError);
}

}  // namespace
