#pragma once
/// \file KKM_HDF5Detail.hpp
/// \brief What the HDF5 reading (KKM_HDF5Read.cpp) and writing (KKM_HDF5Write.cpp) code shares: an
/// owner of HDF5 identifiers, the return-code check, silencing HDF5's error printing, and the native
/// memory type of float, double, int and the 16-bit floats. Internal to kkmeans' HDF5 sources: it includes <hdf5.h>.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Half.hpp>
#include <kkmeans/io/KKM_HDF5.hpp>

#include <hdf5.h>

#include <string>

namespace kkm::io::detail {

/// Owns one HDF5 identifier and closes it with the matching H5?close.
class H {
 public:
  H() = default;
  H(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  H(H&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  H& operator=(H&& o) noexcept {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
    return *this;
  }
  H(H const&) = delete;
  H& operator=(H const&) = delete;
  ~H() { reset(); }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }
  hid_t get() const { return id_; }
  /// Gives up ownership (the caller closes the identifier and checks that close).
  hid_t release() {
    hid_t const id = id_;
    id_ = -1;
    return id;
  }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

/// HDF5 prints its error stack by default; kkmeans reports one line of its own instead. (Inline:
/// one `done` flag for the whole program, whichever source file calls it first; one per thread, as a
/// thread-safe HDF5 keeps the setting per thread and rows are also read on a stream's own thread.)
inline void quiet() {
  static thread_local bool done = false;
  if (!done) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    done = true;
  }
}

inline void check(herr_t rc, std::string const& what) {
  if (rc < 0) throw UserError(what);
}

template <class T>
hid_t native();
template <>
inline hid_t native<float>() { return H5T_NATIVE_FLOAT; }
template <>
inline hid_t native<double>() { return H5T_NATIVE_DOUBLE; }
template <>
inline hid_t native<int>() { return H5T_NATIVE_INT; }

/// A 16-bit IEEE-layout float type (HDF5 before 1.14.4 predefines none), built as h5py builds its
/// float16: sign bit 15, then the exponent, then the fraction.
inline hid_t float_type_16(int exponent_bits) {
  int const fraction_bits = 15 - exponent_bits;
  hid_t const t = H5Tcopy(H5T_IEEE_F32LE);
  H5Tset_fields(t, 15, std::size_t(fraction_bits), std::size_t(exponent_bits), 0, std::size_t(fraction_bits));
  H5Tset_size(t, 2);
  H5Tset_precision(t, 16);
  H5Tset_ebias(t, (std::size_t(1) << (exponent_bits - 1)) - 1);
  return t;
}
/// (Built once and kept for the program's life, as HDF5's own predefined types are.)
template <>
inline hid_t native<kkm::float16>() {
  static hid_t const t = float_type_16(5);
  return t;
}
template <>
inline hid_t native<kkm::bfloat16>() {
  static hid_t const t = float_type_16(8);
  return t;
}

/// Whether a float type of the file is IEEE binary16 (5 exponent bits) or bfloat16 (8), in either
/// byte order.
inline bool is_float_16(hid_t type, int exponent_bits) {
  if (H5Tget_class(type) != H5T_FLOAT || H5Tget_size(type) != 2 || H5Tget_precision(type) != 16 ||
      H5Tget_offset(type) != 0)
    return false;
  std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
  H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize);
  std::size_t const fraction = std::size_t(15 - exponent_bits);
  return spos == 15 && epos == fraction && esize == std::size_t(exponent_bits) && mpos == 0 && msize == fraction &&
         H5Tget_ebias(type) == (std::size_t(1) << (exponent_bits - 1)) - 1;
}

/// Opens an HDF5 file (flags: H5F_ACC_RDONLY, …), naming in its UserError what is wrong: missing, a
/// folder, not HDF5, locked by a writer, unreadable.
H open_file(std::string const& file, unsigned flags, hid_t fapl = H5P_DEFAULT);
/// Opens a dataset after checking that every link on the path exists and that it is a dataset.
H open_dataset(hid_t file, DatasetRef const& ref);

/// Refuses a dataset whose storage does not hold every value it declares (chunks never written,
/// storage never allocated, missing or short virtual sources and external files): HDF5 would read
/// those values as fill values or zeros, without an error (KKM_HDF5Storage.cpp).
void require_complete_storage(hid_t dataset, DatasetRef const& ref);

}  // namespace kkm::io::detail
