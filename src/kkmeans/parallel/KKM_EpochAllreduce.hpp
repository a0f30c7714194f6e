#pragma once
/// \file KKM_EpochAllreduce.hpp
/// \brief The one allreduce of a Lloyd epoch (or mini-batch step): the accumulator of every rank
/// summed, and the ranks' sums of distances added in rank order, so that every rank gets the same
/// global inertia bit for bit.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_FixedPoint.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <cstddef>
#include <cstring>
#include <vector>

namespace kkm::detail {

/// The one allreduce of an epoch (or mini-batch step). `buf` holds this rank's accumulator in its
/// first acc_len entries and room for one slot per rank after it; each rank's inertia travels bit
/// for bit in its slot and all ranks add them in rank order, so the returned global inertia is the
/// same everywhere. On return `buf` holds the global sums, counts and changed-label count.
inline double allreduce_accumulator(std::vector<fixed_t>& buf, std::size_t acc_len, double local_inertia,
                                    Communicator const& comm) {
  int const P = comm.size();
  KKM_ASSERT(buf.size() == acc_len + std::size_t(P));
  std::memcpy(&buf[acc_len + comm.rank()], &local_inertia, sizeof(double));
  comm.allreduce_sum(buf.data(), buf.size());
  double inertia = 0;
  for (int r = 0; r < P; ++r) {
    double v;
    std::memcpy(&v, &buf[acc_len + r], sizeof(double));
    inertia += v;
  }
  return inertia;
}

}  // namespace kkm::detail
