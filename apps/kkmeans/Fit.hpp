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

/// Refuses, before reading, a slice whose rows (plus a label per row) would not fit the free memory
/// of this rank's device, or with --device-memory, whose rows and least work buffers (`least_work`
/// bytes) would not fit that budget: a clear error instead of an allocation failure deep in a kernel.
/// Collective: every rank learns whether any rank's slice does not fit.
template <class T>
void check_fits_memory(io::DatasetRef const& ref, std::int64_t count, std::int64_t cols, std::size_t budget,
                       std::size_t least_work, Communicator const& comm) {
  double const resident = double(detail::resident_bytes<T>(count, static_cast<int>(cols)));
  double const least = resident + double(least_work);
  bool const over_budget = budget > 0 && least > double(budget);
  bool const bad = over_budget || resident > 0.9 * double(free_memory());
  if (!comm.any(bad)) return;
  if (over_budget)
    throw UserError(fmt::format("this rank's {} rows × {} columns of '{}' need {} as {} with their labels and the "
                                "least work buffers, more than --device-memory {} allows: allow at least {}, run on "
                                "more ranks/GPUs, or fit a subset with --rows",
                                count, cols, ref.str(), bytes_text(least), sizeof(T) == 4 ? "float32" : "float64",
                                bytes_text(double(budget)), bytes_text(least)));
  double const have = 0.9 * double(free_memory());
  std::string const where = Kokkos::DefaultExecutionSpace::memory_space::name();
  throw UserError(fmt::format(
      "{}{} rows × {} columns of '{}' need {} as {} but {} memory has {} free: run on more ranks/GPUs "
      "(mpirun -np P splits the rows){}, or fit a subset with --rows",
      bad ? "this rank's " : "another rank's slice does not fit; ", count, cols, ref.str(), bytes_text(resident),
      sizeof(T) == 4 ? "float32" : "float64", where, bytes_text(have / 0.9),
      sizeof(T) == 8 ? ", use --precision float" : ""));
}

/// This rank's rows of `ref` in a device View of T. Returns the rank's first global row in row0.
/// With a device-memory budget (bytes; 0: none), least_work(rows) gives the least work memory a fit
/// of that many rows needs beside them.
template <class T>
Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::DefaultExecutionSpace::memory_space> read_slice(
    io::DatasetRef const& ref, io::DatasetInfo const& info, Communicator const& comm, std::int64_t& row0,
    std::size_t budget = 0, std::function<std::size_t(std::int64_t)> const& least_work = {}) {
  std::int64_t count = 0;
  io::split_rows(info.rows, comm.rank(), comm.size(), row0, count);
  check_fits_memory<T>(ref, count, info.cols, budget, budget > 0 ? least_work(count) : 0, comm);
  return io::read_to_space<Kokkos::DefaultExecutionSpace, T>(Kokkos::DefaultExecutionSpace(), ref, info, row0, count,
                                                             comm);
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
  auto x = read_slice<T>(ref, info, comm, row0, budget, [&](std::int64_t rows) {
    Parameters least;  // what the least a fit needs depends on
    least.k = o.k;
    least.assign = parse_name<AssignPath>("assign path", o.assign);
    Init const init = o.init_from.empty() ? detail::init_for<space>(parse_name<Init>("init", o.init)) : Init::given;
    return with_metric(o.metric, iou_column, [&](auto metric) {
      return detail::least_fit_bytes<space, T, decltype(metric)>(least, init, rows, static_cast<int>(info.cols));
    });
  });
  Kokkos::View<T const*, Kokkos::DefaultExecutionSpace::memory_space> weights;
  if (!o.weights.empty()) {
    auto const wref = parse_ref(o.weights);
    auto const winfo = on_every_rank(comm, [&] { return io::inspect(wref, true); });
    KKM_REQUIRE(winfo.rows == file_rows && winfo.cols == 1,
                "weights '" + wref.str() + "' are " + std::to_string(winfo.rows) + " × " + std::to_string(winfo.cols) +
                    "; one weight per row of '" + ref.str() + "' (" + std::to_string(file_rows) + ") is needed");
    io::DatasetInfo one = winfo;
    auto wh = io::read_rows<T>(wref, one, row0, static_cast<std::int64_t>(x.extent(0)), comm);
    Kokkos::View<T*, Kokkos::DefaultExecutionSpace::memory_space> wd("kkm::weights", wh.size());
    Kokkos::deep_copy(wd, Kokkos::View<T*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(wh.data(), wh.size()));
    weights = wd;
  }
  double const t_read = t.seconds();
  log(comm, o.quiet,
      fmt::format("read {} × {} ({}) from {} in {:.2f} s on {} rank(s); {}", info.rows, info.cols, info.type,
                  ref.str(), t_read, comm.size(), backend_description()));

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
    auto ck = io::read_checkpoint(o.checkpoint, row0, static_cast<std::int64_t>(x.extent(0)), comm, a);
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
  p.on_epoch = [&progress](int run, EpochStats const& e) { progress.epoch(run, e); };

  t.reset();
  std::size_t const free_before_fit = free_memory();
  auto res = with_metric(o.metric, iou_column, [&](auto metric) { return fit(space{}, x, weights, p, metric, comm); });
  progress.done();
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
      j["memory"] = {{"data_bytes", std::size_t(x.extent(0)) * std::size_t(info.cols) * sizeof(T)},
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
