// Where a Kokkos program's host time goes: a Kokkos Tools library that counts and times (host wall
// clock, begin to end) every kernel launch, fence, deep copy and allocation by name, and prints the
// totals at exit. For comparing two builds of the same run (e.g. Kokkos 3.4 against 4.x): a launch
// that returns at once is queued; one whose time holds the kernel waited for it (a reduction to a
// host value); fences and allocations that appear in one build only are the usual culprits.
//   g++ -O2 -shared -fPIC -o kokkos_events.so scripts/bench/kokkos_events.cpp
//   KOKKOS_TOOLS_LIBS=$PWD/kokkos_events.so KOKKOS_PROFILE_LIBRARY=$PWD/kokkos_events.so kkmeans fit ...
// KKM_EVENTS_OUT=FILE writes the table there instead of stderr; KKM_EVENTS_TOP=N rows (default 30).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct Total {
  std::uint64_t count = 0;
  double seconds = 0;
  double max_seconds = 0;  // the slowest: a kernel's first launch also loads its module (CUDA lazy loading)
  std::uint64_t bytes = 0;
};

struct Open {
  std::string key;
  clock_type::time_point start;
};

std::map<std::string, Total> totals;
std::vector<Open> open_events;  // indexed by the handle given to Kokkos
clock_type::time_point program_start = clock_type::now();

std::uint64_t begin(std::string key) {
  open_events.push_back({std::move(key), clock_type::now()});
  return open_events.size() - 1;
}

void end(std::uint64_t handle) {
  if (handle >= open_events.size()) return;
  auto const& e = open_events[handle];
  Total& t = totals[e.key];
  ++t.count;
  double const s = std::chrono::duration<double>(clock_type::now() - e.start).count();
  t.seconds += s;
  t.max_seconds = std::max(t.max_seconds, s);
}

struct SpaceHandle {
  char name[64];
};

void print_totals() {
  std::vector<std::pair<std::string, Total>> rows(totals.begin(), totals.end());
  std::sort(rows.begin(), rows.end(), [](auto const& a, auto const& b) { return a.second.seconds > b.second.seconds; });
  char const* path = std::getenv("KKM_EVENTS_OUT");
  FILE* out = path ? std::fopen(path, "w") : stderr;
  if (!out) out = stderr;
  char const* top_env = std::getenv("KKM_EVENTS_TOP");
  std::size_t const top = top_env ? std::strtoul(top_env, nullptr, 10) : 30;
  std::fprintf(out, "%-12s %10s %12s %12s %12s %14s  %s\n", "kind", "count", "total_ms", "mean_us", "max_us", "bytes",
               "name");
  for (std::size_t i = 0; i < rows.size() && i < top; ++i) {
    auto const& [key, t] = rows[i];
    auto const bar = key.find('|');
    std::fprintf(out, "%-12s %10llu %12.3f %12.2f %12.2f %14llu  %s\n", key.substr(0, bar).c_str(),
                 static_cast<unsigned long long>(t.count), 1e3 * t.seconds, 1e6 * t.seconds / double(t.count),
                 1e6 * t.max_seconds, static_cast<unsigned long long>(t.bytes), key.substr(bar + 1).c_str());
  }
  std::fprintf(out, "program %.3f s\n", std::chrono::duration<double>(clock_type::now() - program_start).count());
  if (out != stderr) std::fclose(out);
}

}  // namespace

extern "C" {

void kokkosp_init_library(int, std::uint64_t, std::uint32_t, void*) { program_start = clock_type::now(); }
void kokkosp_finalize_library() { print_totals(); }

void kokkosp_begin_parallel_for(char const* name, std::uint32_t, std::uint64_t* id) { *id = begin(std::string("for|") + name); }
void kokkosp_end_parallel_for(std::uint64_t id) { end(id); }
void kokkosp_begin_parallel_reduce(char const* name, std::uint32_t, std::uint64_t* id) {
  *id = begin(std::string("reduce|") + name);
}
void kokkosp_end_parallel_reduce(std::uint64_t id) { end(id); }
void kokkosp_begin_parallel_scan(char const* name, std::uint32_t, std::uint64_t* id) { *id = begin(std::string("scan|") + name); }
void kokkosp_end_parallel_scan(std::uint64_t id) { end(id); }
void kokkosp_begin_fence(char const* name, std::uint32_t, std::uint64_t* id) { *id = begin(std::string("fence|") + name); }
void kokkosp_end_fence(std::uint64_t id) { end(id); }

std::uint64_t copy_handle = ~std::uint64_t(0);
void kokkosp_begin_deep_copy(SpaceHandle dst, char const* dst_name, void const*, SpaceHandle src, char const* src_name,
                             void const*, std::uint64_t bytes) {
  std::string key = std::string("copy|") + src.name + " -> " + dst.name + " (" + src_name + " -> " + dst_name + ")";
  totals[key].bytes += bytes;
  copy_handle = begin(std::move(key));
}
void kokkosp_end_deep_copy() { end(copy_handle); }

void kokkosp_allocate_data(SpaceHandle space, char const* name, void const*, std::uint64_t bytes) {
  Total& t = totals[std::string("alloc|") + space.name + " " + name];
  ++t.count;
  t.bytes += bytes;
}
void kokkosp_deallocate_data(SpaceHandle, char const*, void const*, std::uint64_t) {}
}
