#pragma once
// `kkmeans fit`: read this rank's slice, fit, write the model, labels and report.
#include "App.hpp"
#include "FileRoles.hpp"
#include "Preemption.hpp"
#include "Progress.hpp"

#include <kkmeans/algorithms/detail/KKM_Memory.hpp>
#include <kkmeans/core/KKM_Bytes.hpp>
#include <kkmeans/io/KKM_HDF5.hpp>
#include <kkmeans/io/KKM_ReadToDevice.hpp>
#include <kkmeans/metrics/KKM_MetricByName.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <Kokkos_Core.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace kkm::app {

/// Free bytes where the fit's data lives (the GPU's, or the host's); KKMEANS_TEST_FREE_MEMORY (bytes)
/// stands in for it in tests.
inline std::size_t free_memory() {
  if (char const* t = std::getenv("KKMEANS_TEST_FREE_MEMORY")) return std::strtoull(t, nullptr, 10);
  return detail::available_memory<Kokkos::DefaultExecutionSpace>();
}

/// Free host memory for rows streamed from it; KKMEANS_TEST_FREE_HOST_MEMORY (bytes) stands in for
/// it in tests.
inline std::size_t free_host_memory() {
  if (char const* t = std::getenv("KKMEANS_TEST_FREE_HOST_MEMORY")) return std::strtoull(t, nullptr, 10);
  return detail::available_memory<Kokkos::DefaultHostExecutionSpace>();
}

/// This rank's rows: in the device's memory, or (DataIn::host) in host memory the device reads
/// across its link and the Lloyd epochs stream from (page-locked on CUDA), or (DataIn::file) left in
/// their file: mapped where the dataset allows (on host backends read in place by the library as
/// device rows; on devices streamed from the mapping, which the device never reads in place), else
/// read a hyperslab at a time by a source the library streams (a chunked or compressed dataset, one
/// stored as another type, or on host backends rows held to --device-memory).
template <class T>
struct Slice {
  using space = Kokkos::DefaultExecutionSpace;
  static constexpr bool device_is_host = detail::is_host_space<space>();
  Kokkos::View<T**, Kokkos::LayoutRight, space::memory_space> device;  // also the mapped rows on host backends
  Kokkos::View<T**, Kokkos::LayoutRight, detail::staging_space_t<space>> host;  // also the mapped rows on devices
  std::shared_ptr<io::MappedRows<T>> mapped;
  std::shared_ptr<io::DatasetRows<T>> source;
  DataIn where = DataIn::device;
  /// Whether the library streams the rows (host rows, or a source).
  bool streamed() const { return where == DataIn::host || (where == DataIn::file && (!device_is_host || source)); }
  std::int64_t rows() const { return source ? source->rows() : streamed() ? host.extent(0) : device.extent(0); }
  /// Where the library is told the rows are: on host backends mapped rows are read in place, as
  /// device rows.
  DataIn library_data_in() const { return where == DataIn::file && device_is_host && !source ? DataIn::device : where; }
  /// Whether the file of rows left in it changed since it was opened (its size or modification time).
  bool file_changed() const { return (mapped && mapped->changed()) || (source && source->changed()); }
};

/// What a slice of `count` rows × `cols` of T needs where it would live, and why it does not fit.
template <class T>
struct Placement {
  std::int64_t count, cols;
  std::size_t device_budget;        // --device-memory (0: none)
  std::size_t host_budget;          // --host-memory (0: none)
  std::function<std::size_t(std::int64_t, bool)> least_work;  // (rows, streamed) → least work bytes

