// Rows of a deflate-compressed chunked dataset inflated on several threads (KKM_HDF5Inflate.hpp).
#include <kkmeans/io/detail/KKM_HDF5Inflate.hpp>

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace kkm::io::detail {

namespace {

/// The filters of `dcpl` if they are deflate and at most a shuffle before it: their places in the
/// pipeline (deflate's, shuffle's or −1); false for any other pipeline.
bool deflate_pipeline(hid_t dcpl, int& deflate, int& shuffle) {
  int const count = H5Pget_nfilters(dcpl);
  deflate = shuffle = -1;
  for (int f = 0; f < count; ++f) {
    unsigned flags = 0, config = 0;
    std::size_t values = 0;
    char name[64];
    H5Z_filter_t const id = H5Pget_filter2(dcpl, unsigned(f), &flags, &values, nullptr, sizeof name, name, &config);
    if (id == H5Z_FILTER_DEFLATE && deflate < 0) deflate = f;
    else if (id == H5Z_FILTER_SHUFFLE && shuffle < 0 && deflate < 0) shuffle = f;
    else return false;
  }
  return deflate >= 0;
}

/// HDF5's shuffle undone: `in` holds byte b of every value, then byte b + 1 of every value, …
void unshuffle(unsigned char const* in, std::size_t values, std::size_t value_bytes, unsigned char* out) {
  for (std::size_t b = 0; b < value_bytes; ++b) {
    unsigned char const* plane = in + b * values;
    for (std::size_t v = 0; v < values; ++v) out[v * value_bytes + b] = plane[v];
  }
}

}  // namespace

std::unique_ptr<InflatedChunks> InflatedChunks::open(hid_t dataset, hid_t mem_type, std::string name, int threads) {
  H dcpl(H5Dget_create_plist(dataset), H5Pclose);
  H type(H5Dget_type(dataset), H5Tclose);
  H space(H5Dget_space(dataset), H5Sclose);
  if (!dcpl.ok() || !type.ok() || !space.ok() || H5Pget_layout(dcpl.get()) != H5D_CHUNKED) return nullptr;
  int deflate = -1, shuffle = -1;
  if (!deflate_pipeline(dcpl.get(), deflate, shuffle) || H5Tequal(type.get(), mem_type) <= 0) return nullptr;
  int const rank = H5Sget_simple_extent_ndims(space.get());
  hsize_t dims[2] = {0, 1}, chunk[2] = {0, 1};
  if (rank < 1 || rank > 2 || H5Sget_simple_extent_dims(space.get(), dims, nullptr) != rank ||
      H5Pget_chunk(dcpl.get(), rank, chunk) != rank || chunk[0] == 0 || chunk[1] == 0)
    return nullptr;
  std::unique_ptr<InflatedChunks> r(new InflatedChunks(std::move(name), threads));
  r->rank_ = rank;
  r->rows_ = std::int64_t(dims[0]);
  r->cols_ = std::int64_t(dims[1]);
  r->chunk_rows_ = std::int64_t(chunk[0]);
  r->chunk_cols_ = std::int64_t(chunk[1]);
  r->value_bytes_ = H5Tget_size(mem_type);
  r->deflate_index_ = deflate;
  r->shuffle_index_ = shuffle;
  r->inflated_.resize(std::size_t(threads));
  r->unshuffled_.resize(std::size_t(threads));
  return r;
}

void InflatedChunks::read(hid_t dataset, std::int64_t row0, std::int64_t n, void* out) {
  if (n <= 0) return;
  fetch(dataset, row0, n);
  auto* const to = static_cast<unsigned char*>(out);
  team_.for_each_task(stored_.size(), [&](std::size_t c, int thread) { place(stored_[c], thread, row0, n, to); });
}

// The stored bytes of every chunk rows [row0, row0 + n) touch, on this thread (HDF5's calls).
void InflatedChunks::fetch(hid_t dataset, std::int64_t row0, std::int64_t n) {
  std::int64_t const first = row0 / chunk_rows_ * chunk_rows_;
  std::size_t c = 0;
  for (std::int64_t r = first; r < row0 + n; r += chunk_rows_)
    for (std::int64_t col = 0; col < cols_; col += chunk_cols_, ++c) {
      if (stored_.size() <= c) stored_.emplace_back();
      Stored& s = stored_[c];
      s.row0 = r;
      s.col0 = col;
      hsize_t const at[2] = {hsize_t(r), hsize_t(col)};
      auto const unreadable = [&] {  // (the message made only where a read fails)
        return UserError("cannot read the chunk at row " + std::to_string(r) +
                         (rank_ == 2 ? ", column " + std::to_string(col) : "") + " of '" + name_ +
                         "' (truncated or corrupt file?)");
      };
      hsize_t size = 0;
      if (H5Dget_chunk_storage_size(dataset, at, &size) < 0) throw unreadable();
      s.bytes.resize(std::size_t(size));
      s.skipped = 0;
      if (H5Dread_chunk(dataset, H5P_DEFAULT, at, &s.skipped, s.bytes.data()) < 0) throw unreadable();
    }
  stored_.resize(c);
}

// One chunk inflated (and unshuffled) into this thread's buffers, its values in rows [row0, row0 + n)
// copied to their places in out.
void InflatedChunks::place(Stored const& chunk, int thread, std::int64_t row0, std::int64_t n, unsigned char* out) {
  std::size_t const bytes = chunk_bytes();
  unsigned char const* plain = chunk.bytes.data();
  if (!(chunk.skipped >> deflate_index_ & 1u)) {
    auto& buf = inflated_[std::size_t(thread)];
    buf.resize(bytes);
    uLongf got = uLongf(bytes);
    int const z = uncompress(buf.data(), &got, chunk.bytes.data(), uLong(chunk.bytes.size()));
    if (z != Z_OK || got != bytes)
      throw UserError("the chunk at row " + std::to_string(chunk.row0) + " of '" + name_ +
                      "' is corrupt: its compressed bytes do not inflate to the chunk's " + std::to_string(bytes) +
                      " bytes");
    plain = buf.data();
  } else if (chunk.bytes.size() != bytes) {
    throw UserError("the chunk at row " + std::to_string(chunk.row0) + " of '" + name_ + "' is corrupt: " +
                    std::to_string(chunk.bytes.size()) + " stored bytes for " + std::to_string(bytes));
  }
  if (shuffle_index_ >= 0 && !(chunk.skipped >> shuffle_index_ & 1u)) {
    auto& buf = unshuffled_[std::size_t(thread)];
    buf.resize(bytes);
    unshuffle(plain, bytes / value_bytes_, value_bytes_, buf.data());
    plain = buf.data();
  }
  // (edge chunks are stored whole: their values past the dataset's edges are not copied)
  std::int64_t const r0 = std::max(row0, chunk.row0), r1 = std::min({row0 + n, chunk.row0 + chunk_rows_, rows_});
  std::int64_t const width = std::min(chunk_cols_, cols_ - chunk.col0);
  for (std::int64_t r = r0; r < r1; ++r)
    std::memcpy(out + (std::size_t(r - row0) * std::size_t(cols_) + std::size_t(chunk.col0)) * value_bytes_,
                plain + std::size_t(r - chunk.row0) * std::size_t(chunk_cols_) * value_bytes_,
                std::size_t(width) * value_bytes_);
}

}  // namespace kkm::io::detail
