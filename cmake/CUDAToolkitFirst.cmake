# Included before a Kokkos Kernels configure (CMAKE_PROJECT_INCLUDE_BEFORE) in CUDA builds: with
# CMake >= 4, Kokkos' exported CUDA::cudart needs FindCUDAToolkit to have run first (DEPS.md).
# CMake 3.x needs no help, and its FindThreads fails this early (no language enabled yet).
if(CMAKE_VERSION VERSION_GREATER_EQUAL 4.0)
  find_package(CUDAToolkit QUIET)
endif()
