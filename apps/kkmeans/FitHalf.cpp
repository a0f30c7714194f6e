// run_fit for 16-bit rows (IEEE float16 and bfloat16), computed in float32.
#include "Fit.hpp"

template int kkm::app::run_fit<kkm::float16>(FitOptions const&, Communicator const&);
template int kkm::app::run_fit<kkm::bfloat16>(FitOptions const&, Communicator const&);
