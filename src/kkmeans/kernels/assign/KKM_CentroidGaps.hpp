#pragma once
/// \file KKM_CentroidGaps.hpp
/// \brief The squared distances between the centroids, for the rows the fused checked path's
/// candidate lists leave with more candidates than they name (where centroids crowd, many rows).
/// Without a product to gather those from, such a row was measured against every centroid; with
/// the gaps it skips each centroid c_j that the triangle inequality puts farther from it than a
/// measured one, c_a:
///
///   ‖c_j − c_a‖ > 2‖x − c_a‖  ⇒  ‖x − c_j‖ ≥ ‖c_j − c_a‖ − ‖x − c_a‖ > ‖x − c_a‖,
///
/// so c_j is neither nearer nor tied. The test is made on computed values with room for their
/// rounding (GapTest below), so the labels stay those of exact distances.
#include <kkmeans/core/KKM_Backend.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace kkm::detail {

/// The most centroids whose gaps are kept (k × k values: 64 MiB of float at this k); above it the
/// rows whose lists name too few candidates are measured against every centroid.
inline constexpr int max_gap_centroids = 4096;

/// gaps(a, j) = ‖c_a − c_j‖², summed in double and rounded to T.
template <class T, class Mem>
struct CentroidGaps {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> c;
  Kokkos::View<T**, Kokkos::LayoutRight, Mem> gaps;
  int k = 0, d = 0;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t e) const {
    int const a = static_cast<int>(e / k), j = static_cast<int>(e % k);
    double s = 0;
    for (int q = 0; q < d; ++q) {
      double const diff = static_cast<double>(c(a, q)) - static_cast<double>(c(j, q));
      s += diff * diff;
    }
    gaps(a, j) = static_cast<T>(s);
  }
};

/// Which centroids a row may skip, from its computed squared distance da to a centroid a.
///
/// The computed distance D̃ (the metric's own sum of d rounded squares) is within γ = (d + 2)ε of the
/// exact D of the same values, relatively, and within d·norm_min more where squares underflow; the
/// stored gap G̃ is within ε of G. Rows with da below 2²⁰·d·norm_min skip nothing (there the
/// underflow would matter); above it, with slack = 1 + 8γ + 2ε + 2⁻¹⁶, G̃ > 4·da·slack gives
/// G > 4D_a(1 + 4γ + 2⁻¹⁷), so D_j > D_a(1 + 6γ + 2⁻¹⁷) and D̃_j > D̃_a: c_j loses to c_a in the
/// computed arithmetic as well, ties included.
template <class T, class Mem>
struct GapTest {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> gaps;  // empty: no skipping
  double slack = 1, tiny = 0;

  static GapTest make(Kokkos::View<T const**, Kokkos::LayoutRight, Mem> g, int d) {
    double const eps = Kokkos::Experimental::epsilon<T>::value / 2;  // unit roundoff
    double const gamma = (d + 2) * eps;
    return {g, 1 + 8 * gamma + 2 * eps + 1.0 / 65536,
            1048576.0 * d * static_cast<double>(Kokkos::Experimental::norm_min<T>::value)};
  }
  /// Whether a row at computed distance da from some centroid may skip any centroid.
  KOKKOS_INLINE_FUNCTION bool prunes(T da) const { return gaps.extent(0) > 0 && static_cast<double>(da) >= tiny; }
  /// The gap beyond which a centroid is skipped (where prunes(da)).
  KOKKOS_INLINE_FUNCTION double limit(T da) const { return 4 * static_cast<double>(da) * slack; }
  KOKKOS_INLINE_FUNCTION bool skips(int a, int j, double lim) const { return static_cast<double>(gaps(a, j)) > lim; }
};

}  // namespace kkm::detail
