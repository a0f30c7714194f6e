#pragma once
/// \file KKM_Parameters.hpp
/// \brief Everything a fit can be told, in one struct, every field with its default (as FAISS'
/// ClusteringParameters); validate() checks all of it before any data is touched.
#include <kkmeans/core/KKM_Error.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kkm {

struct EpochStats;  // KKM_Result.hpp
struct Checkpoint;  // KKM_Result.hpp

/// How the first k centroids are chosen. Both are deterministic for a seed and give the same
/// centroids whatever the number of ranks or threads.
enum class Init {
  automatic,  ///< k-means‖ on devices (GPUs), k-means++ on hosts: on the measured workloads each is the
              ///< faster where it runs, and k-means‖ also ended at the lower inertia (docs/PERFORMANCE.md)
  random,    ///< k distinct rows drawn uniformly
  kmeanspp,  ///< greedy k-means++ (scikit-learn's): several candidates per step, keep the best
  given,     ///< Parameters::initial_centroids (k × d, row-major), as scikit-learn's init=array
  kmeans_parallel,  ///< k-means‖ (Bahmani et al. 2012): 5 rounds oversampling 2k, then weighted k-means++
};

/// What happens to a centroid that attracted no row in an epoch.
enum class EmptyPolicy {
  drop,      ///< remove it: k shrinks and Result::k_final says so (the seed's behaviour)
  split,     ///< FAISS: split the largest cluster in two with a tiny symmetric perturbation
  farthest,  ///< scikit-learn: move it to the row farthest from its centroid (a global top-m over ranks)
  keep,      ///< leave its centroid where it was (k stays; the PyTorch matmul loop's behaviour)
};

/// How centroids move.
enum class Mode {
  lloyd,      ///< once per epoch, from all rows (the default)
  minibatch,  ///< after every global batch (each rank one local batch), per-centroid learning rates
              ///< (scikit-learn's MiniBatchKMeans), early stop after 10 batches without improvement
  seed,       ///< after every global batch, centroids := the batch's means; centroids without rows in
              ///< the batch are dropped (the update of the PyTorch snippet kkmeans descends from)
};

/// How distances are computed in the assignment step.
enum class AssignPath {
  automatic,  ///< fused kernel, or on GPUs the checked GEMM path for squared Euclidean when d ≥ 32 and k ≥ 64
  fused,      ///< fused distance + argmin + accumulate kernel, every metric, bitwise reproducible
  gemm,       ///< ‖x‖² − 2x·c + ‖c‖² through KokkosBlas::gemm; squared-Euclidean metrics only
  /// As gemm, with x·cᵀ from three TF32 tensor-core products (x_hi·c_hi + x_hi·c_lo + x_lo·c_hi,
  /// "3xTF32"): about FP32 accuracy, not FP32 arithmetic. CUDA builds, float32 only; opt-in.
  gemm_tf32x3,
  /// GEMM as a filter, then exact distances: x·cᵀ of data and centroids shifted by the column means
  /// (on CUDA with float32: one TF32 tensor-core product; elsewhere BLAS in the data's precision)
  /// ranks the centroids; every centroid that a rigorous bound on that product's error cannot rule
  /// out is then measured exactly, ‖x − c‖² in the data's precision, as the fused kernel does.
  /// Squared-Euclidean metrics only.
  gemm_checked,
  /// As gemm_checked, with the product and the choice of each row's first candidates fused in one
  /// kernel (on CUDA with float32 rows of at most 256 columns: TF32 tensor cores; elsewhere a
  /// portable kernel), so that the product is never written to memory. Squared-Euclidean metrics only.
  fused_checked,
};

/// Whether Lloyd epochs are pipelined (Parameters::pipeline).
enum class Pipeline {
  automatic,  ///< on devices, not on host spaces (where nothing overlaps)
  on,         ///< wherever it applies
  off,        ///< never
};

/// Where the rows stay during Lloyd epochs (Parameters::data_in).
enum class DataIn {
  automatic,  ///< host when the rows passed lie in host memory the device reads across a link (CUDA's
              ///< page-locked memory), else device
  device,     ///< the kernels read the rows where they are, every epoch
  /// Each epoch (and the final assignment) copies the rows in chunks into two device buffers, the
  /// copy of the next chunk overlapped with the assignment of this one: rows larger than the device
  /// memory, within Parameters::device_memory. On host backends the same chunks go through the same
  /// buffers (what tests use); the results are those of DataIn::device bit for bit.
  host,
  /// Rows in host memory the device may not read in place, such as a file mapped read-only (data
  /// larger than the host's memory, paged in by the system): streamed as with DataIn::host, but
  /// never read by a kernel where they are. The rows an initialisation or a policy picks are copied
  /// on the host; what would read every row in place is refused by name (k-means++ and its CPU
  /// default, the median update, the mini-batch modes, the `farthest` policy). The results are
  /// those of DataIn::device bit for bit. (The application on host backends maps the rows and
  /// passes them as device rows instead: there every feature reads them in place.)
  file,
};