  /// Empty if the rows (streamed: only their labels) and the least work fit the device; else why not.
  std::string device_short(bool streamed) const {
    double const resident = double(detail::resident_bytes<T>(count, static_cast<int>(cols), streamed));
    double const least = resident + double(least_work(count, streamed));
    if (device_budget > 0 && least > double(device_budget))
      return fmt::format("need {} with {} and the least work buffers, more than --device-memory {} allows (allow at "
                         "least {})", bytes_text(least), streamed ? "their labels, two chunk buffers" : "their labels",
                         bytes_text(double(device_budget)), bytes_text(least));
    double const have = double(free_memory());
    if (resident > 0.9 * have)
      return fmt::format("need {} but {} memory has {} free", bytes_text(resident),
                         Kokkos::DefaultExecutionSpace::memory_space::name(), bytes_text(have));
    return {};
  }
  /// Empty if the rows fit host memory (or --host-memory); else why not.
  std::string host_short() const {
    double const rows = double(count) * double(cols) * sizeof(T);
    double const have = host_budget > 0 ? double(host_budget) : 0.9 * double(free_host_memory());
    if (rows > have)
      return fmt::format("need {} of host memory but {} {}", bytes_text(rows),
                         host_budget > 0 ? "--host-memory allows" : "the host has", bytes_text(host_budget > 0 ? have : have / 0.9));
    return device_short(true);
  }
};

/// Where this rank's rows live in the fit (--data-in; auto: the device if they fit it, else on
/// devices host memory if they fit it, else the file; on host backends without --device-memory the
/// file), refused before
/// reading where they fit nowhere allowed: a clear error instead of an allocation failure deep in
/// a kernel. Collective: every rank learns whether any rank's slice does not fit.
template <class T>
DataIn place_rows(io::DatasetRef const& ref, DataIn asked, Placement<T> const& pl, Communicator const& comm) {
  constexpr bool device_is_host = detail::is_host_space<Kokkos::DefaultExecutionSpace>();
  // (Rows left in their file: on devices streamed within --device-memory; on host backends mapped
  // and paged by the system, or with --device-memory streamed within it as on devices.)
  std::string why;
  DataIn where = asked == DataIn::host || asked == DataIn::file ? asked : DataIn::device;
  if (asked == DataIn::host) {
    why = pl.host_short();
  } else if (asked == DataIn::file) {
    why = pl.device_short(true);
  } else if (!(why = pl.device_short(false)).empty() && asked == DataIn::automatic && !device_is_host) {
    bool const in_host_memory = pl.host_short().empty();  // else larger than host memory: from the file
    where = in_host_memory ? DataIn::host : DataIn::file;
    why = in_host_memory ? std::string() : pl.device_short(true);
  } else if (!why.empty() && asked == DataIn::automatic && pl.device_budget == 0) {  // host backends: the file
    where = DataIn::file;
    why = pl.device_short(true);
  }
  if (!comm.any(!why.empty())) return where;
  if (why.empty()) throw UserError("another rank's slice does not fit where it would live (its error names why)");
  throw UserError(fmt::format("this rank's {} rows × {} columns of '{}' as {} {}{}: run on more ranks/GPUs (mpirun -np "
                              "P splits the rows){}, or fit a subset with --rows",
                              pl.count, pl.cols, ref.str(), scalar_name<T>(), why,
                              where == DataIn::device && !device_is_host ? "; --data-in host streams them from host memory" : "",
                              std::is_same_v<T, double>  ? ", use --precision float"
                              : std::is_same_v<T, float> ? ", use --precision half (16-bit rows)"
                                                         : ""));
}

