# Whether to build the Python module (KKMEANS_ENABLE_PYTHON: ON, OFF, AUTO), and what it needs: an
# interpreter with numpy (Debian's /usr/bin/python3 first, the one with python3-numpy and
# python3-sklearn; pass -DPython_EXECUTABLE=... for another) and pybind11's CMake package (Debian:
# pybind11-dev; elsewhere -Dpybind11_DIR=$(python3 -m pybind11 --cmakedir)). Sets KKMEANS_PYTHON.
set(KKMEANS_PYTHON OFF)
string(TOUPPER "${KKMEANS_ENABLE_PYTHON}" _kkm_py)
if(_kkm_py STREQUAL "OFF")
  return()
endif()
if(KKMEANS_SANITIZE)
  # A sanitized extension needs the sanitizer runtime preloaded into the interpreter: not worth it.
  message(STATUS "kkmeans: no Python module in sanitizer builds")
  return()
endif()
if(NOT Python_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python_EXECUTABLE /usr/bin/python3)
endif()
set(PYBIND11_FINDPYTHON ON)
find_package(Python COMPONENTS Interpreter Development.Module QUIET)
if(Python_FOUND)
  find_package(pybind11 CONFIG QUIET)
endif()
if(Python_FOUND AND pybind11_FOUND)
  set(KKMEANS_PYTHON ON)
  # The module is a shared object: everything linked into it must be position independent (the
  # bootstrap's Kokkos is).
  set(CMAKE_POSITION_INDEPENDENT_CODE ON)
  message(STATUS "kkmeans: Python module for ${Python_EXECUTABLE} (${Python_VERSION}), pybind11 ${pybind11_VERSION}")
elseif(_kkm_py STREQUAL "ON")
  message(FATAL_ERROR "KKMEANS_ENABLE_PYTHON=ON needs Python ${Python_EXECUTABLE} with its headers and pybind11 "
                      "(Debian: apt-get install pybind11-dev python3-dev)")
else()
  message(STATUS "kkmeans: no Python module (pybind11 or the Python headers not found)")
endif()
