// The assignment kernels' variants agree exactly: the column-block sums (scratch blocks of any width,
// or global atomics) equal a host reference; the small-d kernel (row in registers, zero-padded
// centroids) gives the same labels, sums and inertia bit for bit as the generic kernel.
#include <KKM_TestHelpers.hpp>
#include <kkmeans/kernels/assign/KKM_HostBlock.hpp>
// After kkmeans' headers, so that it cannot mask their own test of the cuBLAS TPL:
#include <KokkosKernels_config.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <tuple>
#include <type_traits>

namespace {

// A CUDA build whose Kokkos Kernels has the cuBLAS TPL must make kkmeans' own cuBLAS calls (the TF32
// product of the checked GEMM path, strided-batched blocks): the test that decides it once saw the
// TPL macro undefined because of include order, and the build silently ran 3.7× slower.
TEST(TEST_CATEGORY, cublas_used_where_kokkos_kernels_has_it) {
#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOSKERNELS_ENABLE_TPL_CUBLAS)
  if (!std::is_same_v<TEST_EXECSPACE, Kokkos::Cuda>) GTEST_SKIP() << "a host backend";
  EXPECT_TRUE(kkm::detail::cublas_space<Kokkos::Cuda>());
#else
  GTEST_SKIP() << "not a CUDA build with the cuBLAS TPL";
#endif
}

using namespace kkm_test;
using space = TEST_EXECSPACE;
using mem = space::memory_space;
using kkm::detail::fixed_t;

// Runs ColumnBlockSums with `cb` columns per block (0: no scratch, global atomics) and returns the sums.
std::vector<fixed_t> column_sums(Matrix<float> const& x, std::vector<int> const& labels, std::vector<float> const& w,
                                 std::vector<double> const& scale, int k, int cb, std::int64_t rows_per_team) {
  kkm::detail::ColumnBlockSums<space, float> f;
  f.x = to_device<space>(x);
  Kokkos::View<int*, mem> l("l", labels.size());
  Kokkos::deep_copy(l, Kokkos::View<int const*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                           labels.data(), labels.size()));
  f.labels = l;
  Kokkos::View<float*, mem> wd("w", w.size());
  Kokkos::deep_copy(
      wd, Kokkos::View<float const*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(w.data(), w.size()));
  f.w = wd;
  Kokkos::View<double*, mem> s("s", scale.size());
  Kokkos::deep_copy(s, Kokkos::View<double const*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                           scale.data(), scale.size()));
  f.scale = s;
  std::size_t const len = kkm::detail::accumulator_size(k, x.d);
  Kokkos::View<fixed_t*, mem> acc("acc", len);
  f.acc = acc;
  f.k = k;
  f.d = x.d;
  f.n = x.n;
  f.in_scratch = cb > 0;
  f.cb = cb > 0 ? cb : 1;
  f.blocks = (x.d + f.cb - 1) / f.cb;
  f.rows_per_team = rows_per_team;
  f.scratch_level = kkm::detail::is_host_space<space>() ? 1 : 0;
  std::int64_t const league = f.blocks * ((x.n + rows_per_team - 1) / rows_per_team);
  Kokkos::TeamPolicy<space> policy(static_cast<int>(league), Kokkos::AUTO);
  policy.set_scratch_size(f.scratch_level, Kokkos::PerTeam(f.scratch_bytes()));
  Kokkos::parallel_for("test_column_sums", policy, f);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), acc);
  return std::vector<fixed_t>(h.data(), h.data() + len);
}

