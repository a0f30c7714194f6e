// Test main: MPI (when built with it) then Kokkos, initialised once for all tests. In an MPI run
// only rank 0 prints, and the run fails if any rank failed.
#include <kkmeans/KKM_Config.hpp>

#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>

#if KKMEANS_ENABLE_MPI
#include <mpi.h>
#endif

int main(int argc, char* argv[]) {
#if KKMEANS_ENABLE_MPI
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
#else
  int rank = 0;
#endif
  Kokkos::initialize(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int const local = RUN_ALL_TESTS();
  int failed = local != 0 ? 1 : 0;
#if KKMEANS_ENABLE_MPI
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0 && failed && local == 0) std::printf("kkmeans tests: another rank failed\n");
#endif
  Kokkos::finalize();
#if KKMEANS_ENABLE_MPI
  MPI_Finalize();
#endif
  return failed;
}