/// This rank's rows of `ref`, where place_rows puts them. Returns the rank's first global row in
/// row0. least_work(rows, streamed) gives the least work memory a fit of that many rows needs beside
/// them on the device.
template <class T>
Slice<T> read_slice(io::DatasetRef const& ref, io::DatasetInfo const& info, Communicator const& comm,
                    std::int64_t& row0, DataIn asked, std::size_t device_budget, std::size_t host_budget,
                    std::function<std::size_t(std::int64_t, bool)> const& least_work) {
  using space = Kokkos::DefaultExecutionSpace;
  std::int64_t count = 0;
  io::split_rows(info.rows, comm.rank(), comm.size(), row0, count);
  Placement<T> const pl{count, info.cols, device_budget, host_budget, least_work};
  Slice<T> slice;
  slice.where = place_rows<T>(ref, asked, pl, comm);
  if (slice.where == DataIn::host) {
    slice.host = io::read_to_space<space, T, detail::staging_space_t<space>>(space(), ref, info, row0, count, comm);
  } else if (slice.where == DataIn::file && (!io::why_not_mappable<T>(ref).empty() ||
                                              (Slice<T>::device_is_host && device_budget > 0))) {
    slice.source = on_every_rank(comm, [&] { return std::make_shared<io::DatasetRows<T>>(ref, info, row0, count); });
  } else if (slice.where == DataIn::file) {
    slice.mapped = on_every_rank(comm, [&] { return std::make_shared<io::MappedRows<T>>(ref, info, row0, count); });
    stop_on_bus_error();
    T* const rows = const_cast<T*>(slice.mapped->rows());
    using Unmanaged = Kokkos::MemoryTraits<Kokkos::Unmanaged>;
    if constexpr (Slice<T>::device_is_host)
      slice.device = Kokkos::View<T**, Kokkos::LayoutRight, space::memory_space, Unmanaged>(rows, count, info.cols);
    else  // (not page-locked: DataIn::file tells the library so, and it only streams them)
      slice.host =
          Kokkos::View<T**, Kokkos::LayoutRight, detail::staging_space_t<space>, Unmanaged>(rows, count, info.cols);
  } else {
    slice.device = io::read_to_space<space, T>(space(), ref, info, row0, count, comm);
  }
  return slice;
}

inline io::DatasetRef parse_ref(std::string const& spec) {
  try {
    return io::parse_dataset_ref(spec);
  } catch (UserError const& e) {
    throw UsageError(e.what());
  }
}

/// Before any work, on every rank and agreed by all: no file the run writes (output, report,
/// checkpoint) is a file it reads (input, weights, initial centroids) or another of its outputs,
/// and a checkpoint path that exists holds a kkmeans checkpoint (a run replaces only its own).
inline void check_file_roles(FitOptions const& o, Communicator const& comm) {
  FileRoles files;
  files.reads("--input", parse_ref(o.input).file);
  if (!o.weights.empty()) files.reads("--weights", parse_ref(o.weights).file);
  if (!o.init_from.empty()) files.reads("--init-from", parse_ref(o.init_from).file);
  files.writes("--output", o.output);
  files.writes("--report", o.report);
  files.writes("--checkpoint", o.checkpoint);
  on_every_rank(comm, [&] {
    files.check();
    std::error_code ec;
    KKM_REQUIRE(o.checkpoint.empty() || !std::filesystem::exists(o.checkpoint, ec) || io::is_checkpoint(o.checkpoint),
                "checkpoint '" + o.checkpoint + "' exists and is not a kkmeans checkpoint: a run replaces only its own "
                "checkpoints; choose another path");
  });
}

/// The settings a checkpoint's epochs depend on, as (option, value): a resumed run must have the
/// same, or its result would be neither the checkpointed run's nor a fresh run's. Those that only
/// decide when to stop (--max-epochs, --tol) may change; k and the seed are the library's to check.
inline std::vector<std::pair<std::string, std::string>> trajectory_settings(FitOptions const& o, int iou_column) {
  return {{"metric", o.metric},
          {"precision", o.precision},
          {"iou-column", o.metric == IoU::name ? std::to_string(iou_column) : "-"},
          {"empty", o.empty},
          {"init", o.init_from.empty() ? o.init : std::string(to_string(Init::given)) + " " + o.init_from},
          {"assign", o.assign}};
}

/// Refuses a checkpoint (its attributes `a`) made with other trajectory settings, naming the first.
inline void check_resume_settings(FitOptions const& o, int iou_column, io::Attributes const& a) {
  for (auto const& [option, value] : trajectory_settings(o, iou_column)) {
    auto const it = a.find(option);
    std::string const made = it == a.end() ? std::string("?") : it->second.s;
    KKM_REQUIRE(made == value, "checkpoint '" + o.checkpoint + "' was made with --" + option + " " + made +
                                   ", this run has --" + option + " " + value +
                                   ": resume with the checkpoint's settings, or start afresh without --resume");
  }
}

