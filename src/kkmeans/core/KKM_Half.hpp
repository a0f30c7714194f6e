#pragma once
/// \file KKM_Half.hpp
/// \brief 16-bit data: kkm::float16 (IEEE binary16) and kkm::bfloat16 (the upper half of a
/// float32), storage types for rows that halve their memory and the bytes each epoch reads.
///
/// Each converts exactly and implicitly to float, so a kernel written for float rows reads them
/// unchanged (`x[j] - c[j]` is float arithmetic) and its labels are exact with respect to the 16-bit
/// values. Centroids, sums, weights and inertia stay in the compute type, compute_t<T> (float for
/// both). Conversion the other way happens once, on the host, when data are read: to_float16 and
/// to_bfloat16 round to nearest, ties to even, directly from double (no double rounding through
/// float).
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace kkm {

namespace detail {

KOKKOS_INLINE_FUNCTION float float_from_bits(std::uint32_t u) {
  float f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}

/// binary16 → float, exactly (every binary16 value is a float).
KOKKOS_INLINE_FUNCTION float float16_to_float(std::uint16_t h) {
#if defined(__CUDA_ARCH__)
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
#else
  std::uint32_t const sign = std::uint32_t(h & 0x8000u) << 16;
  std::uint32_t const exp = (h >> 10) & 0x1fu;
  std::uint32_t const man = h & 0x3ffu;
  if (exp == 0x1f) return float_from_bits(sign | 0x7f800000u | (man << 13));  // inf, NaN
  if (exp != 0) return float_from_bits(sign | ((exp + 112) << 23) | (man << 13));
  float const sub = float(man) * 5.9604644775390625e-8f;  // man · 2⁻²⁴, exact
  return sign ? -sub : sub;
#endif
}

/// The 16-bit pattern nearest to v (ties to even) in a format of E exponent and M mantissa bits
/// with the IEEE layout (sign, biased exponent, fraction; subnormals; all-ones exponent for inf
/// and NaN). Values beyond the largest finite one round to infinity, as IEEE rounding does.
template <int E, int M>
std::uint16_t round_to_16_bits(double v) {
  static_assert(1 + E + M == 16, "a 16-bit format");
  constexpr int bias = (1 << (E - 1)) - 1;
  constexpr int emin = 1 - bias;  // the smallest normal exponent
  constexpr std::uint32_t inf = ((1u << E) - 1) << M;
  std::uint16_t const sign = std::signbit(v) ? 0x8000u : 0u;
  if (std::isnan(v)) return std::uint16_t(sign | inf | (1u << (M - 1)));
  double const a = std::fabs(v);
  if (std::isinf(a)) return std::uint16_t(sign | inf);
  int e = 0;
  std::frexp(a, &e);  // a ∈ [2^(e−1), 2^e)
  int const exp = a == 0 ? emin : (e - 1 > emin ? e - 1 : emin);
  // The significand with its leading bit, scaled to M fraction bits: exact (a power-of-two
  // scaling), then one rounding to an integer in [0, 2^(M+1)].
  auto const m = std::uint32_t(std::nearbyint(std::ldexp(a, M - exp)));
  // A subnormal (or zero) keeps a zero exponent field; otherwise the leading bit is implicit, and
  // a rounding carry into 2^(M+1) moves on into the exponent.
  std::uint32_t bits = exp == emin && m < (1u << M) ? m : (std::uint32_t(exp + bias) << M) + (m - (1u << M));
  if (bits > inf) bits = inf;
  return std::uint16_t(sign | bits);
}

}  // namespace detail

/// An IEEE binary16 value ("half"): 5 exponent bits, 10 fraction bits, finite up to 65504.
struct float16 {
  std::uint16_t bits;
  KOKKOS_INLINE_FUNCTION operator float() const { return detail::float16_to_float(bits); }
};

/// A bfloat16 value: float32's 8 exponent bits with 7 fraction bits; float32's range.
struct bfloat16 {
  std::uint16_t bits;
  KOKKOS_INLINE_FUNCTION operator float() const { return detail::float_from_bits(std::uint32_t(bits) << 16); }
};

/// v rounded to the nearest binary16 (ties to even); beyond ±65504 it becomes ±infinity.
inline float16 to_float16(double v) { return float16{detail::round_to_16_bits<5, 10>(v)}; }
/// v rounded to the nearest bfloat16 (ties to even).
inline bfloat16 to_bfloat16(double v) { return bfloat16{detail::round_to_16_bits<8, 7>(v)}; }
/// v rounded to the nearest 16-bit value of type T (float16 or bfloat16), as above.
template <class T>
T round_to(double v) {
  if constexpr (std::is_same_v<T, float16>)
    return to_float16(v);
  else
    return to_bfloat16(v);
}

/// The scalars rows may be stored in: float, double, float16, bfloat16.
template <class T>
inline constexpr bool is_16_bit_v = std::is_same_v<T, float16> || std::is_same_v<T, bfloat16>;
template <class T>
inline constexpr bool is_data_scalar_v = std::is_floating_point_v<T> || is_16_bit_v<T>;

/// The type rows of T are computed in, and centroids, weights and results are kept in.
template <class T>
struct compute_type {
  using type = T;
};
template <>
struct compute_type<float16> {
  using type = float;
};
template <>
struct compute_type<bfloat16> {
  using type = float;
};
template <class T>
using compute_t = typename compute_type<std::remove_const_t<T>>::type;

/// A data scalar's name, as the application's --precision and its messages use it.
template <class T>
constexpr char const* scalar_name() {
  if constexpr (std::is_same_v<T, float16>)
    return "float16";
  else if constexpr (std::is_same_v<T, bfloat16>)
    return "bfloat16";
  else
    return sizeof(T) == 4 ? "float32" : "float64";
}

/// The largest finite value of a data scalar.
template <class T>
constexpr double largest_finite() {
  if constexpr (std::is_same_v<T, float16>)
    return 65504.0;
  else if constexpr (std::is_same_v<T, bfloat16>)
    return 3.3895313892515355e38;  // (2 − 2⁻⁷) · 2¹²⁷
  else
    return double(std::numeric_limits<T>::max());
}

}  // namespace kkm