// Labels, weights (multiples of 1/4, some 0) and per-column scales for the column-sum tests; the
// reference adds row by row on the host (label < 0: not added).
struct SumsCase {
  Matrix<float> x;
  std::vector<int> labels;
  std::vector<float> w;
  std::vector<double> scale;
  std::vector<fixed_t> ref;
};
SumsCase sums_case(std::int64_t n, int d, int k, bool unlabelled) {
  SumsCase c{uniform<float>(n, d, -50, 50, 3), std::vector<int>(n), std::vector<float>(n), std::vector<double>(d), {}};
  std::mt19937 g(4);
  for (std::int64_t i = 0; i < n; ++i) {
    c.labels[i] = unlabelled && g() % 9 == 0 ? -1 : int(g() % k);
    c.w[i] = 0.25f * (g() % 8);
  }
  for (int j = 0; j < d; ++j) c.scale[j] = std::ldexp(1.0, 20 + j % 12);
  c.ref.assign(kkm::detail::accumulator_size(k, d), 0);
  for (std::int64_t i = 0; i < n; ++i)
    if (c.labels[i] >= 0)
      for (int j = 0; j < d; ++j)
        c.ref[std::size_t(c.labels[i]) * d + j] +=
            kkm::detail::to_fixed(double(c.w[i]) * double(c.x(i, j)), c.scale[j]);
  return c;
}

// The host kernel's block of distances built for AVX2 gives the baseline's bits: same operations in
// the same order per centroid, only more lanes at once.
template <class T>
void host_block_copies_agree() {
#ifdef KKM_HOST_AVX2
  if (!kkm::detail::host_has_avx2()) GTEST_SKIP() << "no AVX2 on this host";
  std::mt19937 g(3);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int d : {1, 3, 16, 33, 128})
    for (int qn : {1, 7, 8, 63, 64}) {
      std::size_t const k = std::size_t(qn) + 5;  // the block is part of a wider row of centroids
      std::vector<T> x(d), ct(std::size_t(d) * k), a(qn), b(qn);
      for (auto& v : x) v = T(u(g) * std::pow(10.0, 6 * u(g)));
      for (auto& v : ct) v = T(u(g) * std::pow(10.0, 6 * u(g)));
      kkm::detail::transposed_block_baseline(x.data(), ct.data() + 2, k, qn, d, a.data());
      kkm::detail::transposed_block_avx2(x.data(), ct.data() + 2, k, qn, d, b.data());
      for (int q = 0; q < qn; ++q)
        EXPECT_EQ(std::memcmp(&a[q], &b[q], sizeof(T)), 0) << "d " << d << ", qn " << qn << ", q " << q;
    }
#else
  GTEST_SKIP() << "no AVX2 copy in this build";
#endif
}

TEST(TEST_CATEGORY, host_block_avx2_equals_baseline) {
  host_block_copies_agree<float>();
  host_block_copies_agree<double>();
}

TEST(TEST_CATEGORY, column_block_sums_equal_reference) {
  int const k = 13;
  auto c = sums_case(1001, 7, k, false);
  for (int cb : {0, 1, 3, 7})
    for (std::int64_t rows : {std::int64_t(1), std::int64_t(64), std::int64_t(5000)})
      EXPECT_EQ(column_sums(c.x, c.labels, c.w, c.scale, k, cb, rows), c.ref)
          << "cb " << cb << ", rows per team " << rows;
}

// The counting sort by label and the walk in label order give the row-by-row sums exactly: rows in
// parallel (d ≤ lanes) or blocks of columns (d > lanes), bins in scratch or global (k large),
// one team or many, unlabelled rows skipped, the buffers reused by a second call.
TEST(TEST_CATEGORY, sorted_column_sums_equal_reference) {
  for (auto [n, d, k] :
       {std::tuple<std::int64_t, int, int>{1001, 7, 13}, {3000, 40, 5}, {777, 3, 6000}, {50, 129, 2}, {300, 24, 9}}) {
    for (bool unlabelled : {false, true}) {
      auto c = sums_case(n, d, k, unlabelled);
      auto xd = to_device<space>(c.x);
      Kokkos::View<int*, mem> l("l", n);
      Kokkos::deep_copy(
          l, Kokkos::View<int const*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(c.labels.data(), n));
      Kokkos::View<float*, mem> wd("w", n);
      Kokkos::deep_copy(
          wd, Kokkos::View<float const*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(c.w.data(), n));
      Kokkos::View<double*, mem> s("s", d);
      Kokkos::deep_copy(s, Kokkos::View<double const*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                               c.scale.data(), d));
      kkm::detail::SortedSumsBuffers<space> buf;
      for (int lanes : {1, 4, 64, 256}) {
        for (std::int64_t teams : {std::int64_t(1), std::int64_t(7), std::int64_t(5000)}) {
          Kokkos::View<fixed_t*, mem> acc("acc", c.ref.size());
          int const team = kkm::detail::is_host_space<space>() ? 1 : lanes;
          kkm::detail::sorted_column_sums<space, float>(space{}, kkm::detail::DeviceMatrix<space, float>(xd), l, wd, s,
                                                        acc, k, team, lanes, teams, buf);
          auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), acc);
          EXPECT_EQ(std::vector<fixed_t>(h.data(), h.data() + h.extent(0)), c.ref)
              << "n " << n << " d " << d << " k " << k << " unlabelled " << unlabelled << " lanes " << lanes
              << " teams " << teams;
        }
      }
    }
  }
}

