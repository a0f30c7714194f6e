// kkmeans: k-means by batch on Kokkos over MPI ranks.
//   kkmeans fit [DECK.toml] --input data.h5:/points --k 200 [...]
//   kkmeans predict --model model.h5 --input new.h5:/points --output labels.h5
//   kkmeans generate --output blobs.h5:/points --n 1000000 --d 4 --k 200
//   kkmeans info data.h5[:/points]
// Exit status: 0 success, 2 bad usage (flags, deck), 1 bad data or a runtime failure.
#include "App.hpp"

#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#if KKMEANS_ENABLE_MPI
#include <mpi.h>
#endif

namespace {

/// A number check with a plain message ("must be > 0, got 0"); CLI11's PositiveNumber prints its
/// internal range instead (0 to 1.8e308).
CLI::Validator number_check(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& v) -> std::string {
        double x = 0;
        std::size_t used = 0;
        try {
          x = std::stod(v, &used);
        } catch (std::exception const&) {
          return "must be a number, got '" + v + "'";
        }
        if (used != v.size()) return "must be a number, got '" + v + "'";
        if (allow_zero ? !(x >= 0) : !(x > 0)) return std::string(allow_zero ? "must be ≥ 0" : "must be > 0") + ", got " + v;
        return {};
      },
      allow_zero ? "NONNEGATIVE" : "POSITIVE");
}

/// Seeds are unsigned 64-bit integers; CLI11 alone would read "-1" as 2^64 − 1.
CLI::Validator seed_check() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        return v.find('-') != std::string::npos ? "must be an integer ≥ 0, got " + v : std::string();
      },
      "UINT");
}

/// Help text "a | b (note) | c": the values `kkmeans fit` takes for an option naming an E (KKM_Names.hpp),
/// in table order, each followed by its note if `notes` has one.
template <class E>
std::string choice_help(std::vector<std::pair<E, char const*>> const& notes = {}, char const* separator = " | ") {
  std::string out;
  for (auto const& name : kkm::selectable_names<E>()) {
    out += (out.empty() ? "" : separator) + name;
    for (auto const& [value, note] : notes)
      if (name == kkm::to_string(value)) out += std::string(" (") + note + ")";
  }
  return out;
}

/// Rank within this node: each rank takes GPU (local rank mod GPUs).
int node_local_rank() {
#if KKMEANS_ENABLE_MPI
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int r = 0;
  MPI_Comm_rank(node, &r);
  MPI_Comm_free(&node);
  return r;
#else
  return 0;
#endif
}

/// Initialises Kokkos with one GPU per rank, chosen by node-local rank, unless the command line
/// names a device itself (--kokkos-device-id, --kokkos-num-devices, --kokkos-map-device-id-by).
void initialize_kokkos(std::vector<char*>& storage, std::string& extra) {
  bool named = false;
  for (std::size_t i = 1; i < storage.size(); ++i) {
    std::string const a = storage[i];
    named = named || a.rfind("--kokkos-device", 0) == 0 || a.rfind("--kokkos-num-devices", 0) == 0 ||
            a.rfind("--kokkos-map-device-id-by", 0) == 0;
  }
  int const local = node_local_rank();
#if defined(KOKKOS_ENABLE_CUDA)
  int n = 0;
  if (!named && cudaGetDeviceCount(&n) == cudaSuccess && n > 0) {
    extra = "--kokkos-device-id=" + std::to_string(local % n);
    storage.push_back(extra.data());
  }
#else
  (void)local;
  (void)named;
#endif
  int count = static_cast<int>(storage.size());
  storage.push_back(nullptr);
  Kokkos::initialize(count, storage.data());
}

/// Ends the program: Kokkos, then our duplicated communicator (freed while MPI still runs; valgrind
/// caught it outliving MPI_Finalize), then MPI.
int finish(kkm::Communicator& comm, int code) {
  if (Kokkos::is_initialized()) Kokkos::finalize();
  comm = kkm::Communicator{};
#if KKMEANS_ENABLE_MPI
  MPI_Finalize();
#endif
  return code;
}

}  // namespace

