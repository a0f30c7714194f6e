#include "KKM_PyBuiltin.hpp"

template kkm::python::MetricOps<float> kkm::python::builtin_ops<float>(std::string const&);