// Cosine without its zero-padding flag: the generic kernel for d = 5 (Cosine itself takes the
// small-d kernel with D = 8).
struct PlainCosine {
  static constexpr kkm::Update update = kkm::Update::normalized_mean;
  template <class X, class C>
  KOKKOS_INLINE_FUNCTION auto operator()(X const& x, C const& c) const {
    return kkm::Cosine{}(x, c);
  }
};

// Manhattan without the flag (k-medians), for d = 3 (padded to 4 with the flag).
struct PlainManhattan {
  static constexpr kkm::Update update = kkm::Update::median;
  template <class X, class C>
  KOKKOS_INLINE_FUNCTION auto operator()(X const& x, C const& c) const {
    return kkm::Manhattan{}(x, c);
  }
};

template <class A, class B>
void same_fit(int d, A a, B b, std::int64_t n = 2000, std::int64_t batch = 0) {
  ASSERT_GT(kkm::detail::small_d_width<A>(d), 0);
  ASSERT_EQ(kkm::detail::small_d_width<B>(d), 0);
  auto x = blobs<float>(n, d, 6, 2.0, 17);
  kkm::Parameters p;
  p.k = 6;
  p.seed = 5;
  p.max_epochs = 30;
  p.batch_size = batch;
  auto ra = kkm::fit(space{}, to_device<space>(x), p, a);
  auto rb = kkm::fit(space{}, to_device<space>(x), p, b);
  EXPECT_EQ(centroids_vector(ra), centroids_vector(rb));
  EXPECT_EQ(labels_to_host(ra.labels), labels_to_host(rb.labels));
  // The same per-row distances; on a device the small-d kernel gives each thread several rows, so
  // their double sum runs in another order.
  EXPECT_NEAR(ra.inertia, rb.inertia, 1e-12 * rb.inertia);
  EXPECT_EQ(ra.epochs, rb.epochs);
}

TEST(TEST_CATEGORY, small_d_kernel_equals_generic_cosine) {
  same_fit(5, kkm::Cosine{}, PlainCosine{});
}
TEST(TEST_CATEGORY, small_d_kernel_equals_generic_manhattan) {
  same_fit(3, kkm::Manhattan{}, PlainManhattan{});
}
// Row counts and batches that leave partial groups of rows per thread (4 per thread for D = 4).
TEST(TEST_CATEGORY, small_d_kernel_equals_generic_partial_groups) {
  same_fit(3, kkm::Manhattan{}, PlainManhattan{}, 2999, 701);
  same_fit(7, kkm::Cosine{}, PlainCosine{}, 1003, 0);
}

