#pragma once
/// \file KKM_MetricByName.hpp
/// \brief From a built-in metric's name (kkm::metric_names) to its type: what the application's
/// --metric and the Python module's `metric=` both go through, so both accept the same names and
/// refuse others with the same message.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Names.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>

#include <string>

namespace kkm {

/// Calls f(metric) with the built-in metric called `name` and returns what f returns; IoU gets
/// `iou_column` (its boxes' width column). An unknown name is a UserError naming the choices.
template <class F>
auto with_metric(std::string const& name, int iou_column, F&& f) {
  if (name == SquaredEuclidean::name) return f(SquaredEuclidean{});
  if (name == Euclidean::name) return f(Euclidean{});
  if (name == Cosine::name) return f(Cosine{});
  if (name == Manhattan::name) return f(Manhattan{});
  if (name == IoU::name) return f(IoU{iou_column});
  throw UserError("unknown metric '" + name + "' (use one of: " + join_names(metric_names, ", ") + ")");
}

}  // namespace kkm
