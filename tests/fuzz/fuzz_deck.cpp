// libFuzzer harness: the TOML deck loader and the option checks of `kkmeans fit`.
// Contract: any byte string either loads or is refused with kkm::UsageError / kkm::UserError (the
// app prints its one line and exits 2); nothing else may escape, crash or trip a sanitizer.
#include "../../apps/kkmeans/Options.hpp"
#include "FuzzInput.hpp"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string const& path = write_fuzz_input(data, size);
  kkm::app::FitOptions opt;
  try {
    kkm::app::apply_deck(path, opt, {"--overwrite"});
    kkm::app::validate(opt);
  } catch (kkm::UserError const&) {  // UsageError derives from it
  }
  return 0;
}
