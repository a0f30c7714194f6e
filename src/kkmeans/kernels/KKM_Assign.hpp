#pragma once
/// \file KKM_Assign.hpp
/// \brief The assignment step: for each row of a batch, the distance to every centroid through the
/// metric, the argmin (ties → lowest index), and (in a fit) the row added to its centroid's
/// fixed-point sums and count. No N×k buffer: the fused path keeps nothing per (row, centroid); the
/// GEMM path keeps a B×k buffer for one batch of B rows.
///
/// Layout of the accumulator (one flat array, which is also the allreduce payload):
///   [0, k·d)            per-cluster column sums of w·x, fixed point (see KKM_FixedPoint.hpp)
///   [k·d, k·d + k)      per-cluster row counts (weight sums in fixed point with sample weights)
///   [k·d + k]           number of rows whose label changed
#include <kkmeans/kernels/KKM_Columns.hpp>
#include <kkmeans/kernels/KKM_FixedPoint.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>

#include <KokkosBlas3_gemm.hpp>
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace kkm::detail {

KOKKOS_INLINE_FUNCTION std::size_t accumulator_size(int k, int d) {
  return static_cast<std::size_t>(k) * d + k + 1;
}

template <class ExecSpace, class T, class Metric, bool Accumulate, bool Gemm>
struct AssignKernel {
  using mem = typename ExecSpace::memory_space;
  using member = typename Kokkos::TeamPolicy<ExecSpace>::member_type;

  Kokkos::View<T const**, Kokkos::LayoutRight, mem> x;    // IN  local rows
  Kokkos::View<T const**, Kokkos::LayoutRight, mem> c;    // IN  k × d centroids
  Kokkos::View<double const*, mem> scale;                 // IN  fixed-point scale per column
  Kokkos::View<T const**, Kokkos::LayoutRight, mem> dot;  // IN  (GEMM) x_b · cᵀ for the batch
  Kokkos::View<T const*, mem> cnorm;                      // IN  (GEMM) ‖c‖²
  Kokkos::View<T const*, mem> ct;                         // IN  (host, squared Euclidean) d × k transposed centroids
  Kokkos::View<fixed_t*, mem> acc;                        // OUT accumulator (Accumulate only)
  Kokkos::View<int*, mem> labels;                         // IN previous labels / OUT new labels
  Kokkos::View<T const*, mem> w;                          // IN  sample weights (empty: all 1)
  double wscale = 1;                                      // IN  fixed-point scale of weights
  Metric metric;
  int k = 0, d = 0;
  std::int64_t begin = 0, end = 0;  // the batch: local rows [begin, end)
  std::int64_t rows_per_team = 1;
  int scratch_level = 0;
  bool c_in_scratch = false;
  bool acc_in_scratch = false;

  KOKKOS_INLINE_FUNCTION std::size_t acc_scratch_len() const { return acc_in_scratch ? accumulator_size(k, d) : 1; }
  std::size_t scratch_bytes() const {
    std::size_t b = acc_scratch_len() * sizeof(fixed_t);
    if (c_in_scratch) b += static_cast<std::size_t>(k) * d * sizeof(T) + 8;
    return b + 16;
  }

  KOKKOS_FUNCTION void operator()(member const& t, double& inertia) const {
    auto const len = acc_scratch_len();
    auto* lacc = static_cast<fixed_t*>(t.team_scratch(scratch_level).get_shmem(len * sizeof(fixed_t)));
    T const* cs = c.data();
    if (c_in_scratch) {
      auto* s = static_cast<T*>(t.team_scratch(scratch_level).get_shmem(std::size_t(k) * d * sizeof(T)));
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, k * d), [&](int e) { s[e] = c.data()[e]; });
      cs = s;
    }
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, static_cast<int>(len)), [&](int e) { lacc[e] = 0; });
    t.team_barrier();

    fixed_t* const sums = acc_in_scratch ? lacc : acc.data();
    fixed_t* const changed = acc_in_scratch ? lacc + std::size_t(k) * d + k : lacc;
    std::int64_t const i0 = begin + t.league_rank() * rows_per_team;
    std::int64_t const i1 = i0 + rows_per_team < end ? i0 + rows_per_team : end;

    double team_sum = 0;
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(t, i0, i1),
        [&](std::int64_t i, double& ls) {
          VectorRef<T> const xi{&x(i, 0), d};
          int best = 0;
          T bestd;
          if constexpr (Gemm) {
            std::int64_t const r = i - begin;
            T bv = cnorm(0) - T(2) * dot(r, 0);
            for (int j = 1; j < k; ++j) {
              T const v = cnorm(j) - T(2) * dot(r, j);
              if (v < bv) {
                bv = v;
                best = j;
              }
            }
            bestd = static_cast<T>(metric(xi, VectorRef<T>{cs + std::size_t(best) * d, d}));
          } else {
            bool done = false;
            if constexpr (is_host_space<ExecSpace>() && std::is_same_v<Metric, SquaredEuclidean>) {
              if (ct.extent(0) > 0) {
                // Host, squared-Euclidean metrics: the same sums in the same order as the metric's
                // (Σ_j (x_j − c_j)², j ascending), over a transposed d × k copy of the centroids so
                // that the innermost loop runs over centroids and vectorises.
                constexpr int QB = 64;
                T acc[QB];
                bestd = T(0);
                for (int q0 = 0; q0 < k; q0 += QB) {
                  int const qn = k - q0 < QB ? k - q0 : QB;
                  for (int q = 0; q < qn; ++q) acc[q] = T(0);
                  for (int j = 0; j < d; ++j) {
                    T const xj = xi[j];
                    T const* cj = ct.data() + std::size_t(j) * k + q0;
                    for (int q = 0; q < qn; ++q) {
                      T const t = xj - cj[q];
                      acc[q] += t * t;
                    }
                  }
                  for (int q = 0; q < qn; ++q)
                    if ((q0 == 0 && q == 0) || acc[q] < bestd) {
                      bestd = acc[q];
                      best = q0 + q;
                    }
                }
                done = true;
              }
            }
            if (!done) {
              bestd = static_cast<T>(metric(xi, VectorRef<T>{cs, d}));
              for (int j = 1; j < k; ++j) {
                T const dj = static_cast<T>(metric(xi, VectorRef<T>{cs + std::size_t(j) * d, d}));
                if (dj < bestd) {
                  bestd = dj;
                  best = j;
                }
              }
            }
          }
          double const wi = w.extent(0) > 0 ? static_cast<double>(w(i)) : 1.0;
          if constexpr (Accumulate) {
            if (labels(i) != best) Kokkos::atomic_add(changed, fixed_t(1));
            for (int j = 0; j < d; ++j)
              Kokkos::atomic_add(&sums[std::size_t(best) * d + j], to_fixed(wi * static_cast<double>(xi[j]), scale(j)));
            Kokkos::atomic_add(&sums[std::size_t(k) * d + best], w.extent(0) > 0 ? to_fixed(wi, wscale) : fixed_t(1));
          }
          labels(i) = best;
          ls += wi * static_cast<double>(bestd);
        },
        team_sum);
    if constexpr (Accumulate) {
      t.team_barrier();
      if (acc_in_scratch) {
        Kokkos::parallel_for(Kokkos::TeamThreadRange(t, static_cast<int>(len)), [&](int e) {
          if (lacc[e] != 0) Kokkos::atomic_add(&acc(e), lacc[e]);
        });
      } else {
        Kokkos::single(Kokkos::PerTeam(t), [&]() {
          if (lacc[0] != 0) Kokkos::atomic_add(&acc(std::size_t(k) * d + k), lacc[0]);
        });
      }
    }
    Kokkos::single(Kokkos::PerTeam(t), [&]() { inertia += team_sum; });
  }
};

