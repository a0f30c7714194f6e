// Deflate-compressed datasets read as stored and inflated on several threads
// (io/detail/KKM_HDF5Inflate.hpp): the values HDF5 itself reads, for chunks that split rows and
// columns unevenly (edge chunks stored whole), with and without the shuffle filter, float32,
// float64 and float16, any range of rows; other pipelines are left to HDF5; a corrupt chunk stops the
// read with one line naming the dataset and the chunk.
#include <kkmeans/io/KKM_HDF5.hpp>
#include <kkmeans/io/detail/KKM_HDF5Detail.hpp>
#include <kkmeans/io/detail/KKM_HDF5Inflate.hpp>

#include <gtest/gtest.h>

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

namespace {

namespace io = kkm::io;

enum class Pipeline { deflate, shuffle_deflate, checksum_deflate };

/// n × d values of T in a new file, chunks of chunk_rows × chunk_cols through `pipeline`; the path.
template <class T>
std::string write_compressed(std::string const& name, std::vector<T> const& v, hsize_t n, hsize_t d,
                             hsize_t chunk_rows, hsize_t chunk_cols, Pipeline pipeline) {
  std::string const path = (std::filesystem::temp_directory_path() / ("kkm_inflate_" + name + ".h5")).string();
  hid_t const f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t const dims[2] = {n, d}, chunk[2] = {chunk_rows, chunk_cols};
  hid_t const space = H5Screate_simple(2, dims, nullptr), props = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(props, 2, chunk);
  if (pipeline == Pipeline::checksum_deflate) H5Pset_fletcher32(props);
  if (pipeline == Pipeline::shuffle_deflate) H5Pset_shuffle(props);
  H5Pset_deflate(props, 4);
  hid_t const set = H5Dcreate2(f, "/points", io::detail::native<T>(), space, H5P_DEFAULT, props, H5P_DEFAULT);
  H5Dwrite(set, io::detail::native<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Dclose(set), H5Pclose(props), H5Sclose(space), H5Fclose(f);
  return path;
}

template <class T>
std::vector<T> values(std::size_t count) {
  std::vector<T> v(count);
  for (std::size_t e = 0; e < count; ++e) {
    double const x = 0.125 * double((e * 7919) % 10007) - 600.5;
    if constexpr (std::is_same_v<T, kkm::float16>)
      v[e] = kkm::round_to<T>(x);
    else
      v[e] = T(x);
  }
  return v;
}

/// Reads ranges of rows of the dataset at `path` through InflatedChunks (three threads) and expects
/// the stored values; expects it to apply unless the pipeline has a checksum.
template <class T>
void expect_inflated_rows(std::string const& path, std::vector<T> const& v, std::int64_t n, std::int64_t d,
                          bool applies) {
  io::detail::quiet();
  io::detail::H file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  io::detail::H set(H5Dopen2(file.get(), "/points", H5P_DEFAULT), H5Dclose);
  auto z = io::detail::InflatedChunks::open(set.get(), io::detail::native<T>(), path + ":/points", 3);
  ASSERT_EQ(z != nullptr, applies) << path;
  if (!z) return;
  for (auto [r0, r1] : {std::pair<std::int64_t, std::int64_t>{0, n}, {1, 2}, {37, 421}, {n - 3, n}, {64, 128}}) {
    std::vector<T> got(std::size_t(r1 - r0) * std::size_t(d));
    z->read(set.get(), r0, r1 - r0, got.data());
    for (std::int64_t i = r0; i < r1; ++i)
      for (std::int64_t j = 0; j < d; ++j)
        ASSERT_EQ(float(got[std::size_t((i - r0) * d + j)]), float(v[std::size_t(i * d + j)]))
            << path << " rows [" << r0 << ", " << r1 << "), row " << i << ", column " << j;
  }
  // The dataset read as another type is HDF5's to convert.
  hid_t const other = std::is_same_v<T, double> ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
  EXPECT_EQ(io::detail::InflatedChunks::open(set.get(), other, path, 2), nullptr);
}

template <class T>
void expect_inflated_rows_for(char const* type) {
  std::int64_t const n = 1000, d = 7;
  auto const v = values<T>(std::size_t(n * d));
  // (64-row chunks leave a 40-row edge chunk; 3-column chunks split each row into 3, the last 1 wide)
  for (auto [chunk_rows, chunk_cols] : {std::pair<hsize_t, hsize_t>{64, 7}, {50, 3}, {1000, 7}})
    for (auto pipeline : {Pipeline::deflate, Pipeline::shuffle_deflate, Pipeline::checksum_deflate}) {
      std::string const name = std::string(type) + "_" + std::to_string(chunk_rows) + "x" + std::to_string(chunk_cols) +
                               "_" + std::to_string(int(pipeline));
      std::string const path = write_compressed(name, v, n, d, chunk_rows, chunk_cols, pipeline);
      expect_inflated_rows(path, v, n, d, pipeline != Pipeline::checksum_deflate);
      // The rows a fit reads from the file (io::DatasetRows), whichever way they are read.
      auto const ref = io::parse_dataset_ref(path + ":/points");
      io::DatasetRows<T> rows(ref, io::inspect(ref), 10, n - 20);
      std::vector<T> got(std::size_t((n - 20) * d));
      rows.read(0, n - 20, got.data());
      for (std::size_t e = 0; e < got.size(); ++e) ASSERT_EQ(float(got[e]), float(v[e + 10 * d])) << name << " " << e;
      std::filesystem::remove(path);
    }
}

TEST(TEST_CATEGORY, compressed_rows_inflated_on_threads_equal_stored_values) {
  expect_inflated_rows_for<float>("f32");
  expect_inflated_rows_for<double>("f64");
  expect_inflated_rows_for<kkm::float16>("f16");
}

TEST(TEST_CATEGORY, compressed_chunk_corrupt_stops_the_read_naming_it) {
  std::int64_t const n = 1000, d = 8;
  auto const v = values<float>(std::size_t(n * d));
  std::string const path = write_compressed("corrupt", v, n, d, 100, 8, Pipeline::shuffle_deflate);
  haddr_t at = 0;
  hsize_t size = 0;
  {
    io::detail::H file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    io::detail::H set(H5Dopen2(file.get(), "/points", H5P_DEFAULT), H5Dclose);
    hsize_t const offset[2] = {300, 0};
    unsigned mask = 0;
    ASSERT_GE(H5Dget_chunk_info_by_coord(set.get(), offset, &mask, &at, &size), 0);
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(at + 8));
    std::string const junk(std::size_t(size - 16), '\xff');
    f.write(junk.data(), std::streamsize(junk.size()));
  }
  auto const ref = io::parse_dataset_ref(path + ":/points");
  io::DatasetRows<float> rows(ref, io::inspect(ref), 0, n);
  std::vector<float> got(std::size_t(n * d));
  rows.read(0, 300, got.data());  // (the chunks before it are whole)
  try {
    rows.read(250, 450, got.data());
    ADD_FAILURE() << "a corrupt chunk was read";
  } catch (kkm::UserError const& e) {
    std::string const m = e.what();
    EXPECT_NE(m.find("corrupt"), std::string::npos) << m;
    EXPECT_NE(m.find(path + ":/points"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  std::filesystem::remove(path);
}

}  // namespace