template <class T>
int run_fit(FitOptions const& o, Communicator const& comm) {
  using space = Kokkos::DefaultExecutionSpace;
  Kokkos::Timer total;
  auto const ref = parse_ref(o.input);
  check_file_roles(o, comm);
  // Each rank opens the files itself: a failure on one rank (a node that cannot see a file) is agreed.
  auto info = on_every_rank(comm, [&] { return io::inspect(ref); });
  std::int64_t const file_rows = info.rows;
  if (o.rows > 0) {
    KKM_REQUIRE(o.rows <= info.rows, "--rows " + std::to_string(o.rows) + " exceeds the " +
                                         std::to_string(info.rows) + " rows of '" + ref.str() + "'");
    info.rows = o.rows;
  }
  KKM_REQUIRE(info.rows > 0, "dataset '" + ref.str() + "' has zero rows");
  KKM_REQUIRE(info.cols > 0, "dataset '" + ref.str() + "' has zero columns (d = 0)");
  KKM_REQUIRE(o.k <= info.rows, "k = " + std::to_string(o.k) + " exceeds the number of rows N = " +
                                    std::to_string(info.rows) + " of '" + ref.str() + "'");
  int const iou_column = o.iou_column >= 0 ? o.iou_column : (info.cols >= 4 ? 2 : 0);
  if (o.metric == IoU::name) IoU{iou_column}.check_dimensions(static_cast<int>(info.cols));
  // Every output checked before any work, so that a long run never ends in "file exists" or "no such
  // folder" (a checkpoint is replaced by design).
  double const model_bytes = io::expected_file_bytes(info.rows, 0, o.k, info.cols);
  for (auto const& [path, overwrite, bytes] : {std::tuple{o.output, o.overwrite, model_bytes},
                                               {o.report, o.overwrite, 0.0}, {o.checkpoint, true, model_bytes}})
    if (!path.empty()) {
      io::check_output_path(path, overwrite, comm, bytes);
      if (comm.rank() == 0) remove_stale_temporaries(path);
    }

  Kokkos::Timer t;
  std::int64_t row0 = 0;
  std::size_t const budget = device_memory_bytes(o);
  auto const slice = read_slice<T>(ref, info, comm, row0, parse_name<DataIn>("data-in", o.data_in), budget,
                                   host_memory_bytes(o), [&](std::int64_t rows, bool streamed) {
    Parameters least;  // what the least a fit needs depends on
    least.k = o.k;
    least.assign = parse_name<AssignPath>("assign path", o.assign);
    Init const init = o.init_from.empty() ? detail::init_for<space>(parse_name<Init>("init", o.init)) : Init::given;
    return with_metric(o.metric, iou_column, [&](auto metric) {
      return detail::least_fit_bytes<space, T, decltype(metric)>(least, init, rows, static_cast<int>(info.cols), streamed);
    });
  });
  std::int64_t const n_local = slice.rows();
  using C = compute_t<T>;  // the weights', centroids' and results' type
  Kokkos::View<C const*, Kokkos::DefaultExecutionSpace::memory_space> weights;
  if (!o.weights.empty()) {
    auto const wref = parse_ref(o.weights);
    auto const winfo = on_every_rank(comm, [&] { return io::inspect(wref, true); });
    KKM_REQUIRE(winfo.rows == file_rows && winfo.cols == 1,
                "weights '" + wref.str() + "' are " + std::to_string(winfo.rows) + " × " + std::to_string(winfo.cols) +
                    "; one weight per row of '" + ref.str() + "' (" + std::to_string(file_rows) + ") is needed");
    io::DatasetInfo one = winfo;
    auto wh = io::read_rows<C>(wref, one, row0, n_local, comm);
    Kokkos::View<C*, Kokkos::DefaultExecutionSpace::memory_space> wd("kkm::weights", wh.size());
    Kokkos::deep_copy(wd, Kokkos::View<C*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(wh.data(), wh.size()));
    weights = wd;
  }
  double const t_read = t.seconds();
  log(comm, o.quiet,
      fmt::format("read {} × {} ({}) from {} in {:.2f} s on {} rank(s); {}{}", info.rows, info.cols, info.type,
                  ref.str(), t_read, comm.size(), backend_description(),
                  comm.any(slice.where == DataIn::host)   ? "; rows streamed from host memory"
                  : comm.any(slice.source != nullptr)     ? "; rows read from the file a block at a time"
                  : comm.any(slice.where == DataIn::file) ? "; rows mapped from the file"
                                                          : ""));

  Parameters p;
  p.k = o.k;
  p.init = parse_name<Init>("init", o.init);
  p.n_init = o.n_init;
  p.max_epochs = o.max_epochs;
  p.tol = o.tol;
  p.stop_on_no_change = o.stop_on_no_change;
  p.pipeline = parse_name<Pipeline>("pipeline", o.pipeline);
  p.batch_size = o.batch_size == "auto" ? 0 : std::stoll(o.batch_size);
  p.device_memory = budget;
  p.data_in = slice.library_data_in();
  p.assign = parse_name<AssignPath>("assign path", o.assign);
  p.seed = o.seed;
  p.mode = parse_name<Mode>("mode", o.mode);
  p.empty = parse_name<EmptyPolicy>("empty-cluster policy", o.empty);
  if (!o.init_from.empty()) {
    auto const cref = parse_ref(o.init_from);
    p.init = Init::given;
    p.initial_centroids = on_every_rank(comm, [&] {
      auto const cinfo = io::inspect(cref);
      KKM_REQUIRE(cinfo.rows == o.k && cinfo.cols == info.cols,
                  "initial centroids '" + cref.str() + "' are " + std::to_string(cinfo.rows) + " × " +
                      std::to_string(cinfo.cols) + "; k × d = " + std::to_string(o.k) + " × " +
                      std::to_string(info.cols) + " is needed");
      return io::read_rows<double>(cref, cinfo, 0, cinfo.rows, Communicator{});
    });
  }
  io::Attributes ck_attrs = {{"input", io::Attribute{io::Attribute::text, ref.str(), 0, 0}},
                             {"version", io::Attribute{io::Attribute::text, version(), 0, 0}}};
  for (auto const& [option, value] : trajectory_settings(o, iou_column))
    ck_attrs[option] = io::Attribute{io::Attribute::text, value, 0, 0};
  if (o.resume) {
    KKM_REQUIRE(std::ifstream(o.checkpoint).good(),
                "checkpoint '" + o.checkpoint + "' not found: nothing to resume (run without --resume)");
    io::Attributes a;
    auto ck = io::read_checkpoint(o.checkpoint, row0, n_local, comm, a);
    check_resume_settings(o, iou_column, a);
    log(comm, o.quiet, fmt::format("resuming from {} at epoch {}", o.checkpoint, ck.epoch));
    p.resume_from = std::make_shared<Checkpoint const>(std::move(ck));
  }
  if (!o.checkpoint.empty()) {
    p.checkpoint_every = o.checkpoint_every;  // 0 with --resume alone: written only when preempted
    catch_stop_signals(o.checkpoint_signal);
    p.stop_requested = [] { return stop_signalled(); };
    // Test hooks: simulate kill -9 right after a checkpoint, or while one is being written.
    char const* kill_after = std::getenv("KKMEANS_TEST_KILL_AFTER_CHECKPOINT");
    char const* kill_in = std::getenv("KKMEANS_TEST_KILL_IN_CHECKPOINT");
    int const after = kill_after ? std::atoi(kill_after) : -1, in = kill_in ? std::atoi(kill_in) : -1;
    p.on_checkpoint = [&o, &comm, &ck_attrs, after, in](Checkpoint const& ck) {
      std::function<void()> hook;
      if (ck.epoch == in) hook = [] { std::raise(SIGKILL); };
      io::write_checkpoint(o.checkpoint, ck, ck_attrs, comm, hook);
      if (ck.epoch == after && comm.rank() == 0) std::raise(SIGKILL);
    };
  }
  Progress progress(comm.rank() == 0 && !o.quiet, o.max_epochs, o.n_init);
  if (slice.streamed()) progress.streaming(double(n_local) * double(info.cols) * sizeof(T));
  bool const any_in_file = comm.any(slice.mapped || slice.source);
  p.on_epoch = [&progress, &slice, &comm, &ref, any_in_file](int run, EpochStats const& e) {
    progress.epoch(run, e);
    // Rows left in a file that changes would change under the fit: stop (every rank together).
    if (any_in_file)
      KKM_REQUIRE(!comm.any(slice.file_changed()),
                  "input file '" + ref.file + "' changed during the fit (its size or modification time); stopped");
  };

  t.reset();
  std::size_t const free_before_fit = free_memory();
  auto res = with_metric(o.metric, iou_column, [&](auto metric) {
    return slice.source     ? fit(space{}, *slice.source, weights, p, metric, comm)
           : slice.streamed() ? fit(space{}, slice.host, weights, p, metric, comm)
                              : fit(space{}, slice.device, weights, p, metric, comm);
  });
  progress.done();
  if (slice.where == DataIn::file) res.data_in = to_string(DataIn::file);
  double const t_fit = t.seconds();
  if (res.stop_reason == "preempted") {
    log(comm, false,
        fmt::format("preempted: checkpoint of epoch {} written to {}; continue with --resume", res.epochs, o.checkpoint));
    return exit_preempted;
  }

  // Output: model, labels (each rank its hyperslab), history, attributes.
  t.reset();
  io::OutputFile out;
  out.k = res.k_final;
  out.d = info.cols;
  out.centroids_double = std::is_same_v<T, double>;
  for (int q = 0; q < res.k_final; ++q)
    for (int j = 0; j < info.cols; ++j) out.centroids.push_back(res.centroids(q, j));
  for_each_history_column([&out](auto const& column) { out.history.columns.push_back(column.name); });
  for (auto const& e : res.history)
    for_each_history_column(
        [&out, &e](auto const& column) { out.history.values.push_back(double(e.*column.member)); });
  using A = io::Attribute;
  auto txt = [](std::string s) { A a; a.kind = A::text; a.s = std::move(s); return a; };
  auto num = [](std::int64_t i) { A a; a.kind = A::integer; a.i = i; return a; };
  auto real = [](double r) { A a; a.kind = A::real; a.r = r; return a; };
  out.attributes = {{"metric", txt(o.metric)},
                    {"iou_column", num(iou_column)},
                    {"k_requested", num(o.k)},
                    {"k_final", num(res.k_final)},
                    {"init", txt(o.init_from.empty() ? res.init : to_string(Init::given) + (":" + o.init_from))},
                    {"empty_policy", txt(o.empty)},
                    {"mode", txt(o.mode)},
                    {"n_init", num(o.n_init)},
                    {"best_restart", num(res.best_restart)},
                    {"seed", num(static_cast<std::int64_t>(o.seed))},
                    {"epochs", num(res.epochs)},
                    {"converged", num(res.converged ? 1 : 0)},
                    {"stop_reason", txt(res.stop_reason)},
                    {"inertia", real(res.inertia)},
                    {"tol", real(o.tol)},
                    {"max_epochs", num(o.max_epochs)},
                    {"n_rows", num(info.rows)},
                    {"d", num(info.cols)},
                    {"input", txt(ref.str())},
                    {"weights", txt(o.weights)},
                    {"precision", txt(o.precision)},
                    {"assign_path", txt(res.path)},
                    {"batch_size", num(res.batch_size)},
                    {"ranks", num(comm.size())},
                    {"backend", txt(backend_description())},
                    {"version", txt(version())},
                    {"resumed_from_epoch", num(p.resume_from ? p.resume_from->epoch : 0)}};
  if (!o.output.empty()) {
    auto labels = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), res.labels);
    std::vector<int> local(labels.data(), labels.data() + labels.extent(0));
    io::write_output(o.output, out, local, row0, info.rows, o.overwrite, comm);
  }
  double const t_write = t.seconds();

  if (comm.rank() == 0) {
    if (!o.report.empty()) {
      nlohmann::json j;
      for (auto const& [name, a] : out.attributes) {
        if (a.kind == A::text) j[name] = a.s;
        else if (a.kind == A::integer) j[name] = a.i;
        else j[name] = a.r;
      }
      j["converged"] = res.converged;
      j["output"] = o.output;
      j["restart_inertia"] = res.restart_inertia;
      j["pipeline"] = {{"setting", o.pipeline}, {"epochs_overlapped", res.epochs_pipelined}, {"epochs_rerun", res.epochs_rerun}};
      j["memory"] = {{"data_bytes", std::size_t(n_local) * std::size_t(info.cols) * sizeof(T)},
                     {"data_in", res.data_in},  // rank 0's
                     {"stream_chunk_rows", res.stream_chunk_rows},
                     {"bytes_streamed_per_epoch", res.bytes_streamed_per_epoch},
                     {"assign_workspace_bytes", res.workspace_bytes},
                     {"free_bytes_before_fit", free_before_fit},
                     {"device_memory_budget", p.device_memory}};  // 0: none (the free memory)
      j["seconds"] = {{"read", t_read},
                      {"init", res.seconds_init},
                      {"epochs", res.seconds_epochs},
                      {"fit", t_fit},
                      {"write", t_write},
                      {"total", total.seconds()}};
      j["history"] = nlohmann::json::array();
      for (auto const& e : res.history) {
        nlohmann::json row = nlohmann::json::object();
        for_each_history_column([&row, &e](auto const& column) { row[std::string(column.name)] = e.*column.member; });
        j["history"].push_back(std::move(row));
      }
      write_text_atomically(o.report, j.dump(1) + "\n", o.overwrite);
    }
    if (!o.quiet) {
      std::printf("kkmeans fit: N = %lld, d = %lld, k = %d%s, metric %s, %d epoch(s), %s, inertia %.9g\n",
                  static_cast<long long>(info.rows), static_cast<long long>(info.cols), res.k_final,
                  res.k_final != o.k ? (" (of " + std::to_string(o.k) + " requested; empty clusters dropped)").c_str() : "",
                  o.metric.c_str(), res.epochs, res.converged ? ("converged: " + res.stop_reason).c_str() : "not converged (max epochs)",
                  res.inertia);
      double epoch_s = 0;
      for (auto const& e : res.history) epoch_s += e.seconds;
      std::printf("  time: read %.3f s, init %.3f s, epochs %.3f s (%.3f ms/epoch), write %.3f s\n", t_read,
                  res.seconds_init, res.seconds_epochs,
                  1e3 * epoch_s / std::max(1, static_cast<int>(res.history.size())), t_write);
      if (res.bytes_streamed_per_epoch > 0 && epoch_s > 0)
        std::printf("  rows streamed from host memory: %s per epoch in chunks of %lld rows, %.2f GB/s\n",
                    bytes_text(double(res.bytes_streamed_per_epoch)).c_str(), static_cast<long long>(res.stream_chunk_rows),
                    1e-9 * double(res.bytes_streamed_per_epoch) * double(res.history.size()) / epoch_s);
      int const show = std::min(res.k_final, 10);
      for (int q = 0; q < show; ++q) {
        std::string row;
        for (int j = 0; j < std::min<std::int64_t>(info.cols, 8); ++j) row += fmt::format(" {:>12.5g}", double(res.centroids(q, j)));
        std::printf("  centroid %3d:%s%s\n", q, row.c_str(), info.cols > 8 ? " …" : "");
      }
      if (res.k_final > show) std::printf("  … %d more centroid(s)\n", res.k_final - show);
      if (!o.output.empty()) std::printf("  wrote %s\n", o.output.c_str());
    }
  }
  return 0;
}

}  // namespace kkm::app
