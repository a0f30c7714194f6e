#pragma once
/// \file KKM_CandidateOrder.hpp
/// \brief The order every assignment path agrees on — the smaller distance, ties → the lower
/// centroid index, as a sequential scan in ascending index picks — and a row's candidate list. Free
/// of Kokkos, so that the tensor-core kernels built apart from it (tpls/) share them.

#include <cmath>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define KKM_HOST_DEVICE __host__ __device__ inline
#else
#define KKM_HOST_DEVICE inline
#endif

namespace kkm::detail {

/// Whether (v1, j1) is nearer than (v2, j2): the smaller value, ties → the lower index, so that
/// every path picks the centroid the sequential scan picks.
template <class T>
KKM_HOST_DEVICE bool nearer(T v1, int j1, T v2, int j2) {
  return v1 < v2 || (v1 == v2 && j1 < j2);
}

/// Candidates the checked scan keeps per row in fit epochs (so that the open-row launch knows every
/// candidate of nearly all open rows), and the length of a fused checked candidate list.
constexpr int open_candidates = 4;

/// A row's first candidates by the product value, written by the fused checked product
/// (KKM_CandidateList.hpp) for the checked scan: v ascending, j[m] the centroid of v[m] (ties → the
/// lower index), and v[open_candidates] a lower bound on the value of every centroid not listed.
/// Entries that cannot be told from unlisted ones carry that bound as their value, so that — as
/// with TopN — every centroid whose value is below a threshold under v[open_candidates] is listed.
template <class T>
struct CandidateList {
  T v[open_candidates + 1];
  int j[open_candidates];
};

/// A row's CandidateList from candidates offered in any order (index < 0: none): the four nearest
/// (ties → the lower index), and as the bound on unlisted values the least of the offered bound
/// and every candidate the four displaced; listed values at or above the bound carry the bound.
template <class T>
struct CandidateListBuilder {
  T v[open_candidates + 1];  // v[open_candidates]: the least displaced value
  int j[open_candidates];
  KKM_HOST_DEVICE CandidateListBuilder() {
    for (int m = 0; m <= open_candidates; ++m) v[m] = T(INFINITY);
    for (int m = 0; m < open_candidates; ++m) j[m] = -1;
  }
  KKM_HOST_DEVICE void offer(T x, int jx) {
    for (int m = 0; m < open_candidates; ++m)  // insertion: what (x, jx) displaces moves one place down
      if (jx >= 0 && (j[m] < 0 || nearer(x, jx, v[m], j[m]))) {
        T const tv = v[m];
        int const tj = j[m];
        v[m] = x, j[m] = jx, x = tv, jx = tj;
      }
    if (jx >= 0 && x < v[open_candidates]) v[open_candidates] = x;
  }
  KKM_HOST_DEVICE void write(CandidateList<T>& o, T bound) const {
    if (v[open_candidates] < bound || bound != bound) bound = v[open_candidates];  // (as fmin)
    for (int m = 0; m < open_candidates; ++m) {
      o.v[m] = v[m] < bound ? v[m] : bound;
      o.j[m] = j[m];
    }
    o.v[open_candidates] = bound;
  }
};

}  // namespace kkm::detail
