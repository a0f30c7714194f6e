#pragma once
/// \file KKM_Math.hpp
/// \brief Device math that works with Kokkos 3.4 (Kokkos::Experimental::) and 4.x (Kokkos::).
#include <Kokkos_Core.hpp>

namespace kkm::math {
#if KOKKOS_VERSION >= 30700
using Kokkos::fabs;
using Kokkos::log;
using Kokkos::fmin;
using Kokkos::sqrt;
#else
using Kokkos::Experimental::fabs;
using Kokkos::Experimental::log;
using Kokkos::Experimental::fmin;
using Kokkos::Experimental::sqrt;
#endif
}  // namespace kkm::math
