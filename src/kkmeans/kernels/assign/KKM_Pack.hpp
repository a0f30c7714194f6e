#pragma once
/// \file KKM_Pack.hpp
/// \brief Several values loaded or stored as one (16-byte vector loads of rows and centroids).
#include <Kokkos_Core.hpp>

namespace kkm::detail {

/// P values of T loaded or stored together (P · sizeof(T) bytes, aligned to that).
template <class T, int P>
struct alignas(P * sizeof(T)) Pack {
  T v[P];
};

/// 16 bytes of T, for vector loads of padded centroids from scratch.
template <class T>
using Chunk16 = Pack<T, 16 / sizeof(T)>;

}  // namespace kkm::detail
