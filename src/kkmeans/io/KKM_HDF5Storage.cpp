// Whether a dataset's storage holds every value it declares. HDF5 reads what is not there as fill
// values, without an error, in four ways: chunks never written, contiguous storage never allocated,
// virtual datasets whose source file or dataset is missing (or smaller than the mapping, or whose
// mappings leave parts of the extent uncovered), and external raw files that are missing or shorter
// than declared (read as zeros). Each is refused here before any row is read.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/io/KKM_HDF5.hpp>
#include <kkmeans/io/detail/KKM_HDF5Detail.hpp>

#include <hdf5.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace kkm::io::detail {

namespace {

namespace fs = std::filesystem;

/// A virtual dataset may map another virtual dataset: deeper than this is taken for a cycle.
constexpr int max_virtual_depth = 8;

std::string dataset_name(DatasetRef const& ref) { return "dataset '" + ref.str() + "'"; }

void require_chunks_written(hid_t dataset, hid_t space, hid_t dcpl, DatasetRef const& ref) {
  // (H5Dget_space_status miscounts datasets with partial edge chunks, so count chunks instead.)
  int const nd = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(nd > 0 ? nd : 1, 1), cdims(nd > 0 ? nd : 1, 1);
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  check(H5Pget_chunk(dcpl, nd, cdims.data()), "cannot read the chunk shape of '" + ref.str() + "'");
  hsize_t expected = 1;
  for (int r = 0; r < nd; ++r) expected *= (dims[r] + cdims[r] - 1) / cdims[r];
  hsize_t have = 0;
  check(H5Dget_num_chunks(dataset, space, &have), "cannot count the chunks of '" + ref.str() + "'");
  KKM_REQUIRE(have == expected, dataset_name(ref) + " has missing (never written) chunks: " + std::to_string(have) +
                                    " of " + std::to_string(expected) +
                                    " exist, the rest would read as fill values, not data");
}

/// The value of an HDF5 prefix setting, with ${ORIGIN} meaning the folder of the file `origin`.
std::string expand_origin(std::string prefix, std::string const& origin) {
  auto const at = prefix.find("${ORIGIN}");
  if (at != std::string::npos) {
    prefix.replace(at, 9, fs::absolute(origin).parent_path().string());
  }
  return prefix;
}

/// External raw files: each must exist and hold the bytes its segment contributes (HDF5 reads a
/// short file's missing bytes as zeros). Names resolve as HDF5 resolves them: absolute, else under
/// $HDF5_EXTFILE_PREFIX, else from the working directory.
void require_external_files(hid_t dataset, hid_t dcpl, DatasetRef const& ref) {
  int const count = H5Pget_external_count(dcpl);
  H type(H5Dget_type(dataset), H5Tclose);
  H space(H5Dget_space(dataset), H5Sclose);
  hssize_t const points = H5Sget_simple_extent_npoints(space.get());
  KKM_REQUIRE(type.ok() && points >= 0, "cannot read the type and shape of '" + ref.str() + "'");
  auto remaining = static_cast<unsigned long long>(points) * H5Tget_size(type.get());
  char const* env = std::getenv("HDF5_EXTFILE_PREFIX");
  std::string const prefix = env != nullptr ? expand_origin(env, ref.file) : std::string();
  for (int i = 0; i < count && remaining > 0; ++i) {
    char name[4096] = {};
    off_t offset = 0;
    hsize_t size = 0;
    check(H5Pget_external(dcpl, static_cast<unsigned>(i), sizeof name, name, &offset, &size),
          "cannot read the external storage of '" + ref.str() + "'");
    std::string path = name;
    if (!fs::path(path).is_absolute() && !prefix.empty()) path = prefix + "/" + path;
    auto const take = size == H5F_UNLIMITED ? remaining : std::min<unsigned long long>(size, remaining);
    std::error_code ec;
    auto const have = fs::file_size(path, ec);
    KKM_REQUIRE(!ec, dataset_name(ref) + " keeps its values in external file '" + path +
                         "', which cannot be read (" + ec.message() + ")");
    KKM_REQUIRE(have >= static_cast<unsigned long long>(offset) + take,
                dataset_name(ref) + " keeps its values in external file '" + path + "', which holds " +
                    std::to_string(have) + " bytes where " + std::to_string(offset + take) +
                    " are declared: the rest would read as zeros, not data");
    remaining -= take;
  }
  KKM_REQUIRE(remaining == 0, dataset_name(ref) + " declares fewer external bytes than its values need");
}

/// Where HDF5 looks for a virtual dataset's source file, in its order: the name as given (if
/// absolute), under each $HDF5_VDS_PREFIX folder, in the virtual file's folder, from the working
/// directory. The first that exists, or nothing.
std::optional<std::string> find_source_file(std::string const& name, std::string const& vfile) {
  if (name == ".") return vfile;
  std::vector<std::string> candidates;
  fs::path const given(name);
  if (given.is_absolute()) candidates.push_back(name);
  std::string const base = given.is_absolute() ? given.filename().string() : name;
  if (char const* env = std::getenv("HDF5_VDS_PREFIX")) {
    std::stringstream folders(env);
    for (std::string folder; std::getline(folders, folder, ':');) {
      if (!folder.empty()) candidates.push_back(expand_origin(folder, vfile) + "/" + base);
    }
  }
  candidates.push_back((fs::absolute(vfile).parent_path() / base).string());
  candidates.push_back(base);
  for (auto const& c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec) && H5Fis_hdf5(c.c_str()) > 0) return c;
  }
  return std::nullopt;
}

