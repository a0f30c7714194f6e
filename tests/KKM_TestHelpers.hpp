#pragma once
// Shared test helpers: deterministic random data, device views, and naive host references in
// double precision (written independently of the library's kernels).
#include <kkmeans/kkmeans.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#ifdef KKMEANS_HAVE_ZLIB
#include <zlib.h>
#endif

namespace kkm_test {

/// Row-major host matrix.
template <class T>
struct Matrix {
  std::int64_t n = 0;
  int d = 0;
  std::vector<T> v;
  T& operator()(std::int64_t i, int j) { return v[std::size_t(i) * d + j]; }
  T operator()(std::int64_t i, int j) const { return v[std::size_t(i) * d + j]; }
};

/// Gaussian blobs: k centres uniform in [-10, 10]^d, rows around them with standard deviation sd.
template <class T>
Matrix<T> blobs(std::int64_t n, int d, int k, double sd, unsigned seed, std::vector<int>* truth = nullptr,
                Matrix<double>* centres = nullptr) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(-10, 10);
  std::normal_distribution<double> z(0, sd);
  Matrix<double> c{k, d, std::vector<double>(std::size_t(k) * d)};
  for (auto& x : c.v) x = u(g);
  Matrix<T> m{n, d, std::vector<T>(std::size_t(n) * d)};
  if (truth) truth->resize(n);
  for (std::int64_t i = 0; i < n; ++i) {
    int const b = static_cast<int>(i % k);
    if (truth) (*truth)[i] = b;
    for (int j = 0; j < d; ++j) m(i, j) = static_cast<T>(c(b, j) + z(g));
  }
  if (centres) *centres = c;
  return m;
}

/// Uniform random values in [lo, hi).
template <class T>
Matrix<T> uniform(std::int64_t n, int d, double lo, double hi, unsigned seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Matrix<T> m{n, d, std::vector<T>(std::size_t(n) * d)};
  for (auto& x : m.v) x = static_cast<T>(u(g));
  return m;
}

/// Rows [r0, r0 + count) of m in a View of the given space.
template <class Space, class T>
Kokkos::View<T**, Kokkos::LayoutRight, typename Space::memory_space> to_device(Matrix<T> const& m, std::int64_t r0 = 0,
                                                                               std::int64_t count = -1) {
  if (count < 0) count = m.n - r0;
  Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::HostSpace> h("host", count, m.d);
  for (std::int64_t i = 0; i < count; ++i)
    for (int j = 0; j < m.d; ++j) h(i, j) = m(r0 + i, j);
  Kokkos::View<T**, Kokkos::LayoutRight, typename Space::memory_space> dv("data", count, m.d);
  Kokkos::deep_copy(dv, h);
  return dv;
}

/// Sample weights (or none: an empty vector) in a View of the given space.
template <class Space, class T>
Kokkos::View<T const*, typename Space::memory_space> to_device_weights(std::vector<T> const& w) {
  Kokkos::View<T*, typename Space::memory_space> d("weights", w.size());
  auto h = Kokkos::create_mirror_view(d);
  for (std::size_t i = 0; i < w.size(); ++i) h(i) = w[i];
  Kokkos::deep_copy(d, h);
  return d;
}

template <class V>
std::vector<int> labels_to_host(V const& labels) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), labels);
  return std::vector<int>(h.data(), h.data() + h.extent(0));
}

// ---- naive references (double) ---------------------------------------------------------------
enum class Ref { sqeuclidean, euclidean, cosine, manhattan, iou };

inline double ref_distance(Ref m, double const* x, double const* c, int d, int wh = 0) {
  switch (m) {
    case Ref::sqeuclidean:
    case Ref::euclidean: {
      double s = 0;
      for (int j = 0; j < d; ++j) s += (x[j] - c[j]) * (x[j] - c[j]);
      return m == Ref::euclidean ? std::sqrt(s) : s;
    }
    case Ref::cosine: {
      double dot = 0, xx = 0, cc = 0;
      for (int j = 0; j < d; ++j) {
        dot += x[j] * c[j];
        xx += x[j] * x[j];
        cc += c[j] * c[j];
      }
      return (xx > 0 && cc > 0) ? 1 - dot / std::sqrt(xx * cc) : 1;
    }
    case Ref::manhattan: {
      double s = 0;
      for (int j = 0; j < d; ++j) s += std::fabs(x[j] - c[j]);
      return s;
    }
    case Ref::iou: {
      double const inter = std::min(x[wh], c[wh]) * std::min(x[wh + 1], c[wh + 1]);
      double const uni = x[wh] * x[wh + 1] + c[wh] * c[wh + 1] - inter;
      return uni > 0 ? 1 - inter / uni : 0;
    }
  }
  return 0;
}

