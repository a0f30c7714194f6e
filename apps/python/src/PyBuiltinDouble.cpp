#include "KKM_PyBuiltin.hpp"

template kkm::python::MetricOps<double> kkm::python::builtin_ops<double>(std::string const&);
