// run_fit for bfloat16 rows, computed in float32 (a translation unit of its own: they compile in parallel).
#include "Fit.hpp"

template int kkm::app::run_fit<kkm::bfloat16>(FitOptions const&, Communicator const&);
