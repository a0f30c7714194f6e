#include "KKM_PyBuiltin.hpp"

template kkm::python::MetricOps<kkm::float16> kkm::python::builtin_ops<kkm::float16>(std::string const&);
