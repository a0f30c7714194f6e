// Reading a rank's rows into the kernels' memory (io::read_to_space): in one read or block by block
// through the staging buffers, the values of read_rows, in float or converted to double; rows past
// the end of the dataset are a clear error, not garbage.
#include <KKM_TestHelpers.hpp>
#include <kkmeans/io/KKM_HDF5.hpp>
#include <kkmeans/io/KKM_ReadToDevice.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

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

}  // namespace
