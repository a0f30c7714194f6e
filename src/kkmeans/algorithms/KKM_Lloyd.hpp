#pragma once
/// \file KKM_Lloyd.hpp
/// \brief The algorithms a user calls: kkm::fit (batched Lloyd k-means over ranks, or the mini-batch
/// modes; KKM_Fit.hpp, one run's epochs in detail/KKM_LloydRun.hpp), kkm::predict,
/// kkm::assigned_distances and kkm::transform (KKM_Predict.hpp).
///
/// One epoch: every rank walks its local rows in batches (assign + accumulate into fixed-point
/// sums), then ONE allreduce of {sums, counts, changed labels, each rank's inertia} and every rank
/// computes the same new centroids with the metric's update rule from the same integers, checks the
/// same stopping tests, and so stops at the same epoch.
#include <kkmeans/algorithms/KKM_Fit.hpp>
#include <kkmeans/algorithms/KKM_Predict.hpp>
