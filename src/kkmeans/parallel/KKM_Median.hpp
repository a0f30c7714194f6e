#pragma once
/// \file KKM_Median.hpp
/// \brief Exact distributed coordinate-wise medians per cluster (the k-medians update of the
/// Manhattan metric), by radix selection on the order-preserving integer image of the values:
/// one pass over the local rows per byte of the value type (4 for float, 8 for double), each pass
/// building per-(cluster, column) histograms of 256 bins that are allreduced; the selected byte is
/// then fixed for every (cluster, column) at once. Counting is exact, so the result is the same on
/// any number of ranks and threads. The median of n values is the lower median, the value of rank
/// ⌊(n − 1)/2⌋ in ascending order: any value between the two middle ones minimises Σ|x − c|.
/// Memory: k·d·256 counters. Rows on the host stream through the device once a pass.
#include <kkmeans/algorithms/detail/KKM_RowStream.hpp>
#include <kkmeans/core/KKM_Atomic.hpp>
#include <kkmeans/kernels/KKM_Columns.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace kkm::detail {

template <class T>
using key_type_t = std::conditional_t<sizeof(T) == 2, std::uint16_t,
                                      std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;

/// Monotone map from T to unsigned: a < b ⇔ key(a) < key(b) (for non-NaN values; −0 < +0).
template <class T>
KOKKOS_INLINE_FUNCTION key_type_t<T> ordered_key(T v) {
  using K = key_type_t<T>;
  K u;
  memcpy(&u, &v, sizeof(T));
  K const sign = K(K(1) << (8 * sizeof(T) - 1));
  return (u & sign) ? K(~u) : K(u | sign);
}

template <class T>
inline T from_ordered_key(key_type_t<T> k) {
  using K = key_type_t<T>;
  K const sign = K(K(1) << (8 * sizeof(T) - 1));
  K const u = (k & sign) ? K(k & ~sign) : K(~k);
  T v;
  std::memcpy(&v, &u, sizeof(T));
  return v;
}

/// One pass of the radix selection over rows [r0, r0 + x.extent(0)): each row's keys that agree
/// with the bytes chosen so far counted in the histogram of their (cluster, column).
template <class Mem, class T>
struct MedianHistogram {
  using K = key_type_t<T>;
  Kokkos::View<int const*, Mem> labels;
  Kokkos::View<compute_t<T> const*, Mem> w;
  Kokkos::View<K*, Mem> prefix;
  Kokkos::View<fixed_t*, Mem> hist;
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> x;  // the rows from r0 on
  std::int64_t r0;
  int d, pass, shift;
  double wscale;

  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    int const c = labels(i);
    for (int j = 0; j < d; ++j) {
      K const key = ordered_key(x(i - r0, j));
      std::size_t const cj = std::size_t(c) * d + j;
      // Only keys that agree with the bytes already chosen take part.
      bool const match = pass == 0 || ((key ^ prefix(cj)) >> (shift + 8)) == 0;
      if (match) detail::atomic_add(&hist(cj * 256 + ((key >> shift) & 0xff)), fixed_count(w, i, wscale));
    }
  }
};

/// Medians of the rows of each cluster. counts: global rows per cluster, or with sample weights
/// `w` the clusters' weight sums in fixed point (scale wscale); the weighted lower median is the
/// smallest value whose cumulative weight reaches half the cluster's (clusters with count 0 are
/// left as they are in `out`). out: k × d host array, row-major, in the compute type (16-bit rows:
/// their medians are found on their own 16-bit keys, two passes, then widened). `stream`: the rows
/// streamed through the device chunk by chunk (rows on the host), or none: x is read in place.
template <class ExecSpace, class T>
void cluster_medians(ExecSpace const& space,
                     Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                     Kokkos::View<int const*, typename ExecSpace::memory_space> labels, int k,
                     std::vector<std::int64_t> const& counts, Communicator const& comm,
                     std::vector<compute_t<T>>& out,
                     Kokkos::View<compute_t<T> const*, typename ExecSpace::memory_space> w = {},
                     double wscale = 1, RowStream<ExecSpace, T>* stream = nullptr) {
  using K = key_type_t<T>;
  using mem = typename ExecSpace::memory_space;
  int const d = x.extent(1);
  std::size_t const kd = std::size_t(k) * d;
  std::vector<K> prefix(kd, 0);
  std::vector<std::int64_t> rank(kd);
  for (int c = 0; c < k; ++c)
    for (int j = 0; j < d; ++j) rank[std::size_t(c) * d + j] = counts[c] > 0 ? (counts[c] - 1) / 2 : 0;

  Kokkos::View<fixed_t*, mem> hist(Kokkos::view_alloc(space, "kkm::median_hist"), kd * 256);
  Kokkos::View<K*, mem> prefix_d(Kokkos::view_alloc(space, "kkm::median_prefix"), kd);
  auto hist_h = Kokkos::create_mirror_view(hist);
  auto prefix_h = Kokkos::create_mirror_view(prefix_d);

  for (int pass = 0; pass < int(sizeof(T)); ++pass) {
    int const shift = 8 * (int(sizeof(T)) - 1 - pass);
    for (std::size_t e = 0; e < kd; ++e) prefix_h(e) = prefix[e];
    Kokkos::deep_copy(space, prefix_d, prefix_h);
    zero_fill(space, hist);
    MedianHistogram<mem, T> const count{labels, w, prefix_d, hist, {}, 0, d, pass, shift, wscale};
    for_each_row_range(x, stream, [&](DeviceMatrix<ExecSpace, T> rows, std::int64_t r0, std::int64_t r1) {
      MedianHistogram<mem, T> chunk = count;
      chunk.x = rows;
      chunk.r0 = r0;
      Kokkos::parallel_for("kkm::median_histogram",
                           Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, r0, r1), chunk);
    });
    Kokkos::deep_copy(space, hist_h, hist);
    space.fence();
    comm.allreduce_sum(hist_h.data(), kd * 256);
    for (std::size_t cj = 0; cj < kd; ++cj) {
      std::int64_t below = 0;
      for (int b = 0; b < 256; ++b) {
        auto const h = static_cast<std::int64_t>(hist_h(cj * 256 + b));
        if (rank[cj] < below + h) {
          prefix[cj] |= K(b) << shift;
          rank[cj] -= below;
          break;
        }
        below += h;
      }
    }
  }
  for (int c = 0; c < k; ++c)
    if (counts[c] > 0)
      for (int j = 0; j < d; ++j) out[std::size_t(c) * d + j] =
            static_cast<compute_t<T>>(from_ordered_key<T>(prefix[std::size_t(c) * d + j]));
}

}  // namespace kkm::detail
