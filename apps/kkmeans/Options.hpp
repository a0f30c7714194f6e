#pragma once
// Options of the kkmeans subcommands and the TOML deck loader. Free of Kokkos and MPI on purpose:
// Deck.cpp is compiled by the host compiler alone (nvcc cannot parse toml++).
#include <kkmeans/core/KKM_Bytes.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Names.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace kkm::app {

/// The values of --metric: the built-in metrics.
inline std::vector<std::string> metric_choices() {
  return std::vector<std::string>(metric_names.begin(), metric_names.end());
}

/// The values of --precision: what the rows are stored in on the device. 16-bit rows (half,
/// bfloat16) take half the memory and half the bytes of each pass; they are computed in float32, as
/// are their centroids. (App.hpp's with_precision maps each to its type.)
inline std::vector<std::string> const precision_names = {"float", "double", "half", "bfloat16"};

/// Options of `kkmeans fit`; the same names (with underscores) are the keys of a TOML deck.
struct FitOptions {
  std::string input;                 ///< FILE.h5:/DATASET (required)
  std::string weights;               ///< FILE.h5:/DATASET of N sample weights (optional)
  std::int64_t rows = 0;             ///< fit on the first `rows` rows only (0: all)
  int k = 0;                         ///< required
  std::string metric = metric_names[0];  ///< one of metric_choices() (sqeuclidean)
  std::string init = to_string(Init::automatic);  ///< one of selectable_names<Init>()
  std::string init_from;             ///< FILE.h5:/DATASET with k × d initial centroids (overrides init)
  int n_init = 1;
  int max_epochs = 300;
  double tol = 1e-4;
  std::string batch_size = "auto";   ///< rows per batch or "auto"
  std::string device_memory = "auto";  ///< most bytes on this rank's device ("8G", "512MiB", …) or "auto"
  std::string data_in = to_string(DataIn::automatic);  ///< where the rows live: one of selectable_names<DataIn>()
  std::string host_memory = "auto";  ///< most host bytes the rows may take when streamed from there, or "auto"
  std::uint64_t seed = 0;
  std::string precision = "float";   ///< one of precision_names (App.hpp)
  std::string assign = to_string(AssignPath::automatic);  ///< one of selectable_names<AssignPath>()
  int iou_column = -1;               ///< column of box width for metric iou; -1: 2 if d ≥ 4 else 0
  std::string empty = to_string(EmptyPolicy::drop);  ///< empty-cluster policy, one of selectable_names<EmptyPolicy>()
  std::string mode = to_string(Mode::lloyd);         ///< one of selectable_names<Mode>()
  bool stop_on_no_change = true;
  /// Lloyd epochs overlapped with the host's work: one of selectable_names<Pipeline>()
  std::string pipeline = to_string(Pipeline::automatic);
  std::string output;                ///< model + labels HDF5 file (optional)
  std::string report;                ///< JSON run report (optional)
  std::string checkpoint;            ///< checkpoint file (HDF5), replaced atomically
  int checkpoint_every = 0;          ///< epochs between checkpoints (0: none)
  bool resume = false;               ///< continue from `checkpoint`
  std::string checkpoint_signal = "TERM";  ///< besides SIGTERM, this signal checkpoints and stops (Preemption.hpp)
  bool overwrite = false;
  bool quiet = false;
};

struct GenerateOptions {
  std::string output;  ///< FILE.h5:/DATASET
  std::int64_t n = 100000;
  int d = 2;
  int k = 8;
  double spread = 1.0;     ///< standard deviation of each blob
  double box = 10.0;       ///< centres uniform in [-box, box]^d
  double imbalance = 1.0;  ///< largest / smallest cluster size
  std::uint64_t seed = 0;
  bool overwrite = false;
  bool quiet = false;
};

struct PredictOptions {
  std::string model;
  std::string metric;  ///< if given, must be the model's metric (one of metric_choices())
  std::string input;
  std::string output;
  bool distances = false;
  std::string precision = "float";
  std::string data_in = to_string(DataIn::automatic);  ///< where the rows live, as fit's --data-in
  bool overwrite = false;
  bool quiet = false;
};

/// Applies a TOML deck to `opt` for every key the command line did not set (`set_on_cli`).
/// Throws kkm::UsageError for malformed TOML, unknown keys, wrong value types.
void apply_deck(std::string const& path, FitOptions& opt, std::vector<std::string> const& set_on_cli);

/// Checks option values that the command-line parser cannot (also those from a deck).
void validate(FitOptions const& opt);

/// --device-memory in bytes: 0 for "auto", else a positive number with an optional K, M, G or T
/// (powers of 1024; "KiB", "MB"… read the same) or B. Throws kkm::UsageError for anything else.
std::size_t device_memory_bytes(FitOptions const& opt);

/// --host-memory in bytes (0 for "auto"), read as --device-memory.
std::size_t host_memory_bytes(FitOptions const& opt);

/// Removes temporary files that an earlier, killed kkmeans left next to `path` (".NAME.tmp-kkmeans-PID"
/// whose process is gone); a live process's are left alone.
void remove_stale_temporaries(std::string const& path);

/// Writes `text` to `path` atomically (temporary name, then rename), refusing to replace an existing
/// file unless overwrite. Call on one rank only.
void write_text_atomically(std::string const& path, std::string const& text, bool overwrite);

}  // namespace kkm::app
