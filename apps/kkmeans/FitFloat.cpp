// run_fit for float32 working precision (one translation unit per precision: they compile in parallel).
#include "Fit.hpp"

template int kkm::app::run_fit<float>(FitOptions const&, Communicator const&);
