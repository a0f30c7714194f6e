#pragma once
/// \file KKM_Random.hpp
/// \brief Counter-based random numbers: a pure function of (seed, stream, counter), so that a row's
/// draw depends on its global index only, never on which rank or thread holds it. This is what
/// makes initialisation independent of the number of ranks. The same mix hashes data exactly
/// (value_bits) for fingerprints.
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <cstring>

namespace kkm::detail {

/// SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mix with good avalanche.
KOKKOS_INLINE_FUNCTION std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// The bits of a float, double or 16-bit value, as an integer (for hashing values exactly).
template <class T>
KOKKOS_INLINE_FUNCTION std::uint64_t value_bits(T v) {
  if constexpr (sizeof(T) == 2) {
    std::uint16_t u;
    memcpy(&u, &v, 2);
    return u;
  } else if constexpr (sizeof(T) == 4) {
    std::uint32_t u;
    memcpy(&u, &v, 4);
    return u;
  } else {
    std::uint64_t u;
    memcpy(&u, &v, 8);
    return u;
  }
}

/// 64 random bits for (seed, stream, counter).
KOKKOS_INLINE_FUNCTION std::uint64_t hash3(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter) {
  return mix64(mix64(mix64(seed) ^ stream) ^ counter);
}

/// The part of hash3 that does not depend on the counter: hash3(seed, stream, c) =
/// mix64(stream_key(seed, stream) ^ c). Kernels drawing for many rows compute it once.
KOKKOS_INLINE_FUNCTION std::uint64_t stream_key(std::uint64_t seed, std::uint64_t stream) {
  return mix64(mix64(seed) ^ stream);
}
/// Uniform double in (0, 1] for the counter of a stream_key: never 0, so −log(u) is finite.
KOKKOS_INLINE_FUNCTION double uniform01_keyed(std::uint64_t key, std::uint64_t counter) {
  return (static_cast<double>(mix64(key ^ counter) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}
/// Uniform double in (0, 1] for (seed, stream, counter): never 0, so −log(u) is finite.
KOKKOS_INLINE_FUNCTION double uniform01(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter) {
  return uniform01_keyed(stream_key(seed, stream), counter);
}

/// Uniform integer in [0, n) for (seed, stream, counter) (Lemire's multiply-shift; bias < n / 2^64).
inline std::uint64_t uniform_below(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter, std::uint64_t n) {
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(hash3(seed, stream, counter)) * n) >> 64);
}

}  // namespace kkm::detail
