#pragma once
/// \file KKM_HDF5Inflate.hpp
/// \brief Rows of a deflate-compressed chunked dataset read as HDF5 stores them and inflated on
/// several threads at once. HDF5 inflates the chunks of a read one after another on the thread that
/// reads (gzip of float32 inflates at about 0.1–0.3 GB/s a core), so a fit streaming a compressed
/// file runs at one core's rate; here that thread only fetches each chunk's stored bytes
/// (H5Dread_chunk: HDF5's calls stay on one thread) and the ParallelCopy threads inflate, unshuffle
/// and place them. Datasets stored any other way are read through HDF5 as before.
#include <kkmeans/core/KKM_ParallelCopy.hpp>
#include <kkmeans/io/detail/KKM_HDF5Detail.hpp>

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kkm::io::detail {

class InflatedChunks {
 public:
  /// The reader of `dataset`'s rows as memory type `mem_type`, where the dataset is chunked, its
  /// filters are deflate and optionally shuffle (nothing else), every chunk is written, and it is
  /// stored as mem_type itself (no conversion, this machine's byte order); else null. `name`: the
  /// dataset as errors name it. `threads`: how many threads inflate.
  static std::unique_ptr<InflatedChunks> open(hid_t dataset, hid_t mem_type, std::string name, int threads);

  /// Rows [row0, row0 + n) into `out` (n × cols values). Throws UserError naming the dataset and the
  /// chunk where a chunk cannot be read or does not inflate to its size (a corrupt chunk).
  void read(hid_t dataset, std::int64_t row0, std::int64_t n, void* out);

 private:
  InflatedChunks(std::string name, int threads) : name_(std::move(name)), team_(threads) {}

  std::string name_;
  std::int64_t rows_ = 0, cols_ = 1;            // the dataset's
  std::int64_t chunk_rows_ = 0, chunk_cols_ = 1;  // one chunk's
  int rank_ = 2;
  std::size_t value_bytes_ = 0;
  bool shuffled_ = false;  // the shuffle filter runs before deflate when the chunks are written
  int deflate_index_ = 0, shuffle_index_ = -1;  // the filters' places in the pipeline (filter masks)
  kkm::detail::ParallelCopy team_;

  struct Stored {        // one chunk of a read, as stored
    std::int64_t row0, col0;  // its first value's place in the dataset
    std::uint32_t skipped;    // H5Dread_chunk's filter mask: the filters not applied to it
    std::vector<unsigned char> bytes;
  };
  std::vector<Stored> stored_;
  std::vector<std::vector<unsigned char>> inflated_, unshuffled_;  // a chunk's worth per thread

  std::size_t chunk_bytes() const { return std::size_t(chunk_rows_ * chunk_cols_) * value_bytes_; }
  void fetch(hid_t dataset, std::int64_t row0, std::int64_t n);
  void place(Stored const& chunk, int thread, std::int64_t row0, std::int64_t n, unsigned char* out);
};

}  // namespace kkm::io::detail
