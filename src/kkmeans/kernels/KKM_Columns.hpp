#pragma once
/// \file KKM_Columns.hpp
/// \brief Per-column reductions over the local rows (run once per fit): max |x|, exact column sums
/// and sums of squared deviations, all reproducible bit for bit.
#include <kkmeans/core/KKM_Atomic.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/core/KKM_Random.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace kkm::detail {

/// Number of row chunks so that d × chunks teams keep the space busy.
template <class ExecSpace>
int column_chunks(ExecSpace const& space, std::int64_t n, int d) {
  std::int64_t const want = is_host_space<ExecSpace>() ? 4 * space.concurrency() : 2 * space.concurrency() / 256;
  std::int64_t chunks = (want + d - 1) / d;
  chunks = std::max<std::int64_t>(1, std::min<std::int64_t>(chunks, (n + 1023) / 1024));
  return static_cast<int>(chunks);
}

/// max over local rows of |x(i, j)| for every column j; a non-finite value makes that column +inf.
template <class ExecSpace, class XView>
std::vector<double> column_max_abs(ExecSpace const& space, XView const& x) {
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  Kokkos::View<double*, typename ExecSpace::memory_space> out(Kokkos::view_alloc(space, "kkm::colmax"), d);
  if (n > 0) {
    int const chunks = column_chunks(space, n, d);
    Kokkos::parallel_for(
        "kkm::column_max_abs", Kokkos::TeamPolicy<ExecSpace>(space, d * chunks, Kokkos::AUTO),
        KOKKOS_LAMBDA(member const& t) {
          int const j = t.league_rank() % d;
          int const c = t.league_rank() / d;
          std::int64_t const r0 = n * c / chunks, r1 = n * (c + 1) / chunks;
          double m = 0;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(t, r0, r1),
              [&](std::int64_t i, double& lm) {
                double v = static_cast<double>(x(i, j));
                v = v < 0 ? -v : v;
                if (!(v <= 1.7976931348623157e308)) v = HUGE_VAL;  // NaN and ±inf
                if (v > lm) lm = v;
              },
              Kokkos::Max<double>(m));
          Kokkos::single(Kokkos::PerTeam(t), [&]() { Kokkos::atomic_fetch_max(&out(j), m); });
        });
  }
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  return std::vector<double>(h.data(), h.data() + d);
}

/// The remedy a non-finite-data error names for data of type T: float32 also holds, as infinities,
/// values of float64 files beyond its range.
template <class T>
std::string non_finite_remedy() {
  return sizeof(T) == 4 ? "(clean the data or drop those rows; a float64 file's values beyond float32's range "
                          "(3.4e38) read as infinite: --precision double keeps them)"
                        : "(clean the data or drop those rows)";
}

/// Throws kkm::UserError naming the first non-finite value (global row index) of the local rows.
template <class ExecSpace, class XView>
void report_non_finite(ExecSpace const& space, XView const& x, std::int64_t row_offset) {
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  std::int64_t count = 0;
  Kokkos::parallel_reduce(
      "kkm::count_non_finite", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n * d),
      KOKKOS_LAMBDA(std::int64_t e, std::int64_t& c) {
        double const v = static_cast<double>(x(e / d, e % d));
        if (!(v - v == 0)) ++c;
      },
      count);
  if (count == 0) return;
  Kokkos::MinLoc<std::int64_t, std::int64_t>::value_type first;
  Kokkos::parallel_reduce(
      "kkm::first_non_finite", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n * d),
      KOKKOS_LAMBDA(std::int64_t e, Kokkos::MinLoc<std::int64_t, std::int64_t>::value_type & m) {
        double const v = static_cast<double>(x(e / d, e % d));
        if (!(v - v == 0) && e < m.val) {
          m.val = e;
          m.loc = e;
        }
      },
      Kokkos::MinLoc<std::int64_t, std::int64_t>(first));
  throw UserError("data has " + std::to_string(count) + " NaN or infinite value(s) in rows " +
                  std::to_string(row_offset) + "–" + std::to_string(row_offset + n - 1) + "; the first at row " +
                  std::to_string(row_offset + first.loc / d) + ", column " + std::to_string(first.loc % d) + " " +
                  non_finite_remedy<typename XView::non_const_value_type>());
}