void require_complete(hid_t dataset, DatasetRef const& ref, int depth);

/// A mapping's source file or dataset name (H5Pget_virtual_filename or H5Pget_virtual_dsetname).
std::string mapping_name(ssize_t (*get)(hid_t, std::size_t, char*, std::size_t), hid_t dcpl, std::size_t m) {
  ssize_t const length = get(dcpl, m, nullptr, 0);
  KKM_REQUIRE(length >= 0, "cannot read the source of a virtual dataset's mapping");
  std::string name(static_cast<std::size_t>(length), '\0');
  get(dcpl, m, name.data(), name.size() + 1);
  return name;
}

/// The virtual extent's selections, joined: kkmeans refuses a virtual dataset they do not cover.
void require_extent_covered(hid_t dcpl, hid_t space, std::size_t mappings, DatasetRef const& ref) {
  H covered(H5Scopy(space), H5Sclose);
  check(H5Sselect_none(covered.get()), "cannot check the mappings of '" + ref.str() + "'");
  int const nd = H5Sget_simple_extent_ndims(space);
  for (std::size_t m = 0; m < mappings; ++m) {
    H vspace(H5Pget_virtual_vspace(dcpl, m), H5Sclose);
    KKM_REQUIRE(vspace.ok(), "cannot read the mappings of '" + ref.str() + "'");
    if (H5Sget_select_type(vspace.get()) == H5S_SEL_ALL) return;
    hssize_t const blocks = H5Sget_select_hyper_nblocks(vspace.get());
    KKM_REQUIRE(blocks >= 0, dataset_name(ref) + " is a virtual dataset with unlimited mappings, which kkmeans " +
                                 "cannot check for missing sources: copy it into a regular dataset first");
    std::vector<hsize_t> corners(static_cast<std::size_t>(blocks) * 2 * nd);
    check(H5Sget_select_hyper_blocklist(vspace.get(), 0, static_cast<hsize_t>(blocks), corners.data()),
          "cannot read the mappings of '" + ref.str() + "'");
    std::vector<hsize_t> start(nd), one(nd, 1), block(nd);
    for (hssize_t b = 0; b < blocks; ++b) {
      hsize_t const* c = corners.data() + b * 2 * nd;
      for (int r = 0; r < nd; ++r) {
        start[r] = c[r];
        block[r] = c[nd + r] - c[r] + 1;
      }
      check(H5Sselect_hyperslab(covered.get(), H5S_SELECT_OR, start.data(), nullptr, one.data(), block.data()),
            "cannot check the mappings of '" + ref.str() + "'");
    }
  }
  hssize_t const have = H5Sget_select_npoints(covered.get()), all = H5Sget_simple_extent_npoints(space);
  KKM_REQUIRE(have == all, dataset_name(ref) + " is a virtual dataset whose mappings cover " + std::to_string(have) +
                               " of its " + std::to_string(all) +
                               " values: the rest would read as fill values, not data");
}