/// The one allreduce of an epoch (or mini-batch step). `buf` holds this rank's accumulator in its
/// first acc_len entries and room for one slot per rank after it; each rank's inertia travels bit
/// for bit in its slot and all ranks add them in rank order, so the returned global inertia is the
/// same everywhere. On return `buf` holds the global sums, counts and changed-label count.
inline double allreduce_accumulator(std::vector<fixed_t>& buf, std::size_t acc_len, double local_inertia,
                                    Communicator const& comm) {
  int const P = comm.size();
  KKM_ASSERT(buf.size() == acc_len + std::size_t(P));
  std::memcpy(&buf[acc_len + comm.rank()], &local_inertia, sizeof(double));
  comm.allreduce_sum(buf.data(), buf.size());
  double inertia = 0;
  for (int r = 0; r < P; ++r) {
    double v;
    std::memcpy(&v, &buf[acc_len + r], sizeof(double));
    inertia += v;
  }
  return inertia;
}

/// Device buffers of one assignment setup, reused across batches and epochs.
template <class ExecSpace, class T>
struct AssignWorkspace {
  using mem = typename ExecSpace::memory_space;
  Kokkos::View<T**, Kokkos::LayoutRight, mem> dot;  // GEMM only: batch × k
  Kokkos::View<T*, mem> cnorm;                      // GEMM only
};

