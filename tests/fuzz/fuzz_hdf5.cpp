// libFuzzer harness: the HDF5 input checks (inspect: rank, shape, type, missing chunks; read_rows
// with conversion to float and double) and the model reader of `kkmeans predict`, on mutated files.
// Contract: a file is read or refused with kkm::UserError; nothing else may escape, crash or trip
// a sanitizer (HDF5's own code is not instrumented, but what it returns to us is checked).
#include "FuzzInput.hpp"

#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/io/KKM_HDF5.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string const& path = write_fuzz_input(data, size);
  kkm::Communicator const self;  // one process: no MPI call (and no MPI_Init needed)
  for (char const* name : {"/points", "/centroids", "/labels"}) {
    try {
      kkm::io::DatasetRef ref;
      ref.file = path;
      ref.dataset = name;
      auto const info = kkm::io::inspect(ref, true);
      std::int64_t const n = info.rows < 64 ? info.rows : 64;
      if (n * info.cols > (std::int64_t(1) << 24)) continue;  // the application checks memory first (check_fits_memory)
      auto v = kkm::io::read_rows<float>(ref, info, 0, n, self);
      if (v.size() != static_cast<std::size_t>(n * info.cols)) std::abort();  // the reader's contract
      auto w = kkm::io::read_rows<double>(ref, info, info.rows - n, n, self);
      if (w.size() != v.size()) std::abort();
    } catch (kkm::UserError const&) {
    }
  }
  try {
    auto const m = kkm::io::read_model(path);
    if (m.centroids.size() != static_cast<std::size_t>(m.k * m.d)) std::abort();
  } catch (kkm::UserError const&) {
  }
  return 0;
}
