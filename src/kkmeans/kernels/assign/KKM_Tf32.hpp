#pragma once
/// \file KKM_Tf32.hpp
/// \brief TF32 operands for tensor-core products: float32 values rounded to the 10 mantissa bits
/// the tensor cores read, and the hi/lo split of the 3xTF32 product.
#include <kkmeans/kernels/assign/tpls/KKM_Cublas.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace kkm::detail {

/// 3xTF32 runs where cuBLAS does, for float32 only.
template <class ExecSpace, class T>
constexpr bool tf32x3_available() {
  return cublas_space<ExecSpace>() && std::is_same_v<T, float>;
}

/// v rounded to the nearest TF32 value (10 mantissa bits; ties away from zero), so that the tensor
/// cores, which ignore the low 13 bits, see it exactly; v itself where rounding would overflow.
KOKKOS_INLINE_FUNCTION float tf32_round(float v) {
  std::uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  std::uint32_t const r = (b + 0x1000u) & 0xffffe000u;
  float out;
  std::memcpy(&out, &r, sizeof out);
  if ((r & 0x7f800000u) == 0x7f800000u) {  // rounded up to inf: truncate instead
    std::uint32_t const t = b & 0xffffe000u;
    std::memcpy(&out, &t, sizeof out);
  }
  return out;
}

/// 3xTF32 operands: row i of `in` (d columns) becomes the 3d columns [hi, hi, lo] (data side) or
/// [hi, lo, hi] (centroid side), hi = tf32_round(v), lo = v − hi (exact), so that the product of a
/// data row and a centroid row is x_hi·c_hi + x_hi·c_lo + x_lo·c_hi: x·c up to x_lo·c_lo (≈ 2⁻²²
/// relative) and the TF32 rounding of the lo parts.
template <class T, class Mem>
struct SplitTf32 {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> in;
  Kokkos::View<T**, Kokkos::LayoutRight, Mem> out;
  int d = 0;
  bool centroid_side = false;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t e) const {
    std::int64_t const i = e / d;
    int const j = static_cast<int>(e % d);
    T const v = in(i, j);
    T const hi = tf32_round(v), lo = v - hi;
    out(i, j) = hi;
    out(i, d + j) = centroid_side ? lo : hi;
    out(i, 2 * d + j) = centroid_side ? hi : lo;
  }
};

}  // namespace kkm::detail
