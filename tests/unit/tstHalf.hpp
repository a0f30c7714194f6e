#pragma once
// 16-bit rows (kkm::float16, kkm::bfloat16): conversion rounds to nearest, ties to even; a fit of
// 16-bit rows equals, bit for bit, the fit of the same values widened to float — every metric, every
// init, weights, mini-batch, rows streamed from host memory, predict and transform.
#include <KKM_TestHelpers.hpp>

#include <gtest/gtest.h>

#include <kkmeans/algorithms/KKM_Fit.hpp>
#include <kkmeans/algorithms/KKM_Predict.hpp>
#include <kkmeans/core/KKM_Half.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace kkm_test {
namespace {

using space = TEST_EXECSPACE;
using mem = space::memory_space;

TEST(TEST_CATEGORY, float16_rounds_to_nearest_even) {
  auto bits = [](double v) { return kkm::to_float16(v).bits; };
  EXPECT_EQ(bits(1.0), 0x3c00);
  EXPECT_EQ(bits(1.0 + std::ldexp(1, -11)), 0x3c00);      // a tie: to the even fraction
  EXPECT_EQ(bits(1.0 + 3 * std::ldexp(1, -11)), 0x3c02);  // a tie: to the even fraction, upwards
  EXPECT_EQ(bits(1.0 + std::ldexp(1, -11) + 1e-12), 0x3c01);
  EXPECT_EQ(bits(-2.0), 0xc000);
  EXPECT_EQ(bits(65504.0), 0x7bff);
  EXPECT_EQ(bits(65519.99), 0x7bff);
  EXPECT_EQ(bits(65520.0), 0x7c00);  // rounds past the largest finite value: infinity
  EXPECT_EQ(bits(std::ldexp(1, -24)), 0x0001);  // the smallest subnormal
  EXPECT_EQ(bits(std::ldexp(1, -25)), 0x0000);  // a tie between 0 and it: to 0
  EXPECT_EQ(bits(1.5 * std::ldexp(1, -25)), 0x0001);
  EXPECT_EQ(bits(std::ldexp(1023.5, -24)), 0x0400);  // the largest subnormal's carry: the smallest normal
  EXPECT_EQ(bits(-0.0), 0x8000);
  EXPECT_TRUE(std::isnan(float(kkm::to_float16(std::nan("")))));
  for (std::uint32_t b = 0; b < 0x10000; ++b) {  // every value converts to float and back unchanged
    float const f = kkm::float16{std::uint16_t(b)};
    if (!std::isnan(f)) ASSERT_EQ(kkm::to_float16(f).bits, b) << std::hex << b;
  }
}

TEST(TEST_CATEGORY, bfloat16_rounds_to_nearest_even) {
  auto bits = [](double v) { return kkm::to_bfloat16(v).bits; };
  EXPECT_EQ(bits(1.0), 0x3f80);
  EXPECT_EQ(bits(1.0 + std::ldexp(1, -8)), 0x3f80);
  EXPECT_EQ(bits(1.0 + 3 * std::ldexp(1, -8)), 0x3f82);
  EXPECT_EQ(bits(double(std::numeric_limits<float>::max())), 0x7f80);  // past (2 − 2⁻⁸)·2¹²⁷: infinity
  EXPECT_EQ(bits(kkm::largest_finite<kkm::bfloat16>()), 0x7f7f);
  EXPECT_EQ(bits(std::ldexp(1, -133)), 0x0001);
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    float const f = kkm::bfloat16{std::uint16_t(b)};
    if (!std::isnan(f)) ASSERT_EQ(kkm::to_bfloat16(f).bits, b) << std::hex << b;
  }
}

/// x rounded to H, and those values widened back to float.
template <class H>
std::pair<Matrix<H>, Matrix<float>> narrowed(Matrix<double> const& x) {
  Matrix<H> h{x.n, x.d, std::vector<H>(x.v.size())};
  Matrix<float> f{x.n, x.d, std::vector<float>(x.v.size())};
  for (std::size_t i = 0; i < x.v.size(); ++i) {
    h.v[i] = kkm::round_to<H>(x.v[i]);
    f.v[i] = h.v[i];
  }
  return {h, f};
}

