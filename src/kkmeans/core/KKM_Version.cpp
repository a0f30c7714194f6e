#include <kkmeans/KKM_Config.hpp>
#include <kkmeans/core/KKM_Version.hpp>

#include <Kokkos_Core.hpp>

#include <string>

namespace kkm {
std::string version() { return KKMEANS_VERSION_STRING; }

std::string backend_description() {
  std::string s = "Kokkos " + std::to_string(KOKKOS_VERSION / 10000) + "." +
                  std::to_string(KOKKOS_VERSION / 100 % 100) + "." + std::to_string(KOKKOS_VERSION % 100) +
                  " (default space: " + Kokkos::DefaultExecutionSpace::name() + ")";
  return s;
}
}  // namespace kkm
