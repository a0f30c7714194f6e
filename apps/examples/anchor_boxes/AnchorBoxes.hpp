#pragma once
// Anchor boxes for an object detector, found by k-means with a metric a user writes: 1 − IoU of
// two boxes aligned at a corner (YOLOv2's "dimension clusters"). Shared by the example program and
// the test that checks it recovers planted anchors.
#include <kkmeans/kkmeans.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace anchors {

/// The user's metric: rows are boxes (x, y, w, h); only w and h (columns 2 and 3) matter.
struct BoxIoUDistance {
  static constexpr kkm::Update update = kkm::Update::mean;  // anchors are mean box shapes
  static constexpr char const* name = "box-iou";
  template <class X, class C>
  KOKKOS_FUNCTION auto operator()(X const& box, C const& anchor) const {
    using V = decltype(box[0] * anchor[0]);
    V const w = box[2] < anchor[2] ? box[2] : anchor[2];
    V const h = box[3] < anchor[3] ? box[3] : anchor[3];
    V const inter = w * h;
    V const uni = box[2] * box[3] + anchor[2] * anchor[3] - inter;
    return uni > V(0) ? V(1) - inter / uni : V(0);
  }
  void check_dimensions(int d) const {
    KKM_REQUIRE(d == 4, "anchor boxes need rows (x, y, w, h), got " + std::to_string(d) + " columns");
  }
};

/// YOLOv3's nine COCO anchors (pixels at 416 × 416), used as the planted truth.
inline std::vector<std::pair<double, double>> planted() {
  return {{10, 13}, {16, 30}, {33, 23}, {30, 61}, {62, 45}, {59, 119}, {116, 90}, {156, 198}, {373, 326}};
}

/// n boxes (x, y, w, h) in pixels: each around one planted anchor, w and h scaled by log-normal noise.
inline std::vector<float> make_boxes(std::int64_t n, double noise, std::uint64_t seed) {
  auto const a = planted();
  std::mt19937_64 g(seed);
  std::normal_distribution<double> z(0, noise);
  std::uniform_real_distribution<double> u(0, 416);
  std::vector<float> boxes(std::size_t(n) * 4);
  for (std::int64_t i = 0; i < n; ++i) {
    auto const& [w, h] = a[i % a.size()];
    boxes[i * 4 + 0] = float(u(g));
    boxes[i * 4 + 1] = float(u(g));
    boxes[i * 4 + 2] = float(w * std::exp(z(g)));
    boxes[i * 4 + 3] = float(h * std::exp(z(g)));
  }
  return boxes;
}

/// IoU of two corner-aligned boxes given as (w, h).
inline double iou(double w1, double h1, double w2, double h2) {
  double const inter = std::min(w1, w2) * std::min(h1, h2);
  return inter / (w1 * h1 + w2 * h2 - inter);
}

}  // namespace anchors
