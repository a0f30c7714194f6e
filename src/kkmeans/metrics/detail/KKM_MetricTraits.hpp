#pragma once
/// \file KKM_MetricTraits.hpp
/// \brief Compile-time checks of a metric functor, so that a wrong metric fails with one readable
/// message (as ArborX checks its callbacks) instead of pages of template errors.
#include <kkmeans/metrics/KKM_Metrics.hpp>

#include <type_traits>
#include <utility>

namespace kkm::detail {

template <class M, class = void>
struct has_update_rule : std::false_type {};
template <class M>
struct has_update_rule<M, std::void_t<decltype(M::update)>>
    : std::is_same<std::remove_cv_t<decltype(M::update)>, Update> {};

template <class M, class T, class = void>
struct distance_result {
  using type = void;
};
template <class M, class T>
struct distance_result<M, T,
                       std::void_t<decltype(std::declval<M const&>()(std::declval<VectorRef<T> const&>(),
                                                                     std::declval<VectorRef<T> const&>()))>> {
  using type = decltype(std::declval<M const&>()(std::declval<VectorRef<T> const&>(),
                                                 std::declval<VectorRef<T> const&>()));
};

template <class M, class = void>
struct is_squared_euclidean : std::false_type {};
template <class M>
struct is_squared_euclidean<M, std::void_t<decltype(M::squared_euclidean)>>
    : std::integral_constant<bool, static_cast<bool>(M::squared_euclidean)> {};

/// Optional `static constexpr bool zero_padding_neutral = true`: appending zero columns to a row and a
/// centroid leaves their distance unchanged bit for bit (lets the small-d kernel pad d up to 4, 8, 16).
template <class M, class = void>
struct is_zero_padding_neutral : std::false_type {};
template <class M>
struct is_zero_padding_neutral<M, std::void_t<decltype(M::zero_padding_neutral)>>
    : std::integral_constant<bool, static_cast<bool>(M::zero_padding_neutral)> {};

/// Optional `static constexpr int value_degree = 1`: the distance's arithmetic grows like the values
/// (sums of absolute differences), not like their products (squared differences, dot products,
/// areas: degree 2, the default). Decides which data magnitudes overflow (KKM_ArithmeticRange.hpp).
template <class M, class = void>
struct value_degree : std::integral_constant<int, 2> {};
template <class M>
struct value_degree<M, std::void_t<decltype(M::value_degree)>> : std::integral_constant<int, int(M::value_degree)> {};

template <class M, class = void>
struct has_check_dimensions : std::false_type {};
template <class M>
struct has_check_dimensions<M, std::void_t<decltype(std::declval<M const&>().check_dimensions(0))>>
    : std::true_type {};

/// Fails to compile, with a message naming the problem, unless M is a usable metric for data of type T.
template <class M, class T>
constexpr void check_metric() {
  static_assert(std::is_copy_constructible_v<M> && std::is_trivially_destructible_v<M>,
                "kkmeans metric: a metric must be a small copyable struct (it is copied into device kernels)");
  static_assert(has_update_rule<M>::value,
                "kkmeans metric: missing 'static constexpr kkm::Update update' (mean, normalized_mean or median)");
  using R = typename distance_result<M, T>::type;
  static_assert(!std::is_void_v<R>,
                "kkmeans metric: 'operator()' does not have the correct signature: it must be callable as "
                "'m(x, c)' on a const metric with x and c giving x[j], c[j] and x.size(), e.g. "
                "'template <class X, class C> KOKKOS_FUNCTION auto operator()(X const& x, C const& c) const'");
  static_assert(std::is_arithmetic_v<std::remove_cv_t<std::remove_reference_t<R>>>,
                "kkmeans metric: 'operator()' must return an arithmetic distance (float or double)");
}

template <class M>
void check_metric_dimensions(M const& m, int d) {
  if constexpr (has_check_dimensions<M>::value) m.check_dimensions(d);
}

}  // namespace kkm::detail
