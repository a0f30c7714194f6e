// TOML input decks for `kkmeans fit`, shared helpers of the application.
#include "Options.hpp"
#include "Preemption.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <unistd.h>

namespace kkm::app {
namespace {

std::string where(toml::node const& n, std::string const& path) {
  auto const& src = n.source();
  return path + ":" + std::to_string(src.begin.line);
}

}  // namespace

void apply_deck(std::string const& path, FitOptions& opt, std::vector<std::string> const& set_on_cli) {
  toml::table deck;
  try {
    deck = toml::parse_file(path);
  } catch (toml::parse_error const& e) {
    auto const& src = e.source();
    throw UsageError("deck " + path + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column) +
                     ": " + std::string(e.description()));
  }
  // key → (flag name as CLI11 reports it, setter)
  using Setter = std::function<void(toml::node const&, std::string const&)>;
  auto str = [&](std::string& dst) -> Setter {
    return [&dst, &path](toml::node const& n, std::string const& key) {
      auto v = n.value<std::string>();
      if (!v) throw UsageError("deck " + where(n, path) + ": '" + key + "' must be a string");
      dst = *v;
    };
  };
  auto integer = [&](auto& dst) -> Setter {
    return [&dst, &path](toml::node const& n, std::string const& key) {
      // Only integers (asking toml++ for an integer of a huge float is undefined behaviour: found by
      // fuzzing), and only values the option's type holds (no silent wrap-around).
      using D = std::remove_reference_t<decltype(dst)>;
      if (!n.is_integer()) throw UsageError("deck " + where(n, path) + ": '" + key + "' must be an integer");
      std::int64_t const v = n.as_integer()->get();
      bool const fits = std::is_signed_v<D> ? (v >= std::int64_t(std::numeric_limits<D>::min()) &&
                                               v <= std::int64_t(std::numeric_limits<D>::max()))
                                            : (v >= 0 && std::uint64_t(v) <= std::numeric_limits<D>::max());
      if (!fits)
        throw UsageError("deck " + where(n, path) + ": '" + key + "' = " + std::to_string(v) + " is out of range (" +
                         std::to_string(std::numeric_limits<D>::min()) + " to " +
                         std::to_string(std::numeric_limits<D>::max()) + ")");
      dst = static_cast<D>(v);
    };
  };
  auto real = [&](double& dst) -> Setter {
    return [&dst, &path](toml::node const& n, std::string const& key) {
      if (!n.is_number()) throw UsageError("deck " + where(n, path) + ": '" + key + "' must be a number");
      dst = *n.value<double>();
    };
  };
  auto boolean = [&](bool& dst) -> Setter {
    return [&dst, &path](toml::node const& n, std::string const& key) {
      if (!n.is_boolean()) throw UsageError("deck " + where(n, path) + ": '" + key + "' must be true or false");
      dst = *n.value<bool>();
    };
  };
  // An integer or a string, kept as the flag's text (--batch-size, --device-memory check it later).
  auto integer_or_text = [&](std::string& dst, char const* expected) -> Setter {
    return [&dst, &path, expected](toml::node const& n, std::string const& key) {
      if (n.is_integer())
        dst = std::to_string(*n.value<std::int64_t>());
      else if (n.is_string())
        dst = *n.value<std::string>();
      else
        throw UsageError("deck " + where(n, path) + ": '" + key + "' must be " + expected);
    };
  };
  Setter const batch = integer_or_text(opt.batch_size, "an integer or \"auto\"");
  Setter const device_memory = integer_or_text(opt.device_memory, "a number of bytes or a string such as \"8G\"");
  Setter const host_memory = integer_or_text(opt.host_memory, "a number of bytes or a string such as \"64G\"");
  std::map<std::string, std::pair<std::string, Setter>> keys = {
      {"input", {"--input", str(opt.input)}},
      {"weights", {"--weights", str(opt.weights)}},
      {"k", {"--k", integer(opt.k)}},
      {"rows", {"--rows", integer(opt.rows)}},
      {"metric", {"--metric", str(opt.metric)}},
      {"init", {"--init", str(opt.init)}},
      {"init_from", {"--init-from", str(opt.init_from)}},
      {"n_init", {"--n-init", integer(opt.n_init)}},
      {"max_epochs", {"--max-epochs", integer(opt.max_epochs)}},
      {"tol", {"--tol", real(opt.tol)}},
      {"batch_size", {"--batch-size", batch}},
      {"device_memory", {"--device-memory", device_memory}},
      {"data_in", {"--data-in", str(opt.data_in)}},
      {"host_memory", {"--host-memory", host_memory}},
      {"seed", {"--seed", integer(opt.seed)}},
      {"precision", {"--precision", str(opt.precision)}},
      {"assign", {"--assign", str(opt.assign)}},
      {"iou_column", {"--iou-column", integer(opt.iou_column)}},
      {"empty", {"--empty", str(opt.empty)}},
      {"mode", {"--mode", str(opt.mode)}},
      {"stop_on_no_change", {"--no-stop-on-no-change", boolean(opt.stop_on_no_change)}},
      {"pipeline", {"--pipeline", str(opt.pipeline)}},
      {"output", {"--output", str(opt.output)}},
      {"report", {"--report", str(opt.report)}},
      {"checkpoint", {"--checkpoint", str(opt.checkpoint)}},
      {"checkpoint_every", {"--checkpoint-every", integer(opt.checkpoint_every)}},
      {"checkpoint_signal", {"--checkpoint-signal", str(opt.checkpoint_signal)}},
      {"resume", {"--resume", boolean(opt.resume)}},
      {"overwrite", {"--overwrite", boolean(opt.overwrite)}},
      {"quiet", {"--quiet", boolean(opt.quiet)}},
  };
  for (auto const& [key, node] : deck) {
    std::string const k(key.str());
    auto it = keys.find(k);
    if (it == keys.end()) {
      std::string known;
      for (auto const& [name, _] : keys) known += (known.empty() ? "" : ", ") + name;
      throw UsageError("deck " + where(node, path) + ": unknown key '" + k + "' (known: " + known + ")");
    }
    auto const& [flag, set] = it->second;
    if (std::find(set_on_cli.begin(), set_on_cli.end(), flag) != set_on_cli.end()) continue;  // the flag wins
    set(node, k);
  }
}

