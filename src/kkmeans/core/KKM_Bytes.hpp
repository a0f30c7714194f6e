#pragma once
/// \file KKM_Bytes.hpp
/// \brief A byte count as people read it in messages ("140.62 KiB", "3.00 GiB").
#include <cstdio>
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

}  // namespace kkm
