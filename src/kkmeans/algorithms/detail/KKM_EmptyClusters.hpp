#pragma once
/// \file KKM_EmptyClusters.hpp
/// \brief What happens to clusters that attracted no row in an epoch (Parameters::empty): drop
/// them and renumber the labels, split the largest cluster (FAISS), or move them to the farthest
/// rows (scikit-learn). `keep` needs nothing.
#include <kkmeans/algorithms/KKM_Predict.hpp>
#include <kkmeans/algorithms/detail/KKM_RowStream.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/init/KKM_Init.hpp>
#include <kkmeans/kernels/KKM_RowDistances.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>
#include <kkmeans/parallel/KKM_DataSummary.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace kkm::detail {

/// labels(i) ← remap(labels(i)) after empty clusters were dropped (negative labels: unassigned, kept).
template <class Mem>
struct Relabel {
  Kokkos::View<int*, Mem> labels;
  Kokkos::View<int*, Mem> remap;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    int const l = labels(i);
    labels(i) = l >= 0 ? remap(l) : l;
  }
};

/// EmptyPolicy::farthest (scikit-learn's relocation): each empty cluster takes one of the rows
/// farthest from their centroids (a global top-m; ties → lower global index; rows of weight 0 are
/// skipped), and that row's contribution moves from its old cluster's sums to the empty one's, exactly
/// (fixed point). Returns the rows taken (in the compute type), for the median update. Rows on the
/// host: `stream` brings them for the distances, and where the device may not read them in place
/// (`unaddressable`, DataIn::file) the rows taken are read on the host.
template <class ExecSpace, class T, class CView, class Metric>
std::vector<std::pair<int, std::vector<compute_t<T>>>> relocate_farthest(
    ExecSpace const& space, DeviceMatrix<ExecSpace, T> x, CView c_d,
    Kokkos::View<int*, typename ExecSpace::memory_space> labels, Metric const& metric,
    Kokkos::View<compute_t<T> const*, typename ExecSpace::memory_space> w, DataSummary const& s,
    Communicator const& comm, int k, std::vector<std::int64_t>& counts, std::vector<fixed_t>& buf,
    RowStream<ExecSpace, T>* stream = nullptr, RowsOnHost<T> const& unaddressable = {}) {
  using mem = typename ExecSpace::memory_space;
  using C = compute_t<T>;
  int const d = x.extent(1);
  std::int64_t const n = x.extent(0);
  std::vector<int> empties;
  for (int c = 0; c < k; ++c)
    if (counts[c] == 0) empties.push_back(c);
  int const m = empties.size();
  Kokkos::View<C**, Kokkos::LayoutRight, mem> c(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::c_old"), k, d);
  Kokkos::deep_copy(space, c, c_d);
  auto const dist_d = distances_of_rows(space, x, stream, c, labels, metric);
  auto dist = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dist_d);
  auto lab = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), labels);
  auto wh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w);
  auto weight = [&](std::int64_t i) { return row_weight(wh, i); };
  std::vector<std::int64_t> idx;
  for (std::int64_t i = 0; i < n; ++i)
    if (weight(i) > 0) idx.push_back(i);
  auto before = [&](std::int64_t a, std::int64_t b) { return dist(a) > dist(b) || (dist(a) == dist(b) && a < b); };
  std::size_t const take = std::min<std::size_t>(m, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + take, idx.end(), before);
  // Every rank's candidates travel bit for bit: each owns slots, the others add zeros.
  int const P = comm.size();
  std::vector<double> slots(std::size_t(P) * m * 4, 0.0);
  for (int t = 0; t < m; ++t) {
    double* e = &slots[(std::size_t(comm.rank()) * m + t) * 4];
    if (std::size_t(t) < take) {
      e[0] = dist(idx[t]);
      e[1] = double(s.row_offset + idx[t]);
      e[2] = lab(idx[t]);
      e[3] = weight(idx[t]);
    } else {
      e[0] = -1;  // no candidate
    }
  }
  comm.allreduce_sum(slots.data(), slots.size());
  std::vector<std::array<double, 4>> all;
  for (std::size_t e = 0; e < std::size_t(P) * m; ++e)
    if (slots[e * 4] >= 0) all.push_back({slots[e * 4], slots[e * 4 + 1], slots[e * 4 + 2], slots[e * 4 + 3]});
  std::sort(all.begin(), all.end(), [](auto const& a, auto const& b) { return a[0] > b[0] || (a[0] == b[0] && a[1] < b[1]); });
  if (all.size() > std::size_t(m)) all.resize(m);
  std::vector<std::int64_t> rows;
  for (auto const& a : all) rows.push_back(static_cast<std::int64_t>(a[1]));
  auto values = gather_rows(space, Kokkos::View<T const**, Kokkos::LayoutRight, mem>(x), rows, s.row_offset, comm,
                            unaddressable);
  std::vector<std::pair<int, std::vector<C>>> moved;
  for (std::size_t t = 0; t < all.size(); ++t) {
    int const e = empties[t], old = static_cast<int>(all[t][2]);
    double const wt = all[t][3];
    fixed_t const wf = s.weighted ? to_fixed(wt, s.weight_scale) : fixed_t(1);
    std::vector<C> row(d);
    for (int j = 0; j < d; ++j) {
      row[j] = values(t, j);
      fixed_t const q = to_fixed(wt * static_cast<double>(row[j]), s.scale[j]);
      buf[std::size_t(old) * d + j] -= q;
      buf[std::size_t(e) * d + j] = q;
    }
    counts[old] -= static_cast<std::int64_t>(wf);
    counts[e] = static_cast<std::int64_t>(wf);
    moved.push_back({e, std::move(row)});
  }
  return moved;
}

/// EmptyPolicy::split (FAISS): each empty cluster takes half of the currently largest one (ties →
/// lower index), the two centroids pushed apart by a factor 1 ± 1/1024 alternating over columns.
template <class T>
int split_largest(std::vector<T>& next, std::vector<std::int64_t>& counts, int k, int d) {
  constexpr double eps = 1.0 / 1024;
  int moved = 0;
  for (int e = 0; e < k; ++e) {
    if (counts[e] != 0) continue;
    int big = 0;
    for (int c = 1; c < k; ++c)
      if (counts[c] > counts[big]) big = c;
    if (counts[big] == 0) break;
    for (int j = 0; j < d; ++j) {
      double const v = next[std::size_t(big) * d + j];
      double const up = v * (1 + eps), down = v * (1 - eps);
      next[std::size_t(e) * d + j] = static_cast<T>(j % 2 == 0 ? up : down);
      next[std::size_t(big) * d + j] = static_cast<T>(j % 2 == 0 ? down : up);
    }
    counts[e] = counts[big] / 2;
    counts[big] -= counts[e];
    ++moved;
  }
  return moved;
}

}  // namespace kkm::detail