struct Parameters {
  /// Number of clusters requested. Required: 1 ≤ k ≤ number of rows.
  int k = 8;
  /// Initialisation. Default: k-means‖ on GPUs, greedy k-means++ on CPUs (Init::automatic).
  Init init = Init::automatic;
  /// Candidates tried per k-means++ step; 0 means 2 + floor(ln k), as scikit-learn.
  int kmeanspp_trials = 0;
  /// Independent runs (seeds seed, seed+1, …); the one with the lowest inertia is kept. Default 1.
  int n_init = 1;
  /// Upper bound on Lloyd epochs (passes over the data). Default 300, as scikit-learn.
  int max_epochs = 300;
  /// Stop when the sum over centroids of their squared shift is ≤ tol × (mean per-column variance of
  /// the data), as scikit-learn. 0 disables this test. Default 1e-4.
  double tol = 1e-4;
  /// Stop when no row changed cluster in an epoch (the seed's "centroids stopped moving"). Default on.
  bool stop_on_no_change = true;
  /// Rows per batch in the assignment step; 0 = auto (sized from the memory the device has free).
  /// In the mini-batch modes: rows per rank per batch; 0 = 1024 (scikit-learn's default).
  std::int64_t batch_size = 0;
  /// The most memory, in bytes, the fit may use on this rank's device: its rows and labels, and the
  /// work buffers, which the batch size then fits into. 0 = the device's free memory (default). A
  /// budget that leaves too little for the smallest batch is refused, naming the least that would do.
  std::size_t device_memory = 0;
  /// Where the rows stay during Lloyd epochs; automatic: streamed where they lie in host memory.
  /// The data summary and k-means‖ stream them too; k-means++, the median update, the farthest
  /// policy and mini-batch draws read the rows where they lie.
  DataIn data_in = DataIn::automatic;
  /// Lloyd (default) or a mini-batch mode.
  Mode mode = Mode::lloyd;
  /// Empty-cluster policy. Default drop.
  EmptyPolicy empty = EmptyPolicy::drop;
  /// Distance path. Default automatic.
  AssignPath assign = AssignPath::automatic;
  /// Pipelined Lloyd epochs: epoch e + 1's assignment is queued, with centroids the device updates
  /// itself, before the host waits for epoch e's sums, so that the device does not idle while the
  /// host checks and updates (one rank, a mean update, the fused kernel). An epoch queued ahead that
  /// the host's own update does not confirm bit for bit (an empty cluster under drop, split or
  /// farthest) is discarded and run again: the results are the same with and without. Default
  /// automatic: on devices, not on host spaces (where nothing overlaps); on: wherever it applies; off: never.
  Pipeline pipeline = Pipeline::automatic;
  /// Seed for every random choice. Same seed → same result.
  std::uint64_t seed = 0;
  /// Initial centroids for Init::given: k × d values, row-major (every rank passes the same).
  std::vector<double> initial_centroids;
  /// Called on every rank after each epoch with the run index (0 … n_init − 1) and the epoch's
  /// global statistics (e.g. to print progress). Empty: nothing is called.
  std::function<void(int, EpochStats const&)> on_epoch;
  /// Every `checkpoint_every` epochs (0: never) `on_checkpoint` is called on every rank with the
  /// run's state (e.g. to write it to a file). Needs n_init = 1.
  int checkpoint_every = 0;
  std::function<void(Checkpoint const&)> on_checkpoint;
  /// Asked on every rank before each Lloyd epoch (empty: never). When it returns true on any rank,
  /// every rank finishes that epoch, hands its state to on_checkpoint (if set) and stops with
  /// Result::stop_reason "preempted" (e.g. a batch system's warning signal before the time limit).
  std::function<bool()> stop_requested;
  /// Continue from this state instead of initialising (same data, k, seed and parameters; any
  /// number of ranks, each passing its own labels). Needs n_init = 1.
  std::shared_ptr<Checkpoint const> resume_from;

  /// Throws kkm::UserError naming the first bad field.
  void validate() const {
    KKM_REQUIRE(k >= 1, "k must be at least 1, got " + std::to_string(k));
    KKM_REQUIRE(kmeanspp_trials >= 0, "kmeanspp_trials must be ≥ 0, got " + std::to_string(kmeanspp_trials));
    KKM_REQUIRE(n_init >= 1, "n_init must be at least 1, got " + std::to_string(n_init));
    KKM_REQUIRE(max_epochs >= 1, "max_epochs must be at least 1, got " + std::to_string(max_epochs));
    KKM_REQUIRE(tol >= 0 && tol == tol, "tol must be ≥ 0, got " + std::to_string(tol));
    KKM_REQUIRE(batch_size >= 0, "batch size must be positive (or 0 for auto), got " + std::to_string(batch_size));
    KKM_REQUIRE(pipeline == Pipeline::automatic || pipeline == Pipeline::on || pipeline == Pipeline::off,
                "pipeline must be automatic, on or off, got " + std::to_string(static_cast<int>(pipeline)));
    KKM_REQUIRE(data_in == DataIn::automatic || data_in == DataIn::device || data_in == DataIn::host ||
                    data_in == DataIn::file,
                "data_in must be automatic, device, host or file, got " + std::to_string(static_cast<int>(data_in)));
    KKM_REQUIRE(checkpoint_every >= 0, "checkpoint interval must be ≥ 0, got " + std::to_string(checkpoint_every));
    KKM_REQUIRE(mode == Mode::lloyd || (checkpoint_every == 0 && !resume_from),
                "checkpoints and resume are for Lloyd mode");
    KKM_REQUIRE(n_init == 1 || (checkpoint_every == 0 && !resume_from),
                "checkpoints and resume need n_init = 1, got " + std::to_string(n_init));
  }
};

namespace detail {
/// Candidates a greedy k-means++ step tries (Parameters::kmeanspp_trials): `trials` if positive,
/// else 2 + ⌊ln k⌋ (Arthur and Vassilvitskii's choice, as scikit-learn's).
inline int kmeanspp_trial_count(int k, int trials) {
  return trials > 0 ? trials : 2 + static_cast<int>(std::log(static_cast<double>(k)));
}
}  // namespace detail

}  // namespace kkm

// The enums' names (kkm::to_string, from_name, choices): after the enums they name.
#include <kkmeans/core/KKM_Names.hpp>
