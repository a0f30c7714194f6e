#pragma once
/// \file KKM_Result.hpp
/// \brief What a fit returns.
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace kkm {

/// One Lloyd epoch as every rank saw it (the numbers are global, after the allreduce).
struct EpochStats {
  int epoch = 0;               ///< 1-based
  double inertia = 0;          ///< sum over rows of the metric distance to the assigned centroid (before the update)
  double shift = 0;            ///< sum over centroids of the squared move made by this epoch's update
  std::int64_t changed = 0;    ///< rows whose label changed (all rows in epoch 1)
  int empty = 0;               ///< centroids that attracted no row
  int k = 0;                   ///< centroids after the update (k shrinks under EmptyPolicy::drop)
  double seconds = 0;          ///< wall time of the epoch on this rank
  int relocated = 0;           ///< empty centroids moved by EmptyPolicy::split or farthest (the rest were dropped)
  double seconds_assign = 0;   ///< this rank's assignment + accumulation, until its sums were on the host
  double seconds_allreduce = 0;  ///< the epoch's allreduce on this rank (includes waiting for the slowest rank)
};

/// One column of the per-epoch history: its name in every file (a model's /history/NAME, the JSON
/// report's history entries, a checkpoint's /history/NAME) and the EpochStats member it holds.
template <class M>
struct HistoryColumn {
  using value_type = M;
  char const* name;
  M EpochStats::*member;
  bool checkpointed;  ///< stored in checkpoints (the per-phase timings came later: a resumed run's are 0)
};

/// The history's columns, listed once, in file order.
inline constexpr auto history_columns = std::make_tuple(
    HistoryColumn<int>{"epoch", &EpochStats::epoch, true},
    HistoryColumn<double>{"inertia", &EpochStats::inertia, true},
    HistoryColumn<double>{"shift", &EpochStats::shift, true},
    HistoryColumn<std::int64_t>{"changed", &EpochStats::changed, true},
    HistoryColumn<int>{"empty", &EpochStats::empty, true},
    HistoryColumn<int>{"relocated", &EpochStats::relocated, true},
    HistoryColumn<int>{"k", &EpochStats::k, true},
    HistoryColumn<double>{"seconds", &EpochStats::seconds, true},
    HistoryColumn<double>{"assign_seconds", &EpochStats::seconds_assign, false},
    HistoryColumn<double>{"allreduce_seconds", &EpochStats::seconds_allreduce, false});

/// Calls f(column) for each of history_columns, in order (column: a HistoryColumn<M> of the member's type).
template <class F>
void for_each_history_column(F&& f) {
  std::apply([&f](auto const&... column) { ((void)f(column), ...); }, history_columns);
}

/// The state of a run after `epoch` epochs: enough to continue it and end exactly as an
/// uninterrupted run would (every other input of an epoch is a deterministic function of the data).
struct Checkpoint {
  int run = 0;                           ///< restart index (checkpoints need n_init = 1: always 0)
  int epoch = 0;                         ///< epochs completed
  int k = 0, d = 0;                      ///< centroids now (k shrinks under EmptyPolicy::drop)
  int k_requested = 0;
  std::vector<double> centroids;         ///< k × d after `epoch` updates (exact: float and double fit)
  std::vector<int> labels;               ///< this rank's labels from epoch `epoch`
  std::int64_t label_offset = 0;         ///< global index of this rank's first row
  std::int64_t n_rows = 0;               ///< rows over all ranks
  std::vector<EpochStats> history;       ///< epochs 1 … epoch
  std::vector<unsigned long long> fingerprint;  ///< data fingerprint (exact column sums)
  std::uint64_t seed = 0;
};

/// \tparam T working precision; \tparam MemSpace where the labels live (the fit's memory space).
template <class T, class MemSpace>
struct Result {
  /// Final centroids, k_final × d, on the host (identical on every rank).
  Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::HostSpace> centroids;
  /// Label of each local row (this rank's rows), in [0, k_final).
  Kokkos::View<int*, MemSpace> labels;
  /// Sum over all rows (all ranks) of the distance to the assigned final centroid.
  double inertia = 0;
  int epochs = 0;               ///< epochs run by the kept run
  bool converged = false;       ///< stopped by tol or no-change before max_epochs
  std::string stop_reason;      ///< "no label changed", "shift below tol", "max epochs" or "preempted"
  int k_requested = 0;
  int k_final = 0;              ///< < k_requested when empty clusters were dropped
  std::int64_t n_rows = 0;      ///< rows over all ranks
  std::vector<EpochStats> history;      ///< of the kept run
  std::vector<double> restart_inertia;  ///< final inertia of each of the n_init runs
  int best_restart = 0;                 ///< index of the kept run
  std::string path;             ///< assignment path used: to_string(AssignPath), never "auto"
  std::string init;             ///< initialisation used: to_string(Init), never "auto"
  std::int64_t batch_size = 0;  ///< rows per batch actually used
  int epochs_pipelined = 0;     ///< epochs whose assignment was queued while the host processed the one before (Parameters::pipeline)
  int epochs_rerun = 0;         ///< epochs queued ahead, discarded and run again (the host's update differed: empty clusters)
  std::size_t workspace_bytes = 0;  ///< device bytes the assignment step allocated (GEMM product, padded centroids, chunk buffers)
  std::string data_in;          ///< where the rows stayed in Lloyd epochs: to_string(DataIn), never "auto"
  std::int64_t stream_chunk_rows = 0;         ///< streamed: the rows of each chunk copied to the device
  std::size_t bytes_streamed_per_epoch = 0;   ///< streamed: bytes this rank copied to the device per epoch
  double seconds_init = 0;      ///< time spent choosing initial centroids (all runs)
  double seconds_epochs = 0;    ///< time spent in epochs and the final assignment (all runs)
};

}  // namespace kkm
