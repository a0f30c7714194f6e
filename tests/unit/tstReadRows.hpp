// Reading a rank's rows into the kernels' memory (io::read_to_space): in one read or block by block
// through the staging buffers, the values of read_rows, in float or converted to double; rows past
// the end of the dataset are a clear error, not garbage.
#include <KKM_TestHelpers.hpp>
#include <kkmeans/io/KKM_HDF5.hpp>
#include <kkmeans/io/KKM_ReadToDevice.hpp>
#include <kkmeans/io/detail/KKM_HDF5Detail.hpp>

#include <gtest/gtest.h>

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace {

TEST(TEST_CATEGORY, read_to_space_in_blocks_equals_one_read) {
  using Space = TEST_EXECSPACE;
  std::int64_t const n = 1000;
  int const d = 7;
  std::vector<float> v(std::size_t(n) * d);
  for (std::size_t e = 0; e < v.size(); ++e) v[e] = 0.5f * float(e % 9973) - 17.25f;
  kkm::Communicator comm;
  std::string const path =
      (std::filesystem::temp_directory_path() / ("kkm_read_rows_" + std::string(Space::name()) + ".h5")).string();
  kkm::io::write_matrix(path, "points", v, 0, n, d, {}, {}, true, comm);
  auto const ref = kkm::io::parse_dataset_ref(path + ":/points");
  auto const info = kkm::io::inspect(ref);
  std::int64_t const row0 = 100, count = 700;
  auto const want = kkm::io::read_rows<float>(ref, info, row0, count, comm);
  for (std::size_t block : {std::size_t(0), std::size_t(d * 4), std::size_t(d * 4 * 64), std::size_t(d * 4 * 699),
                            std::size_t(1) << 20}) {
    auto x = kkm::io::read_to_space<Space, float>(Space{}, ref, info, row0, count, comm, block);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
    ASSERT_EQ(h.extent(0), std::size_t(count));
    for (std::int64_t i = 0; i < count; ++i)
      for (int j = 0; j < d; ++j) ASSERT_EQ(h(i, j), want[std::size_t(i) * d + j]) << "block bytes " << block;
  }
  auto xd = kkm::io::read_to_space<Space, double>(Space{}, ref, info, row0, count, comm, d * 8 * 50);
  auto hd = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), xd);
  for (std::int64_t i = 0; i < count; ++i)
    for (int j = 0; j < d; ++j) ASSERT_EQ(hd(i, j), double(want[std::size_t(i) * d + j]));
  EXPECT_THROW((kkm::io::read_to_space<Space, float>(Space{}, ref, info, 900, 200, comm, d * 4 * 64)), kkm::UserError);
  std::filesystem::remove(path);
}

