// The anchor-box example (a user metric, 1 − IoU on (x, y, w, h) rows) recovers planted anchors.
#include <KKM_TestHelpers.hpp>
#include <anchor_boxes/AnchorBoxes.hpp>

#include <gtest/gtest.h>

namespace {

TEST(TEST_CATEGORY, anchor_boxes_recover_planted_anchors) {
  using space = TEST_EXECSPACE;
  std::int64_t const n = 18000;
  auto boxes = anchors::make_boxes(n, 0.1, 3);
  kkm_test::Matrix<float> m{n, 4, boxes};
  kkm::Parameters p;
  p.k = 9;
  p.n_init = 3;
  p.seed = 3;
  auto r = kkm::fit(space{}, kkm_test::to_device<space>(m), p, anchors::BoxIoUDistance{});
  ASSERT_EQ(r.k_final, 9);
  for (auto const& [w, h] : anchors::planted()) {
    double best = 0;
    for (int q = 0; q < 9; ++q) best = std::max(best, anchors::iou(w, h, r.centroids(q, 2), r.centroids(q, 3)));
    EXPECT_GT(best, 0.95) << "planted anchor " << w << " x " << h << " not recovered";
  }
  // Mean 1 − IoU is about what the log-normal noise alone costs.
  EXPECT_LT(r.inertia / double(n), 0.15);
}

TEST(TEST_CATEGORY, anchor_boxes_builtin_iou_agrees) {
  // The library's kkm::IoU{2} is the same distance: same seed, same result.
  using space = TEST_EXECSPACE;
  auto boxes = anchors::make_boxes(3000, 0.1, 4);
  auto x = kkm_test::to_device<space>(kkm_test::Matrix<float>{3000, 4, boxes});
  kkm::Parameters p;
  p.k = 9;
  p.seed = 4;
  auto a = kkm::fit(space{}, x, p, anchors::BoxIoUDistance{});
  auto b = kkm::fit(space{}, x, p, kkm::IoU{2});
  EXPECT_EQ(kkm_test::centroids_vector(a), kkm_test::centroids_vector(b));
}

}  // namespace