/// The same centroids, labels and epochs; the same inertia (GEMM paths, whose inertia comes from
/// the cluster sums in double over other batches: within 1e-9).
template <class A, class B>
void expect_same_fit(A const& a, B const& b, bool exact_inertia = true) {
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.epochs, b.epochs);
  EXPECT_EQ(centroids_vector(a), centroids_vector(b));
  EXPECT_EQ(labels_to_host(a.labels), labels_to_host(b.labels));
  if (exact_inertia)
    EXPECT_EQ(a.inertia, b.inertia);
  else
    EXPECT_NEAR(a.inertia, b.inertia, 1e-9 * b.inertia);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (std::size_t e = 0; e < a.history.size(); ++e) EXPECT_EQ(a.history[e].changed, b.history[e].changed);
}

/// The fit of x's values rounded to H equals the fit of those values as float.
template <class H, class Metric>
void expect_half_fit_equals_float_fit(kkm::Parameters const& p, Matrix<double> const& x, Metric const& metric,
                                      std::vector<float> const& w = {}) {
  auto const [h, f] = narrowed<H>(x);
  auto const wd = to_device_weights<space>(w);
  auto const a = kkm::fit(space{}, to_device<space>(h), wd, p, metric);
  auto const b = kkm::fit(space{}, to_device<space>(f), wd, p, metric);
  static_assert(std::is_same_v<decltype(a), decltype(b)>, "16-bit rows give float centroids");
  expect_same_fit(a, b, p.assign == kkm::AssignPath::fused || p.assign == kkm::AssignPath::automatic);
}

kkm::Parameters half_params(int k, kkm::Init init) {
  kkm::Parameters p;
  p.k = k;
  p.init = init;
  p.seed = 11;
  p.max_epochs = 25;
  return p;
}

TEST(TEST_CATEGORY, half_fit_equals_float_fit_every_metric) {
  auto const blobs8 = blobs<double>(2000, 8, 9, 1.0, 61);    // the small-d kernel
  auto const blobs24 = blobs<double>(1500, 24, 12, 1.5, 62);  // the generic fused kernel
  auto const boxes = uniform<double>(1200, 4, 0.1, 6.0, 63);
  for (auto init : {kkm::Init::kmeanspp, kkm::Init::kmeans_parallel, kkm::Init::random}) {
    auto const p = half_params(9, init);
    expect_half_fit_equals_float_fit<kkm::float16>(p, blobs8, kkm::SquaredEuclidean{});
    expect_half_fit_equals_float_fit<kkm::float16>(p, blobs24, kkm::SquaredEuclidean{});
    expect_half_fit_equals_float_fit<kkm::float16>(p, blobs24, kkm::Euclidean{});
    expect_half_fit_equals_float_fit<kkm::float16>(p, blobs24, kkm::Cosine{});
    expect_half_fit_equals_float_fit<kkm::float16>(p, blobs8, kkm::Manhattan{});
    expect_half_fit_equals_float_fit<kkm::float16>(p, boxes, kkm::IoU{2});
    expect_half_fit_equals_float_fit<kkm::bfloat16>(p, blobs8, kkm::SquaredEuclidean{});
    expect_half_fit_equals_float_fit<kkm::bfloat16>(p, blobs24, kkm::Cosine{});
    expect_half_fit_equals_float_fit<kkm::bfloat16>(p, blobs8, kkm::Manhattan{});
  }
}

TEST(TEST_CATEGORY, half_fit_equals_float_fit_weighted_minibatch_and_empty_policies) {
  auto const x = blobs<double>(3000, 16, 10, 1.0, 64);
  std::vector<float> w(x.n);
  for (std::int64_t i = 0; i < x.n; ++i) w[i] = 0.25f + float(i % 7);
  auto p = half_params(10, kkm::Init::kmeanspp);
  expect_half_fit_equals_float_fit<kkm::float16>(p, x, kkm::SquaredEuclidean{}, w);
  expect_half_fit_equals_float_fit<kkm::float16>(p, x, kkm::Manhattan{}, w);
  p.k = 30;  // more centroids than blobs: empty clusters
  for (auto empty : {kkm::EmptyPolicy::drop, kkm::EmptyPolicy::split, kkm::EmptyPolicy::farthest}) {
    p.empty = empty;
    expect_half_fit_equals_float_fit<kkm::bfloat16>(p, x, kkm::Euclidean{});
  }
  p = half_params(10, kkm::Init::kmeanspp);
  p.mode = kkm::Mode::minibatch;
  p.batch_size = 256;
  expect_half_fit_equals_float_fit<kkm::float16>(p, x, kkm::SquaredEuclidean{}, w);
}

