#pragma once
/// \file KKM_Update.hpp
/// \brief The centroid update of the mean rules, defined once: the host's update of every epoch and
/// the device's own update of a pipelined epoch (EpochEnd) both call mean_entry, so that the two
/// agree bit for bit (the pipelined epoch stands only when they do).
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>

namespace kkm::detail {

/// One entry of a cluster's new centroid: the column's exact sum over the cluster's weight
/// (cluster_mean), times f (normalized_mean: 1/‖mean‖; mean: 1). Scalars only, so that host and
/// device code call the same function.
template <class T>
KOKKOS_INLINE_FUNCTION T mean_entry(fixed_t sum, double scale, std::int64_t count, double wscale, double f = 1.0) {
  return static_cast<T>(cluster_mean(sum, scale, count, wscale) * f);
}

/// Cluster q's new centroid under Rule (mean or normalized_mean) into out[0..d); count > 0.
template <Update Rule, class T, class Sums, class Scale>
void mean_row(Sums const& sums, Scale const& scale, int q, int d, std::int64_t count, double wscale, T* out) {
  static_assert(Rule != Update::median, "medians come from cluster_medians");
  double f = 1.0;
  if constexpr (Rule == Update::normalized_mean) {
    double norm2 = 0;
    for (int j = 0; j < d; ++j) {
      double const m = cluster_mean(sums[std::size_t(q) * d + j], scale[j], count, wscale);
      norm2 += m * m;
    }
    if (norm2 > 0) f = 1.0 / std::sqrt(norm2);
  }
  for (int j = 0; j < d; ++j) out[j] = mean_entry<T>(sums[std::size_t(q) * d + j], scale[j], count, wscale, f);
}

}  // namespace kkm::detail
