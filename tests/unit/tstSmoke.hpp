// The stack works: a Kokkos kernel on this backend and an MPI allreduce through kkm::Communicator.
#include <kkmeans/kkmeans.hpp>

#include <gtest/gtest.h>

#include <cstdint>

namespace {

// Kernels live in free functions: nvcc rejects device lambdas in gtest's private TestBody().
double sum_one_to_n(std::int64_t n) {
  using space = TEST_EXECSPACE;
  Kokkos::View<double*, space::memory_space> v("v", n);
  Kokkos::parallel_for(Kokkos::RangePolicy<space>(0, n), KOKKOS_LAMBDA(std::int64_t i) { v(i) = double(i + 1); });
  double s = 0;
  Kokkos::parallel_reduce(
      Kokkos::RangePolicy<space>(0, n), KOKKOS_LAMBDA(std::int64_t i, double& a) { a += v(i); }, s);
  return s;
}

TEST(TEST_CATEGORY, smoke_kokkos_reduction) {
  std::int64_t const n = 100000;
  EXPECT_EQ(sum_one_to_n(n), double(n) * double(n + 1) / 2);  // exact: every partial sum is an integer < 2^53
}

TEST(TEST_CATEGORY, smoke_communicator_allreduce) {
#if KKMEANS_ENABLE_MPI
  kkm::Communicator comm(MPI_COMM_WORLD);
#else
  kkm::Communicator comm;
#endif
  int const p = comm.size();
  unsigned long long u[2] = {static_cast<unsigned long long>(comm.rank() + 1), 7};
  comm.allreduce_sum(u, 2);
  EXPECT_EQ(u[0], static_cast<unsigned long long>(p) * (p + 1) / 2);
  EXPECT_EQ(u[1], 7ull * p);
  double m = comm.rank();
  comm.allreduce_max(&m, 1);
  EXPECT_EQ(m, p - 1);
  EXPECT_EQ(comm.exscan_sum(2), 2 * comm.rank());
  // The duplicated communicator is not MPI_COMM_WORLD itself.
#if KKMEANS_ENABLE_MPI
  int cmp = MPI_IDENT;
  MPI_Comm_compare(comm.raw(), MPI_COMM_WORLD, &cmp);
  EXPECT_EQ(cmp, MPI_CONGRUENT);
#endif
}

}  // namespace