/// Runs the assignment over local rows [begin, end) and returns the local sum of distances.
/// With Accumulate, acc (zeroed by the caller) receives sums, counts and the changed count.
template <bool Accumulate, class ExecSpace, class T, class Metric>
double assign_rows(ExecSpace const& space,
                   Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> x,
                   Kokkos::View<T const**, Kokkos::LayoutRight, typename ExecSpace::memory_space> c,
                   Kokkos::View<double const*, typename ExecSpace::memory_space> scale,
                   Kokkos::View<fixed_t*, typename ExecSpace::memory_space> acc,
                   Kokkos::View<int*, typename ExecSpace::memory_space> labels, Metric const& metric, bool gemm,
                   std::int64_t batch, AssignWorkspace<ExecSpace, T>& ws,
                   Kokkos::View<T const*, typename ExecSpace::memory_space> weights = {}, double wscale = 1) {
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  int const k = c.extent(0);
  if (n == 0) return 0.0;
  constexpr bool host = is_host_space<ExecSpace>();
  int const level = host ? 1 : 0;
  std::size_t const smax = Kokkos::TeamPolicy<ExecSpace>::scratch_size_max(level);
  int const team = host ? 1 : 256;
  std::int64_t const teams_target = host ? 8 * space.concurrency() : std::max(1, 2 * space.concurrency() / team);

  double total = 0;
  auto run = [&](auto kernel, std::int64_t b0, std::int64_t b1) {
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
    kernel.begin = b0;
    kernel.end = b1;
    kernel.scratch_level = level;
    std::size_t const acc_bytes = accumulator_size(k, d) * sizeof(fixed_t) + 16;
    std::size_t const c_bytes = std::size_t(k) * d * sizeof(T) + 8;
    kernel.acc_in_scratch = Accumulate && acc_bytes + 8 <= smax;
    kernel.c_in_scratch = !host && (kernel.acc_in_scratch ? acc_bytes : 24) + c_bytes <= smax;
    std::int64_t rows = (b1 - b0 + teams_target - 1) / teams_target;
    if (!host) rows = ((rows + team - 1) / team) * team;
    kernel.rows_per_team = std::max<std::int64_t>(rows, 1);
    std::int64_t const league = (b1 - b0 + kernel.rows_per_team - 1) / kernel.rows_per_team;
    Kokkos::TeamPolicy<ExecSpace> policy(space, static_cast<int>(league), host ? 1 : team);
    policy.set_scratch_size(level, Kokkos::PerTeam(kernel.scratch_bytes()));
    double s = 0;
    Kokkos::parallel_reduce(gemm ? "kkm::assign_gemm" : "kkm::assign_fused", policy, kernel, s);
    total += s;
  };

  if (gemm) {
    if constexpr (is_squared_euclidean<Metric>::value) {
      std::int64_t const B = std::min<std::int64_t>(batch > 0 ? batch : n, n);
      if (ws.dot.extent(0) < std::size_t(B) || ws.dot.extent(1) != std::size_t(k))
        ws.dot = Kokkos::View<T**, Kokkos::LayoutRight, typename ExecSpace::memory_space>(
            Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::gemm_dot"), B, k);
      if (ws.cnorm.extent(0) != std::size_t(k))
        ws.cnorm = Kokkos::View<T*, typename ExecSpace::memory_space>(
            Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::cnorm"), k);
      auto cnorm = ws.cnorm;
      Kokkos::parallel_for(
          "kkm::centroid_norms", Kokkos::RangePolicy<ExecSpace>(space, 0, k), KOKKOS_LAMBDA(int j) {
            T s = 0;
            for (int e = 0; e < d; ++e) s += c(j, e) * c(j, e);
            cnorm(j) = s;
          });
      for (std::int64_t b0 = 0; b0 < n; b0 += B) {
        std::int64_t const b1 = std::min(n, b0 + B);
        auto xb = Kokkos::subview(x, Kokkos::make_pair(b0, b1), Kokkos::ALL());
        auto db = Kokkos::subview(ws.dot, Kokkos::make_pair(std::int64_t(0), b1 - b0), Kokkos::ALL());
        space.fence();
        KokkosBlas::gemm("N", "T", T(1), xb, c, T(0), db);
        Kokkos::fence();
        AssignKernel<ExecSpace, T, Metric, Accumulate, true> kernel;
        kernel.dot = db;
        kernel.cnorm = ws.cnorm;
        run(kernel, b0, b1);
      }
      return total;
    }
  }
  AssignKernel<ExecSpace, T, Metric, Accumulate, false> fused;
  // Host fast path for the built-in squared Euclidean (its formula is what the kernel reproduces).
  if constexpr (host && std::is_same_v<Metric, SquaredEuclidean>) {
    Kokkos::View<T*, typename ExecSpace::memory_space> t(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::ct"),
                                                         std::size_t(k) * d);
    for (int q = 0; q < k; ++q)
      for (int j = 0; j < d; ++j) t(std::size_t(j) * k + q) = c(q, j);
    fused.ct = t;
  }
  std::int64_t const B = batch > 0 ? batch : n;
  for (std::int64_t b0 = 0; b0 < n; b0 += B) run(fused, b0, std::min(n, b0 + B));
  return total;
}

}  // namespace kkm::detail
