#pragma once
/// \file KKM_Names.hpp
/// \brief The user-facing name of every value of the parameters' enums, one table per enum, and the
/// names of the built-in metrics: the library's to_string, the application's choices, checks, help
/// texts and files all read them from here. Free of Kokkos (the application's deck loader, compiled
/// by the host compiler alone, uses it).
///
/// KKM_Parameters.hpp includes this file after its enums, so kkm::to_string(e) is there wherever
/// the parameters are.
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace kkm {

/// The built-in metrics' names (each metric type's `name`, KKM_Metrics.hpp checks that they agree),
/// in the order the application lists them. Metrics are types, not an enum: a plain list.
inline constexpr std::array<char const*, 5> metric_names = {"sqeuclidean", "euclidean", "cosine", "manhattan",
                                                            "iou"};

/// The name table of enum E: `static constexpr std::array<std::pair<E, char const*>, N> table`,
/// every value once, in the order the application lists them.
template <class E>
struct Names {};

template <>
struct Names<Init> {
  static constexpr std::array<std::pair<Init, char const*>, 5> table = {{
      {Init::automatic, "auto"},
      {Init::kmeanspp, "kmeans++"},
      {Init::kmeans_parallel, "kmeans||"},
      {Init::random, "random"},
      {Init::given, "given"},  // centroids passed in; the application's --init-from, not one of --init's values
  }};
};

template <>
struct Names<AssignPath> {
  static constexpr std::array<std::pair<AssignPath, char const*>, 6> table = {{
      {AssignPath::automatic, "auto"},
      {AssignPath::fused, "fused"},
      {AssignPath::gemm, "gemm"},
      {AssignPath::gemm_checked, "gemm-checked"},
      {AssignPath::fused_checked, "fused-checked"},
      {AssignPath::gemm_tf32x3, "gemm-tf32x3"},
  }};
};

template <>
struct Names<EmptyPolicy> {
  static constexpr std::array<std::pair<EmptyPolicy, char const*>, 4> table = {{
      {EmptyPolicy::drop, "drop"},
      {EmptyPolicy::split, "split"},
      {EmptyPolicy::farthest, "farthest"},
      {EmptyPolicy::keep, "keep"},
  }};
};

template <>
struct Names<Mode> {
  static constexpr std::array<std::pair<Mode, char const*>, 3> table = {{
      {Mode::lloyd, "lloyd"},
      {Mode::minibatch, "minibatch"},
      {Mode::seed, "seed"},
  }};
};

template <>
struct Names<Pipeline> {
  static constexpr std::array<std::pair<Pipeline, char const*>, 3> table = {{
      {Pipeline::automatic, "auto"},
      {Pipeline::on, "on"},
      {Pipeline::off, "off"},
  }};
};

template <>
struct Names<DataIn> {
  static constexpr std::array<std::pair<DataIn, char const*>, 4> table = {{
      {DataIn::automatic, "auto"},
      {DataIn::device, "device"},
      {DataIn::host, "host"},
      {DataIn::file, "file"},
  }};
};

namespace detail {
template <class E, class = void>
struct has_names : std::false_type {};
template <class E>
struct has_names<E, std::void_t<decltype(Names<E>::table)>> : std::true_type {};

/// Equal C strings, at compile time (for static_asserts on names).
constexpr bool same_name(char const* a, char const* b) {
  return *a == *b && (*a == '\0' || same_name(a + 1, b + 1));
}
}  // namespace detail

/// The name of `e` ("kmeans||", "gemm-checked", "auto", …); "?" for a value outside its table.
template <class E, std::enable_if_t<detail::has_names<E>::value, int> = 0>
constexpr char const* to_string(E e) {
  for (std::size_t i = 0; i < Names<E>::table.size(); ++i)
    if (Names<E>::table[i].first == e) return Names<E>::table[i].second;
  return "?";
}

/// The value of E called `name`, if there is one (names are case-sensitive, as on the command line).
template <class E>
std::optional<E> from_name(std::string_view name) {
  for (auto const& entry : Names<E>::table)
    if (name == std::string_view(entry.second)) return entry.first;
  return std::nullopt;
}

/// Every name of E, in table order.
template <class E>
std::vector<std::string> choices() {
  std::vector<std::string> out;
  for (auto const& entry : Names<E>::table) out.emplace_back(entry.second);
  return out;
}

/// The names a user picks from for an option naming an E (the application's flags, the Python
/// module's arguments): every name of E less Init's "given" (given centroids come as data).
template <class E>
std::vector<std::string> selectable_names() {
  std::vector<std::string> names;
  for (auto const& entry : Names<E>::table) {
    if constexpr (std::is_same_v<E, Init>)
      if (entry.first == Init::given) continue;
    names.emplace_back(entry.second);
  }
  return names;
}

/// "a | b | c" (or with another separator): names for a help text or an error message.
template <class Range>
std::string join_names(Range const& names, char const* separator = " | ") {
  std::string out;
  bool first = true;
  for (auto const& n : names) {
    if (!first) out += separator;
    out += n;
    first = false;
  }
  return out;
}

/// The one-line message for a value that is none of `allowed`:
/// "unknown mode 'x' (use one of: lloyd, minibatch, seed)".
inline std::string unknown_choice(std::string const& what, std::string const& value,
                                  std::vector<std::string> const& allowed) {
  return "unknown " + what + " '" + value + "' (use one of: " + join_names(allowed, ", ") + ")";
}

/// The value of E a user named (one of selectable_names<E>()); a UserError saying so otherwise.
template <class E>
E parse_name(std::string const& what, std::string const& name) {
  auto const allowed = selectable_names<E>();
  auto const v = from_name<E>(name);
  if (!v || std::find(allowed.begin(), allowed.end(), name) == allowed.end())
    throw UserError(unknown_choice(what, name, allowed));
  return *v;
}

}  // namespace kkm