// A GEMM path against the fused kernel, through assign_rows: labels, distances (inertia) and
// accumulated sums. `shift` empty: no shift (μ = 0). block_rows: the product's layout (0: batch × k,
// a host's default; R > 0: blocks of R rows, a device's), every layout run on every backend.
// sorted_sums: the GEMM paths' column sums in label order (1), by column blocks (0), or the
// backend's choice (−1).
struct AssignOut {
  std::vector<int> labels;
  double inertia;
  std::vector<fixed_t> acc;
  std::int64_t open_rows = -1;  // checked fit epochs: the rows the last batch's product left open
};
AssignOut assign_with(Matrix<float> const& x, Matrix<float> const& c, kkm::detail::GemmKind kind, std::int64_t batch,
                      std::int64_t block_rows, std::vector<float> const& shift = {},
                      std::vector<float> const& weights = {}, int scale_exp = 30, int sorted_sums = -1,
                      int open_queue = 256) {
  auto xd = to_device<space>(x);
  auto cd = to_device<space>(c);
  int const k = c.n;
  Kokkos::View<double*, mem> scale("scale", x.d);
  Kokkos::deep_copy(scale, std::ldexp(1.0, scale_exp));
  Kokkos::View<fixed_t*, mem> acc("acc", kkm::detail::accumulator_size(k, x.d));
  Kokkos::View<int*, mem> labels("labels", x.n);
  Kokkos::deep_copy(labels, -1);
  kkm::detail::AssignWorkspace<space, float> ws;
  ws.block_rows = block_rows;
  ws.sorted_sums = sorted_sums;
  ws.open_queue = open_queue;
  if (!shift.empty()) {
    ws.shift = Kokkos::View<float*, mem>("shift", shift.size());
    Kokkos::deep_copy(ws.shift, Kokkos::View<float const*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                                    shift.data(), shift.size()));
  }
  Kokkos::View<float*, mem> wd("weights", weights.size());
  Kokkos::deep_copy(wd, Kokkos::View<float const*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                            weights.data(), weights.size()));
  double const s = kkm::detail::assign_rows<true>(space{}, kkm::detail::DeviceMatrix<space, float>(xd),
                                                  kkm::detail::DeviceMatrix<space, float>(cd), scale, acc, labels,
                                                  kkm::SquaredEuclidean{}, kind, batch, ws,
                                                  Kokkos::View<float const*, mem>(wd), std::ldexp(1.0, scale_exp));
  auto a = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), acc);
  std::int64_t open = -1;
  if (ws.open_n.is_allocated())
    open = static_cast<std::int64_t>(Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ws.open_n)(0));
  return {labels_to_host(labels), s, std::vector<fixed_t>(a.data(), a.data() + a.extent(0)), open};
}

// Small integers: every distance is exact in float32 whatever the order of the sums, so the checked
// and the FP32 GEMM paths must give exactly the fused kernel's labels, ties included (lowest index).
// Centroids 0–2 are equal and 3–4 are equal, so rows near them have three- and two-way exact ties:
// the checked path's "at most two candidates" branch and its every-candidate branch both run.
TEST(TEST_CATEGORY, gemm_checked_equals_fused_on_exact_ties) {
  using kkm::detail::GemmKind;
  std::mt19937 g(21);
  int const d = 40, k = 61;  // k not a multiple of 8: padded product columns are skipped
  Matrix<float> x{3000, d, std::vector<float>(3000 * d)}, c{k, d, std::vector<float>(k * d)};
  for (std::int64_t i = 0; i < x.n; ++i)
    for (int j = 0; j < d; ++j) x(i, j) = float(g() % 3);
  for (int q = 0; q < k; ++q)
    for (int j = 0; j < d; ++j) c(q, j) = float(g() % 3);
  for (int j = 0; j < d; ++j) c(1, j) = c(2, j) = c(0, j), c(4, j) = c(3, j);
  for (std::int64_t i = 0; i < 300; ++i)  // rows equal to centroid 0 or 3, or one step from them
    for (int j = 0; j < d; ++j) x(i, j) = c(i % 2 ? 3 : 0, j) + (j == int(i % d) && i % 3 == 0 ? 1.0f : 0.0f);
  auto f = assign_with(x, c, GemmKind::none, 0, 0);
  for (auto kind : {GemmKind::checked, GemmKind::fused_checked, GemmKind::fp32})
    for (std::int64_t block_rows : {0, 64, 256})  // batches of 3000 and 700 rows: short last blocks
      for (std::int64_t batch : {std::int64_t(0), std::int64_t(700)})
        for (int sorted : {0, 1}) {
          auto r = assign_with(x, c, kind, batch, block_rows, {}, {}, 30, sorted);
          std::string const what = std::string(kkm::to_string(kkm::detail::assign_path_of(kind))) + ", blocks of " +
                                   std::to_string(block_rows) + ", batch " + std::to_string(batch) +
                                   (sorted ? ", sums in label order" : ", sums by column blocks");
          EXPECT_EQ(r.labels, f.labels) << what;
          EXPECT_EQ(r.acc, f.acc) << what;
          EXPECT_EQ(r.inertia, f.inertia) << what;
        }
  // Checked fit epochs queue the rows the product leaves open per team; a queue of 1 sends nearly all
  // of them straight to the global list. One batch (0): the tie rows' two and three candidates are
  // measured by the second launch.
  for (auto kind : {GemmKind::checked, GemmKind::fused_checked})
    for (int queue : {1, 5, 256})
      for (std::int64_t batch : {std::int64_t(0), std::int64_t(700)}) {
        auto r = assign_with(x, c, kind, batch, 256, {}, {}, 30, -1, queue);
        std::string const what = std::string(kkm::to_string(kkm::detail::assign_path_of(kind))) + ", team queue of " +
                                 std::to_string(queue) + ", batch " + std::to_string(batch);
        EXPECT_EQ(r.labels, f.labels) << what;
        EXPECT_EQ(r.acc, f.acc) << what;
        if (batch == 0) EXPECT_GE(r.open_rows, 300) << what;  // every tie row is open
      }
  std::int64_t ties = 0;
  for (std::int64_t i = 0; i < 300; ++i) ties += f.labels[i] == 0 || f.labels[i] == 3;
  EXPECT_GT(ties, 250);  // the tie rows did go to the lowest of the equal centroids
}

