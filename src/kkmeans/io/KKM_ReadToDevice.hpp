#pragma once
/// \file KKM_ReadToDevice.hpp
/// \brief A rank's rows of an HDF5 dataset straight into the memory its kernels use.
///
/// Host memory: one read into the View itself (no staging vector, no second copy). Device memory:
/// blocks of rows are read into two pinned host buffers in turn, each copied to the device
/// asynchronously while the next block is read, so reading and copying overlap and the pageable
/// staging copy of a plain deep_copy disappears.
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/io/KKM_HDF5.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace kkm::io {

/// Rows [row0, row0 + count) of `ref` (converted to T by HDF5 where the file holds another type) in
/// a View in memory space `Mem` (default: ExecSpace's; the host memory a device streams from, too),
/// copied there on `space`. Collective over comm as RowReader. block_bytes: the size of each staging
/// buffer; 0: none where the host can write the View itself, else 128 MiB (16-bit rows: always
/// blocks of 32 MiB, whose values a conversion from another type reads as double first).
template <class ExecSpace, class T, class Mem = typename ExecSpace::memory_space>
Kokkos::View<T**, Kokkos::LayoutRight, Mem> read_to_space(ExecSpace const& space, DatasetRef const& ref,
                                                           DatasetInfo const& info, std::int64_t row0,
                                                           std::int64_t count, Communicator const& comm,
                                                           std::size_t block_bytes = 0) {
  using mem = Mem;
  Kokkos::View<T**, Kokkos::LayoutRight, mem> x(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::data"), count,
                                                info.cols);
  constexpr bool host_writable = Kokkos::SpaceAccessibility<Kokkos::HostSpace, mem>::accessible;
  if (block_bytes == 0 && is_16_bit_v<T>) block_bytes = std::size_t(32) << 20;
  if (block_bytes == 0 && !host_writable) block_bytes = std::size_t(128) << 20;
  RowReader reader(ref, info, comm);
  if (block_bytes == 0) {
    reader.read(row0, count, x.data());
  } else {
    std::int64_t const cols = std::max<std::int64_t>(1, info.cols);
    std::int64_t const block = std::max<std::int64_t>(1, static_cast<std::int64_t>(block_bytes / (cols * sizeof(T))));
    // Every rank reads as many blocks as the rank with the most (collective reads).
    std::int64_t blocks = (count + block - 1) / block;
    comm.allreduce_max(&blocks, 1);
    using Staging = Kokkos::View<T**, Kokkos::LayoutRight, detail::staging_space_t<ExecSpace>>;
    Staging buf[2] = {Staging(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::read_staging0"), std::min(block, count), info.cols),
                      Staging(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::read_staging1"), std::min(block, count), info.cols)};
    detail::StreamMarks<ExecSpace> copied;
    for (std::int64_t b = 0; b < blocks; ++b) {
      std::int64_t const r0 = std::min(count, b * block), n = std::min(count - r0, block);
      int const s = b % 2;
      if (b >= 2) copied.wait(space, s);  // the copy out of this buffer two blocks ago is done
      reader.read(row0 + r0, n, buf[s].data());
      if (n == 0) continue;
      Kokkos::deep_copy(space, Kokkos::subview(x, std::make_pair(r0, r0 + n), Kokkos::ALL()),
                        Kokkos::subview(buf[s], std::make_pair(std::int64_t(0), n), Kokkos::ALL()));
      copied.record(space, s);
    }
    space.fence();
  }
  reader.finish();
  return x;
}

}  // namespace kkm::io
