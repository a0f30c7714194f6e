#pragma once
/// \file kkmeans.hpp
/// \brief Umbrella header of the kkmeans library: k-means by batch on Kokkos, over MPI ranks.
#include <kkmeans/KKM_Config.hpp>
#include <kkmeans/algorithms/KKM_Lloyd.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Names.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/core/KKM_Result.hpp>
#include <kkmeans/core/KKM_Version.hpp>
#include <kkmeans/metrics/KKM_MetricByName.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>
