#pragma once
/// \file KKM_ArithmeticRange.hpp
/// \brief Data whose fit the arithmetic cannot carry, refused from the data summary before any
/// work: distances that overflow or underflow the working precision, and sample weights so far
/// apart that the fixed-point sums would count the smallest as (nearly) zero. Unchecked, such data
/// gives wrong labels and an infinite or NaN inertia without an error.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/parallel/KKM_DataSummary.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>

namespace kkm::detail {

/// A weight whose fixed-point count is below this keeps less than ≈ 3 decimal digits.
constexpr double min_weight_count = 1024;

inline std::string short_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", v);
  return text;
}

template <class T>
std::string precision_name() {
  return std::is_same_v<T, float> ? "float32" : "float64";
}

/// What to do about data out of T's range.
template <class T>
std::string range_remedy() {
  return std::is_same_v<T, float> ? "rescale the data, or fit in float64 (--precision double)" : "rescale the data";
}

/// Refuses data whose distances (value_degree 2: built from products of values, e.g. squared
/// differences; 1: from sums of absolute differences) overflow T, or underflow it so far that they
/// keep no precision, and an inertia (their sum over the rows) that overflows float64.
template <class T>
void check_distance_range(DataSummary const& s, int value_degree) {
  double largest = 0, distance = 0;  // largest |value|; bound of a row's distance to a mean of rows
  for (double m : s.max_abs) {
    largest = std::max(largest, m);
    distance += value_degree == 2 ? 4 * m * m : 2 * m;
  }
  double const top = std::numeric_limits<T>::max();
  KKM_REQUIRE(distance <= top, "data values up to " + short_number(largest) + " make distances" +
                                   (std::isinf(distance) ? std::string() : " of up to " + short_number(distance)) +
                                   " beyond " + precision_name<T>() + "'s range (" + short_number(top) +
                                   "): " + range_remedy<T>());
  KKM_REQUIRE(distance * s.max_weight * double(s.n_total) <= std::numeric_limits<double>::max(),
              "data values up to " + short_number(largest) + " over " + std::to_string(s.n_total) +
                  " rows make an inertia beyond float64's range: rescale the data");
  // A distance keeps its precision while it is a normal number: the squares of values are
  // subnormal once |value| < sqrt(smallest normal / epsilon) (float32 ≈ 3e-16, float64 ≈ 1e-146).
  double const floor = value_degree == 2
                           ? std::sqrt(double(std::numeric_limits<T>::min()) / double(std::numeric_limits<T>::epsilon()))
                           : double(std::numeric_limits<T>::min()) / double(std::numeric_limits<T>::epsilon());
  KKM_REQUIRE(largest == 0 || largest >= floor,
              "data values are at most " + short_number(largest) + " in magnitude: their distances fall below " +
                  precision_name<T>() + "'s normal range and lose their precision (values need magnitudes above " +
                  short_number(floor) + "): " + range_remedy<T>());
}

/// Refuses sample weights so far apart that the smallest positive one, in the fixed-point sums
/// (scaled so that the largest times the number of rows fits), keeps less than ≈ 3 digits.
inline void check_weight_range(DataSummary const& s) {
  if (!s.weighted) return;
  double const count = s.min_positive_weight * s.weight_scale;
  if (count >= min_weight_count) return;
  double const widest = s.max_weight / (min_weight_count / s.weight_scale);
  throw UserError("sample weights span too wide a range for kkmeans' exact sums: the smallest positive one (" +
                  short_number(s.min_positive_weight) + ") is " + short_number(s.max_weight / s.min_positive_weight) +
                  " times smaller than the largest (" + short_number(s.max_weight) + ") and would count as " +
                  (count < 1 ? "zero" : "almost nothing") + "; with " + std::to_string(s.n_total) +
                  " rows, weights must lie within a factor of " + short_number(widest) +
                  " of each other: drop or raise the smallest");
}

}  // namespace kkm::detail