/// Every mapping's source file and dataset exist, hold the mapped selection, and are complete.
void require_virtual_sources(hid_t dcpl, hid_t space, DatasetRef const& ref, int depth) {
  KKM_REQUIRE(depth < max_virtual_depth, dataset_name(ref) + " maps virtual datasets " +
                                             std::to_string(max_virtual_depth) + " deep (a cycle?)");
  std::size_t mappings = 0;
  check(H5Pget_virtual_count(dcpl, &mappings), "cannot read the mappings of '" + ref.str() + "'");
  require_extent_covered(dcpl, space, mappings, ref);
  for (std::size_t m = 0; m < mappings; ++m) {
    std::string const fname = mapping_name(H5Pget_virtual_filename, dcpl, m);
    std::string dname = mapping_name(H5Pget_virtual_dsetname, dcpl, m);
    if (dname.empty() || dname[0] != '/') dname.insert(0, "/");  // HDF5 reads a bare name from the root
    std::string const source = fname + ":" + dname;
    std::string const from = dataset_name(ref) + " is a virtual dataset whose source '" + source + "'";
    KKM_REQUIRE(fname.find('%') == std::string::npos && dname.find('%') == std::string::npos,
                from + " is a pattern, which kkmeans cannot check: copy it into a regular dataset first");
    auto const path = find_source_file(fname, ref.file);
    KKM_REQUIRE(path.has_value(), from + " is missing: its rows would read as fill values, not data");
    H sfile(H5Fopen(path->c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    KKM_REQUIRE(sfile.ok(), from + " cannot be opened ('" + *path + "')");
    KKM_REQUIRE(H5Lexists(sfile.get(), dname.c_str(), H5P_DEFAULT) > 0,
                from + " has no dataset '" + dname + "': its rows would read as fill values, not data");
    H sdata(H5Dopen2(sfile.get(), dname.c_str(), H5P_DEFAULT), H5Dclose);
    KKM_REQUIRE(sdata.ok(), from + " cannot be opened");
    H sspace(H5Dget_space(sdata.get()), H5Sclose);
    H selection(H5Pget_virtual_srcspace(dcpl, m), H5Sclose);
    int const snd = H5Sget_simple_extent_ndims(sspace.get());
    std::vector<hsize_t> dims(snd), lo(snd), hi(snd);
    H5Sget_simple_extent_dims(sspace.get(), dims.data(), nullptr);
    // The mapping's source selection must lie inside the source dataset as it is now. A selection
    // of "all" the source may come without an extent (HDF5 learns it when it opens the source):
    // then the source must hold as many values as the mapping's part of the virtual dataset.
    bool inside = false;
    if (H5Sget_simple_extent_ndims(selection.get()) == snd) {
      inside = H5Sget_select_bounds(selection.get(), lo.data(), hi.data()) >= 0;
      for (int r = 0; inside && r < snd; ++r) inside = hi[r] < dims[r];
    } else if (H5Sget_select_type(selection.get()) == H5S_SEL_ALL) {
      H vspace(H5Pget_virtual_vspace(dcpl, m), H5Sclose);
      inside = H5Sget_simple_extent_npoints(sspace.get()) >= H5Sget_select_npoints(vspace.get());
    }
    KKM_REQUIRE(inside, from + " is smaller than the part it maps: the rest would read as fill values, not data");
    require_complete(sdata.get(), DatasetRef{*path, dname}, depth + 1);
  }
}

void require_complete(hid_t dataset, DatasetRef const& ref, int depth) {
  H space(H5Dget_space(dataset), H5Sclose);
  H dcpl(H5Dget_create_plist(dataset), H5Pclose);
  KKM_REQUIRE(space.ok() && dcpl.ok(), "cannot read the storage of '" + ref.str() + "'");
  if (H5Sget_simple_extent_npoints(space.get()) == 0) return;
  switch (H5Pget_layout(dcpl.get())) {
    case H5D_CHUNKED: require_chunks_written(dataset, space.get(), dcpl.get(), ref); return;
    case H5D_VIRTUAL: require_virtual_sources(dcpl.get(), space.get(), ref, depth); return;
    case H5D_CONTIGUOUS:
      if (H5Pget_external_count(dcpl.get()) > 0) {
        require_external_files(dataset, dcpl.get(), ref);
        return;
      }
      break;
    default: break;
  }
  H5D_space_status_t status;
  check(H5Dget_space_status(dataset, &status), "cannot query storage of '" + ref.str() + "'");
  KKM_REQUIRE(status != H5D_SPACE_STATUS_NOT_ALLOCATED,
              dataset_name(ref) + " has no data written: its values would be fill values, not data");
}

}  // namespace

void require_complete_storage(hid_t dataset, DatasetRef const& ref) { require_complete(dataset, ref, 0); }

}  // namespace kkm::io::detail
