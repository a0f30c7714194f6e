// Reading HDF5: dataset references, the checks of a dataset before it is read (inspect), each
// rank's rows of a dataset, and model and checkpoint files. Writing is in KKM_HDF5Write.cpp.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/io/KKM_HDF5.hpp>
#include <kkmeans/io/detail/KKM_HDF5Detail.hpp>
#if KKM_HAVE_ZLIB
#include <kkmeans/io/detail/KKM_HDF5Inflate.hpp>
#endif

#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace kkm::io {

using detail::check;
using detail::H;
using detail::is_float_16;
using detail::native;
using detail::open_dataset;
using detail::open_file;
using detail::quiet;

namespace {

namespace fs = std::filesystem;

/// Whether a description on HDF5's current error stack (the last failed call's) contains `word`.
bool error_stack_mentions(std::string const& word) {
  struct Search {
    std::string const& word;
    bool found = false;
  } search{word};
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, H5E_error2_t const* e, void* data) -> herr_t {
        auto* s = static_cast<Search*>(data);
        if (e->desc != nullptr && std::string(e->desc).find(s->word) != std::string::npos) s->found = true;
        return 0;
      },
      &search);
  return search.found;
}

std::string type_name(hid_t type) {
  H5T_class_t const cls = H5Tget_class(type);
  std::size_t const size = H5Tget_size(type);
  switch (cls) {
    case H5T_INTEGER:
      return std::string(H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(8 * size);
    case H5T_FLOAT: return is_float_16(type, 8) ? "bfloat16" : "float" + std::to_string(8 * size);
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_OPAQUE: return "opaque";
    case H5T_VLEN: return "variable-length";
    case H5T_REFERENCE: return "reference";
    case H5T_BITFIELD: return "bitfield";
    default: return "unknown";
  }
}

/// Accepts only the standard layouts of integers (1, 2, 4, 8 bytes, every bit used) and IEEE
/// floats (16, 32 or 64 bit, or bfloat16; either byte order). HDF5 can describe others (a corrupt header too) and
/// its own conversion of some of them crashes (SIGBUS in H5T__conv_i_f, found by fuzzing).
void require_standard_numeric(hid_t type, std::string const& what) {
  H5T_class_t const cls = H5Tget_class(type);
  std::size_t const size = H5Tget_size(type);
  if (cls == H5T_INTEGER) {
    bool const ok = (size == 1 || size == 2 || size == 4 || size == 8) && H5Tget_precision(type) == 8 * size &&
                    H5Tget_offset(type) == 0;
    KKM_REQUIRE(ok, what + " has a non-standard integer type (" + std::to_string(H5Tget_precision(type)) +
                        " bits at offset " + std::to_string(H5Tget_offset(type)) + " in " + std::to_string(size) +
                        " bytes); 8-, 16-, 32- or 64-bit integers are needed");
    return;
  }
  if (cls == H5T_FLOAT) {
    // One call per type: the H5T_IEEE_* macros do not expand to plain values in every HDF5 build
    // (a braced list of them failed to compile with the serial HDF5 of the CUDA build).
    bool const ok = H5Tequal(type, H5T_IEEE_F32LE) > 0 || H5Tequal(type, H5T_IEEE_F32BE) > 0 ||
                    H5Tequal(type, H5T_IEEE_F64LE) > 0 || H5Tequal(type, H5T_IEEE_F64BE) > 0 ||
                    is_float_16(type, 5) || is_float_16(type, 8);
    KKM_REQUIRE(ok, what + " has a non-standard floating-point type (" + std::to_string(size) +
                        " bytes); IEEE 16-, 32- or 64-bit floats or bfloat16 are needed");
    return;
  }
  throw UserError(what + " is not numeric");
}

}  // namespace

