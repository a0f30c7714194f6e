#pragma once
// Per-epoch progress on rank 0: one line that redraws in a terminal, plain lines otherwise.
#include <kkmeans/core/KKM_Result.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <unistd.h>

namespace kkm::app {

class Progress {
 public:
  Progress(bool enabled, int max_epochs, int runs)
      : enabled_(enabled), tty_(enabled && isatty(fileno(stderr))), max_epochs_(max_epochs), runs_(runs) {}

  /// Rows streamed from host memory: `bytes` copied to the device per epoch (rank 0's), shown as a rate.
  void streaming(double bytes) { streamed_bytes_ = bytes; }

  void epoch(int run, EpochStats const& e) {
    if (!enabled_) return;
    if (run != run_) {
      newline();
      run_ = run;
      elapsed_ = 0;
    }
    elapsed_ += e.seconds;
    double const per = elapsed_ / e.epoch;
    double const eta = per * (max_epochs_ - e.epoch) + per * max_epochs_ * (runs_ - 1 - run);
    std::string line = fmt::format(
        "run {}/{}  epoch {:>4}  inertia {:.6e}  shift {:.3e}  changed {:>10}  empty {:>3}  {:>8.3f} ms/epoch  ETA ≤ {}",
        run + 1, runs_, e.epoch, e.inertia, e.shift, e.changed, e.empty, 1e3 * per, duration(eta));
    if (streamed_bytes_ > 0 && e.seconds > 0) line += fmt::format("  {:.2f} GB/s streamed", 1e-9 * streamed_bytes_ / e.seconds);
    if (tty_) {
      std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
      open_ = true;
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  }

  void done() { newline(); }

 private:
  void newline() {
    if (open_) std::fprintf(stderr, "\n");
    open_ = false;
  }
  static std::string duration(double s) {
    if (s < 60) return fmt::format("{:.1f} s", s);
    if (s < 3600) return fmt::format("{:.1f} min", s / 60);
    return fmt::format("{:.1f} h", s / 3600);
  }

  bool enabled_, tty_;
  int max_epochs_, runs_;
  int run_ = -1;
  double elapsed_ = 0;
  double streamed_bytes_ = 0;
  bool open_ = false;
};

}  // namespace kkm::app
