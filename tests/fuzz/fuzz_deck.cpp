// libFuzzer harness: the TOML deck loader and the option checks of `kkmeans fit`.
// Contract: any byte string either loads or is refused with kkm::UsageError / kkm::UserError (the
// app prints its one line and exits 2); nothing else may escape, crash or trip a sanitizer.
#include "../../apps/kkmeans/Options.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace {
std::string deck_path() {
  static std::string path = [] {
    char tmpl[] = "/tmp/kkmeans-fuzz-deck-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) std::abort();
    close(fd);
    return std::string(tmpl);
  }();
  return path;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string const path = deck_path();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  kkm::app::FitOptions opt;
  try {
    kkm::app::apply_deck(path, opt, {"--overwrite"});
    kkm::app::validate(opt);
  } catch (kkm::UserError const&) {  // UsageError derives from it
  }
  return 0;
}
