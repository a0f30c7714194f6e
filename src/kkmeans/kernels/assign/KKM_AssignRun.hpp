#pragma once
/// \file KKM_AssignRun.hpp
/// \brief One call of assign_rows: the launch shape every path shares (teams, scratch, which part of
/// the accumulator fits a team's scratch), the launch of a kernel over a batch of rows, the cluster
/// sums from labels, and the sum of distances over the launches.
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/kernels/KKM_SortedSums.hpp>
#include <kkmeans/kernels/assign/KKM_AssignBase.hpp>
#include <kkmeans/kernels/assign/KKM_AssignWorkspace.hpp>
#include <kkmeans/kernels/assign/KKM_ClusterSums.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace kkm::detail {

template <bool Accumulate, class ExecSpace, class T, class Metric>
struct AssignRun {
  using mem = typename ExecSpace::memory_space;
  using C = compute_t<T>;  // T: the rows'; C: the centroids', the weights' and the distances'
  using Matrix = Kokkos::View<T const**, Kokkos::LayoutRight, mem>;
  using CMatrix = Kokkos::View<C const**, Kokkos::LayoutRight, mem>;
  static constexpr bool host = is_host_space<ExecSpace>();

  ExecSpace const& space;
  Matrix x;
  CMatrix c;
  Kokkos::View<double const*, mem> scale;
  Kokkos::View<fixed_t*, mem> acc;
  Kokkos::View<int*, mem> labels;
  Metric const& metric;
  AssignWorkspace<ExecSpace, T>& ws;
  Kokkos::View<C const*, mem> weights;
  double wscale;
  std::int64_t n;
  int d, k;
  bool gemm;  // a GEMM path was asked for

  // The launch shape: host spaces get one thread per team and scratch level 1, devices teams of 256.
  int level = host ? 1 : 0;
  std::size_t smax = Kokkos::TeamPolicy<ExecSpace>::scratch_size_max(host ? 1 : 0);
  int team = host ? 1 : 256;
  std::int64_t teams_target;
  /// The whole accumulator fits each team's scratch (sums too), or only counts + changed there and
  /// the sums by a cluster-sums launch afterwards. The GEMM paths always leave the sums to it.
  bool whole_fits, sums_here;

  /// With several launches (batches), each reduces its rows' distances into its own device slot, so
  /// that no batch waits for the host; the slots are read and added in launch order once, at the
  /// end (or by the caller after its own fence: defer_total). A single launch without defer_total
  /// reduces straight to the host (Kokkos' own result path: one epoch of N = 1e6, d = 4, k = 200
  /// with a device slot read by a fence of its own measured 0.202 ms against 0.180).
  std::int64_t launch_rows;
  std::size_t launches;
  bool to_slots, caller_copies;
  std::size_t launch = 0;
  double single = 0;

