#pragma once
#include <string>

namespace kkm {
/// kkmeans version, "MAJOR.MINOR.PATCH".
std::string version();
/// One line naming the Kokkos version and the execution spaces this build has, e.g.
/// "Kokkos 3.4.1 (Cuda, Serial)".
std::string backend_description();
}  // namespace kkm
