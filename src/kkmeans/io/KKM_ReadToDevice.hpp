#pragma once
/// \file KKM_ReadToDevice.hpp
/// \brief A rank's rows of an HDF5 dataset straight into the memory its kernels use.
///
/// Host memory: one read into the View itself (no staging vector, no second copy). Device memory:
/// blocks of rows are read into two pinned host buffers in turn, each copied to the device
/// asynchronously while the next block is read, so reading and copying overlap and the pageable
/// staging copy of a plain deep_copy disappears. A contiguous dataset stored as the rows' type is
/// mapped from its file and copied by several threads (ParallelCopy) instead of read by HDF5 with
/// one: the same bytes (MappedRows checks them against HDF5's reads), several times the rate from
/// the page cache. Values stored as another type than the rows' are
/// read as stored and converted by the device's kernels (HDF5's conversion runs on one host core,
/// some types value by value), with C++'s conversion, which is HDF5's: round to nearest, ±inf past
/// float's range.
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_ParallelCopy.hpp>
#include <kkmeans/io/KKM_HDF5.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace kkm::io {
namespace detail {

/// Calls f(S{}) with S the C++ type of a dataset's stored type (DatasetInfo::type) and returns
/// true; false for a type it does not know.
template <class F>
bool with_stored_type(std::string const& type, F&& f) {
  if (type == "int8") f(std::int8_t{});
  else if (type == "uint8") f(std::uint8_t{});
  else if (type == "int16") f(std::int16_t{});
  else if (type == "uint16") f(std::uint16_t{});
  else if (type == "int32") f(std::int32_t{});
  else if (type == "uint32") f(std::uint32_t{});
  else if (type == "int64") f(std::int64_t{});
  else if (type == "uint64") f(std::uint64_t{});
  else if (type == "float16") f(float16{});
  else if (type == "bfloat16") f(bfloat16{});
  else if (type == "float32") f(float{});
  else if (type == "float64") f(double{});
  else return false;
  return true;
}

/// out[i] = values[i] converted from S to T (16-bit floats through float, which holds them exactly).
template <class S, class T>
struct ConvertValues {
  S const* values;
  T* out;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    if constexpr (is_16_bit_v<S>)
      out[i] = static_cast<T>(static_cast<float>(values[i]));
    else
      out[i] = static_cast<T>(values[i]);
  }
};

