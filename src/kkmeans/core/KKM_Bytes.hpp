#pragma once
/// \file KKM_Bytes.hpp
/// \brief A byte count as people read it in messages ("140.62 KiB", "3.00 GiB") and as they write it
/// ("8G", "512MiB", "1.5M").
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace kkm {

inline std::string bytes_text(double bytes) {
  char const* unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024 && u < 5) bytes /= 1024, ++u;
  char text[32];
  std::snprintf(text, sizeof text, "%.*f %s", u == 0 ? 0 : 2, bytes, unit[u]);
  return text;
}

/// A positive number of bytes with an optional unit K, M, G or T (powers of 1024; "KiB", "KB", "k"
/// read the same) or B, e.g. "8G", "1.5MiB", "4096"; nothing else (no sign, no space, at most 2^62).
inline std::optional<std::size_t> parse_bytes(std::string const& text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double const number = std::strtod(text.c_str(), &end);
  if (errno != 0 || !(number > 0)) return std::nullopt;
  std::string unit(end);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() == 3 && unit.compare(1, 2, "IB") == 0) unit.resize(1);       // KiB → K
  else if (unit.size() == 2 && unit[1] == 'B' && unit[0] != 'B') unit.resize(1);  // KB → K
  double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "K") scale = 0x1p10;
  else if (unit == "M") scale = 0x1p20;
  else if (unit == "G") scale = 0x1p30;
  else if (unit == "T") scale = 0x1p40;
  double const bytes = number * scale;
  if (!(bytes >= 1) || bytes > 0x1p62) return std::nullopt;
  return static_cast<std::size_t>(bytes);
}

/// The message for a size setting (`what`, whose other value is "auto") that parse_bytes refused.
inline std::string byte_size_error(std::string const& what, std::string const& text) {
  return what + " must be a number of bytes, optionally with K, M, G or T (powers of 1024), or auto; got '" + text +
         "'";
}

}  // namespace kkm
