#pragma once
/// \file KKM_FitInstances.hpp
/// \brief kkm::fit's work for the built-in metrics, compiled once: declarations that stop every
/// program from compiling it again (included by KKM_Fit.hpp).
///
/// A fit instantiates the whole engine (every initialisation, assignment path and update) for its
/// execution space, row type and metric: minutes of compilation. The library compiles it once for the
/// default execution space, each row type (float, double, float16, bfloat16) and each built-in metric
/// (src/CMakeLists.txt, KKM_FIT_INSTANCES_DEFAULT); the test suites' other backends get their own
/// (tests/CMakeLists.txt, KKM_FIT_INSTANCES_<BACKEND>). A fit with any other metric — a user's —
/// compiles where it is called, as before.

/// One fit: EXTERN is `extern` for the declaration, empty for the definition.
#define KKM_FIT_INSTANCE(EXTERN, SPACE, V, METRIC)                                                   \
  EXTERN template Result<compute_t<V>, SPACE::memory_space> detail::fit_rows<SPACE, V, METRIC>(     \
      SPACE const&, detail::DeviceMatrix<SPACE, V>, detail::RowsOnHost<V>, bool,                     \
      Kokkos::View<compute_t<V> const*, SPACE::memory_space> const&, Parameters const&, METRIC const&, \
      Communicator const&);

/// The fits of rows of type V with every built-in metric (kkm::with_metric's list).
#define KKM_FIT_INSTANCES_OF(EXTERN, SPACE, V)              \
  KKM_FIT_INSTANCE(EXTERN, SPACE, V, SquaredEuclidean)      \
  KKM_FIT_INSTANCE(EXTERN, SPACE, V, Euclidean)             \
  KKM_FIT_INSTANCE(EXTERN, SPACE, V, Cosine)                \
  KKM_FIT_INSTANCE(EXTERN, SPACE, V, Manhattan)             \
  KKM_FIT_INSTANCE(EXTERN, SPACE, V, IoU)

/// Every row type's.
#define KKM_FIT_INSTANCES(EXTERN, SPACE)           \
  KKM_FIT_INSTANCES_OF(EXTERN, SPACE, float)       \
  KKM_FIT_INSTANCES_OF(EXTERN, SPACE, double)      \
  KKM_FIT_INSTANCES_OF(EXTERN, SPACE, float16)     \
  KKM_FIT_INSTANCES_OF(EXTERN, SPACE, bfloat16)

namespace kkm {
#ifdef KKM_FIT_INSTANCES_DEFAULT
KKM_FIT_INSTANCES(extern, Kokkos::DefaultExecutionSpace)
#endif
#if defined(KKM_FIT_INSTANCES_SERIAL) && defined(KOKKOS_ENABLE_SERIAL)
KKM_FIT_INSTANCES(extern, Kokkos::Serial)
#endif
#if defined(KKM_FIT_INSTANCES_OPENMP) && defined(KOKKOS_ENABLE_OPENMP)
KKM_FIT_INSTANCES(extern, Kokkos::OpenMP)
#endif
#if defined(KKM_FIT_INSTANCES_CUDA) && defined(KOKKOS_ENABLE_CUDA)
KKM_FIT_INSTANCES(extern, Kokkos::Cuda)
#endif
}  // namespace kkm
