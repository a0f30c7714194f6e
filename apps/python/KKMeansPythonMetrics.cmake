# kkmeans_add_python_metrics(TARGET [NAME module] SOURCES a.cpp ... [OUTPUT_DIRECTORY dir])
#
# A Python extension module of kkmeans metrics written in C++: each source exports metrics with
# kkm::python::export_metric<YourMetric>(m, "name") inside PYBIND11_MODULE(module, m) (see
# kkmeans/python/KKM_PyMetric.hpp and apps/python/examples/custom_metric/). Then in Python:
#   import kkmeans, module
#   kkmeans.KMeans(n_clusters=8, metric=module.name).fit(X)
# Needs pybind11 (find_package(pybind11 CONFIG)) and kkmeans' Python headers: the target
# kkmeans::python of this build, or of an installed kkmeans (find_package(kkmeans)).
function(kkmeans_add_python_metrics target)
  cmake_parse_arguments(ARG "" "NAME;OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "kkmeans_add_python_metrics(${target}): no SOURCES")
  endif()
  # NO_EXTRAS: no link-time optimisation (it redoes the Kokkos kernels serially at link time, minutes
  # on a small machine, for nothing measurable: the kernels are inlined already) and no stripping.
  pybind11_add_module(${target} MODULE NO_EXTRAS ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE kkmeans::python)
  if(ARG_NAME)
    set_target_properties(${target} PROPERTIES OUTPUT_NAME ${ARG_NAME})
  endif()
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  endif()
endfunction()
