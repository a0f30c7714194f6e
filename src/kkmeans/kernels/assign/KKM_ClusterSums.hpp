#pragma once
/// \file KKM_ClusterSums.hpp
/// \brief Per-cluster column sums from labels (when the assignment kernel does not add them
/// itself), and the sum of squared distances recovered from those sums (the GEMM paths' fit epochs,
/// whose product gives no row's exact distance).
#include <kkmeans/core/KKM_Atomic.hpp>
#include <kkmeans/core/KKM_Half.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/core/KKM_Scratch.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>

namespace kkm::detail {

/// Per-cluster column sums of w·x (fixed point) for labelled rows, when they do not fit a team's
/// scratch whole: each team takes a block of `cb` columns and a range of rows and adds into a k × cb
/// scratch block (or, if even one column of k sums does not fit, straight into the global sums).
/// Integer sums, so the result is the same as adding row by row.
template <class ExecSpace, class T>
struct ColumnBlockSums {
  using mem = typename ExecSpace::memory_space;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  Kokkos::View<T const**, Kokkos::LayoutRight, mem> x;  // T: the rows'
  Kokkos::View<int const*, mem> labels;
  Kokkos::View<compute_t<T> const*, mem> w;
  Kokkos::View<double const*, mem> scale;
  Kokkos::View<fixed_t*, mem> acc;
  int k = 0, d = 0, cb = 1, blocks = 1;
  std::int64_t n = 0, rows_per_team = 1;
  int scratch_level = 0;
  bool in_scratch = true;

  std::size_t scratch_bytes() const { return (in_scratch ? std::size_t(k) * cb * sizeof(fixed_t) : 0) + 16; }

  KOKKOS_FUNCTION void operator()(member const& t) const {
    int const b = t.league_rank() % blocks;
    std::int64_t const chunk = t.league_rank() / blocks;
    int const j0 = b * cb;
    int const nc = d - j0 < cb ? d - j0 : cb;
    std::int64_t const i0 = chunk * rows_per_team;
    std::int64_t const i1 = i0 + rows_per_team < n ? i0 + rows_per_team : n;
    if (i0 >= i1) return;
    fixed_t* s = nullptr;
    if (in_scratch) {
      s = take_scratch<fixed_t>(t.team_scratch(scratch_level), std::size_t(k) * cb);
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, k * cb), [&](int e) { s[e] = 0; });
      t.team_barrier();
    }
    // Thread r of the team takes entries e = r, r + T, r + 2T, … of the (row, column) block in row
    // order; its row and column advance by T / nc and T % nc (with carry) instead of a 64-bit
    // division per entry.
    int const T_ = t.team_size();
    int const di = T_ / nc, dj = T_ % nc;
    std::int64_t i = i0 + t.team_rank() / nc;
    int jj = t.team_rank() % nc;
    for (; i < i1; i += di) {
      int const j = j0 + jj;
      fixed_t const q = fixed_term(w, x, i, j, scale(j));
      if (q != 0) {
        if (in_scratch)
          detail::atomic_add(&s[std::size_t(labels(i)) * cb + jj], q);
        else
          detail::atomic_add(&acc(std::size_t(labels(i)) * d + j), q);
      }
      jj += dj;
      if (jj >= nc) {
        jj -= nc;
        ++i;
      }
    }
    if (in_scratch) {
      t.team_barrier();
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, k * nc), [&](int e) {
        int const q = e / nc, jj = e % nc;
        fixed_t const v = s[std::size_t(q) * cb + jj];
        if (v != 0) detail::atomic_add(&acc(std::size_t(q) * d + j0 + jj), v);
      });
    }
  }
};

/// acc += part, entry by entry (integer sums: in any order the same).
template <class Mem>
struct AddSums {
  Kokkos::View<fixed_t*, Mem> acc;
  Kokkos::View<fixed_t const*, Mem> part;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const { acc(i) += part(i); }
};

/// Σ_i w_i ‖x_i − μ‖² in double (w empty: all 1), the first term of InertiaFromSums.
template <class T, class Mem>
struct ShiftedSquareSum {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> x;
  Kokkos::View<T const*, Mem> mu, w;
  int d = 0;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, double& s) const {
    double r = 0;
    for (int j = 0; j < d; ++j) {
      double const t = static_cast<double>(x(i, j)) - static_cast<double>(mu(j));
      r += t * t;
    }
    s += row_weight(w, i) * r;
  }
};

/// The sum of squared distances of labelled rows to their centroids from the cluster sums: with
/// c' = c − μ, S'_q = S_q − W_q·μ (S_q = Σ w·x and W_q = Σ w over the rows of cluster q, exact
/// integer sums, see KKM_FixedPoint.hpp),
///   Σ_i w_i ‖x_i − c_{l(i)}‖² = Σ_i w_i ‖x_i − μ‖² + Σ_q c'_q · (W_q c'_q − 2 S'_q),
/// an identity, here evaluated in double; this functor adds cluster q's term. μ (the column means)
/// keeps the cancellation small. The GEMM paths' fit epochs use it instead of each row's exact
/// distance, which the product does not give.
template <class T, class Mem>
struct InertiaFromSums {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> c;
  Kokkos::View<fixed_t const*, Mem> acc;
  Kokkos::View<double const*, Mem> scale;
  Kokkos::View<T const*, Mem> mu;
  double wscale = 1;
  int k = 0, d = 0;
  KOKKOS_INLINE_FUNCTION void operator()(int q, double& s) const {
    std::size_t const kd = std::size_t(k) * d;
    auto const cnt = static_cast<long long>(acc(kd + q));
    if (cnt == 0) return;
    double const W = static_cast<double>(cnt) / wscale;
    double t = 0;
    for (int j = 0; j < d; ++j) {
      double const m = static_cast<double>(mu(j));
      double const cp = static_cast<double>(c(q, j)) - m;
      double const sp = static_cast<double>(static_cast<long long>(acc(std::size_t(q) * d + j))) / scale(j) - W * m;
      t += cp * (W * cp - 2 * sp);
    }
    s += t;
  }
};

}  // namespace kkm::detail
