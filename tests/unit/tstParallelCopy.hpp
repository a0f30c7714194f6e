// ParallelCopy, the several-thread memcpy that fills the page-locked slots of a CUDA copy from rows
// mapped from their file: every byte lands, nothing outside the destination is written, and a copier
// serves copy after copy of every size (the parts' page boundaries, sizes under a page per thread);
// its tasks (for_each_task) run once each, and a task's exception reaches the caller.
#include <kkmeans/core/KKM_ParallelCopy.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::vector<unsigned char> pattern(std::size_t bytes, unsigned seed) {
  std::vector<unsigned char> v(bytes);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) b = static_cast<unsigned char>((x = x * 1664525u + 1013904223u) >> 24);
  return v;
}

TEST(TEST_CATEGORY, parallel_copy_lands_every_byte_and_no_other) {
  std::size_t const guard = 64;
  for (int threads : {1, 2, 3, 8}) {
    kkm::detail::ParallelCopy copy(threads);
    EXPECT_EQ(copy.threads(), threads);
    unsigned seed = 0;
    for (std::size_t bytes : {std::size_t(0), std::size_t(1), std::size_t(4095), std::size_t(4096), std::size_t(4097),
                              std::size_t(3 * 4096 + 7), std::size_t(8 * 4096), std::size_t(10'000'019)}) {
      auto const src = pattern(bytes, ++seed);
      std::vector<unsigned char> dst(bytes + 2 * guard, 0xA5);
      copy(dst.data() + guard, src.data(), bytes);
      for (std::size_t i = 0; i < guard; ++i) {
        ASSERT_EQ(dst[i], 0xA5) << "written before the destination, threads " << threads << ", bytes " << bytes;
        ASSERT_EQ(dst[guard + bytes + i], 0xA5) << "written after the destination, threads " << threads;
      }
      ASSERT_TRUE(std::equal(src.begin(), src.end(), dst.begin() + guard)) << "threads " << threads << ", bytes " << bytes;
    }
  }
}

TEST(TEST_CATEGORY, parallel_copy_serves_many_copies_and_ends_idle) {
  kkm::detail::ParallelCopy copy(4);
  auto const src = pattern(1 << 16, 7);
  std::vector<unsigned char> dst(src.size());
  for (int i = 0; i < 2000; ++i) {  // each copy's workers start once: a lost or repeated start hangs or races here
    std::size_t const bytes = 1 + std::size_t(i * 37) % src.size();
    copy(dst.data(), src.data() + (src.size() - bytes), bytes);
    ASSERT_TRUE(std::equal(dst.begin(), dst.begin() + bytes, src.end() - bytes)) << "copy " << i;
  }
  kkm::detail::ParallelCopy unused(3);  // destroyed without a copy: its workers stop
  EXPECT_GE(kkm::detail::ParallelCopy::default_threads(), 1);
  EXPECT_LE(kkm::detail::ParallelCopy::default_threads(), 16);
}

TEST(TEST_CATEGORY, parallel_copy_runs_every_task_once_and_passes_on_a_failure) {
  for (int threads : {1, 3}) {
    kkm::detail::ParallelCopy team(threads);
    for (std::size_t tasks : {std::size_t(1), std::size_t(2), std::size_t(97)}) {
      std::vector<std::atomic<int>> runs(tasks);
      std::atomic<int> bad_thread{0};
      team.for_each_task(tasks, [&](std::size_t t, int thread) {
        ++runs[t];
        if (thread < 0 || thread >= threads) ++bad_thread;
      });
      for (std::size_t t = 0; t < tasks; ++t) ASSERT_EQ(runs[t], 1) << "task " << t << ", threads " << threads;
      EXPECT_EQ(bad_thread, 0);
    }
    // A task's exception reaches the caller once the others are done; the team goes on serving.
    std::atomic<int> started{0};
    try {
      team.for_each_task(50, [&](std::size_t t, int) {
        ++started;
        if (t == 7) throw std::runtime_error("task 7 failed");
      });
      ADD_FAILURE() << "the failure was lost";
    } catch (std::runtime_error const& e) {
      EXPECT_EQ(std::string(e.what()), "task 7 failed");
    }
    EXPECT_GE(started, 8);
    auto const src = pattern(10000, 3);
    std::vector<unsigned char> dst(src.size());
    team(dst.data(), src.data(), src.size());
    EXPECT_EQ(dst, src);
  }
}

TEST(TEST_CATEGORY, parallel_copy_threads_from_the_environment) {
  char const* const before = std::getenv("KKMEANS_COPY_THREADS");
  std::string const kept = before ? before : "";
  setenv("KKMEANS_COPY_THREADS", "3", 1);
  EXPECT_EQ(kkm::detail::ParallelCopy::default_threads(), 3);
  setenv("KKMEANS_COPY_THREADS", "zero", 1);  // not a count: the default
  EXPECT_GE(kkm::detail::ParallelCopy::default_threads(), 1);
  EXPECT_LE(kkm::detail::ParallelCopy::default_threads(), 16);
  if (before)
    setenv("KKMEANS_COPY_THREADS", kept.c_str(), 1);
  else
    unsetenv("KKMEANS_COPY_THREADS");
}

}  // namespace
