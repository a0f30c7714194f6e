#pragma once
/// \file KKM_Metrics.hpp
/// \brief The built-in metrics. A metric is a small copyable struct usable on the device:
///
/// \code
/// struct MyMetric {
///   static constexpr kkm::Update update = kkm::Update::mean;   // how centroids are recomputed
///   template <class X, class C>
///   KOKKOS_FUNCTION auto operator()(X const& x, C const& c) const;  // distance, x[j], c[j], x.size()
/// };
/// \endcode
///
/// Optional members: `static constexpr bool squared_euclidean = true` lets the GEMM path be used;
/// `static constexpr bool zero_padding_neutral = true` says zero columns appended to x and c leave the
/// distance unchanged (lets the small-d kernel pad d to 4, 8 or 16);
/// `static constexpr int value_degree = 1` says its arithmetic grows like the values, not like their
/// products (range checks; default 2);
/// `void check_dimensions(int d) const` rejects data it cannot handle (throw kkm::UserError);
/// `static constexpr char const* name` (the built-in metrics' are kkm::metric_names, the names the
/// application and its model files use). kkm::fit checks the shape at compile time
/// (see detail/KKM_MetricTraits.hpp).
#include <Kokkos_Core.hpp>

#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Half.hpp>
#include <kkmeans/core/KKM_Math.hpp>
#include <kkmeans/core/KKM_Names.hpp>

#include <string>

namespace kkm {

/// How a metric turns the rows of a cluster into its new centroid.
enum class Update {
  mean,             ///< arithmetic mean (squared Euclidean, Euclidean, IoU)
  normalized_mean,  ///< mean scaled to unit length: spherical k-means (cosine)
  median,           ///< coordinate-wise lower median: k-medians (Manhattan)
};

/// A row or centroid of length size(): what a metric's operator() receives. Its values are of the
/// compute type: 16-bit rows are read as float.
template <class T>
struct VectorRef {
  T const* data;
  int n;
  KOKKOS_INLINE_FUNCTION compute_t<T> operator[](int j) const { return data[j]; }
  KOKKOS_INLINE_FUNCTION int size() const { return n; }
};

/// ‖x − c‖², the k-means objective. Inertia equals scikit-learn's.
struct SquaredEuclidean {
  static constexpr Update update = Update::mean;
  static constexpr bool squared_euclidean = true;
  static constexpr char const* name = "sqeuclidean";
  static constexpr bool zero_padding_neutral = true;
  template <class X, class C>
  KOKKOS_INLINE_FUNCTION auto operator()(X const& x, C const& c) const {
    decltype(x[0] - c[0]) s = 0;
    for (int j = 0; j < x.size(); ++j) {
      auto const t = x[j] - c[j];
      s += t * t;
    }
    return s;
  }
};

/// ‖x − c‖. Same assignments as squared Euclidean; inertia is the sum of distances.
struct Euclidean {
  static constexpr Update update = Update::mean;
  static constexpr char const* name = "euclidean";
  static constexpr bool zero_padding_neutral = true;
  template <class X, class C>
  KOKKOS_INLINE_FUNCTION auto operator()(X const& x, C const& c) const {
    return math::sqrt(SquaredEuclidean{}(x, c));
  }
};

/// 1 − x·c / (‖x‖‖c‖): spherical k-means (centroids are normalised means). A zero row is at
/// distance 1 from every centroid.
struct Cosine {
  static constexpr Update update = Update::normalized_mean;
  static constexpr char const* name = "cosine";
  static constexpr bool zero_padding_neutral = true;
  template <class X, class C>
  KOKKOS_INLINE_FUNCTION auto operator()(X const& x, C const& c) const {
    using V = decltype(x[0] * c[0]);
    V dot = 0, xx = 0, cc = 0;
    for (int j = 0; j < x.size(); ++j) {
      dot += x[j] * c[j];
      xx += x[j] * x[j];
      cc += c[j] * c[j];
    }
    V const den = math::sqrt(xx * cc);
    return den > V(0) ? V(1) - dot / den : V(1);
  }
};

/// Σ|x − c|: k-medians (centroids are coordinate-wise medians).
struct Manhattan {
  static constexpr Update update = Update::median;
  static constexpr char const* name = "manhattan";
  static constexpr bool zero_padding_neutral = true;
  static constexpr int value_degree = 1;
  template <class X, class C>
  KOKKOS_INLINE_FUNCTION auto operator()(X const& x, C const& c) const {
    decltype(x[0] - c[0]) s = 0;
    for (int j = 0; j < x.size(); ++j) s += math::fabs(x[j] - c[j]);
    return s;
  }
};

/// 1 − IoU of two boxes aligned at a corner: the anchor-box distance of YOLO-style detectors.
/// Rows hold (w, h) in columns wh_column and wh_column + 1, e.g. wh_column = 2 for (x, y, w, h).
/// Centroids are means (of every column; the w/h columns are the anchors).
struct IoU {
  int wh_column = 0;
  static constexpr Update update = Update::mean;
  static constexpr char const* name = "iou";
  static constexpr bool zero_padding_neutral = true;  // reads only the width and height columns
  template <class X, class C>
  KOKKOS_INLINE_FUNCTION auto operator()(X const& x, C const& c) const {
    using V = decltype(x[0] * c[0]);
    V const w1 = x[wh_column], h1 = x[wh_column + 1];
    V const w2 = c[wh_column], h2 = c[wh_column + 1];
    V const inter = math::fmin(w1, w2) * math::fmin(h1, h2);
    V const uni = w1 * h1 + w2 * h2 - inter;
    return uni > V(0) ? V(1) - inter / uni : V(0);
  }
  void check_dimensions(int d) const {
    KKM_REQUIRE(wh_column >= 0 && wh_column <= d - 2,  // (not wh_column + 2: it overflows)
                "metric iou needs box width and height in columns " + std::to_string(wh_column) + " and " +
                    std::to_string(static_cast<long long>(wh_column) + 1) + ", but the data has " + std::to_string(d) + " column(s)");
  }
};

static_assert(detail::same_name(metric_names[0], SquaredEuclidean::name) &&
                  detail::same_name(metric_names[1], Euclidean::name) &&
                  detail::same_name(metric_names[2], Cosine::name) &&
                  detail::same_name(metric_names[3], Manhattan::name) && detail::same_name(metric_names[4], IoU::name),
              "kkm::metric_names (KKM_Names.hpp) must list the built-in metrics' names, in its order");

}  // namespace kkm
