#include <kkmeans/core/KKM_ParallelCopy.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <sched.h>

namespace kkm::detail {

ParallelCopy::ParallelCopy(int threads) {
  for (int part = 1; part < std::max(1, threads); ++part) workers_.emplace_back([this, part] { work(part); });
}

ParallelCopy::~ParallelCopy() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  start_.notify_all();
  for (auto& w : workers_) w.join();
}

int ParallelCopy::default_threads() {
  if (char const* given = std::getenv("KKMEANS_COPY_THREADS")) {
    int const t = std::atoi(given);
    if (t >= 1 && t <= 256) return t;
  }
  cpu_set_t mine;  // the cores this process may run on (a batch system's share), else all
  int const cores = sched_getaffinity(0, sizeof(mine), &mine) == 0 ? CPU_COUNT(&mine)
                                                                    : int(std::thread::hardware_concurrency());
  return std::clamp(cores, 1, 16);
}

void ParallelCopy::operator()(void* dst, void const* src, std::size_t bytes) {
  if (bytes == 0) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dst_ = static_cast<char*>(dst);
    src_ = static_cast<char const*>(src);
    bytes_ = bytes;
    task_ = nullptr;
  }
  start();
}

void ParallelCopy::for_each_task(std::size_t tasks, std::function<void(std::size_t, int)> const& task) {
  if (tasks == 0) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = &task;
    tasks_ = tasks;
    next_task_ = 0;
    failed_ = nullptr;
  }
  start();
  std::exception_ptr const failed = failed_;
  task_ = nullptr;
  if (failed) std::rethrow_exception(failed);
}

void ParallelCopy::start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_ = int(workers_.size());
    ++generation_;
  }
  start_.notify_all();
  run(0);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return running_ == 0; });
}

// A copy's part `part`; or tasks, taken one at a time until none is left (tasks take unequal times:
// a compressed chunk inflates at its own pace).
void ParallelCopy::run(int part) {
  if (!task_) return copy_part(part);
  for (;;) {
    std::size_t t;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (next_task_ >= tasks_) return;
      t = next_task_++;
    }
    try {
      (*task_)(t, part);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!failed_) failed_ = std::current_exception();
      next_task_ = tasks_;  // (the others stop taking tasks)
    }
  }
}

// Part p of threads(): its share of the bytes, the boundaries on 4 KiB (one page each thread alone
// faults in).
void ParallelCopy::copy_part(int part) const {
  std::size_t const pages = (bytes_ + 4095) / 4096, n = std::size_t(threads());
  std::size_t const begin = std::min(bytes_, pages * part / n * 4096);
  std::size_t const end = std::min(bytes_, pages * (part + 1) / n * 4096);
  if (end > begin) std::memcpy(dst_ + begin, src_ + begin, end - begin);
}

void ParallelCopy::work(int part) {
  std::uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    run(part);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--running_ == 0) done_.notify_one();
    }
  }
}

}  // namespace kkm::detail
