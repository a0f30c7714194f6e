#pragma once
/// \file KKM_Scratch.hpp
/// \brief Arrays from a team's scratch memory, aligned for their type under Kokkos 3.4 and 4.x alike.
#include <Kokkos_Core.hpp>

#include <cstddef>

namespace kkm::detail {

/// `count` values of T from the scratch space `s` (a member's team_scratch(level)), aligned for T (at
/// least 8 bytes). Kokkos 3.4 padded every allocation to 8 bytes; Kokkos 4 packs them back to back,
/// so 8-byte sums after 20·k bytes of float centroids were misaligned (a CUDA fault). Each caller's
/// scratch size leaves 16 bytes of slack per array.
template <class T, class Scratch>
KOKKOS_INLINE_FUNCTION T* take_scratch(Scratch const& s, std::size_t count) {
  constexpr std::size_t align = alignof(T) < 8 ? 8 : alignof(T);
  return static_cast<T*>(s.get_shmem_aligned(count * sizeof(T), align));
}

}  // namespace kkm::detail
