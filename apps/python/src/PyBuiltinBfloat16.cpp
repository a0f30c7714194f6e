#include "KKM_PyBuiltin.hpp"

template kkm::python::MetricOps<kkm::bfloat16> kkm::python::builtin_ops<kkm::bfloat16>(std::string const&);
