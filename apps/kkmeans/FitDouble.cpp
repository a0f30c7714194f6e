// run_fit for float64 working precision.
#include "Fit.hpp"

template int kkm::app::run_fit<double>(FitOptions const&, Communicator const&);
