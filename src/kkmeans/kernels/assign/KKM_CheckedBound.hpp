#pragma once
/// \file KKM_CheckedBound.hpp
/// \brief The checked GEMM path's arithmetic: the rigorous bound on the product's error that
/// decides which centroids a row must still be measured against, and the operands it is stated
/// for (rows and centroids shifted by the column means, with their norms).
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_Math.hpp>
#include <kkmeans/kernels/assign/KKM_Tf32.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace kkm::detail {

/// The checked GEMM path's error bound. The product ranks centroids by a_j = ‖c'_j‖² − 2x'·c'_j
/// (x' = x − μ, c' = c − μ), which differs from ‖x − c_j‖² − ‖x'‖² by at most
///   E = u·‖x'‖·max‖c'‖ + a·(‖x'‖ + max‖c'‖)²,
/// u = 2(2ρ + ρ² + 4(K + 2)ε) (the product: operands rounded to precision ρ — TF32: 2⁻¹¹, since
/// ShiftRows rounds them to the nearest TF32 value, so that whatever conversion the library applies
/// leaves them as they are (a truncating one would err by up to 2⁻¹⁰); else 0;
/// K = d terms accumulated with unit roundoff ε, four times the textbook γ_K for margin; the factor
/// 2 is the −2x·c) and a = (4d + 16)ε (‖c'‖², the shift, and the rounding of ‖x − c‖² itself, each
/// below (d + 2)ε of the squared norms). So every centroid whose a_j ≤ min a + 2E may be nearest,
/// and no other can be.
struct CheckedBound {
  double u = 0, a = 0;
  static CheckedBound make(int d, double eps, bool tf32) {
    double const rho = tf32 ? std::ldexp(1.0, -11) : 0.0;
    return {2 * (2 * rho + rho * rho + 4 * (d + 2) * eps), (4.0 * d + 16) * eps};
  }
};

/// Rows (or centroids, padded with zero rows up to `total`) shifted by μ for the checked GEMM path,
/// with their norms: out(i, ·) = in(i, ·) − μ, norm(i) = ‖out(i, ·)‖ (norm_squared: ‖·‖²); rows
/// [rows, total) of the output are zero. One vector of lanes per row (coalesced).
template <class ExecSpace, class T>
struct ShiftRows {
  using mem = typename ExecSpace::memory_space;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  Kokkos::View<T const**, Kokkos::LayoutRight, mem> in;
  Kokkos::View<T**, Kokkos::LayoutRight, mem> out;
  Kokkos::View<T const*, mem> mu;
  Kokkos::View<T*, mem> norm;
  std::int64_t rows = 0, total = 0;
  int d = 0;
  bool norm_squared = false;
  /// float only: store each shifted value rounded to the nearest TF32 value (tf32_round), so that
  /// tensor cores see it exactly, whatever conversion the library applies (a truncating one would
  /// double the error); the norms are those of the unrounded values.
  bool round_tf32 = false;
  int rows_per_team = 1;  // set by launch()
  KOKKOS_INLINE_FUNCTION void operator()(member const& t) const {
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, rows_per_team), [&](int r) {
      std::int64_t const i = std::int64_t(t.league_rank()) * rows_per_team + r;
      if (i >= total) return;
      T s = 0;
      Kokkos::parallel_reduce(
          Kokkos::ThreadVectorRange(t, d),
          [&](int j, T& acc) {
            T const v = i < rows ? T(in(i, j) - mu(j)) : T(0);
            if constexpr (std::is_same_v<T, float>)
              out(i, j) = round_tf32 ? tf32_round(v) : v;
            else
              out(i, j) = v;
            acc += v * v;
          },
          s);
      Kokkos::single(Kokkos::PerThread(t), [&]() { norm(i) = norm_squared ? s : T(math::sqrt(s)); });
    });
  }
  void launch(ExecSpace const& space) {
    constexpr bool host = is_host_space<ExecSpace>();
    rows_per_team = host ? 1 : 8;
    Kokkos::TeamPolicy<ExecSpace> policy(space, static_cast<int>((total + rows_per_team - 1) / rows_per_team),
                                         rows_per_team, host ? 1 : 32);
    Kokkos::parallel_for("kkm::shift_rows", policy, *this);
  }
};

}  // namespace kkm::detail