struct RefAssign {
  std::vector<int> labels;
  std::vector<double> best, second;  // best and second-best distance per row
  double inertia = 0;
};

template <class T>
RefAssign ref_assign(Ref m, Matrix<T> const& x, std::vector<double> const& c, int k, int wh = 0) {
  RefAssign r;
  r.labels.resize(x.n);
  r.best.resize(x.n);
  r.second.resize(x.n);
  std::vector<double> row(x.d);
  for (std::int64_t i = 0; i < x.n; ++i) {
    for (int j = 0; j < x.d; ++j) row[j] = x(i, j);
    double b = INFINITY, s = INFINITY;
    int bl = 0;
    for (int q = 0; q < k; ++q) {
      double const v = ref_distance(m, row.data(), &c[std::size_t(q) * x.d], x.d, wh);
      if (v < b) {
        s = b;
        b = v;
        bl = q;
      } else if (v < s) {
        s = v;
      }
    }
    r.labels[i] = bl;
    r.best[i] = b;
    r.second[i] = s;
    r.inertia += b;
  }
  return r;
}

/// New centroids from labels by the metric's update rule (clusters without rows keep theirs).
template <class T>
std::vector<double> ref_update(Ref m, Matrix<T> const& x, std::vector<int> const& labels, std::vector<double> c, int k) {
  int const d = x.d;
  for (int q = 0; q < k; ++q) {
    std::vector<std::vector<double>> cols(d);
    for (std::int64_t i = 0; i < x.n; ++i)
      if (labels[i] == q)
        for (int j = 0; j < d; ++j) cols[j].push_back(x(i, j));
    if (cols[0].empty()) continue;
    double norm2 = 0;
    for (int j = 0; j < d; ++j) {
      auto& v = cols[j];
      double val;
      if (m == Ref::manhattan) {
        std::sort(v.begin(), v.end());
        val = v[(v.size() - 1) / 2];
      } else {
        val = 0;
        for (double e : v) val += e;
        val /= double(v.size());
      }
      c[std::size_t(q) * d + j] = val;
      norm2 += val * val;
    }
    if (m == Ref::cosine && norm2 > 0)
      for (int j = 0; j < d; ++j) c[std::size_t(q) * d + j] /= std::sqrt(norm2);
  }
  return c;
}

/// Centroid index (Fränti, Rezaei, Zhao 2014): orphan prototypes, both ways, max of the two.
inline int centroid_index(std::vector<double> const& a, std::vector<double> const& b, int d) {
  auto orphans = [d](std::vector<double> const& from, std::vector<double> const& to) {
    int const nf = from.size() / d, nt = to.size() / d;
    std::vector<int> hit(nt, 0);
    for (int i = 0; i < nf; ++i) {
      int best = 0;
      double bd = INFINITY;
      for (int j = 0; j < nt; ++j) {
        double s = 0;
        for (int e = 0; e < d; ++e) s += (from[i * d + e] - to[j * d + e]) * (from[i * d + e] - to[j * d + e]);
        if (s < bd) {
          bd = s;
          best = j;
        }
      }
      hit[best] = 1;
    }
    return int(std::count(hit.begin(), hit.end(), 0));
  };
  return std::max(orphans(a, b), orphans(b, a));
}

template <class T, class M>
std::vector<double> centroids_vector(kkm::Result<T, M> const& r) {
  std::vector<double> c(r.centroids.extent(0) * r.centroids.extent(1));
  for (std::size_t q = 0; q < r.centroids.extent(0); ++q)
    for (std::size_t j = 0; j < r.centroids.extent(1); ++j) c[q * r.centroids.extent(1) + j] = r.centroids(q, j);
  return c;
}

/// Reads a whitespace-separated numeric text file, plain or gzip-compressed.
inline bool read_text_table(std::string const& path, std::vector<double>& values, int& cols) {
  std::string text;
#ifdef KKMEANS_HAVE_ZLIB
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return false;
  char buf[1 << 16];
  int got;
  while ((got = gzread(f, buf, sizeof(buf))) > 0) text.append(buf, got);
  gzclose(f);
#else
  std::ifstream f(path);
  if (!f) return false;
  std::stringstream ss;
  ss << f.rdbuf();
  text = ss.str();
#endif
  std::istringstream in(text);
  std::string line;
  values.clear();
  cols = 0;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    double v;
    int c = 0;
    while (ls >> v) {
      values.push_back(v);
      ++c;
    }
    if (c > 0) cols = c;
  }
  return !values.empty();
}

}  // namespace kkm_test
