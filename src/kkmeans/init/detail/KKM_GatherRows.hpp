#pragma once
/// \file KKM_GatherRows.hpp
/// \brief Rows chosen by global index, made identical on every rank: each rank copies the rows it
/// owns into a device buffer (zeros elsewhere) in one launch; with several ranks the buffer goes to
/// the host once and is summed over ranks (one owner per row, zeros elsewhere: exact).
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
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

/// out(r, :) = global row rows[r] for r < rows.size(); out has at least rows.size() rows, and rows
/// past them are left as they are. On return `out` holds the same values on every rank.
template <class ExecSpace, class T>
void gather_rows_into(ExecSpace const& space,
                      Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                      std::vector<std::int64_t> const& rows, std::int64_t row_offset, Communicator const& comm,
                      Kokkos::View<compute_t<T>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> out) {
  using mem = typename ExecSpace::memory_space;
  int const m = rows.size();
  int const d = x.extent(1);
  if (m == 0) return;
  Kokkos::View<std::int64_t*, mem> rows_d(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::gather_rows"), m);
  Kokkos::deep_copy(space, rows_d, Kokkos::View<std::int64_t const*, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>(rows.data(), m));
  auto const mine = Kokkos::subview(out, Kokkos::make_pair(0, m), Kokkos::ALL());
  Kokkos::parallel_for("kkm::gather_rows", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>(space, {0, 0}, {m, d}),
                       GatherOwned<mem, T>{x, rows_d, mine, row_offset});
  if (!comm.is_distributed()) return;
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), mine);
  std::vector<double> buf(std::size_t(m) * d);
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < d; ++j) buf[std::size_t(r) * d + j] = static_cast<double>(h(r, j));
  comm.allreduce_sum(buf.data(), buf.size());
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < d; ++j) h(r, j) = static_cast<compute_t<T>>(buf[std::size_t(r) * d + j]);
  Kokkos::deep_copy(space, mine, h);
}

/// The rows with the given global indices, on every rank (rows.size() × d on the host, in the
/// compute type).
template <class ExecSpace, class T>
HostMatrix<compute_t<T>> gather_rows(ExecSpace const& space,
                                     Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                                     std::vector<std::int64_t> const& rows, std::int64_t row_offset,
                                     Communicator const& comm) {
  Kokkos::View<compute_t<T>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> out(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::gathered_rows"), rows.size(), x.extent(1));
  gather_rows_into(space, x, rows, row_offset, comm, out);
  HostMatrix<compute_t<T>> h("kkm::gathered_rows", rows.size(), x.extent(1));
  Kokkos::deep_copy(space, h, out);
  space.fence();
  return h;
}

}  // namespace kkm::detail