int main(int argc, char* argv[]) {
#if KKMEANS_ENABLE_MPI
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  kkm::Communicator comm(MPI_COMM_WORLD);
#else
  int rank = 0;
  kkm::Communicator comm;
#endif

  using namespace kkm::app;
  CLI::App app{"kkmeans " + kkm::version() + ": k-means by batch on Kokkos, over MPI ranks"};
  app.set_version_flag("--version", "kkmeans " + kkm::version());
  app.require_subcommand(1);
  app.allow_extras(false);

  // --- fit ---------------------------------------------------------------------------------------
  FitOptions fo;
  std::string deck;
  auto* fit = app.add_subcommand("fit", "fit k-means to an HDF5 dataset (flags override a TOML deck)");
  fit->add_option("deck", deck, "TOML input deck (keys are the flag names with underscores)")->check(CLI::ExistingFile);
  fit->add_option("--input,-i", fo.input, "FILE.h5:/DATASET, N × d, any integer or float type");
  fit->add_option("--weights,-w", fo.weights, "FILE.h5:/DATASET with one sample weight per row (N or N × 1)");
  fit->add_option("--k,-k", fo.k, "number of clusters");
  fit->add_option("--rows", fo.rows, "fit on the first ROWS rows of the dataset only (default: all)");
  fit->add_option("--metric", fo.metric, kkm::join_names(metric_choices()))->check(CLI::IsMember(metric_choices()));
  fit->add_option("--init", fo.init, choice_help<kkm::Init>())->check(CLI::IsMember(kkm::selectable_names<kkm::Init>()));
  fit->add_option("--init-from", fo.init_from, "FILE.h5:/DATASET holding k × d initial centroids");
  fit->add_option("--n-init", fo.n_init, "independent runs; the lowest inertia is kept");
  fit->add_option("--max-epochs", fo.max_epochs, "most Lloyd epochs");
  fit->add_option("--tol", fo.tol, "relative centroid-shift tolerance (scikit-learn's); 0 disables");
  fit->add_option("--batch-size", fo.batch_size, "rows per batch, or auto");
  fit->add_option("--device-memory", fo.device_memory,
                  "most memory the fit may use on each rank's device: bytes, or with K, M, G, T (powers of 1024), "
                  "e.g. 8G; auto: the device's free memory");
  fit->add_option("--data-in", fo.data_in,
                  choice_help<kkm::DataIn>({{kkm::DataIn::device, "the rows in device memory"},
                                            {kkm::DataIn::host, "the rows in host memory, streamed to the device in "
                                                                "chunks every epoch"},
                                            {kkm::DataIn::file, "the rows left in their file: mapped and read as "
                                                                "they are used (GPU builds: streamed from it), or "
                                                                "where the dataset is chunked, compressed or stored "
                                                                "as another type read a block at a time and "
                                                                "streamed; data larger than memory"}}) +
                      "; auto: the device if they fit it, else host (GPU builds, if they fit it) or file");
  fit->add_option("--host-memory", fo.host_memory,
                  "with the rows in host memory: the most they may take there, as --device-memory; auto: what the "
                  "host has free");
  fit->add_option("--seed", fo.seed, "seed of every random choice")->check(seed_check());
  fit->add_option("--precision", fo.precision,
                  "the rows on the device: float (float32), double, half (IEEE float16) or bfloat16; 16-bit rows "
                  "take half the memory and bytes, are computed in float32 and give float32 centroids")
      ->check(CLI::IsMember(precision_names));
  fit->add_option("--assign", fo.assign,
                  choice_help<kkm::AssignPath>(
                      {{kkm::AssignPath::gemm_checked,
                        "GEMM as a filter, TF32 tensor cores on CUDA float32, then exact distances for every "
                        "centroid it cannot rule out"},
                       {kkm::AssignPath::fused_checked,
                        "as gemm-checked, the product reduced to each row's few candidates as it is made (TF32 "
                        "tensor cores on CUDA float32, d ≤ 256), never written to memory"},
                       {kkm::AssignPath::gemm_tf32x3,
                        "CUDA, float32: x·cᵀ from three TF32 tensor-core products, about FP32 accuracy"}}))
      ->check(CLI::IsMember(kkm::selectable_names<kkm::AssignPath>()));
  fit->add_option("--mode", fo.mode,
                  choice_help<kkm::Mode>({{kkm::Mode::minibatch, "scikit-learn's MiniBatchKMeans"},
                                          {kkm::Mode::seed, "batch means"}}))
      ->check(CLI::IsMember(kkm::selectable_names<kkm::Mode>()));
  // No IsMember: validate() names a bad value "empty-cluster policy".
  fit->add_option("--empty", fo.empty,
                  "empty clusters: " + choice_help<kkm::EmptyPolicy>({{kkm::EmptyPolicy::drop, "k shrinks"},
                                                                      {kkm::EmptyPolicy::split, "FAISS"},
                                                                      {kkm::EmptyPolicy::farthest, "scikit-learn"},
                                                                      {kkm::EmptyPolicy::keep, "centroid stays"}},
                                                                     ", "));
  fit->add_option("--iou-column", fo.iou_column,
                  "column of the box width for --metric iou (height follows; default 2 if d ≥ 4, else 0)");
  fit->add_flag("!--no-stop-on-no-change", fo.stop_on_no_change, "keep going when no label changed");
  fit->add_option("--pipeline", fo.pipeline,
                  choice_help<kkm::Pipeline>() +
                      ": queue each Lloyd epoch before the host has checked the one before (one rank, mean update, "
                      "fused kernel; same results; auto: on GPUs)")
      ->check(CLI::IsMember(kkm::selectable_names<kkm::Pipeline>()));
  fit->add_option("--output,-o", fo.output, "HDF5 file for centroids, labels, history and attributes");
  fit->add_option("--report", fo.report, "JSON run report");
  fit->add_option("--checkpoint", fo.checkpoint, "checkpoint file, replaced atomically every --checkpoint-every epochs");
  fit->add_option("--checkpoint-every", fo.checkpoint_every, "epochs between checkpoints");
  fit->add_flag("--resume", fo.resume, "continue from --checkpoint; ends exactly as an uninterrupted run");
  fit->add_option("--checkpoint-signal", fo.checkpoint_signal,
                  "with --checkpoint: besides SIGTERM, this signal (TERM, USR1, USR2, INT, HUP) makes the fit finish its "
                  "epoch, write the checkpoint and exit with status 75");
  fit->add_flag("--overwrite", fo.overwrite, "replace existing output files");
  fit->add_flag("--quiet,-q", fo.quiet, "no progress or log lines");

  // --- predict -----------------------------------------------------------------------------------
  PredictOptions po;
  auto* predict = app.add_subcommand("predict", "label new data with a fitted model");
  predict->add_option("--model,-m", po.model, "model file written by kkmeans fit --output")->required();
  predict->add_option("--input,-i", po.input, "FILE.h5:/DATASET to label")->required();
  predict->add_option("--output,-o", po.output, "HDF5 file for /labels (and /distances)")->required();
  predict->add_option("--metric", po.metric, "refuse a model fitted with another metric");
  predict->add_flag("--distances", po.distances, "also write each row's distance to its centroid");
  predict->add_option("--precision", po.precision, "float | double | half | bfloat16, as for fit")
      ->check(CLI::IsMember(precision_names));
  predict->add_option("--data-in", po.data_in,
                      "device | host (streamed to the device in chunks) | file (left in their file, streamed from "
                      "it as for fit) | auto: the device if the rows fit it, else host (GPU builds, if they fit "
                      "it) or file")
      ->check(CLI::IsMember(kkm::selectable_names<kkm::DataIn>()));
  predict->add_flag("--overwrite", po.overwrite, "replace an existing output file");
  predict->add_flag("--quiet,-q", po.quiet, "no log lines");

  // --- generate ----------------------------------------------------------------------------------
  GenerateOptions go;
  auto* gen = app.add_subcommand("generate", "write Gaussian blobs with known centres (in parallel)");
  gen->add_option("--output,-o", go.output, "FILE.h5:/DATASET (FILE.h5 alone: FILE.h5:/points)")->required();
  gen->add_option("--n", go.n, "rows")->check(number_check(false));
  gen->add_option("--d", go.d, "columns")->check(number_check(false));
  gen->add_option("--k", go.k, "blobs")->check(number_check(false));
  gen->add_option("--spread", go.spread, "standard deviation of each blob")->check(number_check(true));
  gen->add_option("--box", go.box, "centres uniform in [-box, box]^d")->check(number_check(false));
  gen->add_option("--imbalance", go.imbalance, "largest / smallest blob size (≥ 1)")->check(CLI::Range(1.0, 1e9));
  gen->add_option("--seed", go.seed, "seed")->check(seed_check());
  gen->add_flag("--overwrite", go.overwrite, "replace an existing file");
  gen->add_flag("--quiet,-q", go.quiet, "no log lines");

  // --- info --------------------------------------------------------------------------------------
  std::string what;
  auto* info = app.add_subcommand("info", "describe a dataset (FILE.h5:/DATASET) or a model file, and this build");
  info->add_option("what", what, "FILE.h5:/DATASET or a model FILE.h5");

  // --kokkos-* flags go to Kokkos, everything else to the command-line parser.
  std::vector<char*> kokkos_argv = {argv[0]};
  std::vector<std::string> cli_args;
  for (int i = argc - 1; i >= 1; --i) {
    if (std::string(argv[i]).rfind("--kokkos-", 0) == 0)
      kokkos_argv.insert(kokkos_argv.begin() + 1, argv[i]);
    else
      cli_args.push_back(argv[i]);  // CLI11 takes the arguments in reverse order
  }
  try {
    app.parse(cli_args);
  } catch (CLI::Success const& e) {  // --help, --help-all, --version
    if (rank == 0) app.exit(e);
    return finish(comm, 0);
  } catch (CLI::ParseError const& e) {
    if (rank == 0) std::fprintf(stderr, "kkmeans: error: %s (see kkmeans --help)\n", e.what());
    return finish(comm, 2);
  }

  std::string kokkos_extra;
  initialize_kokkos(kokkos_argv, kokkos_extra);
  int code = 0;
  try {
    if (*fit) {
      std::vector<std::string> on_cli;
      for (auto* o : fit->get_options())
        if (o->count() > 0) on_cli.push_back(o->get_name());
      if (!deck.empty()) apply_deck(deck, fo, on_cli);
      validate(fo);
      code = with_precision(fo.precision, [&](auto rows) { return run_fit<decltype(rows)>(fo, comm); });
    } else if (*predict) {
      code = run_predict(po, comm);
    } else if (*gen) {
      code = run_generate(go, comm);
    } else if (*info) {
      code = rank == 0 ? run_info(what) : 0;
    }
  } catch (kkm::UsageError const& e) {
    if (rank == 0) std::fprintf(stderr, "kkmeans: error: %s\n", e.what());
    code = 2;
  } catch (kkm::UserError const& e) {
    if (rank == 0) std::fprintf(stderr, "kkmeans: error: %s\n", e.what());
    code = 1;
  } catch (std::exception const& e) {
    // Not agreed by all ranks: bring the whole job down rather than leave the others waiting.
    std::fprintf(stderr, "kkmeans: error on rank %d: %s\n", rank, e.what());
#if KKMEANS_ENABLE_MPI
    if (comm.size() > 1) MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    code = 1;
  }
  return finish(comm, code);
}
