// Writing HDF5: output, matrix, label and checkpoint files, each written by every rank in turn under
// a temporary name and renamed into place. Reading is in KKM_HDF5Read.cpp.
#include <kkmeans/core/KKM_Bytes.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/io/KKM_HDF5.hpp>
#include <kkmeans/io/detail/KKM_HDF5Detail.hpp>

#include <hdf5.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <unistd.h>
#include <vector>

namespace kkm::io {

using detail::check;
using detail::H;
using detail::native;
using detail::quiet;

namespace {

namespace fs = std::filesystem;

/// Runs `fn` on each rank in turn (rank 0 first), passing on failure to every rank afterwards.
void in_rank_order(Communicator const& comm, std::function<void()> const& fn) {
  for (int r = 0; r < comm.size(); ++r)
    on_every_rank(comm, [&] {
      if (r == comm.rank()) fn();
    });
}

void write_attribute(hid_t obj, std::string const& name, Attribute const& a) {
  H space(H5Screate(H5S_SCALAR), H5Sclose);
  if (a.kind == Attribute::text) {
    H type(H5Tcopy(H5T_C_S1), H5Tclose);
    check(H5Tset_size(type.get(), a.s.size() > 0 ? a.s.size() : 1), "attribute type");
    check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "attribute type");
    H at(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    KKM_REQUIRE(at.ok(), "cannot create attribute '" + name + "'");
    std::string v = a.s.empty() ? std::string(1, '\0') : a.s;
    check(H5Awrite(at.get(), type.get(), v.data()), "cannot write attribute '" + name + "'");
  } else {
    hid_t const t = a.kind == Attribute::integer ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    H at(H5Acreate2(obj, name.c_str(), t, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    KKM_REQUIRE(at.ok(), "cannot create attribute '" + name + "'");
    void const* p = a.kind == Attribute::integer ? static_cast<void const*>(&a.i) : static_cast<void const*>(&a.r);
    check(H5Awrite(at.get(), t, p), "cannot write attribute '" + name + "'");
  }
}

/// Creates a dataset of `dims` (1 or 2) of type `file_type` and writes `data` (full) if given.
template <class T>
void create_dataset(hid_t loc, std::string const& name, std::vector<hsize_t> const& dims, hid_t file_type,
                    T const* data) {
  H space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
  H d(H5Dcreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  KKM_REQUIRE(d.ok(), "cannot create dataset '" + name + "'");
  bool empty = false;
  for (auto v : dims) empty = empty || v == 0;
  if (data && !empty) check(H5Dwrite(d.get(), native<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "cannot write '" + name + "'");
}

/// Writes rows [row0, row0 + rows) of an existing 1-D or 2-D dataset.
template <class T>
void write_slab(hid_t file, std::string const& name, std::int64_t row0, std::int64_t rows, std::int64_t cols,
                T const* data) {
  if (rows == 0) return;
  H d(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
  KKM_REQUIRE(d.ok(), "cannot open dataset '" + name + "' for writing");
  H fspace(H5Dget_space(d.get()), H5Sclose);
  int const nd = H5Sget_simple_extent_ndims(fspace.get());
  hsize_t start[2] = {hsize_t(row0), 0}, count[2] = {hsize_t(rows), hsize_t(cols)};
  check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), "hyperslab");
  H mspace(H5Screate_simple(nd, count, nullptr), H5Sclose);
  check(H5Dwrite(d.get(), native<T>(), mspace.get(), fspace.get(), H5P_DEFAULT, data), "cannot write '" + name + "'");
}

std::string temporary_name(std::string const& path, Communicator const& comm) {
  std::int64_t pid = getpid();
  auto all = comm.allgather(pid);
  fs::path p(path);
  return (p.parent_path() / ("." + p.filename().string() + ".tmp-kkmeans-" + std::to_string(all[0]))).string();
}

/// Gives up a temporary file whose writing failed: empties it, so that closing it has room for
/// the little HDF5 still writes then. (HDF5 1.10 frees a file whose close failed but keeps its
/// identifier, and crashes closing it again in MPI_Finalize: a full disk must not get that far.)
void abandon(H& file, std::string const& tmp) {
  // (If emptying fails too, the close may fail: the write's error is what gets reported.)
  [[maybe_unused]] int const emptied = truncate(tmp.c_str(), 0);
  file.reset();
}

/// This rank's part of a temporary file (`create_file`: rank 0, which creates it), flushed and
/// closed with every return code checked; on failure the file is abandoned and the error names the
/// output and, where the system gave one, its reason (e.g. "No space left on device").
void write_part(std::string const& path, std::string const& tmp, bool create_file, std::function<void(hid_t)> const& fn) {
  errno = 0;
  H f(create_file ? H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                  : H5Fopen(tmp.c_str(), H5F_ACC_RDWR, H5P_DEFAULT),
      H5Fclose);
  try {
    KKM_REQUIRE(f.ok(), std::string(create_file ? "cannot create '" : "cannot open '") + tmp + "'");
    fn(f.get());
    check(H5Fflush(f.get(), H5F_SCOPE_GLOBAL), "cannot flush '" + tmp + "'");
    check(H5Fclose(f.release()), "cannot close '" + tmp + "'");
  } catch (std::exception const& e) {
    int const reason = errno;
    abandon(f, tmp);
    throw UserError("writing '" + path + "' failed: " + e.what() +
                    (reason != 0 ? std::string(" (") + std::strerror(reason) + ")" : std::string()));
  }
}

/// Writes a file under a temporary name with `create` (rank 0, whole-file parts) and `slab` (each
/// rank, in order, its own rows), then renames it into place. On any failure the temporary file is
/// removed on rank 0 and every rank throws.
void atomic_write(std::string const& path, bool overwrite, Communicator const& comm,
                  std::function<void(hid_t)> const& create, std::function<void(hid_t)> const& slab,
                  std::function<void()> const& before_rename = {}) {
  quiet();
  check_output_path(path, overwrite, comm);
  std::string const tmp = temporary_name(path, comm);
  try {
    in_rank_order(comm, [&]() {
      write_part(path, tmp, comm.rank() == 0, [&](hid_t f) {
        if (comm.rank() == 0) create(f);
        slab(f);
      });
    });
    std::string error;
    if (comm.rank() == 0 && before_rename) before_rename();
    if (comm.rank() == 0 && std::rename(tmp.c_str(), path.c_str()) != 0)
      error = "cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno);
    if (comm.any(!error.empty())) throw UserError(error.empty() ? "rename failed on rank 0" : error);
  } catch (...) {
    if (comm.rank() == 0) std::remove(tmp.c_str());
    throw;
  }
}

/// Bytes free to this user in folder `dir`; KKMEANS_TEST_FREE_DISK (bytes) stands in for it in tests.
double free_disk(fs::path const& dir) {
  if (char const* t = std::getenv("KKMEANS_TEST_FREE_DISK")) return std::strtod(t, nullptr);
  std::error_code ec;
  auto const space = fs::space(dir, ec);
  return ec ? std::numeric_limits<double>::infinity() : double(space.available);
}

}  // namespace

/// Checks (on rank 0, result shared) that `path` can be created: a file name, in a folder that
/// exists and is writable, not an existing folder, short enough that its temporary name
/// (".NAME.tmp-kkmeans-PID") is a valid name too, not an existing file unless overwrite, and with
/// `bytes` free in its filesystem.
void check_output_path(std::string const& path, bool overwrite, Communicator const& comm, double bytes) {
  std::string error;
  if (comm.rank() == 0) {
    std::error_code ec;
    fs::path p(path);
    fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
    long const name_max = pathconf(fs::is_directory(dir, ec) ? dir.c_str() : ".", _PC_NAME_MAX);
    std::size_t const tmp_len = 1 + p.filename().string().size() + std::string(".tmp-kkmeans-").size() + 10;
    if (p.filename().empty() || fs::is_directory(p, ec))
      error = "output path '" + path + "' names a folder, not a file";
    else if (!fs::is_directory(dir, ec))
      error = "output folder '" + dir.string() + "' does not exist";
    else if (access(dir.c_str(), W_OK) != 0)
      error = "output folder '" + dir.string() + "' is not writable";
    else if (name_max > 0 && tmp_len > std::size_t(name_max))
      error = "output name '" + p.filename().string() + "' is too long: its temporary name would exceed the " +
              std::to_string(name_max) + " characters a file name may have here";
    else if (fs::exists(p, ec) && !overwrite)
      error = "output '" + path + "' exists (pass --overwrite to replace it)";
    else if (double const free = free_disk(dir); bytes > free)
      // The old file (if any) is replaced only after the new one is complete: it frees nothing first.
      error = "not enough space for output '" + path + "': it needs about " + bytes_text(bytes) + " and '" +
              dir.string() + "' has " + bytes_text(free) + " free";
  }
  if (comm.any(!error.empty())) throw UserError(error.empty() ? "output path rejected on rank 0" : error);
}


void write_output(std::string const& path, OutputFile const& out, std::vector<int> const& local_labels,
                  std::int64_t label_offset, std::int64_t n_total, bool overwrite, Communicator const& comm) {
  auto create = [&](hid_t f) {
    std::vector<hsize_t> cdims = {hsize_t(out.k), hsize_t(out.d)};
    if (out.centroids_double) {
      create_dataset(f, "centroids", cdims, H5T_IEEE_F64LE, out.centroids.data());
    } else {
      std::vector<float> c(out.centroids.begin(), out.centroids.end());
      create_dataset(f, "centroids", cdims, H5T_IEEE_F32LE, c.data());
    }
    if (n_total >= 0) create_dataset<int>(f, "labels", {hsize_t(n_total)}, H5T_STD_I32LE, nullptr);
    if (!out.history.columns.empty()) {
      H g(H5Gcreate2(f, "history", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      KKM_REQUIRE(g.ok(), "cannot create group 'history'");
      std::size_t const nc = out.history.columns.size();
      std::size_t const rows = out.history.values.size() / nc;
      for (std::size_t c = 0; c < nc; ++c) {
        std::vector<double> col(rows);
        for (std::size_t r = 0; r < rows; ++r) col[r] = out.history.values[r * nc + c];
        create_dataset(g.get(), out.history.columns[c], {hsize_t(rows)}, H5T_IEEE_F64LE, col.data());
      }
    }
    for (auto const& [name, a] : out.attributes) write_attribute(f, name, a);
  };
  auto slab = [&](hid_t f) {
    if (n_total >= 0) write_slab(f, "labels", label_offset, std::int64_t(local_labels.size()), 1, local_labels.data());
  };
  atomic_write(path, overwrite, comm, create, slab);
}

void write_matrix(std::string const& path, std::string const& dataset, std::vector<float> const& local,
                  std::int64_t row0, std::int64_t n_total, std::int64_t cols,
                  std::map<std::string, std::vector<double>> const& extra, Attributes const& attrs, bool overwrite,
                  Communicator const& comm, std::vector<int> const* local_labels) {
  std::string const name = dataset.size() > 1 && dataset[0] == '/' ? dataset.substr(1) : dataset;
  KKM_REQUIRE(!name.empty() && name.find('/') == std::string::npos,
              "generate writes a dataset at the file's root, e.g. out.h5:/points; got '" + dataset + "'");
  std::int64_t const rows = cols > 0 ? std::int64_t(local.size()) / cols : 0;
  auto create = [&](hid_t f) {
    create_dataset<float>(f, name, {hsize_t(n_total), hsize_t(cols)}, H5T_IEEE_F32LE, nullptr);
    if (local_labels) create_dataset<int>(f, "labels", {hsize_t(n_total)}, H5T_STD_I32LE, nullptr);
    for (auto const& [n, v] : extra) {
      std::vector<hsize_t> dims = {hsize_t(v.size())};
      if (n == "centers") dims = {hsize_t(v.size() / cols), hsize_t(cols)};
      create_dataset(f, n, dims, H5T_IEEE_F64LE, v.data());
    }
    for (auto const& [n, a] : attrs) write_attribute(f, n, a);
  };
  auto slab = [&](hid_t f) {
    write_slab(f, name, row0, rows, cols, local.data());
    if (local_labels) write_slab(f, "labels", row0, std::int64_t(local_labels->size()), 1, local_labels->data());
  };
  atomic_write(path, overwrite, comm, create, slab);
}

void write_labels(std::string const& path, std::vector<int> const& local_labels,
                  std::vector<double> const& local_distances, std::int64_t row0, std::int64_t n_total,
                  Attributes const& attrs, bool overwrite, Communicator const& comm) {
  bool const with_d = comm.any(!local_distances.empty());
  auto create = [&](hid_t f) {
    create_dataset<int>(f, "labels", {hsize_t(n_total)}, H5T_STD_I32LE, nullptr);
    if (with_d) create_dataset<double>(f, "distances", {hsize_t(n_total)}, H5T_IEEE_F64LE, nullptr);
    for (auto const& [n, a] : attrs) write_attribute(f, n, a);
  };
  auto slab = [&](hid_t f) {
    write_slab(f, "labels", row0, std::int64_t(local_labels.size()), 1, local_labels.data());
    if (with_d) write_slab(f, "distances", row0, std::int64_t(local_distances.size()), 1, local_distances.data());
  };
  atomic_write(path, overwrite, comm, create, slab);
}

void write_checkpoint(std::string const& path, Checkpoint const& ck, Attributes const& attrs,
                      Communicator const& comm, std::function<void()> const& before_rename) {
  auto create = [&](hid_t f) {
    create_dataset(f, "centroids", {hsize_t(ck.k), hsize_t(ck.d)}, H5T_IEEE_F64LE, ck.centroids.data());
    create_dataset<int>(f, "labels", {hsize_t(ck.n_rows)}, H5T_STD_I32LE, nullptr);
    std::vector<long long> fpi(ck.fingerprint.begin(), ck.fingerprint.end());
    H space(H5Screate_simple(1, std::vector<hsize_t>{hsize_t(fpi.size())}.data(), nullptr), H5Sclose);
    H d(H5Dcreate2(f, "fingerprint", H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    KKM_REQUIRE(d.ok(), "cannot create dataset 'fingerprint'");
    check(H5Dwrite(d.get(), H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, fpi.data()), "cannot write 'fingerprint'");
    H g(H5Gcreate2(f, "history", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    KKM_REQUIRE(g.ok(), "cannot create group 'history'");
    std::size_t const rows = ck.history.size();
    for_each_history_column([&](auto const& column) {
      if (!column.checkpointed) return;
      std::vector<double> v(rows);
      for (std::size_t r = 0; r < rows; ++r) v[r] = double(ck.history[r].*column.member);
      create_dataset(g.get(), column.name, {hsize_t(rows)}, H5T_IEEE_F64LE, v.data());
    });
    Attributes a = attrs;
    a["checkpoint_epoch"] = Attribute{Attribute::integer, "", ck.epoch, 0};
    a["checkpoint_run"] = Attribute{Attribute::integer, "", ck.run, 0};
    a["k_requested"] = Attribute{Attribute::integer, "", ck.k_requested, 0};
    a["seed"] = Attribute{Attribute::integer, "", static_cast<std::int64_t>(ck.seed), 0};
    a["kkmeans_checkpoint"] = Attribute{Attribute::integer, "", 1, 0};
    for (auto const& [n, v] : a) write_attribute(f, n, v);
  };
  auto slab = [&](hid_t f) {
    write_slab(f, "labels", ck.label_offset, std::int64_t(ck.labels.size()), 1, ck.labels.data());
  };
  atomic_write(path, true, comm, create, slab, before_rename);
}

}  // namespace kkm::io