namespace detail {

H open_file(std::string const& file, unsigned flags, hid_t fapl) {
  quiet();
  std::error_code ec;
  KKM_REQUIRE(fs::exists(file, ec), "file not found: '" + file + "'");
  KKM_REQUIRE(!fs::is_directory(file, ec), "'" + file + "' is a directory, not an HDF5 file");
  htri_t const is = H5Fis_hdf5(file.c_str());
  KKM_REQUIRE(is > 0, "'" + file + "' is not an HDF5 file (or it is truncated or corrupt)");
  H f(H5Fopen(file.c_str(), flags, fapl), H5Fclose);
  KKM_REQUIRE(f.ok() || !error_stack_mentions("lock"),
              "cannot open HDF5 file '" + file + "': another program has it open for writing (HDF5 locks it); "
              "close it there, or set HDF5_USE_FILE_LOCKING=FALSE if you know nothing writes it");
  KKM_REQUIRE(f.ok(), "cannot open HDF5 file '" + file + "' (truncated, corrupt or not readable)");
  return f;
}

/// Opens a dataset after checking that every link on the path exists and that it is a dataset.
H open_dataset(hid_t file, DatasetRef const& ref) {
  std::string const& p = ref.dataset;
  KKM_REQUIRE(!p.empty() && p[0] == '/', "dataset path must start with '/': '" + ref.str() + "'");
  std::size_t pos = 1;
  while (pos <= p.size()) {
    std::size_t const next = p.find('/', pos);
    std::string const prefix = p.substr(0, next == std::string::npos ? p.size() : next);
    if (prefix.size() > 1 && prefix.back() != '/') {
      htri_t const e = H5Lexists(file, prefix.c_str(), H5P_DEFAULT);
      KKM_REQUIRE(e > 0, "no dataset '" + ref.dataset + "' in '" + ref.file + "' ('" + prefix + "' does not exist)");
    }
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  H5O_info_t info;
  KKM_REQUIRE(H5Oget_info_by_name(file, p.c_str(), &info, H5P_DEFAULT) >= 0,
              "cannot read object '" + ref.dataset + "' in '" + ref.file + "'");
  KKM_REQUIRE(info.type == H5O_TYPE_DATASET,
              "'" + ref.dataset + "' in '" + ref.file + "' is " +
                  (info.type == H5O_TYPE_GROUP ? std::string("a group") : std::string("not a dataset")) +
                  ", not a dataset");
  H d(H5Dopen2(file, p.c_str(), H5P_DEFAULT), H5Dclose);
  KKM_REQUIRE(d.ok(), "cannot open dataset '" + ref.str() + "'");
  return d;
}

}  // namespace detail

DatasetRef parse_dataset_ref(std::string const& spec) {
  auto const pos = spec.rfind(":/");
  KKM_REQUIRE(pos != std::string::npos && pos > 0,
              "expected FILE.h5:/DATASET (e.g. data.h5:/points), got '" + spec + "'");
  return DatasetRef{spec.substr(0, pos), spec.substr(pos + 1)};
}

DatasetInfo inspect(DatasetRef const& ref, bool allow_1d) {
  H f = open_file(ref.file, H5F_ACC_RDONLY);
  H d = open_dataset(f.get(), ref);
  H type(H5Dget_type(d.get()), H5Tclose);
  H space(H5Dget_space(d.get()), H5Sclose);
  KKM_REQUIRE(type.ok() && space.ok(), "cannot read the type and shape of '" + ref.str() + "'");
  DatasetInfo info;
  info.type = type_name(type.get());
  H5T_class_t const cls = H5Tget_class(type.get());
  KKM_REQUIRE(cls == H5T_INTEGER || cls == H5T_FLOAT,
              "dataset '" + ref.str() + "' has type " + info.type + "; a numeric (integer or float) type is needed");
  require_standard_numeric(type.get(), "dataset '" + ref.str() + "'");
  int const nd = H5Sget_simple_extent_ndims(space.get());
  KKM_REQUIRE(nd == 2 || (allow_1d && nd == 1),
              "dataset '" + ref.str() + "' has " + std::to_string(nd) + " dimension(s); " +
                  (allow_1d ? "1 or 2 are" : "2 (rows × columns) are") + " needed");
  hsize_t dims[2] = {0, 1};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  info.rank = nd;
  info.rows = static_cast<std::int64_t>(dims[0]);
  info.cols = nd == 2 ? static_cast<std::int64_t>(dims[1]) : 1;
  KKM_REQUIRE(dims[0] < (hsize_t(1) << 62) && info.cols <= std::int64_t(0x7fffffff),
              "dataset '" + ref.str() + "' is " + std::to_string(dims[0]) + " × " + std::to_string(info.cols) +
                  "; kkmeans takes at most 2^31 − 1 columns (and under 2^62 rows)");
  H plist(H5Dget_create_plist(d.get()), H5Pclose);
  info.chunked = plist.ok() && H5Pget_layout(plist.get()) == H5D_CHUNKED;
  hsize_t chunk[2] = {0, 0};
  if (info.chunked && H5Pget_chunk(plist.get(), 2, chunk) >= 1) info.chunk_rows = std::int64_t(chunk[0]);
  if (info.rows > 0 && info.cols > 0) detail::require_complete_storage(d.get(), ref);
  return info;
}

void split_rows(std::int64_t n_total, int rank, int size, std::int64_t& row0, std::int64_t& count) {
  std::int64_t const base = n_total / size, extra = n_total % size;
  count = base + (rank < extra ? 1 : 0);
  row0 = rank * base + (rank < extra ? rank : extra);
}

struct RowReader::Impl {
  DatasetRef ref;
  DatasetInfo info;
  Communicator const& comm;
  bool collective = false;
  H xfer, file, dataset;
  int stored_16 = 0;  // the file's 16-bit float format, by its exponent bits (5: float16, 8: bfloat16), or 0
  H stored_native;    // the file's type in this machine's byte order (read_stored)
  std::string error;
  /// The values of a block read in another type than the rows' (converted here), kept from block to
  /// block: a fresh buffer per block would fault in every page of it again.
  std::vector<double> staging;
#if KKM_HAVE_ZLIB
  /// Where the dataset is deflate-compressed: its chunks fetched here and inflated on several
  /// threads (made on the first read, for that read's memory type; null where it does not apply).
  std::unique_ptr<detail::InflatedChunks> inflater;
  hid_t inflater_type = -1;
#endif

