#pragma once
/// \file KKM_Communicator.hpp
/// \brief The few collectives kkmeans needs, over a communicator the library is given.
///
/// Like ArborX and Cabana, the library never touches MPI_COMM_WORLD: a Communicator duplicates the
/// MPI communicator it is given (held by a shared_ptr whose deleter frees it) so that kkmeans'
/// messages never mix with the caller's. A default-constructed Communicator is one process, no MPI:
/// the same code then runs without any MPI call.
#include <kkmeans/KKM_Config.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if KKMEANS_ENABLE_MPI
#include <mpi.h>
#endif

namespace kkm {

class Communicator {
 public:
  /// One process, no MPI.
  Communicator() = default;
#if KKMEANS_ENABLE_MPI
  /// Duplicates comm (collective over comm). MPI must be initialised.
  explicit Communicator(MPI_Comm comm);
  /// The duplicated communicator, or MPI_COMM_SELF for a one-process Communicator.
  MPI_Comm raw() const;
#endif

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_distributed() const { return size_ > 1; }

  /// In place element-wise sums over all ranks. Integer sums are exact and order-independent.
  void allreduce_sum(unsigned long long* data, std::size_t n) const;
  void allreduce_sum(std::int64_t* data, std::size_t n) const;
  void allreduce_sum(double* data, std::size_t n) const;
  /// In place element-wise maxima over all ranks.
  void allreduce_max(double* data, std::size_t n) const;
  void allreduce_max(std::int64_t* data, std::size_t n) const;
  /// Logical or / and of a flag over all ranks.
  bool any(bool flag) const;
  /// Sum of value over ranks below this one (0 on rank 0).
  std::int64_t exscan_sum(std::int64_t value) const;
  /// Every rank's value, in rank order.
  std::vector<double> allgather(double value) const;
  std::vector<std::int64_t> allgather(std::int64_t value) const;
  void barrier() const;
  /// `text` of rank `root`, on every rank.
  std::string broadcast(std::string text, int root) const;

  /// Sum of local doubles, identical on every rank and independent of the order in which MPI
  /// combines them: every rank's value travels bit for bit and all ranks add them in rank order.
  double ordered_sum(double local) const;

 private:
#if KKMEANS_ENABLE_MPI
  std::shared_ptr<MPI_Comm> comm_;
#endif
  int rank_ = 0;
  int size_ = 1;
};

/// Agrees on a failure: if `error` (this rank's message; empty: no failure) is set on any rank, every
/// rank throws UserError with the lowest failing rank's message, so that every rank stops together
/// (none goes on into a collective the others have left) and rank 0 can print the real reason.
void throw_if_any_failed(Communicator const& comm, std::string const& error);

/// Runs `step` on every rank with its failure agreed (throw_if_any_failed); returns its result.
template <class Step>
auto on_every_rank(Communicator const& comm, Step&& step) -> decltype(step()) {
  using R = decltype(step());
  std::string error;
  if constexpr (std::is_void_v<R>) {
    try {
      step();
    } catch (std::exception const& e) {
      error = *e.what() != '\0' ? e.what() : "failed";
    }
    throw_if_any_failed(comm, error);
  } else {
    std::optional<R> result;
    try {
      result.emplace(step());
    } catch (std::exception const& e) {
      error = *e.what() != '\0' ? e.what() : "failed";
    }
    throw_if_any_failed(comm, error);
    return std::move(*result);
  }
}

}  // namespace kkm
