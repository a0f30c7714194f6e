# Sourced by scripts/bootstrap.sh (Kokkos 3.4) and scripts/kokkos4.sh (Kokkos 4.x): what their
# Kokkos Kernels builds share. ROOT must be set.

# No pre-built instantiations: kkmeans instantiates what it uses (the default ETI set is ~500 files,
# more than 10 minutes on 2 cores).
KK_NO_ETI_OPTS=()
for o in DOUBLE FLOAT COMPLEX_DOUBLE COMPLEX_FLOAT LAYOUTLEFT LAYOUTRIGHT OFFSET_INT OFFSET_SIZE_T \
  ORDINAL_INT ORDINAL_INT64_T EXECSPACE_OPENMP EXECSPACE_SERIAL EXECSPACE_THREADS EXECSPACE_CUDA \
  MEMSPACE_HOSTSPACE MEMSPACE_CUDASPACE MEMSPACE_CUDAUVMSPACE; do
  KK_NO_ETI_OPTS+=("-DKokkosKernels_INST_$o=OFF")
done

# Appends to KK_OPTS what a CUDA build of Kokkos Kernels needs: nvcc_wrapper, cuBLAS, and a
# configure that works with CMake 3 and 4 (cmake/CUDAToolkitFirst.cmake).
add_kk_cuda_opts() {  # add_kk_cuda_opts NVCC_WRAPPER
  KK_OPTS+=("-DCMAKE_CXX_COMPILER=$1" -DKokkosKernels_ENABLE_TPL_CUBLAS=ON
    "-DCMAKE_PROJECT_INCLUDE_BEFORE=$ROOT/cmake/CUDAToolkitFirst.cmake")
}