  template <class U>
  U* staged(std::int64_t n) {
    std::size_t const values = std::size_t(n) * std::size_t(info.cols);
    staging.resize((values * sizeof(U) + sizeof(double) - 1) / sizeof(double));
    return reinterpret_cast<U*>(staging.data());
  }

  Impl(DatasetRef const& r, DatasetInfo const& i, Communicator const& c) : ref(r), info(i), comm(c) {
    collective = hdf5_is_parallel() && comm.is_distributed();
    H fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    xfer = H(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
#if KKMEANS_HDF5_IS_PARALLEL && KKMEANS_ENABLE_MPI
    if (collective) {
      check(H5Pset_fapl_mpio(fapl.get(), comm.raw(), MPI_INFO_NULL), "H5Pset_fapl_mpio");
      check(H5Pset_dxpl_mpio(xfer.get(), H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio");
    }
#endif
    try {
      file = open_file(ref.file, H5F_ACC_RDONLY, fapl.get());
      dataset = open_dataset(file.get(), ref);
      H type(H5Dget_type(dataset.get()), H5Tclose);
      stored_16 = !type.ok() ? 0 : is_float_16(type.get(), 5) ? 5 : is_float_16(type.get(), 8) ? 8 : 0;
      // (HDF5 finds no native type for 16-bit floats before 1.14.4: those are built as h5py builds them)
      if (type.ok() && stored_16 == 0) stored_native = H(H5Tget_native_type(type.get(), H5T_DIR_ASCEND), H5Tclose);
    } catch (std::exception const& e) {
      error = e.what();
    }
  }

  template <class T>
  void read(std::int64_t row0, std::int64_t n, T* out) {
    if constexpr (is_16_bit_v<T>) {  // (the file's own 16-bit format is read as it is: no conversion)
      if (stored_16 != (std::is_same_v<T, bfloat16> ? 8 : 5)) return read_rounded(row0, n, out);
    } else {
      // 16-bit datasets as float or double: read as stored and widened here, exactly as HDF5 would
      // (its own conversion of these types goes value by value, tens of times slower than the read)
      if (stored_16 == 5) return read_widened<float16>(row0, n, out);
      if (stored_16 == 8) return read_widened<bfloat16>(row0, n, out);
    }
    read_as(native<T>(), row0, n, out);
  }

  template <class H, class T>
  void read_widened(std::int64_t row0, std::int64_t n, T* out) {
    H* const stored = staged<H>(n);
    read_as(native<H>(), row0, n, stored);
    if (!error.empty()) return;
    std::size_t const values = std::size_t(n) * std::size_t(info.cols);
    for (std::size_t e = 0; e < values; ++e) out[e] = static_cast<T>(static_cast<float>(stored[e]));
  }

  /// 16-bit rows from another type: read as double, each value rounded once to the nearest T (ties
  /// to even); a finite value beyond T's range stops the read, naming it.
  template <class T>
  void read_rounded(std::int64_t row0, std::int64_t n, T* out) {
    double* const wide = staged<double>(n);
    read_as(H5T_NATIVE_DOUBLE, row0, n, wide);
    if (!error.empty()) return;
    std::size_t const values = std::size_t(n) * std::size_t(info.cols);
    for (std::size_t e = 0; e < values; ++e) {
      T const v = round_to<T>(wide[e]);
      if (std::isfinite(wide[e]) && !std::isfinite(float(v))) {
        error = value_beyond_range<T>(wide[e], row0 + std::int64_t(e / std::size_t(info.cols)),
                                      std::int64_t(e % std::size_t(info.cols)));
        return;
      }
      out[e] = v;
    }
  }

  template <class T>
  std::string value_beyond_range(double v, std::int64_t row, std::int64_t col) const {
    char text[96];
    std::snprintf(text, sizeof text, "value %.9g in row %lld, column %lld", v, static_cast<long long>(row),
                  static_cast<long long>(col));
    char range[48];
    std::snprintf(range, sizeof range, "%s's range (±%.6g)", scalar_name<T>(), largest_finite<T>());
    return std::string(text) + " of '" + ref.str() + "' is beyond " + range + ": use --precision " +
           (std::is_same_v<T, float16> ? "float or bfloat16" : "double");
  }

#if KKM_HAVE_ZLIB
  /// The inflating reader of rows as mem_type, or null (HDF5 reads them).
  detail::InflatedChunks* inflater_for(hid_t mem_type) {
    if (inflater_type != mem_type) {
      inflater_type = mem_type;
      inflater = detail::InflatedChunks::open(dataset.get(), mem_type, ref.str(), kkm::detail::ParallelCopy::default_threads());
    }
    return inflater.get();
  }
#endif

  /// Rows [row0, row0 + n) into `out` as memory type `mem_type`.
  void read_as(hid_t mem_type, std::int64_t row0, std::int64_t n, void* out) {
    if (!error.empty()) {
      if (!collective) return;
      n = 0;  // keep taking part in the collective reads of the other ranks
    }
    try {
      H fspace(H5Dget_space(dataset.get()), H5Sclose);
      hsize_t start[2] = {hsize_t(row0), 0}, count[2] = {hsize_t(n), hsize_t(info.cols)};
      H mspace(H5Screate_simple(info.rank, count, nullptr), H5Sclose);
      if (n > 0) {
        check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), "hyperslab");
      } else {
        H5Sselect_none(fspace.get());
        H5Sselect_none(mspace.get());
      }
#if KKM_HAVE_ZLIB
      if (n > 0 && !collective) {
        if (detail::InflatedChunks* z = inflater_for(mem_type)) return z->read(dataset.get(), row0, n, out);
      }
#endif
      if (n > 0 || collective) {
        double dummy = 0;  // (room for one value of any memory type)
        check(H5Dread(dataset.get(), mem_type, mspace.get(), fspace.get(), xfer.get(), n > 0 ? out : &dummy),
              "cannot read rows " + std::to_string(row0) + ".." + std::to_string(row0 + n) + " of '" + ref.str() +
                  "' (truncated or corrupt file?)");
      }
    } catch (std::exception const& e) {
      if (error.empty()) error = e.what();
    }
  }
};

RowReader::RowReader(DatasetRef const& ref, DatasetInfo const& info, Communicator const& comm)
    : impl_(std::make_unique<Impl>(ref, info, comm)) {}
RowReader::~RowReader() = default;

template <class T>
void RowReader::read(std::int64_t row0, std::int64_t n, T* out) {
  impl_->read(row0, n, out);
}
template void RowReader::read<float>(std::int64_t, std::int64_t, float*);
template void RowReader::read<double>(std::int64_t, std::int64_t, double*);
template void RowReader::read<float16>(std::int64_t, std::int64_t, float16*);
template void RowReader::read<bfloat16>(std::int64_t, std::int64_t, bfloat16*);

void RowReader::read_stored(std::int64_t row0, std::int64_t n, void* out) {
  Impl& r = *impl_;
  hid_t const type = r.stored_16 == 5   ? native<float16>()
                     : r.stored_16 == 8 ? native<bfloat16>()
                     : r.stored_native.ok() ? r.stored_native.get()
                                            : H5T_NATIVE_DOUBLE;  // (no dataset: read_as reads nothing)
  r.read_as(type, row0, n, out);
}

std::size_t RowReader::stored_bytes() const {
  Impl const& r = *impl_;
  return r.stored_16 != 0 ? 2 : r.stored_native.ok() ? H5Tget_size(r.stored_native.get()) : sizeof(double);
}

void RowReader::finish() {
  std::string const& e = impl_->error;
  if (impl_->comm.any(!e.empty()))
    throw UserError(e.empty() ? "reading '" + impl_->ref.str() + "' failed on another rank" : e);
}

std::vector<std::string> root_names(std::string const& path) {
  std::vector<std::string> names;
  try {
    H f = open_file(path, H5F_ACC_RDONLY);
    H5G_info_t info;
    if (H5Gget_info(f.get(), &info) < 0) return names;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      ssize_t const len = H5Lget_name_by_idx(f.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (len < 0) continue;
      std::string name(std::size_t(len) + 1, '\0');
      H5Lget_name_by_idx(f.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
      name.resize(std::size_t(len));
      names.push_back(name);
    }
  } catch (std::exception const&) {
  }
  return names;
}

bool is_checkpoint(std::string const& path) {
  try {
    H f = open_file(path, H5F_ACC_RDONLY);
    return H5Aexists(f.get(), "kkmeans_checkpoint") > 0;
  } catch (std::exception const&) {
    return false;
  }
}

template <class T>
std::vector<T> read_rows(DatasetRef const& ref, DatasetInfo const& info, std::int64_t row0, std::int64_t n,
                         Communicator const& comm) {
  std::vector<T> out(static_cast<std::size_t>(n * info.cols));
  RowReader reader(ref, info, comm);
  reader.read(row0, n, out.data());
  reader.finish();
  return out;
}

template std::vector<float> read_rows<float>(DatasetRef const&, DatasetInfo const&, std::int64_t, std::int64_t,
                                             Communicator const&);
template std::vector<double> read_rows<double>(DatasetRef const&, DatasetInfo const&, std::int64_t, std::int64_t,
                                               Communicator const&);
template std::vector<float16> read_rows<float16>(DatasetRef const&, DatasetInfo const&, std::int64_t, std::int64_t,
                                                 Communicator const&);
template std::vector<bfloat16> read_rows<bfloat16>(DatasetRef const&, DatasetInfo const&, std::int64_t, std::int64_t,
                                                   Communicator const&);

Checkpoint read_checkpoint(std::string const& path, std::int64_t row0, std::int64_t count, Communicator const& comm,
                           Attributes& attrs) {
  Checkpoint ck;
  std::string error;
  try {
    Model m = read_model(path);
    attrs = m.attributes;
    auto get = [&](char const* name) -> std::int64_t {
      auto it = m.attributes.find(name);
      KKM_REQUIRE(it != m.attributes.end() && it->second.kind == Attribute::integer,
                  "'" + path + "' is not a kkmeans checkpoint (no attribute '" + name + "')");
      return it->second.i;
    };
    KKM_REQUIRE(get("kkmeans_checkpoint") == 1, "'" + path + "' is not a kkmeans checkpoint");
    ck.epoch = static_cast<int>(get("checkpoint_epoch"));
    ck.run = static_cast<int>(get("checkpoint_run"));
    ck.k_requested = static_cast<int>(get("k_requested"));
    ck.seed = static_cast<std::uint64_t>(get("seed"));
    ck.k = static_cast<int>(m.k);
    ck.d = static_cast<int>(m.d);
    ck.centroids = m.centroids;
    H f = open_file(path, H5F_ACC_RDONLY);
    DatasetRef lref{path, "/labels"};
    auto linfo = inspect(lref, true);
    ck.n_rows = linfo.rows;
    KKM_REQUIRE(row0 + count <= linfo.rows, "the checkpoint '" + path + "' holds labels of " +
                                                std::to_string(linfo.rows) + " rows, fewer than this data set's");
    ck.labels.resize(count);
    ck.label_offset = row0;
    if (count > 0) {
      H d = open_dataset(f.get(), lref);
      H fspace(H5Dget_space(d.get()), H5Sclose);
      hsize_t start[1] = {hsize_t(row0)}, cnt[1] = {hsize_t(count)};
      check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, cnt, nullptr), "hyperslab");
      H mspace(H5Screate_simple(1, cnt, nullptr), H5Sclose);
      check(H5Dread(d.get(), H5T_NATIVE_INT, mspace.get(), fspace.get(), H5P_DEFAULT, ck.labels.data()),
            "cannot read the labels of '" + path + "'");
    }
    DatasetRef fref{path, "/fingerprint"};
    auto finfo = inspect(fref, true);
    std::vector<long long> fp(finfo.rows);
    H fd = open_dataset(f.get(), fref);
    if (!fp.empty())
      check(H5Dread(fd.get(), H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, fp.data()), "cannot read the fingerprint");
    ck.fingerprint.assign(fp.begin(), fp.end());
    auto hist = [&](char const* name) {
      DatasetRef r{path, std::string("/history/") + name};
      auto info = inspect(r, true);
      auto v = read_rows<double>(r, info, 0, info.rows, Communicator{});
      return v;
    };
    bool first = true;
    for_each_history_column([&](auto const& column) {
      if (!column.checkpointed) return;
      auto const v = hist(column.name);
      if (first) ck.history.resize(v.size());
      first = false;
      KKM_REQUIRE(v.size() == ck.history.size(),
                  "'" + path + "' is not a valid checkpoint (history columns of different lengths)");
      using M = typename std::decay_t<decltype(column)>::value_type;
      for (std::size_t r = 0; r < v.size(); ++r) ck.history[r].*column.member = static_cast<M>(v[r]);
    });
  } catch (std::exception const& e) {
    error = e.what();
  }
  if (comm.any(!error.empty())) throw UserError(error.empty() ? "reading the checkpoint failed on another rank" : error);
  return ck;
}

Model read_model(std::string const& path) {
  H f = open_file(path, H5F_ACC_RDONLY);
  DatasetRef ref{path, "/centroids"};
  H d = open_dataset(f.get(), ref);
  {
    H type(H5Dget_type(d.get()), H5Tclose);
    KKM_REQUIRE(type.ok(), "cannot read the type of '" + ref.str() + "'");
    require_standard_numeric(type.get(), "'" + ref.str() + "'");
  }
  H space(H5Dget_space(d.get()), H5Sclose);
  KKM_REQUIRE(H5Sget_simple_extent_ndims(space.get()) == 2, "'" + ref.str() + "' is not a k × d matrix: not a kkmeans model");
  hsize_t dims[2];
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  // A corrupt header can claim any shape: refuse what no model can be before allocating (fuzzing found it).
  KKM_REQUIRE(dims[0] >= 1 && dims[1] >= 1 && dims[0] <= (hsize_t(1) << 31) && dims[1] <= (hsize_t(1) << 31) &&
                  dims[0] * dims[1] <= (hsize_t(1) << 31),
              "'" + ref.str() + "' claims " + std::to_string(dims[0]) + " × " + std::to_string(dims[1]) +
                  " centroids: not a kkmeans model (corrupt file?)");
  Model m;
  m.k = dims[0];
  m.d = dims[1];
  m.centroids.resize(dims[0] * dims[1]);
  if (!m.centroids.empty())
    check(H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.centroids.data()),
          "cannot read '" + ref.str() + "'");
  H5O_info_t oinfo;
  check(H5Oget_info(f.get(), &oinfo), "cannot read attributes of '" + path + "'");
  for (hsize_t a = 0; a < oinfo.num_attrs; ++a) {
    H at(H5Aopen_by_idx(f.get(), ".", H5_INDEX_NAME, H5_ITER_INC, a, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!at.ok()) continue;
    char name[256];
    H5Aget_name(at.get(), sizeof(name), name);
    H type(H5Aget_type(at.get()), H5Tclose);
    Attribute v;
    switch (H5Tget_class(type.get())) {
      case H5T_STRING: {
        if (H5Tis_variable_str(type.get()) > 0) continue;
        std::string s(H5Tget_size(type.get()), '\0');
        H mt(H5Tcopy(type.get()), H5Tclose);
        if (H5Aread(at.get(), mt.get(), s.data()) < 0) continue;
        s.erase(s.find_last_not_of('\0') + 1);
        v.kind = Attribute::text;
        v.s = s;
        break;
      }
      case H5T_INTEGER:
        v.kind = Attribute::integer;
        if (H5Aread(at.get(), H5T_NATIVE_INT64, &v.i) < 0) continue;
        break;
      case H5T_FLOAT:
        v.kind = Attribute::real;
        if (H5Aread(at.get(), H5T_NATIVE_DOUBLE, &v.r) < 0) continue;
        break;
      default: continue;
    }
    m.attributes[name] = v;
  }
  return m;
}

}  // namespace kkm::io