  AssignRun(ExecSpace const& space_, Matrix x_, CMatrix c_, Kokkos::View<double const*, mem> scale_,
            Kokkos::View<fixed_t*, mem> acc_, Kokkos::View<int*, mem> labels_, Metric const& metric_, bool gemm_,
            std::int64_t batch, AssignWorkspace<ExecSpace, T>& ws_, Kokkos::View<C const*, mem> weights_, double wscale_)
      : space(space_), x(x_), c(c_), scale(scale_), acc(acc_), labels(labels_), metric(metric_), ws(ws_),
        weights(weights_), wscale(wscale_), n(x_.extent(0)), d(x_.extent(1)), k(c_.extent(0)), gemm(gemm_) {
    teams_target = host ? 8 * space.concurrency() : std::max(1, 2 * space.concurrency() / team);
    whole_fits = accumulator_size(k, d) * sizeof(fixed_t) + 8 <= smax / 2;
    sums_here = Accumulate && !gemm && whole_fits;
    launch_rows = batch_rows(n, batch);
    launches = assign_launches(n, batch);
    to_slots = launches > 1 || ws.defer_total;
    caller_copies = ws.defer_total && ws.caller_copies;
    KKM_ASSERT(!caller_copies || (ws.partial.extent(0) >= launches && ws.partial_h.extent(0) >= launches));
    ws.deferred = 0;
    if (to_slots && ws.partial.extent(0) < launches)
      ws.partial = Kokkos::View<double*, mem>(
          Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::batch_distances"), launches);
  }

  /// The kernel's inputs and where its accumulator and centroids live (scratch or global memory).
  template <class Kernel>
  void configure(Kernel& kernel) const {
    kernel.x = x;
    kernel.c = c;
    kernel.scale = scale;
    kernel.acc = acc;
    kernel.labels = labels;
    kernel.w = weights;
    kernel.wscale = wscale;
    kernel.metric = metric;
    kernel.k = k;
    kernel.d = d;
    kernel.scratch_level = level;
    kernel.sums_here = sums_here;
    kernel.acc_in_scratch = Accumulate && (sums_here ? whole_fits : (std::size_t(k) + 1) * sizeof(fixed_t) + 8 <= smax / 2);
    std::size_t const acc_bytes = kernel.acc_scratch_len() * sizeof(fixed_t) + 16;
    std::size_t const c_bytes = std::size_t(k) * kernel.centroid_width() * sizeof(C) + 16;
    kernel.c_in_scratch = !host && !gemm && acc_bytes + c_bytes <= smax;
  }

  /// Runs `kernel` over local rows [b0, b1) and returns it as launched.
  template <class Kernel>
  Kernel run(Kernel kernel, std::int64_t b0, std::int64_t b1) {
    configure(kernel);
    kernel.begin = b0;
    kernel.end = b1;
    std::int64_t rows = (b1 - b0 + teams_target - 1) / teams_target;
    constexpr int R = Kernel::rows_per_thread;
    if (!host) rows = ((rows + team * R - 1) / (team * R)) * (team * R);
    kernel.rows_per_team = std::max<std::int64_t>(rows, 1);
    int const league = static_cast<int>((b1 - b0 + kernel.rows_per_team - 1) / kernel.rows_per_team);
    char const* label = gemm ? "kkm::assign_gemm" : "kkm::assign_fused";
    if constexpr (Kernel::gemm && !host) {
      // At most 64 registers (4 teams of 256 per SM): the plain scan's argmin at d = 128, k = 1024
      // measured 0.82 → 0.64 ms per 262144 rows on an H200 (the checked one uses 56 either way).
      reduce(label, Kokkos::TeamPolicy<ExecSpace, Kokkos::LaunchBounds<256, 4>>(space, league, team), kernel);
    } else {
      reduce(label, Kokkos::TeamPolicy<ExecSpace>(space, league, team), kernel);
    }
    ++launch;
    return kernel;
  }

  template <class Policy, class Kernel>
  void reduce(char const* label, Policy policy, Kernel const& kernel) {
    policy.set_scratch_size(level, Kokkos::PerTeam(kernel.scratch_bytes()));
    if (!to_slots)
      Kokkos::parallel_reduce(label, policy, kernel, single);
    else
      Kokkos::parallel_reduce(label, policy, kernel, Kokkos::subview(ws.partial, launch));
  }

  /// Runs `kernel` over all rows batch by batch, then the cluster sums; returns the sum of distances.
  template <class Kernel>
  double over_batches(Kernel const& kernel) {
    for (std::int64_t b0 = 0; b0 < n; b0 += launch_rows) run(kernel, b0, std::min(n, b0 + launch_rows));
    column_sums();
    return total();
  }

  /// The per-cluster column sums of all n rows from their (new) labels, unless the kernel added them.
  void column_sums() {
    if (!Accumulate || sums_here) return;
    int const fit_cols = static_cast<int>((smax - 64) / (std::size_t(k) * sizeof(fixed_t)));
    if (ws.sorted_sums == 1 || (ws.sorted_sums < 0 && !host && fit_cols < d)) {
      sorted_column_sums<ExecSpace, T>(space, x, labels, weights, scale, acc, k, team, host ? ws.sorted_lanes : team,
                                       teams_target, ws.sorted);
      return;
    }
    ColumnBlockSums<ExecSpace, T> cs;
    cs.x = x;
    cs.labels = labels;
    cs.w = weights;
    cs.scale = scale;
    cs.acc = acc;
    cs.k = k;
    cs.d = d;
    cs.n = n;
    cs.scratch_level = level;
    cs.in_scratch = fit_cols >= 1;
    cs.cb = std::max(1, std::min(d, fit_cols));
    cs.blocks = (d + cs.cb - 1) / cs.cb;
    std::int64_t const chunks = std::max<std::int64_t>(1, teams_target / cs.blocks);
    cs.rows_per_team = (n + chunks - 1) / chunks;
    std::int64_t const league = cs.blocks * ((n + cs.rows_per_team - 1) / cs.rows_per_team);
    Kokkos::TeamPolicy<ExecSpace> policy(space, static_cast<int>(league), team);
    policy.set_scratch_size(level, Kokkos::PerTeam(cs.scratch_bytes()));
    Kokkos::parallel_for("kkm::column_sums", policy, cs);
  }

  /// The launches' sum of distances (deferred: 0, the caller adds the slots after its fence).
  double total() {
    KKM_ASSERT(launch == launches);
    if (!to_slots) return single;
    // The slots to the host (deferred: read after the caller's fence; else after this one).
    if (ws.partial_h.extent(0) < launches)
      ws.partial_h = Kokkos::View<double*, staging_space_t<ExecSpace>>(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::batch_distances_host"), launches);
    auto const r = Kokkos::make_pair(std::size_t(0), launches);
    if (!caller_copies) Kokkos::deep_copy(space, Kokkos::subview(ws.partial_h, r), Kokkos::subview(ws.partial, r));
    ws.deferred = launches;
    if (ws.defer_total) return 0.0;
    space.fence();
    double const sum = ws.deferred_total();
    ws.deferred = 0;
    return sum;
  }
};

}  // namespace kkm::detail
