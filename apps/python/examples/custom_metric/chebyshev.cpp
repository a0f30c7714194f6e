// A metric of your own, for Python: the largest coordinate difference (Chebyshev, L∞), with the
// mean update. Any kkmeans metric works the same way (see kkmeans/metrics/KKM_Metrics.hpp for what one provides).
//
//   import kkmeans, my_metrics
//   km = kkmeans.KMeans(n_clusters=8, metric=my_metrics.chebyshev).fit(X)
#include <kkmeans/python/KKM_PyMetric.hpp>

struct Chebyshev {
  static constexpr kkm::Update update = kkm::Update::mean;
  template <class X, class C>
  KOKKOS_INLINE_FUNCTION auto operator()(X const& x, C const& c) const {
    decltype(x[0] - c[0]) m = 0;
    for (int j = 0; j < x.size(); ++j) {
      auto const t = x[j] > c[j] ? x[j] - c[j] : c[j] - x[j];
      m = t > m ? t : m;
    }
    return m;
  }
};

PYBIND11_MODULE(my_metrics, m) {
  m.doc() = "kkmeans metrics compiled from C++ (an example)";
  kkm::python::export_metric<Chebyshev>(m, "chebyshev");
}
