// run_fit for IEEE float16 rows, computed in float32.
#include "Fit.hpp"

template int kkm::app::run_fit<kkm::float16>(FitOptions const&, Communicator const&);
