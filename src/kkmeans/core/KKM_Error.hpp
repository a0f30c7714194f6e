#pragma once
/// \file KKM_Error.hpp
/// \brief Two kinds of error (as Kokkos Kernels separates KK_USER_REQUIRE from KK_ASSERT):
/// bad input from a user (always checked, throws kkm::UserError with a message for that user) and
/// broken internal invariants (checked in debug builds only, aborts).
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace kkm {

/// Bad input: wrong parameters, malformed files, data that cannot be clustered. The message is one
/// line meant for the user; the application turns it into an exit status of 1.
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bad usage of the command line (unknown flag, bad value): exit status 2 in the application.
class UsageError : public UserError {
 public:
  using UserError::UserError;
};

namespace detail {
[[noreturn]] inline void assertion_failed(char const* cond, char const* file, int line) {
  std::fprintf(stderr, "kkmeans: internal error: assertion '%s' failed at %s:%d\n", cond, file, line);
  std::abort();
}
}  // namespace detail
}  // namespace kkm

/// Throws kkm::UserError(msg) when cond is false. msg is any expression convertible to std::string.
#define KKM_REQUIRE(cond, msg)                         \
  do {                                                 \
    if (!(cond)) throw ::kkm::UserError(std::string(msg)); \
  } while (0)

#ifndef NDEBUG
#define KKM_ASSERT(cond)                                                          \
  do {                                                                            \
    if (!(cond)) ::kkm::detail::assertion_failed(#cond, __FILE__, __LINE__);      \
  } while (0)
#else
#define KKM_ASSERT(cond) \
  do {                   \
  } while (0)
#endif
