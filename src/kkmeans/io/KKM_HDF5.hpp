#pragma once
/// \file KKM_HDF5.hpp
/// \brief HDF5 input and output: each rank reads only its hyperslab of an N × d dataset (any
/// integer or float type, converted by HDF5 to the working precision), collectively through MPI-IO
/// when the HDF5 library is parallel, by independent read-only opens when it is serial. Every
/// handle is owned by an RAII object and every return code is checked: a failure is a
/// kkm::UserError naming the file and dataset.
#include <kkmeans/KKM_Config.hpp>
#include <kkmeans/core/KKM_Half.hpp>
#include <kkmeans/core/KKM_Result.hpp>
#include <kkmeans/core/KKM_RowSource.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kkm::io {

/// "file.h5:/group/dataset" split into file and dataset path.
struct DatasetRef {
  std::string file;
  std::string dataset;
  std::string str() const { return file + ":" + dataset; }
};

/// Splits at the last ':' that is followed by '/'. Throws UserError if there is none.
DatasetRef parse_dataset_ref(std::string const& spec);

/// Shape and type of a dataset, checked to be a 2-D (or, with allow_1d, 1-D) numeric dataset.
struct DatasetInfo {
  std::int64_t rows = 0;
  std::int64_t cols = 0;      ///< 1 for a 1-D dataset
  int rank = 2;               ///< 1 or 2
  std::string type;           ///< e.g. "float32", "int64"
  bool chunked = false;
  std::int64_t chunk_rows = 0;  ///< rows of one chunk where chunked
};

/// Opens the file and dataset and checks them. Throws UserError: missing or unreadable file, not
/// an HDF5 file, missing dataset, a group instead of a dataset, wrong rank, non-numeric type.
DatasetInfo inspect(DatasetRef const& ref, bool allow_1d = false);

/// Rows [row0, row0 + n) of a 2-D dataset (or elements of a 1-D one), converted to T (float or
/// double), row-major. Collective over comm when HDF5 is parallel and comm has several ranks.
template <class T>
std::vector<T> read_rows(DatasetRef const& ref, DatasetInfo const& info, std::int64_t row0, std::int64_t n,
                         Communicator const& comm);

/// Reads rows of one dataset block by block into memory the caller owns, the file kept open between
/// blocks. Collective over comm when HDF5 is parallel and comm has several ranks: every rank calls
/// read() equally often (a rank with nothing left passes n = 0). An error stops this rank's reading
/// (later reads read nothing); finish() then throws it, or another rank's, on every rank.
class RowReader {
 public:
  RowReader(DatasetRef const& ref, DatasetInfo const& info, Communicator const& comm);
  ~RowReader();
  RowReader(RowReader const&) = delete;
  RowReader& operator=(RowReader const&) = delete;
  /// Rows [row0, row0 + n) converted to T, row-major, into out (n × cols). T: float or double
  /// (converted by HDF5), or float16 / bfloat16: read as stored where the file holds that format,
  /// else each value rounded to nearest (ties to even) from its double value; a finite value beyond
  /// T's range is an error naming it.
  template <class T>
  void read(std::int64_t row0, std::int64_t n, T* out);
  /// Rows [row0, row0 + n) as the file stores them (DatasetInfo::type, in this machine's byte
  /// order), for a caller that converts them itself: n × cols values of stored_bytes() each.
  void read_stored(std::int64_t row0, std::int64_t n, void* out);
  /// Bytes of one value as the file stores it.
  std::size_t stored_bytes() const;
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Rows [row0, row0 + count) of a 2-D dataset mapped read-only from its file (mmap) instead of read
/// (--data-in file): the system reads their pages as they are touched and keeps what fits in its
/// page cache, so the rows may be larger than memory. Needs a contiguous dataset, not in external
/// files, stored as T's native type at an address aligned to it; throws UserError naming what stands
/// in the way (and how to rewrite the file). T: float, double, float16 or bfloat16.
template <class T>
class MappedRows {
 public:
  MappedRows(DatasetRef const& ref, DatasetInfo const& info, std::int64_t row0, std::int64_t count);
  ~MappedRows();
  MappedRows(MappedRows const&) = delete;
  MappedRows& operator=(MappedRows const&) = delete;
  /// The rows, count × cols, row-major.
  T const* rows() const { return rows_; }
  /// Whether the file's size or modification time differs from when it was mapped (a file written
  /// or truncated under a fit).
  bool changed() const;

 private:
  std::string file_;
  void* base_ = nullptr;
  std::size_t length_ = 0;
  T const* rows_ = nullptr;
  std::int64_t size_ = 0, mtime_ns_ = 0;
};

/// Rows [row0, row0 + count) of a 2-D dataset read a hyperslab at a time where a fit asks for them
/// (--data-in file where they cannot be mapped: a chunked or compressed dataset, or one stored as
/// another type than the fit's), converted as RowReader converts them. The file stays open, on each
/// rank on its own; reads are best cut at multiples of block_rows(), the dataset's chunk rows.
template <class T>
class DatasetRows final : public RowSource<T> {
 public:
  DatasetRows(DatasetRef const& ref, DatasetInfo const& info, std::int64_t row0, std::int64_t count);
  ~DatasetRows() override;
  DatasetRows(DatasetRows const&) = delete;
  DatasetRows& operator=(DatasetRows const&) = delete;
  std::int64_t rows() const override { return count_; }
  int cols() const override { return int(cols_); }
  /// Rows [r0, r1) of this slice. Throws UserError naming what failed (a corrupt chunk, a value
  /// beyond a 16-bit type's range).
  void read(std::int64_t r0, std::int64_t r1, T* out) override;
  std::int64_t block_rows() const override { return block_; }
  /// As MappedRows::changed.
  bool changed() const;

