#pragma once
/// \file KKM_FixedPoint.hpp
/// \brief Order-independent sums. Every sum that decides centroids (per-cluster column sums) or a
/// choice (k-means++ potentials) is accumulated as a 64-bit integer: x is mapped to
/// trunc(x · 2^e) with one power-of-two scale per column, agreed by all ranks from the global
/// maximum |x| and row count so that no sum can overflow. Integer addition is associative, so the
/// result is the same bit for bit whatever the number of ranks, threads, teams or the order of
/// atomics. For float32 data with fewer than about 2^38 rows the mapping is even exact (x · 2^e is
/// an integer), i.e. the sums equal the exact real sums.
///
/// Values travel as uint64 (two's complement), since unsigned atomic adds wrap as signed ones would.
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace kkm::detail {

/// The accumulator type: 64-bit, and the type CUDA has native atomics for.
using fixed_t = unsigned long long;
static_assert(sizeof(fixed_t) == 8, "kkmeans needs 64-bit unsigned long long");

/// The largest power of two s such that n_terms values of magnitude ≤ max_abs sum to < 2^62 after
/// scaling by s. max_abs = 0 gives 2^0 (every term is 0 anyway).
inline double fixed_point_scale(double max_abs, double n_terms) {
  if (!(max_abs > 0)) return 1.0;
  // Clamped to double's exponents: data whose products overflow (max_abs · n_terms = inf) gets a
  // finite scale here and is refused by the range checks (KKM_ArithmeticRange.hpp).
  double const e = 62 - std::ceil(std::log2(max_abs * n_terms)) - 1;
  return std::ldexp(1.0, static_cast<int>(std::clamp(e, -1074.0, 1023.0)));
}

KOKKOS_INLINE_FUNCTION fixed_t to_fixed(double v, double scale) {
  return static_cast<fixed_t>(static_cast<long long>(v * scale));
}

/// Row i's weight, or 1 when there are no weights (w empty).
template <class W>
KOKKOS_INLINE_FUNCTION double row_weight(W const& w, std::int64_t i) {
  return w.extent(0) > 0 ? static_cast<double>(w(i)) : 1.0;
}

/// Row i's contribution to its cluster's count: its weight in fixed point (scale wscale), or 1 when
/// there are no weights (w empty).
template <class W>
KOKKOS_INLINE_FUNCTION fixed_t fixed_count(W const& w, std::int64_t i, double wscale) {
  return w.extent(0) > 0 ? to_fixed(static_cast<double>(w(i)), wscale) : fixed_t(1);
}

/// Row i's contribution w_i · x(i, j) to its cluster's sum of column j, in fixed point (w_i = 1
/// when w is empty).
template <class W, class X>
KOKKOS_INLINE_FUNCTION fixed_t fixed_term(W const& w, X const& x, std::int64_t i, int j, double scale) {
  return to_fixed(row_weight(w, i) * static_cast<double>(x(i, j)), scale);
}

KOKKOS_INLINE_FUNCTION double from_fixed(fixed_t q, double scale) {
  return static_cast<double>(static_cast<long long>(q)) / scale;
}

/// A cluster's mean in one column from its fixed-point sum (scale `scale`) and its count (rows, or
/// weights in fixed point of scale wscale). The host's update and the device's (pipelined epochs)
/// both call it: the same correctly rounded operations, so the same bits.
KOKKOS_INLINE_FUNCTION double cluster_mean(fixed_t sum, double scale, std::int64_t count, double wscale) {
  return from_fixed(sum, scale) / (static_cast<double>(count) / wscale);
}

}  // namespace kkm::detail
