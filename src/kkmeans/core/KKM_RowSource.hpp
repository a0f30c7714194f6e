#pragma once
/// \file KKM_RowSource.hpp
/// \brief Rows a fit or predict reads by range instead of at an address (data_in = file where the
/// rows cannot be mapped: an HDF5 dataset stored in chunks, compressed, or as another type, each
/// read a hyperslab), and the handle the engine passes for rows it reads on the host: an address or
/// such a source.
#include <kkmeans/core/KKM_Error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kkm {

/// Rows read a range at a time into memory the caller owns. The engine calls read() from one thread
/// at a time (not always the same one: a stream reads on a thread of its own while the caller's
/// kernels run) and never between a stream's passes, when the caller may use the same file itself.
template <class T>
class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual std::int64_t rows() const = 0;
  virtual int cols() const = 0;
  /// Rows [r0, r1) into out ((r1 − r0) × cols(), row-major). Throws (UserError) naming what failed.
  virtual void read(std::int64_t r0, std::int64_t r1, T* out) = 0;
  /// The rows reads are best cut at multiples of (an HDF5 chunk's rows: a read that ends inside a
  /// chunk decodes it again for the next).
  virtual std::int64_t block_rows() const { return 1; }
};

namespace detail {

/// The rows the engine reads on the host, `cols` values a row: at a host address, or through a
/// RowSource; neither (false) where kernels read the rows in place.
template <class T>
class RowsOnHost {
 public:
  RowsOnHost() = default;
  RowsOnHost(T const* address) : address_(address) {}  // (implicit: nullptr and addresses convert)
  explicit RowsOnHost(RowSource<T>& source) : source_(&source) {}

  explicit operator bool() const { return address_ != nullptr || source_ != nullptr; }
  /// The host address of the rows, or nullptr where a source reads them.
  T const* address() const { return address_; }
  /// The rows a read is best cut at multiples of.
  std::int64_t block_rows() const { return source_ ? std::max<std::int64_t>(1, source_->block_rows()) : 1; }

  /// Rows [r0, r1) of `cols` values into out.
  void read(std::int64_t r0, std::int64_t r1, int cols, T* out) const {
    KKM_ASSERT(*this);
    if (source_) return source_->read(r0, r1, out);
    std::memcpy(out, address_ + std::size_t(r0) * cols, std::size_t(r1 - r0) * cols * sizeof(T));
  }

 private:
  T const* address_ = nullptr;
  RowSource<T>* source_ = nullptr;
};

}  // namespace detail
}  // namespace kkm