/// A file with one n × d dataset of memory type `type` holding `values`.
template <class S>
std::string write_stored(std::string const& name, hid_t type, std::vector<S> const& values, int d) {
  std::string const path = (std::filesystem::temp_directory_path() / (name + ".h5")).string();
  hid_t const f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t const dims[2] = {hsize_t(values.size() / d), hsize_t(d)};
  hid_t const space = H5Screate_simple(2, dims, nullptr);
  hid_t const set = H5Dcreate2(f, "/points", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Dclose(set);
  H5Sclose(space);
  H5Fclose(f);
  return path;
}

/// The same n × d floats stored contiguously (read_to_space maps them and copies with several
/// threads) and in chunks (HDF5 reads them): equal rows, in one copy and block by block, for each
/// 16-bit and 32-bit type; nothing is mapped where a dataset is chunked or stored as another type.
template <class T>
void expect_mapped_rows_equal_hdf5s(int chunk_rows) {
  using Space = TEST_EXECSPACE;
  std::int64_t const n = 1500;
  int const d = 5;
  std::vector<T> v(std::size_t(n) * d);
  for (std::size_t e = 0; e < v.size(); ++e) {
    double const x = 0.25 * double(e % 7919) - 99.5;
    if constexpr (std::is_same_v<T, float>)
      v[e] = float(x);
    else
      v[e] = kkm::round_to<T>(x);
  }
  std::string paths[2];
  for (int chunked = 0; chunked < 2; ++chunked) {
    paths[chunked] = (std::filesystem::temp_directory_path() /
                      ("kkm_mapped_" + std::to_string(chunked) + std::string(kkm::scalar_name<T>()) + Space::name() + ".h5"))
                         .string();
    hid_t const f = H5Fcreate(paths[chunked].c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t const dims[2] = {hsize_t(n), hsize_t(d)}, chunk[2] = {hsize_t(chunk_rows), hsize_t(d)};
    hid_t const space = H5Screate_simple(2, dims, nullptr), props = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked) H5Pset_chunk(props, 2, chunk);
    hid_t const set = H5Dcreate2(f, "/points", kkm::io::detail::native<T>(), space, H5P_DEFAULT, props, H5P_DEFAULT);
    H5Dwrite(set, kkm::io::detail::native<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(set), H5Pclose(props), H5Sclose(space), H5Fclose(f);
  }
  kkm::Communicator comm;
  std::int64_t const row0 = 17, count = n - 40;
  for (int chunked = 0; chunked < 2; ++chunked) {
    auto const ref = kkm::io::parse_dataset_ref(paths[chunked] + ":/points");
    auto const info = kkm::io::inspect(ref);
    EXPECT_EQ(kkm::io::detail::map_if_stored_as<T>(ref, info, row0, count, comm) != nullptr, !chunked);
    EXPECT_EQ(kkm::io::detail::map_if_stored_as<T>(ref, info, n - 5, 10, comm), nullptr);  // past the end
    for (std::size_t block : {std::size_t(0), std::size_t(d * sizeof(T) * 64), std::size_t(d * sizeof(T) * 999)}) {
      auto const got = Kokkos::create_mirror_view_and_copy(
          Kokkos::HostSpace(), kkm::io::read_to_space<Space, T>(Space{}, ref, info, row0, count, comm, block));
      for (std::int64_t i = 0; i < count; ++i)
        for (int j = 0; j < d; ++j)
          ASSERT_EQ(float(got(i, j)), float(v[std::size_t(row0 + i) * d + j]))
              << kkm::scalar_name<T>() << (chunked ? " chunked" : " contiguous") << " row " << i << " block " << block;
    }
  }
  auto const ref = kkm::io::parse_dataset_ref(paths[0] + ":/points");
  EXPECT_EQ(kkm::io::detail::map_if_stored_as<double>(ref, kkm::io::inspect(ref), 0, n, comm), nullptr);  // stored as T
  for (auto const& p : paths) std::filesystem::remove(p);
}

TEST(TEST_CATEGORY, read_to_space_maps_contiguous_rows_with_hdf5s_values) {
  expect_mapped_rows_equal_hdf5s<float>(100);
  expect_mapped_rows_equal_hdf5s<kkm::float16>(333);
  expect_mapped_rows_equal_hdf5s<kkm::bfloat16>(64);
}

/// Values of another stored type read through staging buffers are converted by the kernels, as HDF5
/// converts them when it reads into the rows (block 0 here): rounded to nearest, ±inf past float's
/// range; for every integer type and float64 as float, float32 as double, 16-bit floats as both.
template <class T, class S>
void expect_kernels_convert_as_hdf5(std::string const& name, hid_t type, std::vector<S> values) {
  using Space = TEST_EXECSPACE;
  int const d = 3;
  std::size_t const given = values.size();
  while (values.size() % d != 0 || values.size() < 300) {
    S const v = values[values.size() % given];  // (a copy: push_back may move the vector)
    values.push_back(v);
  }
  std::string const path = write_stored(name + "_" + Space::name(), type, values, d);
  kkm::Communicator comm;
  auto const ref = kkm::io::parse_dataset_ref(path + ":/points");
  auto const info = kkm::io::inspect(ref);
  std::int64_t const row0 = 3, count = info.rows - 5;
  auto const want = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), kkm::io::read_to_space<Kokkos::DefaultHostExecutionSpace, T, Kokkos::HostSpace>(
                               Kokkos::DefaultHostExecutionSpace{}, ref, info, row0, count, comm));
  for (std::size_t block : {std::size_t(d * sizeof(T)), std::size_t(d * sizeof(T) * 31)}) {
    auto const got = Kokkos::create_mirror_view_and_copy(
        Kokkos::HostSpace(), kkm::io::read_to_space<Space, T>(Space{}, ref, info, row0, count, comm, block));
    for (std::int64_t i = 0; i < count; ++i)
      for (int j = 0; j < d; ++j) ASSERT_EQ(got(i, j), want(i, j)) << info.type << " row " << i << " block " << block;
  }
  std::filesystem::remove(path);
}