TEST(TEST_CATEGORY, half_fit_streamed_from_host_equals_in_place) {
  auto const x = blobs<double>(5000, 8, 12, 1.5, 65);
  auto const [h, f] = narrowed<kkm::float16>(x);
  auto p = half_params(12, kkm::Init::random);
  auto const a = kkm::fit(space{}, to_device<space>(h), p, kkm::SquaredEuclidean{});
  Kokkos::View<kkm::float16**, Kokkos::LayoutRight, kkm::detail::staging_space_t<space>> rows("rows", h.n, h.d);
  for (std::int64_t i = 0; i < h.n; ++i)
    for (int j = 0; j < h.d; ++j) rows(i, j) = h(i, j);
  p.data_in = kkm::DataIn::host;
  p.device_memory = 40 << 10;
  auto const b = kkm::fit(space{}, rows, p, kkm::SquaredEuclidean{});
  EXPECT_EQ(b.data_in, "host");
  EXPECT_LT(b.stream_chunk_rows * 3, x.n) << "the stream should take several chunks";
  EXPECT_EQ(b.bytes_streamed_per_epoch, std::size_t(x.n) * x.d * 2);
  expect_same_fit(a, b);
}

TEST(TEST_CATEGORY, half_rows_on_the_checked_paths_give_the_float_labels) {
  // The checked paths widen 16-bit rows to float — all of them once per fit where the plan finds
  // room, else chunk by chunk (a 2 MB budget; batches of 700 rows: several chunks) — and keep their
  // exact labels: the float fit's, with every init and with weights.
  auto const x = blobs<double>(3000, 40, 12, 1.0, 67);
  std::vector<float> w(x.n);
  for (std::int64_t i = 0; i < x.n; ++i) w[i] = 0.5f + float(i % 3);
  for (std::size_t budget : {std::size_t(0), std::size_t(2) << 20}) {
    for (auto path : {kkm::AssignPath::gemm_checked, kkm::AssignPath::fused_checked}) {
      for (auto init : {kkm::Init::kmeanspp, kkm::Init::kmeans_parallel}) {
        auto p = half_params(70, init);
        p.assign = path;
        p.batch_size = 700;
        p.max_epochs = 8;
        p.device_memory = budget;
        expect_half_fit_equals_float_fit<kkm::float16>(p, x, kkm::SquaredEuclidean{});
        expect_half_fit_equals_float_fit<kkm::bfloat16>(p, x, kkm::SquaredEuclidean{}, w);
      }
    }
  }
  auto p = half_params(12, kkm::Init::random);
  p.assign = kkm::AssignPath::gemm_checked;
  p.batch_size = 700;
  auto const [h, f] = narrowed<kkm::float16>(x);
  std::size_t const widened = std::size_t(x.n) * x.d * sizeof(float);
  EXPECT_GE(kkm::fit(space{}, to_device<space>(h), p, kkm::SquaredEuclidean{}).workspace_bytes, widened)
      << "with room, all rows are widened once";
  p.device_memory = std::size_t(2) << 20;
  EXPECT_LT(kkm::fit(space{}, to_device<space>(h), p, kkm::SquaredEuclidean{}).workspace_bytes, widened)
      << "in a tight budget, a chunk at a time";
  p.device_memory = 0;
  p.assign = kkm::AssignPath::gemm;  // not exact, but it runs on 16-bit rows too
  EXPECT_EQ(kkm::fit(space{}, to_device<space>(h), p, kkm::SquaredEuclidean{}).path, "gemm");
}

TEST(TEST_CATEGORY, half_predict_and_transform_equal_float) {
  auto const x = blobs<double>(1000, 12, 6, 1.0, 66);
  auto const [h, f] = narrowed<kkm::float16>(x);
  auto const model = kkm::fit(space{}, to_device<space>(f), half_params(6, kkm::Init::kmeanspp), kkm::Cosine{});
  auto const c = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace{}, model.centroids);
  double sa = 0, sb = 0;
  auto const la = kkm::predict(space{}, to_device<space>(h), c, kkm::Cosine{}, &sa);
  auto const lb = kkm::predict(space{}, to_device<space>(f), c, kkm::Cosine{}, &sb);
  EXPECT_EQ(labels_to_host(la), labels_to_host(lb));
  EXPECT_EQ(sa, sb);
  auto const ta = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace{}, kkm::transform(space{}, to_device<space>(h), c, kkm::Cosine{}));
  auto const tb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace{}, kkm::transform(space{}, to_device<space>(f), c, kkm::Cosine{}));
  for (std::int64_t i = 0; i < x.n; ++i)
    for (int q = 0; q < 6; ++q) ASSERT_EQ(ta(i, q), tb(i, q));
}

}  // namespace
}  // namespace kkm_test
