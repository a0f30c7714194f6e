#pragma once
/// \file KKM_Atomic.hpp
/// \brief The kernels' relaxed atomic adds (with and without the old value), one instruction under
/// Kokkos 3.4 and 4.x alike.
#include <Kokkos_Core.hpp>

#include <type_traits>

namespace kkm::detail {

/// *p += v, atomically (relaxed), v converted to T. On CUDA devices CUDA's own atomicAdd, as Kokkos
/// 3.4 called it: Kokkos 4 (desul) writes an add whose result is unused as inline PTX on a generic
/// address with a memory clobber, which the compiler can neither make a shared-memory atomic nor move
/// loads across, and the team accumulators in scratch take millions of these per epoch. Elsewhere
/// (hosts, other devices, other types) Kokkos::atomic_add.
template <class T, class V>
KOKKOS_FORCEINLINE_FUNCTION void atomic_add(T* p, V v) {
  T const value = static_cast<T>(v);
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_integral_v<T> && sizeof(T) == sizeof(unsigned long long)) {
    // Two's complement: the unsigned sum is the signed one.
    atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(value));
  } else if constexpr (std::is_same_v<T, int> || std::is_same_v<T, unsigned> || std::is_same_v<T, float> ||
                       std::is_same_v<T, double>) {
    atomicAdd(p, value);
  } else {
    Kokkos::atomic_add(p, value);
  }
#else
  Kokkos::atomic_add(p, value);
#endif
}

/// *p += v atomically (relaxed), returning the old value; on CUDA devices CUDA's atomicAdd for the
/// types it has (desul's returning add is inline PTX with a memory clobber too), elsewhere
/// Kokkos::atomic_fetch_add.
template <class T, class V>
KOKKOS_FORCEINLINE_FUNCTION T atomic_fetch_add(T* p, V v) {
  T const value = static_cast<T>(v);
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<T, int> || std::is_same_v<T, unsigned> || std::is_same_v<T, unsigned long long>) {
    return atomicAdd(p, value);
  } else {
    return Kokkos::atomic_fetch_add(p, value);
  }
#else
  return Kokkos::atomic_fetch_add(p, value);
#endif
}

}  // namespace kkm::detail
