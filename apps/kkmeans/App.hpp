#pragma once
// The kkmeans application: options of each subcommand and the functions that run them.
#include "Options.hpp"

#include <kkmeans/kkmeans.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace kkm::app {

template <class T>
int run_fit(FitOptions const& opt, Communicator const& comm);
int run_generate(GenerateOptions const& opt, Communicator const& comm);
int run_predict(PredictOptions const& opt, Communicator const& comm);
int run_info(std::string const& what);

/// One line of log on rank 0 (stderr), unless quiet.
void log(Communicator const& comm, bool quiet, std::string const& line);


}  // namespace kkm::app
