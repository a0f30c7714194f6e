// Example: anchor boxes for an object detector with a user-written metric (1 − IoU).
//   anchor_boxes [N] [seed]
// Generates N boxes around YOLOv3's nine anchors, clusters them with k = 9 on the default Kokkos
// space, and prints the anchors found next to the planted ones and the mean best IoU of the boxes.
#include "AnchorBoxes.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  std::int64_t const n = argc > 1 ? std::atoll(argv[1]) : 90000;
  std::uint64_t const seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  if (n < 9) {
    std::fprintf(stderr, "anchor_boxes: N must be at least 9\n");
    return 2;
  }
  auto boxes = anchors::make_boxes(n, 0.1, seed);
  Kokkos::View<float**, Kokkos::LayoutRight, Kokkos::HostSpace> h(boxes.data(), n, 4);
  Kokkos::View<float**, Kokkos::LayoutRight, Kokkos::DefaultExecutionSpace::memory_space> x("boxes", n, 4);
  Kokkos::deep_copy(x, h);

  kkm::Parameters p;
  p.k = 9;
  p.n_init = 3;
  p.seed = seed;
  auto r = kkm::fit(Kokkos::DefaultExecutionSpace{}, x, p, anchors::BoxIoUDistance{});

  std::vector<std::pair<double, double>> found;
  for (int q = 0; q < r.k_final; ++q) found.push_back({r.centroids(q, 2), r.centroids(q, 3)});
  std::sort(found.begin(), found.end(), [](auto a, auto b) { return a.first * a.second < b.first * b.second; });
  std::printf("anchor boxes: %lld boxes, k = %d, %d epochs, mean 1 - IoU = %.4f\n", (long long)n, r.k_final, r.epochs,
              r.inertia / double(n));
  std::printf("  %-18s %-18s %s\n", "found (w x h)", "planted (w x h)", "IoU");
  auto const planted = anchors::planted();
  for (std::size_t q = 0; q < found.size(); ++q) {
    auto const& [pw, ph] = planted[std::min(q, planted.size() - 1)];
    std::printf("  %7.1f x %-7.1f   %5.0f x %-5.0f      %.3f\n", found[q].first, found[q].second, pw, ph,
                anchors::iou(found[q].first, found[q].second, pw, ph));
  }
  return 0;
}