std::size_t device_memory_bytes(FitOptions const& o) {
  if (o.device_memory == "auto") return 0;
  if (auto const bytes = parse_bytes(o.device_memory)) return *bytes;
  throw UsageError(byte_size_error("device memory", o.device_memory));
}

std::size_t host_memory_bytes(FitOptions const& o) {
  if (o.host_memory == "auto") return 0;
  if (auto const bytes = parse_bytes(o.host_memory)) return *bytes;
  throw UsageError(byte_size_error("host memory", o.host_memory));
}

void validate(FitOptions const& o) {
  auto one_of = [](std::string const& what, std::string const& v, std::vector<std::string> const& ok) {
    if (std::find(ok.begin(), ok.end(), v) == ok.end())
      throw UsageError(unknown_choice(what, v, ok));
  };
  if (o.input.empty()) throw UsageError("fit needs --input FILE.h5:/DATASET (or 'input' in the deck)");
  if (o.rows < 0) throw UsageError("rows must be ≥ 0 (0: all rows), got " + std::to_string(o.rows));
  if (o.k <= 0) throw UsageError("k must be a positive integer (--k), got " + std::to_string(o.k));
  one_of("metric", o.metric, metric_choices());
  one_of("init", o.init, selectable_names<Init>());
  {
    std::vector<std::string> signals;
    for (auto const& s : checkpoint_signals()) signals.push_back(s.first);
    one_of("checkpoint signal", o.checkpoint_signal, signals);
  }
  one_of("precision", o.precision, precision_names);
  one_of("assign path", o.assign, selectable_names<AssignPath>());
  one_of("empty-cluster policy", o.empty, selectable_names<EmptyPolicy>());
  one_of("mode", o.mode, selectable_names<Mode>());
  one_of("pipeline setting", o.pipeline, selectable_names<Pipeline>());
  if (o.mode != to_string(Mode::lloyd) && !o.checkpoint.empty()) throw UsageError("checkpoints are for --mode lloyd");
  if (o.n_init < 1) throw UsageError("n_init must be at least 1, got " + std::to_string(o.n_init));
  if (o.max_epochs < 1) throw UsageError("max_epochs must be at least 1, got " + std::to_string(o.max_epochs));
  if (!(o.tol >= 0)) throw UsageError("tol must be ≥ 0, got " + std::to_string(o.tol));
  if (o.batch_size != "auto") {
    char* end = nullptr;
    errno = 0;
    long long const b = std::strtoll(o.batch_size.c_str(), &end, 10);
    if (o.batch_size.empty() || *end != '\0' || errno != 0 || b <= 0)
      throw UsageError("batch size must be a positive integer or auto, got '" + o.batch_size + "'");
  }
  device_memory_bytes(o);  // throw on a malformed size
  host_memory_bytes(o);
  one_of("data-in setting", o.data_in, selectable_names<DataIn>());
  AssignPath const path = from_name<AssignPath>(o.assign).value();  // one_of above has checked the name
  if (path != AssignPath::automatic && path != AssignPath::fused && o.metric != "sqeuclidean")  // the GEMM paths
    throw UsageError("--assign " + o.assign + " needs --metric sqeuclidean, got " + o.metric);
  if (!o.output.empty() && o.output == o.report) throw UsageError("--output and --report name the same file");
  if (o.checkpoint_every < 0) throw UsageError("--checkpoint-every must be ≥ 0, got " + std::to_string(o.checkpoint_every));
  if ((o.checkpoint_every > 0 || o.resume) && o.checkpoint.empty())
    throw UsageError("--checkpoint-every and --resume need --checkpoint FILE.h5");
  if (!o.checkpoint.empty() && o.checkpoint_every == 0 && !o.resume)
    throw UsageError("--checkpoint needs --checkpoint-every N (or --resume)");
  if (!o.checkpoint.empty() && o.n_init != 1)
    throw UsageError("checkpoints need --n-init 1 (got " + std::to_string(o.n_init) + ")");
  if (!o.checkpoint.empty() && (o.checkpoint == o.output || o.checkpoint == o.report))
    throw UsageError("--checkpoint must be a file of its own");
}

