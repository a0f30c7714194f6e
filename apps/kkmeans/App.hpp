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

/// Calls f with a value of the rows' type that --precision `name` (one of precision_names) names.
template <class F>
auto with_precision(std::string const& name, F&& f) {
  if (name == "double") return f(double{});
  if (name == "half") return f(float16{});
  if (name == "bfloat16") return f(bfloat16{});
  return f(float{});
}

/// One line of log on rank 0 (stderr), unless quiet.
void log(Communicator const& comm, bool quiet, std::string const& line);


}  // namespace kkm::app
