// `kkmeans generate`: Gaussian blobs with known centres. Every value is a counter-based function of
// (seed, global row, column), so the file is the same whatever the number of ranks writing it.
#include "App.hpp"
#include "FileRoles.hpp"
#include "Fit.hpp"

#include <kkmeans/core/KKM_Random.hpp>
#include <kkmeans/io/KKM_HDF5.hpp>

#include <cmath>
#include <unistd.h>

namespace kkm::app {

void log(Communicator const& comm, bool quiet, std::string const& line) {
  if (!quiet && comm.rank() == 0) std::fprintf(stderr, "[kkmeans] %s\n", line.c_str());
}

namespace {
constexpr std::uint64_t stream_centre = 0x43454e545245ull;  // "CENTRE"
constexpr std::uint64_t stream_label = 0x4c4142454cull;     // "LABEL"
constexpr std::uint64_t stream_value = 0x56414c5545ull;     // "VALUE"
}  // namespace

/// Refuses, before allocating, what cannot fit this machine's memory at all — this rank's rows as
/// float32 with a label each, and the k × d centres — so that a typo in --n, --d or --k is a clear
/// error instead of an allocation failure. Agreed by every rank.
static void check_generate_size(GenerateOptions const& o, std::int64_t count, Communicator const& comm) {
  on_every_rank(comm, [&] {
    KKM_REQUIRE(o.k <= o.n, "--k " + std::to_string(o.k) + " blobs need at least as many rows; --n is " +
                                std::to_string(o.n));
    long const pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double const have = pages > 0 && page > 0 ? double(pages) * double(page) : 0;
    double const need = double(count) * (double(o.d) * sizeof(float) + sizeof(int)) + double(o.k) * o.d * sizeof(double);
    KKM_REQUIRE(have == 0 || need <= have,
                fmt::format("{} rows × {} columns (and {} centres) need {:.3g} GB on this rank, more than this machine's "
                            "{:.3g} GB of memory: run on more ranks or generate fewer rows or columns",
                            count, o.d, o.k, need / 1e9, have / 1e9));
  });
}

/// --overwrite replaces the whole file (written anew, atomically): refused when the file holds
/// anything generate would not write again, which would be lost without a word.
static void check_nothing_else_replaced(io::DatasetRef const& ref, Communicator const& comm) {
  if (comm.rank() != 0) return;
  std::string const top = ref.dataset.substr(1, ref.dataset.find('/', 1) == std::string::npos ? std::string::npos
                                                                                               : ref.dataset.find('/', 1) - 1);
  std::string others;
  for (auto const& name : io::root_names(ref.file))
    if (name != top && name != "centers" && name != "labels") others += (others.empty() ? "/" : ", /") + name;
  KKM_REQUIRE(others.empty(), "--overwrite would replace all of '" + ref.file + "', which also holds " + others +
                                  ": write to another file, or remove it first");
}

int run_generate(GenerateOptions const& o, Communicator const& comm) {
  // A file alone (what a newcomer types) means its dataset /points.
  auto const ref = o.output.find(":/") == std::string::npos ? io::DatasetRef{o.output, "/points"} : parse_ref(o.output);
  Kokkos::Timer t;
  int const d = o.d, k = o.k;
  {
    std::int64_t row0 = 0, count = 0;
    io::split_rows(o.n, comm.rank(), comm.size(), row0, count);
    check_generate_size(o, count, comm);
    io::check_output_path(ref.file, o.overwrite, comm, io::expected_file_bytes(o.n, 4.0 * d, k, d));
    if (comm.rank() == 0) remove_stale_temporaries(ref.file);
    on_every_rank(comm, [&] { check_nothing_else_replaced(ref, comm); });
  }
  std::vector<double> centres(std::size_t(k) * d);
  for (std::size_t e = 0; e < centres.size(); ++e)
    centres[e] = o.box * (2 * detail::uniform01(o.seed, stream_centre, e) - 1);
  // Blob c gets weight imbalance^(−c/(k−1)): blob 0 is `imbalance` times blob k−1.
  std::vector<double> cum(k);
  double s = 0;
  for (int c = 0; c < k; ++c) {
    s += std::pow(o.imbalance, k > 1 ? -double(c) / (k - 1) : 0.0);
    cum[c] = s;
  }
  for (auto& v : cum) v /= s;

  std::int64_t row0 = 0, count = 0;
  io::split_rows(o.n, comm.rank(), comm.size(), row0, count);
  std::vector<float> values(std::size_t(count) * d);
  std::vector<int> labels(count);
  std::uint64_t const seed = o.seed;
  double const spread = o.spread;
  Kokkos::parallel_for(
      "kkm::generate", Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, count), [&](std::int64_t i) {
        std::uint64_t const g = std::uint64_t(row0 + i);
        double const u = detail::uniform01(seed, stream_label, g);
        int const c = std::min<int>(k - 1, int(std::lower_bound(cum.begin(), cum.end(), u) - cum.begin()));
        labels[i] = c;
        for (int j = 0; j < d; ++j) {
          std::uint64_t const e = 2 * (g * std::uint64_t(d) + j);
          double const u1 = detail::uniform01(seed, stream_value, e);
          double const u2 = detail::uniform01(seed, stream_value, e + 1);
          double const z = std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
          values[std::size_t(i) * d + j] = static_cast<float>(centres[std::size_t(c) * d + j] + spread * z);
        }
      });
  using A = io::Attribute;
  io::Attributes attrs;
  auto num = [](std::int64_t i) { A a; a.kind = A::integer; a.i = i; return a; };
  auto real = [](double r) { A a; a.kind = A::real; a.r = r; return a; };
  attrs["generator"] = A{A::text, "kkmeans generate " + version(), 0, 0};
  attrs["n"] = num(o.n);
  attrs["d"] = num(d);
  attrs["k"] = num(k);
  attrs["seed"] = num(static_cast<std::int64_t>(o.seed));
  attrs["spread"] = real(o.spread);
  attrs["box"] = real(o.box);
  attrs["imbalance"] = real(o.imbalance);
  io::write_matrix(ref.file, ref.dataset, values, row0, o.n, d, {{"centers", centres}}, attrs, o.overwrite, comm,
                   &labels);
  log(comm, o.quiet,
      fmt::format("wrote {} × {} blobs (k = {}, spread {}, seed {}) to {} with /centers and /labels in {:.2f} s", o.n, d,
                  k, o.spread, o.seed, ref.str(), t.seconds()));
  return 0;
}

}  // namespace kkm::app