void remove_stale_temporaries(std::string const& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::string const prefix = "." + p.filename().string() + ".tmp-kkmeans-";
  for (auto const& e : fs::directory_iterator(dir, ec)) {
    std::string const name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    // Safe to remove only if the process that wrote it is gone: kill(pid, 0) fails with ESRCH.
    char* end = nullptr;
    long const pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    bool const gone = pid > 0 && *end == '\0' && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
    if (gone) fs::remove(e.path(), ec);
  }
}

void write_text_atomically(std::string const& path, std::string const& text, bool overwrite) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  KKM_REQUIRE(fs::is_directory(dir, ec), "report folder '" + dir.string() + "' does not exist");
  KKM_REQUIRE(overwrite || !fs::exists(p, ec), "report '" + path + "' exists (pass --overwrite to replace it)");
  std::string const tmp = (dir / ("." + p.filename().string() + ".tmp-kkmeans-" + std::to_string(getpid()))).string();
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    KKM_REQUIRE(f.good(), "cannot write report '" + tmp + "': " + std::strerror(errno));
    errno = 0;
    f << text;
    f.close();  // checked: a full disk may only show when the file is closed
    if (f.fail()) {
      int const reason = errno;
      std::remove(tmp.c_str());
      throw UserError("cannot write report '" + path + "'" +
                      (reason != 0 ? std::string(": ") + std::strerror(reason) : std::string(" (disk full?)")));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw UserError("cannot rename report into '" + path + "': " + std::strerror(errno));
  }
}

}  // namespace kkm::app
