// The rows of --data-in file: mapped from their HDF5 file where they can be (a contiguous dataset's
// values lie in the file as one array at a known offset, in the type they were written in; where
// that is the working precision's native type, the rows can be used where they lie), else read a
// hyperslab at a time where the fit asks for them (DatasetRows). Either notices a file changed
// under the fit by its size and modification time.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/io/KKM_HDF5.hpp>
#include <kkmeans/io/detail/KKM_HDF5Detail.hpp>

#include <fcntl.h>
#include <hdf5.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <type_traits>
#include <string>
#include <vector>

namespace kkm::io {

namespace {

using detail::H;

struct FileStamp {
  std::int64_t size = 0, mtime_ns = 0;
};

FileStamp stamp_of(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return {-1, -1};
  return {std::int64_t(st.st_size), std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

/// The stamp of the file at `path` now ({-1, -1} where it cannot be opened).
FileStamp stamp_of(std::string const& path) {
  int const fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {-1, -1};
  FileStamp const st = stamp_of(fd);
  close(fd);
  return st;
}

/// Where rows of T start in the file, after checking that they can be mapped there.
template <class T>
std::int64_t mappable_offset(DatasetRef const& ref) {
  H file = detail::open_file(ref.file, H5F_ACC_RDONLY);
  H dataset = detail::open_dataset(file.get(), ref);
  H dcpl(H5Dget_create_plist(dataset.get()), H5Pclose);
  H type(H5Dget_type(dataset.get()), H5Tclose);
  detail::check(dcpl.ok() && type.ok() ? 0 : -1, "cannot read the storage of '" + ref.str() + "'");
  std::string const cannot = "--data-in file cannot map '" + ref.str() + "': ";
  std::string const rewrite = " (`h5repack -l CONTI` rewrites it contiguous), or use --data-in host/device";
  KKM_REQUIRE(H5Pget_layout(dcpl.get()) == H5D_CONTIGUOUS, cannot + "it is not stored contiguously" + rewrite);
  KKM_REQUIRE(H5Pget_external_count(dcpl.get()) == 0, cannot + "its values are in external raw files" + rewrite);
  KKM_REQUIRE(H5Tequal(type.get(), detail::native<T>()) > 0,
              cannot + "its values are not stored as this machine's " + scalar_name<T>() + ", the fit's precision" +
                  (std::is_same_v<T, float> ? " (--precision double for float64 data)" : "") +
                  "; convert it, or use --data-in host/device");
  detail::require_complete_storage(dataset.get(), ref);
  haddr_t const offset = H5Dget_offset(dataset.get());
  KKM_REQUIRE(offset != HADDR_UNDEF, cannot + "its storage is not allocated");
  KKM_REQUIRE(offset % sizeof(T) == 0, cannot + "its values are not aligned to " + std::to_string(sizeof(T)) +
                                           " bytes in the file (`h5repack -a " + std::to_string(sizeof(T)) +
                                           "` aligns them), or use --data-in host/device");
  return static_cast<std::int64_t>(offset);
}

}  // namespace

template <class T>
MappedRows<T>::MappedRows(DatasetRef const& ref, DatasetInfo const& info, std::int64_t row0, std::int64_t count)
    : file_(ref.file) {
  std::int64_t const offset = mappable_offset<T>(ref);
  std::size_t const row_bytes = std::size_t(info.cols) * sizeof(T);
  std::int64_t const first = offset + std::int64_t(row_bytes) * row0;
  std::size_t const bytes = row_bytes * std::size_t(count);
  int const fd = open(ref.file.c_str(), O_RDONLY | O_CLOEXEC);
  KKM_REQUIRE(fd >= 0, "cannot open '" + ref.file + "' to map it: " + std::strerror(errno));
  FileStamp const st = stamp_of(fd);
  size_ = st.size;
  mtime_ns_ = st.mtime_ns;
  if (std::int64_t(first + bytes) > st.size) {
    close(fd);
    throw UserError("--data-in file cannot map '" + ref.str() + "': the file is shorter than its dataset");
  }
  std::int64_t const page = sysconf(_SC_PAGESIZE);
  std::int64_t const start = first / page * page;
  length_ = std::size_t(first - start) + bytes;
  if (length_ > 0) {
    void* const base = mmap(nullptr, length_, PROT_READ, MAP_SHARED, fd, start);
    int const err = errno;
    close(fd);
    KKM_REQUIRE(base != MAP_FAILED, "cannot map '" + ref.str() + "' (" + std::to_string(bytes) + " bytes): " +
                                        std::strerror(err));
    base_ = base;
    madvise(base_, length_, MADV_SEQUENTIAL);  // passes read the rows in order: read ahead
  } else {
    close(fd);
  }
  rows_ = reinterpret_cast<T const*>(static_cast<char const*>(base_) + (first - start));
  // The offset as HDF5 reports it against the values as HDF5 reads them: the first and last row.
  // (A constructor that throws runs no destructor: the mapping is released here.)
  try {
    for (std::int64_t r : {row0, row0 + count - 1}) {
      if (count == 0) break;
      std::vector<T> const want = read_rows<T>(ref, info, r, 1, Communicator{});
      KKM_REQUIRE(std::memcmp(want.data(), rows_ + (r - row0) * info.cols, row_bytes) == 0,
                  "--data-in file cannot map '" + ref.str() + "': its values are not where HDF5 reports them "
                  "(a user block?); use --data-in host/device");
    }
  } catch (...) {
    if (base_ != nullptr) munmap(base_, length_);
    throw;
  }
}

template <class T>
MappedRows<T>::~MappedRows() {
  if (base_ != nullptr) munmap(base_, length_);
}

template <class T>
bool MappedRows<T>::changed() const {
  FileStamp const st = stamp_of(file_);
  return st.size != size_ || st.mtime_ns != mtime_ns_;
}

template <class T>
DatasetRows<T>::DatasetRows(DatasetRef const& ref, DatasetInfo const& info, std::int64_t row0, std::int64_t count)
    : file_(ref.file), row0_(row0), count_(count), cols_(info.cols), block_(std::max<std::int64_t>(1, info.chunk_rows)) {
  FileStamp const st = stamp_of(ref.file);  // (before the open: a change after it is seen)
  size_ = st.size;
  mtime_ns_ = st.mtime_ns;
  reader_ = std::make_unique<RowReader>(ref, info, self_);
  reader_->finish();  // (the open's error, if any)
}

template <class T>
DatasetRows<T>::~DatasetRows() = default;

template <class T>
void DatasetRows<T>::read(std::int64_t r0, std::int64_t r1, T* out) {
  KKM_ASSERT(0 <= r0 && r0 <= r1 && r1 <= count_);
  detail::quiet();  // (this thread's reads, where HDF5 keeps the setting per thread)
  reader_->read(row0_ + r0, r1 - r0, out);
  reader_->finish();
}

template <class T>
bool DatasetRows<T>::changed() const {
  FileStamp const st = stamp_of(file_);
  return st.size != size_ || st.mtime_ns != mtime_ns_;
}

template <class T>
std::string why_not_mappable(DatasetRef const& ref) {
  try {
    (void)mappable_offset<T>(ref);
    return {};
  } catch (UserError const& e) {
    return e.what();
  }
}

template class DatasetRows<float>;
template class DatasetRows<double>;
template class DatasetRows<float16>;
template class DatasetRows<bfloat16>;
template class MappedRows<float>;
template class MappedRows<double>;
template std::string why_not_mappable<float>(DatasetRef const&);
template std::string why_not_mappable<double>(DatasetRef const&);
template class MappedRows<float16>;
template class MappedRows<bfloat16>;
template std::string why_not_mappable<float16>(DatasetRef const&);
template std::string why_not_mappable<bfloat16>(DatasetRef const&);

}  // namespace kkm::io