 private:
  Communicator self_;  // (one process: each rank reads the file on its own)
  std::unique_ptr<RowReader> reader_;
  std::string file_;
  std::int64_t row0_, count_, cols_, block_;
  std::int64_t size_ = 0, mtime_ns_ = 0;
};

/// Empty if MappedRows<T> can map rows of `ref`; else why not, as its UserError would say.
template <class T>
std::string why_not_mappable(DatasetRef const& ref);

/// Checks that `path` can be written before any work (rank 0 looks, every rank learns): a file name in
/// an existing, writable folder, not a folder, short enough for its temporary name, not an existing
/// file unless overwrite, and (for `bytes` > 0, the file's expected size) room for it on its
/// filesystem. Throws UserError naming the problem.
void check_output_path(std::string const& path, bool overwrite, Communicator const& comm, double bytes = 0);

/// About how many bytes a file of `n_rows` labels (int32, plus `row_bytes` more per row) and `k` × `d`
/// float64 centroids takes: what check_output_path needs free for it.
inline double expected_file_bytes(std::int64_t n_rows, double row_bytes, std::int64_t k, std::int64_t d) {
  constexpr double metadata = 64 * 1024;  // header, attributes, history: far less in practice
  return double(n_rows) * (4 + row_bytes) + 8.0 * double(k) * double(d) + metadata;
}

/// The names of the objects in the root group of HDF5 file `path` (empty if it is not one).
std::vector<std::string> root_names(std::string const& path);

/// Whether `path` is a kkmeans checkpoint (an HDF5 file with the attribute kkmeans_checkpoint); false
/// for any other file, HDF5 or not.
bool is_checkpoint(std::string const& path);

/// Rows this rank owns when N rows are split over comm.size() ranks as evenly as possible
/// (the first N mod P ranks get one more).
void split_rows(std::int64_t n_total, int rank, int size, std::int64_t& row0, std::int64_t& count);

/// One attribute value.
struct Attribute {
  enum Kind { text, integer, real } kind = text;
  std::string s;
  std::int64_t i = 0;
  double r = 0;
};
using Attributes = std::map<std::string, Attribute>;

/// A named 2-D table of doubles (e.g. history: epochs × columns) with its column names.
struct Table {
  std::vector<std::string> columns;
  std::vector<double> values;  // row-major, rows × columns.size()
};

/// Contents of a model/output file.
struct OutputFile {
  std::vector<double> centroids;  ///< k × d, row-major
  std::int64_t k = 0, d = 0;
  bool centroids_double = false;  ///< store as float64 (else float32)
  Table history;                  ///< written as /history/<column> 1-D datasets
  Attributes attributes;          ///< root attributes
};

/// Writes `out` plus every rank's labels (its hyperslab of an N-long int32 dataset /labels;
/// skipped if n_total < 0) to `path`, collectively: first under a temporary name in the same
/// folder, then renamed by rank 0 once every rank has written, so a crash never leaves a file
/// that looks complete. Refuses an existing `path` unless overwrite. Throws UserError.
void write_output(std::string const& path, OutputFile const& out, std::vector<int> const& local_labels,
                  std::int64_t label_offset, std::int64_t n_total, bool overwrite, Communicator const& comm);

/// What a model file holds (read back by `kkmeans predict` and by checks).
struct Model {
  std::vector<double> centroids;
  std::int64_t k = 0, d = 0;
  Attributes attributes;
};
Model read_model(std::string const& path);

/// Writes a 2-D float dataset (rows × cols, row-major, this rank's rows [row0, row0 + rows) of
/// n_total) and optional extra datasets to a new file, in parallel as write_output does.
void write_matrix(std::string const& path, std::string const& dataset, std::vector<float> const& local,
                  std::int64_t row0, std::int64_t n_total, std::int64_t cols,
                  std::map<std::string, std::vector<double>> const& extra_root_datasets, Attributes const& attrs,
                  bool overwrite, Communicator const& comm, std::vector<int> const* local_labels = nullptr);

/// Writes /labels (N int32) and, if `local_distances` is not empty, /distances (N float64): this
/// rank's rows [row0, row0 + local_labels.size()) of n_total, atomically as write_output does.
void write_labels(std::string const& path, std::vector<int> const& local_labels,
                  std::vector<double> const& local_distances, std::int64_t row0, std::int64_t n_total,
                  Attributes const& attrs, bool overwrite, Communicator const& comm);

/// Writes a checkpoint (centroids as float64, every rank's labels, history, fingerprint, `attrs`)
/// to `path` atomically, replacing an older one: a crash leaves the previous checkpoint intact.
/// `before_rename` (tests only) runs on rank 0 after the temporary file is complete.
void write_checkpoint(std::string const& path, Checkpoint const& ck, Attributes const& attrs,
                      Communicator const& comm, std::function<void()> const& before_rename = {});

/// Reads a checkpoint, with this rank's labels [row0, row0 + count). Throws UserError for a missing,
/// corrupt or foreign file. Its attributes are returned in `attrs`.
Checkpoint read_checkpoint(std::string const& path, std::int64_t row0, std::int64_t count, Communicator const& comm,
                           Attributes& attrs);

/// True if HDF5 was built with MPI-IO.
constexpr bool hdf5_is_parallel() { return KKMEANS_HDF5_IS_PARALLEL != 0; }

}  // namespace kkm::io
