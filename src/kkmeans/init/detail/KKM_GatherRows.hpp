#pragma once
/// \file KKM_GatherRows.hpp
/// \brief Rows chosen by global index, made identical on every rank: each rank copies the rows it
/// owns into a device buffer (zeros elsewhere) in one launch; with several ranks the buffer goes to
/// the host once and is summed over ranks (one owner per row, zeros elsewhere: exact).
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_RowSource.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

namespace kkm::detail {

template <class T>
using HostMatrix = Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::HostSpace>;

template <class Mem, class T>
struct GatherOwned {
  Kokkos::View<T const**, Kokkos::LayoutRight, Mem> x;
  Kokkos::View<std::int64_t const*, Mem> rows;  // global indices
  Kokkos::View<compute_t<T>**, Kokkos::LayoutRight, Mem> out;  // (16-bit rows: widened)
  std::int64_t offset;
  KOKKOS_INLINE_FUNCTION void operator()(int r, int j) const {
    std::int64_t const local = rows(r) - offset;
    out(r, j) = (local >= 0 && local < std::int64_t(x.extent(0))) ? compute_t<T>(x(local, j)) : compute_t<T>(0);
  }
};

/// The rows a rank owns of `rows` (global indices) read on the host from host_rows (n × d, the
/// rank's rows), widened to the compute type; zeros for the others'. Read in ascending order, so
/// that rows a source keeps in one block follow each other.
template <class T>
HostMatrix<compute_t<T>> gather_on_host(RowsOnHost<T> const& host_rows, std::int64_t n, int d,
                                        std::vector<std::int64_t> const& rows, std::int64_t row_offset) {
  HostMatrix<compute_t<T>> h("kkm::gathered_rows", rows.size(), d);
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return rows[a] < rows[b]; });
  std::vector<T> row(d);
  for (std::size_t r : order) {
    std::int64_t const local = rows[r] - row_offset;
    if (local < 0 || local >= n) continue;
    host_rows.read(local, local + 1, d, row.data());
    for (int j = 0; j < d; ++j) h(r, j) = compute_t<T>(row[j]);
  }
  return h;
}

/// h summed over the ranks, through double (each row has one owner and zeros elsewhere: exact);
/// nothing on one rank.
template <class C>
void sum_over_ranks(HostMatrix<C> const& h, Communicator const& comm) {
  if (!comm.is_distributed()) return;
  std::size_t const m = h.extent(0), d = h.extent(1);
  std::vector<double> buf(m * d);
  for (std::size_t r = 0; r < m; ++r)
    for (std::size_t j = 0; j < d; ++j) buf[r * d + j] = static_cast<double>(h(r, j));
  comm.allreduce_sum(buf.data(), buf.size());
  for (std::size_t r = 0; r < m; ++r)
    for (std::size_t j = 0; j < d; ++j) h(r, j) = static_cast<C>(buf[r * d + j]);
}

/// out(r, :) = global row rows[r] for r < rows.size(); out has at least rows.size() rows, and rows
/// past them are left as they are. On return `out` holds the same values on every rank. host_rows:
/// x's rows on the host where the device may not read them in place (DataIn::file), else none: a
/// kernel reads x.
template <class ExecSpace, class T>
void gather_rows_into(ExecSpace const& space,
                      Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                      std::vector<std::int64_t> const& rows, std::int64_t row_offset, Communicator const& comm,
                      Kokkos::View<compute_t<T>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> out,
                      RowsOnHost<T> const& host_rows = {}) {
  using mem = typename ExecSpace::memory_space;
  int const m = rows.size();
  int const d = x.extent(1);
  if (m == 0) return;
  auto const mine = Kokkos::subview(out, Kokkos::make_pair(0, m), Kokkos::ALL());
  HostMatrix<compute_t<T>> h;
  if (host_rows) {
    h = gather_on_host(host_rows, x.extent(0), d, rows, row_offset);
  } else {
    using HostIndices = Kokkos::View<std::int64_t const*, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>;
    Kokkos::View<std::int64_t*, mem> rows_d(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::gather_rows"),
                                            m);
    Kokkos::deep_copy(space, rows_d, HostIndices(rows.data(), m));
    Kokkos::parallel_for("kkm::gather_rows", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>(space, {0, 0}, {m, d}),
                         GatherOwned<mem, T>{x, rows_d, mine, row_offset});
    if (!comm.is_distributed()) return;
    h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), mine);
  }
  sum_over_ranks(h, comm);
  Kokkos::deep_copy(space, mine, h);
  space.fence();  // (h is freed on return)
}

/// The rows with the given global indices, on every rank (rows.size() × d on the host, in the
/// compute type); host_rows as gather_rows_into's.
template <class ExecSpace, class T>
HostMatrix<compute_t<T>> gather_rows(ExecSpace const& space,
                                     Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                                     std::vector<std::int64_t> const& rows, std::int64_t row_offset,
                                     Communicator const& comm, RowsOnHost<T> const& host_rows = {}) {
  Kokkos::View<compute_t<T>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> out(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::gathered_rows"), rows.size(), x.extent(1));
  gather_rows_into(space, x, rows, row_offset, comm, out, host_rows);
  HostMatrix<compute_t<T>> h("kkm::gathered_rows", rows.size(), x.extent(1));
  Kokkos::deep_copy(space, h, out);
  space.fence();
  return h;
}

}  // namespace kkm::detail
