#pragma once
// Both fuzz harnesses hand their input to code that reads files: write it to one temporary file per
// process (created on first use) and return its path.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

inline std::string const& write_fuzz_input(std::uint8_t const* data, std::size_t size) {
  static std::string const path = [] {
    char tmpl[] = "/tmp/kkmeans-fuzz-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) std::abort();
    close(fd);
    return std::string(tmpl);
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}
