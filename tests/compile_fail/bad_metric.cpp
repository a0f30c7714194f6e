// Must NOT compile: the metric's operator() takes the wrong arguments. The compile_fail_metric
// test builds this file and passes only if the compiler prints kkmeans' readable message.
#include <kkmeans/kkmeans.hpp>

struct BadMetric {
  static constexpr kkm::Update update = kkm::Update::mean;
  KOKKOS_FUNCTION float operator()(float const* x, float const* c, int d) const { return x[0] - c[0] + d; }
};

int main() {
  Kokkos::View<float**, Kokkos::LayoutRight, Kokkos::HostSpace> x("x", 4, 2);
  kkm::Parameters p;
  p.k = 2;
  auto r = kkm::fit(Kokkos::DefaultHostExecutionSpace{}, x, p, BadMetric{});
  return r.k_final;
}