// The second launch of checked fit epochs on wide rows: 300 columns (two blocks of staged columns)
// and 301 (rows not of whole 16-byte chunks, read a value at a time). Blobs far from the origin and
// unshifted, so that the product's bound is wide: many rows are open, many with more candidates than
// the scan keeps (gathered from the product), and their exact distances decide the labels, which
// must be the fused kernel's.
TEST(TEST_CATEGORY, gemm_checked_open_rows_wide_rows) {
  using kkm::detail::GemmKind;
  for (int d : {300, 301}) {
    int const k = 24;
    auto x = blobs<float>(2000, d, k, 0.3, 24 + d);
    for (std::int64_t i = 0; i < x.n; ++i)
      for (int j = 0; j < d; ++j) x(i, j) += 1000.0f;
    Matrix<float> cm{k, d, std::vector<float>(std::size_t(k) * d)};
    for (int q = 0; q < k; ++q)  // rows 3q: the first row of every blob, in another order
      for (int j = 0; j < d; ++j) cm(q, j) = x(std::int64_t(q) * 3, j);
    auto f = assign_with(x, cm, GemmKind::none, 0, 0);
    for (auto kind : {GemmKind::checked, GemmKind::fused_checked})
      for (int queue : {1, 256})
        for (std::int64_t batch : {std::int64_t(0), std::int64_t(700)}) {
          auto r = assign_with(x, cm, kind, batch, 256, {}, {}, 30, -1, queue);
          std::string const what = std::string(kkm::to_string(kkm::detail::assign_path_of(kind))) + ", d " +
                                   std::to_string(d) + ", team queue of " + std::to_string(queue) + ", batch " +
                                   std::to_string(batch);
          EXPECT_EQ(r.labels, f.labels) << what;
          EXPECT_EQ(r.acc, f.acc) << what;
          if (batch == 0) EXPECT_GT(r.open_rows, 100) << what;  // the second launch decided many rows
        }
  }
}

