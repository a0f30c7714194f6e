#pragma once
/// \file KKM_Nearest.hpp
/// \brief The small structures that keep the nearest candidates of a row in the order every
/// assignment path agrees on (KKM_CandidateOrder.hpp): one pair, a Kokkos reducer of pairs, the N
/// best.
#include <kkmeans/kernels/assign/KKM_CandidateOrder.hpp>

#include <Kokkos_Core.hpp>

namespace kkm::detail {

/// A candidate centroid and its distance; j < 0: none yet (worse than every candidate).
template <class T>
struct NearestPair {
  T v = 0;
  int j = -1;
  /// Keeps (v, j) if it is nearer (ties → the lower index).
  KOKKOS_INLINE_FUNCTION void take(T v_, int j_) {
    if (j < 0 || nearer(v_, j_, v, j)) {
      v = v_;
      j = j_;
    }
  }
};

/// A Kokkos reducer for NearestPair: the nearer of two candidates, ties → the lower index, so that
/// lanes joined in any order agree with the sequential scan in ascending index.
template <class T, class Space>
struct NearestReducer {
  using reducer = NearestReducer;
  using value_type = NearestPair<T>;
  using result_view_type = Kokkos::View<value_type, Space, Kokkos::MemoryUnmanaged>;

 private:
  result_view_type value_;
  bool references_scalar_ = false;

 public:
  KOKKOS_INLINE_FUNCTION explicit NearestReducer(value_type& v) : value_(&v), references_scalar_(true) {}
  KOKKOS_INLINE_FUNCTION explicit NearestReducer(result_view_type const& v) : value_(v) {}
  KOKKOS_INLINE_FUNCTION void join(value_type& dest, value_type const& src) const {
    if (src.j >= 0) dest.take(src.v, src.j);
  }
  KOKKOS_INLINE_FUNCTION void join(volatile value_type& dest, volatile value_type const& src) const {
    if (src.j >= 0 && (dest.j < 0 || nearer(T(src.v), int(src.j), T(dest.v), int(dest.j)))) {
      dest.v = src.v;
      dest.j = src.j;
    }
  }
  KOKKOS_INLINE_FUNCTION void init(value_type& v) const { v = value_type{}; }
  KOKKOS_INLINE_FUNCTION value_type& reference() const { return *value_.data(); }
  KOKKOS_INLINE_FUNCTION result_view_type view() const { return value_; }
  KOKKOS_INLINE_FUNCTION bool references_scalar() const { return references_scalar_; }
};

/// The checked GEMM path's scan of one row: the N smallest (value, index) pairs v[0..N), j[0..N)
/// (ties → lower index) and the smallest value among all others, v[N], so that afterwards it is
/// known whether more than N centroids lie under a threshold.
template <class T, int N>
struct TopN {
  static constexpr int size = N;
  T v[N + 1];
  int j[N];
  KOKKOS_INLINE_FUNCTION TopN() {
    for (int m = 0; m <= N; ++m) v[m] = Kokkos::reduction_identity<T>::min();
    for (int m = 0; m < N; ++m) j[m] = Kokkos::reduction_identity<int>::min();
  }
  /// Adds (x, jx); a value above v[N] changes nothing (the scan tests that first).
  KOKKOS_INLINE_FUNCTION void push(T x, int jx) {
    for (int m = 0; m < N; ++m)  // insertion: what (x, jx) displaces moves one place down
      if (nearer(x, jx, v[m], j[m])) {
        T const tv = v[m];
        int const tj = j[m];
        v[m] = x;
        j[m] = jx;
        x = tv;
        jx = tj;
      }
    if (x < v[N]) v[N] = x;
  }
};

}  // namespace kkm::detail
