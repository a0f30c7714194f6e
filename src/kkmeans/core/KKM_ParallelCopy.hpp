#pragma once
/// \file KKM_ParallelCopy.hpp
/// \brief memcpy by several threads at once, for copies whose source one thread reads slowly: rows
/// mapped from a file (each page found in the page cache or read from the disk on first touch) into
/// page-locked buffers that the device then copies from at the link's rate. The same threads run
/// other work split into tasks (for_each_task: the chunks of a compressed dataset, inflated).
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kkm::detail {

class ParallelCopy {
 public:
  /// `threads` ≥ 1 threads copy, the caller's among them.
  explicit ParallelCopy(int threads);
  ~ParallelCopy();
  ParallelCopy(ParallelCopy const&) = delete;
  ParallelCopy& operator=(ParallelCopy const&) = delete;

  /// Copies `bytes` bytes from `src` to `dst` (not overlapping), each thread a contiguous part;
  /// returns when all of them are copied. One caller at a time.
  void operator()(void* dst, void const* src, std::size_t bytes);

  /// Calls task(t, thread) for t in [0, tasks), each once, on the threads (thread: which of them,
  /// in [0, threads()), for scratch memory of its own); returns when all are done. The first
  /// exception a task throws is thrown here, after the others have finished. One caller at a time.
  void for_each_task(std::size_t tasks, std::function<void(std::size_t, int)> const& task);

  int threads() const { return int(workers_.size()) + 1; }

  /// The threads a copy from rows mapped from a file uses: KKMEANS_COPY_THREADS where set, else
  /// one per core this process may run on, at most 16. (One H100 machine's 16 cores, rows mapped from
  /// the page cache into page-locked slots: 4 threads 221 ms per 5.12 GB, 8 295 ms, 12 164 ms, 16
  /// 147 ms.)
  static int default_threads();

 private:
  std::mutex mutex_;
  std::condition_variable start_, done_;
  std::vector<std::thread> workers_;
  char* dst_ = nullptr;
  char const* src_ = nullptr;
  std::size_t bytes_ = 0;
  std::function<void(std::size_t, int)> const* task_ = nullptr;  // for_each_task's, or none: a copy
  std::size_t tasks_ = 0;
  std::size_t next_task_ = 0;     // the next task a thread takes (under mutex_)
  std::exception_ptr failed_;     // the first task's exception
  std::uint64_t generation_ = 0;  // one more for each copy, so that a worker starts each once
  int running_ = 0;               // workers not yet done with this copy
  bool stop_ = false;

  void run(int part);  // this part of the copy, or tasks until none is left
  void start();        // wakes the workers for the job just set, runs part 0, waits for them
  void copy_part(int part) const;
  void work(int part);
};

}  // namespace kkm::detail