/// Exact (fixed-point) per-column sums of f(i, j) over local rows, with per-column scales.
/// f must be a device callable returning double.
template <class ExecSpace, class F>
std::vector<fixed_t> column_fixed_sums(ExecSpace const& space, std::int64_t n, int d,
                                       Kokkos::View<double const*, typename ExecSpace::memory_space> scale, F f) {
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  Kokkos::View<fixed_t*, typename ExecSpace::memory_space> out(Kokkos::view_alloc(space, "kkm::colsum"), d);
  if (n > 0) {
    int const chunks = column_chunks(space, n, d);
    Kokkos::parallel_for(
        "kkm::column_fixed_sums", Kokkos::TeamPolicy<ExecSpace>(space, d * chunks, Kokkos::AUTO),
        KOKKOS_LAMBDA(member const& t) {
          int const j = t.league_rank() % d;
          int const c = t.league_rank() / d;
          std::int64_t const r0 = n * c / chunks, r1 = n * (c + 1) / chunks;
          fixed_t s = 0;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(t, r0, r1),
              [&](std::int64_t i, fixed_t& ls) { ls += to_fixed(f(i, j), scale(j)); }, s);
          Kokkos::single(Kokkos::PerTeam(t), [&]() { detail::atomic_add(&out(j), s); });
        });
  }
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  return std::vector<fixed_t>(h.data(), h.data() + d);
}

/// x(i, j), and (x(i, j) − mean(j))²: the summands of column_fixed_sums.
template <class XView>
struct ColumnValue {
  XView x;
  KOKKOS_INLINE_FUNCTION double operator()(std::int64_t i, int j) const { return static_cast<double>(x(i, j)); }
};
template <class XView, class Mem>
struct SquaredDeviation {
  XView x;
  Kokkos::View<double*, Mem> mean;
  KOKKOS_INLINE_FUNCTION double operator()(std::int64_t i, int j) const {
    double const t = static_cast<double>(x(i, j)) - mean(j);
    return t * t;
  }
};

template <class WView>
struct WeightIsBad {
  WView w;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, std::int64_t& c) const {
    double const v = static_cast<double>(w(i));
    if (!(v >= 0 && v <= 1.7976931348623157e308)) ++c;
  }
};
template <class WView>
struct FirstBadWeight {
  WView w;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, Kokkos::MinLoc<std::int64_t, std::int64_t>::value_type& m) const {
    double const v = static_cast<double>(w(i));
    if (!(v >= 0 && v <= 1.7976931348623157e308) && i < m.val) {
      m.val = i;
      m.loc = i;
    }
  }
};
template <class WView>
struct WeightFixed {
  WView w;
  double scale;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, fixed_t& a) const { a += to_fixed(static_cast<double>(w(i)), scale); }
};
template <class WView>
struct MaxWeight {
  WView w;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, double& m) const {
    if (static_cast<double>(w(i)) > m) m = static_cast<double>(w(i));
  }
};

/// A hash of the rows in their order, with their weights, that does not depend on how they are
/// split over ranks: each row's values (their bits), its weight and its global index mixed into
/// one word; the words summed modulo 2^64 (any reduction order gives the same sum).
template <class XView, class WView>
struct RowOrderHash {
  XView x;
  WView w;
  std::int64_t row_offset;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, fixed_t& sum) const {
    std::uint64_t h = mix64(static_cast<std::uint64_t>(row_offset + i) + 0x9e3779b97f4a7c15ULL);
    for (int j = 0; j < static_cast<int>(x.extent(1)); ++j) h = mix64(h ^ value_bits(x(i, j)));
    if (w.extent(0) > 0) h = mix64(h ^ value_bits(w(i)));
    sum += h;
  }
};

/// The smallest weight (for Kokkos::Min), or the smallest positive one.
template <class WView>
struct MinWeight {
  WView w;
  bool positive_only;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, double& m) const {
    double const v = static_cast<double>(w(i));
    if (v < m && (v > 0 || !positive_only)) m = v;
  }
};

}  // namespace kkm::detail
