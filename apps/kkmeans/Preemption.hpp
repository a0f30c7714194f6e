#pragma once
// Preemption by a batch system: SIGTERM (what Slurm sends at the time limit or on preemption) and
// the signal of --checkpoint-signal (e.g. USR1 with `#SBATCH --signal=B:USR1@120`) ask a fit with
// --checkpoint to finish its epoch, write a checkpoint and exit with exit_preempted; --resume then
// ends exactly as an uninterrupted run would have.
#include <kkmeans/core/KKM_Error.hpp>

#include <unistd.h>

#include <csignal>
#include <string>
#include <utility>
#include <vector>

namespace kkm::app {

/// The exit status of a preempted fit (EX_TEMPFAIL: try again, e.g. requeue and --resume).
constexpr int exit_preempted = 75;

/// The signals --checkpoint-signal names.
inline std::vector<std::pair<std::string, int>> const& checkpoint_signals() {
  static std::vector<std::pair<std::string, int>> const s = {
      {"TERM", SIGTERM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"INT", SIGINT}, {"HUP", SIGHUP}};
  return s;
}

inline volatile std::sig_atomic_t stop_signal_received = 0;

extern "C" inline void on_stop_signal(int) { stop_signal_received = 1; }

/// From now on SIGTERM and the signal named `name` (one of checkpoint_signals()) only set the flag
/// that stop_signalled() reads.
inline void catch_stop_signals(std::string const& name) {
  for (auto const& [n, sig] : checkpoint_signals())
    if (n == name || sig == SIGTERM) std::signal(sig, on_stop_signal);
}

inline bool stop_signalled() { return stop_signal_received != 0; }

/// Rows mapped from a file (--data-in file) raise SIGBUS when the file shrinks under them: stop with
/// one line instead of a crash. Output files are written under temporary names and renamed when
/// complete, so none is left half-written; the last checkpoint stays whole.
inline void stop_on_bus_error() {
  std::signal(SIGBUS, [](int) {
    static char const message[] = "kkmeans: error: the input file shrank while its mapped rows were read; stopped\n";
    ssize_t const written = write(STDERR_FILENO, message, sizeof message - 1);
    (void)written;
    _exit(1);
  });
}

}  // namespace kkm::app