// Data far from the origin: unshifted, the bound is wide (many candidates, each measured exactly);
// shifted by the column means, it is tight. Both give the fused kernel's labels on separated blobs.
TEST(TEST_CATEGORY, gemm_checked_equals_fused_far_from_origin) {
  using kkm::detail::GemmKind;
  int const d = 33, k = 24;
  auto x = blobs<float>(4000, d, k, 0.3, 22);
  std::vector<float> mean(d, 0.0f);
  for (std::int64_t i = 0; i < x.n; ++i)
    for (int j = 0; j < d; ++j) x(i, j) += 1000.0f;
  for (int j = 0; j < d; ++j) {
    double s = 0;
    for (std::int64_t i = 0; i < x.n; ++i) s += x(i, j);
    mean[j] = float(s / double(x.n));
  }
  Matrix<float> cm{k, d, std::vector<float>(std::size_t(k) * d)};
  for (int q = 0; q < k; ++q)  // rows 3q: the first row of every blob, in another order
    for (int j = 0; j < d; ++j) cm(q, j) = x(std::int64_t(q) * 3, j);
  auto f = assign_with(x, cm, GemmKind::none, 0, 0);
  for (auto kind : {GemmKind::checked, GemmKind::fused_checked})
    for (std::int64_t block_rows : {0, 256})
      for (auto const& shift : {std::vector<float>{}, mean}) {
        auto r = assign_with(x, cm, kind, 1500, block_rows, shift);
        std::string const what = std::string(kkm::to_string(kkm::detail::assign_path_of(kind))) + ", " +
                                 (shift.empty() ? "unshifted" : "shifted") + ", blocks of " + std::to_string(block_rows);
        EXPECT_EQ(r.labels, f.labels) << what;
        EXPECT_EQ(r.acc, f.acc) << what;
        EXPECT_NEAR(r.inertia, f.inertia, 1e-6 * f.inertia) << what;
      }
}

// Fit epochs on a GEMM path take the sum of distances from the cluster sums (InertiaFromSums), not
// from each row: weighted rows far from the origin (so that μ matters), with and without the shift,
// several batches and blocks. It must equal the float64 sum over rows of w_i ‖x_i − c_l(i)‖² for the
// labels each path chose (the checked path: the fused kernel's).
TEST(TEST_CATEGORY, gemm_epoch_inertia_from_cluster_sums) {
  using kkm::detail::GemmKind;
  int const d = 24, k = 16;
  auto x = blobs<float>(3000, d, k, 0.4, 23);
  for (auto& v : x.v) v += 500.0f;
  std::vector<float> w(x.n), mean(d, 0.0f);
  for (std::int64_t i = 0; i < x.n; ++i) w[i] = 0.25f + 0.5f * float(i % 7);
  for (int j = 0; j < d; ++j) {
    double s = 0;
    for (std::int64_t i = 0; i < x.n; ++i) s += x(i, j);
    mean[j] = float(s / double(x.n));
  }
  Matrix<float> c{k, d, std::vector<float>(std::size_t(k) * d)};
  for (int q = 0; q < k; ++q)
    for (int j = 0; j < d; ++j) c(q, j) = x(std::int64_t(q) * 5, j);
  auto reference = [&](std::vector<int> const& labels) {
    double s = 0;
    for (std::int64_t i = 0; i < x.n; ++i) {
      double r = 0;
      for (int j = 0; j < d; ++j) {
        double const t = double(x(i, j)) - double(c(labels[i], j));
        r += t * t;
      }
      s += double(w[i]) * r;
    }
    return s;
  };
  auto f = assign_with(x, c, GemmKind::none, 0, 0, {}, w, 40);
  double const rf = reference(f.labels);
  EXPECT_NEAR(f.inertia, rf, 1e-6 * rf);  // the fused kernel: each row's float32 distance
  for (auto kind : {GemmKind::checked, GemmKind::fp32})
    for (auto const& shift : {std::vector<float>{}, mean})
      for (int sorted : {0, 1}) {
        auto r = assign_with(x, c, kind, 700, 256, shift, w, 40, sorted);
        std::string const what = std::string(kind == GemmKind::fp32 ? "fp32" : "checked") +
                                 (shift.empty() ? ", unshifted" : ", shifted") +
                                 (sorted ? ", sums in label order" : ", sums by column blocks");
        if (kind == GemmKind::checked) EXPECT_EQ(r.acc, f.acc) << what;
        if (kind == GemmKind::checked) EXPECT_EQ(r.labels, f.labels) << what;
        double const rr = reference(r.labels);
        EXPECT_GT(rr, 0.0);
        EXPECT_NEAR(r.inertia, rr, 1e-9 * rr) << what;
      }
}

}  // namespace
