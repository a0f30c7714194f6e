#pragma once
/// \file KKM_CandidateOrder.hpp
/// \brief The order every assignment path agrees on — the smaller distance, ties → the lower
/// centroid index, as a sequential scan in ascending index picks — and a row's candidate list. Free
/// of Kokkos, so that the tensor-core kernels built apart from it (tpls/) share them.

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

}  // namespace kkm::detail