TEST(TEST_CATEGORY, read_to_space_converts_other_stored_types_as_hdf5) {
  using L8 = std::numeric_limits<std::int8_t>;
  using L64 = std::numeric_limits<std::int64_t>;
  expect_kernels_convert_as_hdf5<float>("i8", H5T_NATIVE_INT8, std::vector<std::int8_t>{L8::min(), L8::max(), 0, -1, 7});
  expect_kernels_convert_as_hdf5<float>("u8", H5T_NATIVE_UINT8, std::vector<std::uint8_t>{0, 255, 128, 1});
  expect_kernels_convert_as_hdf5<float>("i16", H5T_NATIVE_INT16, std::vector<std::int16_t>{-32768, 32767, -3, 12345});
  expect_kernels_convert_as_hdf5<double>("u16", H5T_NATIVE_UINT16, std::vector<std::uint16_t>{0, 65535, 40000});
  expect_kernels_convert_as_hdf5<float>("i32", H5T_NATIVE_INT32,
                                        std::vector<std::int32_t>{-2147483647 - 1, 2147483647, 16777217, -16777219});
  expect_kernels_convert_as_hdf5<float>("u32", H5T_NATIVE_UINT32, std::vector<std::uint32_t>{4294967295u, 16777217u, 0});
  expect_kernels_convert_as_hdf5<float>("i64", H5T_NATIVE_INT64,
                                        std::vector<std::int64_t>{L64::min(), L64::max(), (1ll << 53) + 1, -(1ll << 24) - 1});
  expect_kernels_convert_as_hdf5<double>("i64d", H5T_NATIVE_INT64,
                                         std::vector<std::int64_t>{L64::min(), L64::max(), (1ll << 53) + 1, 16777217});
  expect_kernels_convert_as_hdf5<float>("u64", H5T_NATIVE_UINT64,
                                        std::vector<std::uint64_t>{~std::uint64_t(0), (std::uint64_t(1) << 63) + 1, 3});
  expect_kernels_convert_as_hdf5<float>("f64", H5T_NATIVE_DOUBLE,
                                        std::vector<double>{1e39, -1e39, 3.4028235677973366e38, 1e-50, 0.1, -2.5e-40});
  expect_kernels_convert_as_hdf5<double>("f32", H5T_NATIVE_FLOAT, std::vector<float>{0.1f, -3e38f, 1e-40f, 7.f});
  std::vector<kkm::float16> h;
  std::vector<kkm::bfloat16> b;
  for (double v : {0.1, -65504.0, 6e-8, 3.0, -0.0}) {
    h.push_back(kkm::round_to<kkm::float16>(v));
    b.push_back(kkm::round_to<kkm::bfloat16>(v * 1e30));
  }
  expect_kernels_convert_as_hdf5<float>("f16", kkm::io::detail::native<kkm::float16>(), h);
  expect_kernels_convert_as_hdf5<double>("bf16", kkm::io::detail::native<kkm::bfloat16>(), b);
}

}  // namespace