/// The two-buffer pipeline of a blocked read of `count` rows of `cols` values of U: for each block
/// of up to `block` rows, read(r0, n, buffer) fills one of two host buffers and land(r0, n, buffer)
/// queues its copy (and any work on it) on `space`; a buffer is refilled only once the copy out of
/// it two blocks ago has landed. Every rank runs `blocks` steps (collective reads: n may be 0).
template <class U, class ExecSpace, class Read, class Land>
void staged_blocks(ExecSpace const& space, std::int64_t count, std::int64_t cols, std::int64_t block,
                   std::int64_t blocks, Read&& read, Land&& land) {
  using Staging = Kokkos::View<U*, kkm::detail::staging_space_t<ExecSpace>>;
  std::size_t const values = std::size_t(std::min(block, count)) * std::size_t(cols);
  Staging buf[2] = {Staging(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::read_staging0"), values),
                    Staging(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::read_staging1"), values)};
  kkm::detail::StreamMarks<ExecSpace> copied;
  for (std::int64_t b = 0; b < blocks; ++b) {
    std::int64_t const r0 = std::min(count, b * block), n = std::min(count - r0, block);
    int const s = b % 2;
    if (b >= 2) copied.wait(space, s);  // the copy out of this buffer two blocks ago is done
    read(r0, n, buf[s].data());
    if (n == 0) continue;
    land(r0, n, buf[s]);
    copied.record(space, s);
  }
}

/// Rows [row0, row0 + count) of the reader's dataset, stored as S, into x (count × cols of T), in
/// blocks of `block` rows: each read as stored, copied to the kernels' memory while the next is
/// read, and converted there.
template <class S, class ExecSpace, class T, class Mem>
void read_converted(ExecSpace const& space, RowReader& reader, Kokkos::View<T**, Kokkos::LayoutRight, Mem> const& x,
                    std::int64_t row0, std::int64_t count, std::int64_t block, std::int64_t blocks) {
  std::int64_t const cols = x.extent(1);
  // (one buffer in the kernels' memory: its copies and conversions are ordered on `space`)
  Kokkos::View<S*, Mem> stored(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::stored_rows"),
                               std::size_t(std::min(block, count)) * std::size_t(cols));
  staged_blocks<S>(
      space, count, cols, block, blocks, [&](std::int64_t r0, std::int64_t n, S* buf) { reader.read_stored(row0 + r0, n, buf); },
      [&](std::int64_t r0, std::int64_t n, auto const& buf) {
        auto const part = std::make_pair(std::size_t(0), std::size_t(n) * std::size_t(cols));
        Kokkos::deep_copy(space, Kokkos::subview(stored, part), Kokkos::subview(buf, part));
        Kokkos::parallel_for("kkm::convert_rows",
                             Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, part.second),
                             ConvertValues<S, T>{stored.data(), x.data() + std::size_t(r0) * std::size_t(cols)});
      });
}

/// The rows of x, in blocks of `block` rows: read(r0, n, buffer) puts x's rows [r0, r0 + n) into a
/// host buffer, which is copied to x's memory while the next is read.
template <class ExecSpace, class T, class Mem, class Read>
void read_in_blocks(ExecSpace const& space, Kokkos::View<T**, Kokkos::LayoutRight, Mem> const& x, std::int64_t block,
                    std::int64_t blocks, Read&& read) {
  std::int64_t const count = x.extent(0), cols = x.extent(1);
  staged_blocks<T>(
      space, count, cols, block, blocks, read,
      [&](std::int64_t r0, std::int64_t n, auto const& buf) {
        auto const part = std::make_pair(std::size_t(0), std::size_t(n) * std::size_t(cols));
        auto const rows = Kokkos::subview(x, std::make_pair(r0, r0 + n), Kokkos::ALL());
        Kokkos::deep_copy(space, Kokkos::View<T*, Mem, Kokkos::MemoryUnmanaged>(rows.data(), part.second),
                          Kokkos::subview(buf, part));
      });
}

/// Rows [row0, row0 + count) mapped from the file where the dataset is contiguous and stored as T
/// (MappedRows), on every rank; else nullptr on every rank (RowReader reads, collectively).
template <class T>
std::unique_ptr<MappedRows<T>> map_if_stored_as(DatasetRef const& ref, DatasetInfo const& info, std::int64_t row0,
                                                std::int64_t count, Communicator const& comm) {
  std::unique_ptr<MappedRows<T>> mapped;
  if (info.type == scalar_name<T>() && row0 >= 0 && count >= 0 && row0 + count <= info.rows &&
      why_not_mappable<T>(ref).empty()) {
    try {
      mapped = std::make_unique<MappedRows<T>>(ref, info, row0, count);
    } catch (std::exception const&) {  // (not mappable after all: HDF5 reads it)
      mapped.reset();
    }
  }
  if (comm.any(mapped == nullptr)) mapped.reset();
  return mapped;
}

}  // namespace detail

/// Rows [row0, row0 + count) of `ref` in a View in memory space `Mem` (default: ExecSpace's; the
/// host memory a device streams from, too), copied there on `space`. Collective over comm as
/// RowReader. block_bytes: the size of each staging buffer; 0: none where the host can write the
/// View itself (HDF5 converts other stored types), else 128 MiB (16-bit rows: always blocks of
/// 32 MiB, which the reader rounds from other types). With staging buffers, other stored types are
/// converted by the kernels.
template <class ExecSpace, class T, class Mem = typename ExecSpace::memory_space>
Kokkos::View<T**, Kokkos::LayoutRight, Mem> read_to_space(ExecSpace const& space, DatasetRef const& ref,
                                                           DatasetInfo const& info, std::int64_t row0,
                                                           std::int64_t count, Communicator const& comm,
                                                           std::size_t block_bytes = 0) {
  Kokkos::View<T**, Kokkos::LayoutRight, Mem> x(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::data"), count,
                                                info.cols);
  constexpr bool host_writable = Kokkos::SpaceAccessibility<Kokkos::HostSpace, Mem>::accessible;
  std::int64_t const cols = std::max<std::int64_t>(1, info.cols);
  if (auto const mapped = detail::map_if_stored_as<T>(ref, info, row0, count, comm)) {
    kkm::detail::ParallelCopy copy(kkm::detail::ParallelCopy::default_threads());
    std::size_t const row_bytes = std::size_t(info.cols) * sizeof(T);
    auto const copy_rows = [&](std::int64_t r0, std::int64_t n, T* out) {
      copy(out, mapped->rows() + std::size_t(r0) * std::size_t(info.cols), std::size_t(n) * row_bytes);
    };
    if (block_bytes == 0 && host_writable) {
      copy_rows(0, count, x.data());
      return x;
    }
    std::size_t const staging = block_bytes > 0 ? block_bytes : std::size_t(128) << 20;
    std::int64_t const block = std::max<std::int64_t>(1, static_cast<std::int64_t>(staging / (cols * sizeof(T))));
    detail::read_in_blocks(space, x, block, (count + block - 1) / block, copy_rows);
    space.fence();
    return x;
  }
  if (block_bytes == 0 && is_16_bit_v<T>) block_bytes = std::size_t(32) << 20;
  if (block_bytes == 0 && !host_writable) block_bytes = std::size_t(128) << 20;
  RowReader reader(ref, info, comm);
  if (block_bytes == 0) {
    reader.read(row0, count, x.data());
    reader.finish();
    return x;
  }
  bool const convert = !is_16_bit_v<T> && info.type != scalar_name<T>();
  std::size_t const value_bytes = std::max(sizeof(T), convert ? reader.stored_bytes() : sizeof(T));
  std::int64_t const block = std::max<std::int64_t>(1, static_cast<std::int64_t>(block_bytes / (cols * value_bytes)));
  // Every rank reads as many blocks as the rank with the most (collective reads).
  std::int64_t blocks = (count + block - 1) / block;
  comm.allreduce_max(&blocks, 1);
  bool converted = false;
  if constexpr (!is_16_bit_v<T>)
    if (convert)
      converted = detail::with_stored_type(info.type, [&](auto s) {
        detail::read_converted<decltype(s)>(space, reader, x, row0, count, block, blocks);
      });
  if (!converted)
    detail::read_in_blocks(space, x, block, blocks,
                           [&](std::int64_t r0, std::int64_t n, T* buf) { reader.read(row0 + r0, n, buf); });
  space.fence();
  reader.finish();
  return x;
}

}  // namespace kkm::io
