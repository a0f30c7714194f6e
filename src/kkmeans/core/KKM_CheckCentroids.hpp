#pragma once
/// \file KKM_CheckCentroids.hpp
/// \brief Centroids given from outside (initial centroids, a model's) must be numbers the working
/// precision holds: a NaN, an infinity or a value beyond its range would make every distance to
/// them meaningless, silently.
#include <kkmeans/core/KKM_Error.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>

namespace kkm::detail {

/// Throws UserError naming the first bad value of the k × d centroids value(q, j) (row-major
/// doubles), `what` saying whose they are (e.g. "initial centroid").
template <class V, class Value>
void check_centroid_values(std::int64_t k, int d, Value&& value, std::string const& what) {
  for (std::int64_t q = 0; q < k; ++q)
    for (int j = 0; j < d; ++j) {
      double const v = value(q, j);
      if (std::isfinite(v) && std::fabs(v) <= double(std::numeric_limits<V>::max())) continue;
      std::ostringstream s;
      s << what << " " << q << ", column " << j << " is ";
      if (std::isnan(v))
        s << "NaN";
      else if (std::isinf(v))
        s << "infinite";
      else
        s << v << ", beyond the range of float32 (use --precision double)";
      throw UserError(s.str());
    }
}

}  // namespace kkm::detail
