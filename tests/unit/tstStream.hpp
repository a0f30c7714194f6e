#pragma once
// Rows streamed from host memory (Parameters::data_in = host): each Lloyd epoch and the final
// assignment copy them chunk by chunk into two device buffers. The same centroids, labels, epochs
// and per-epoch counts as the rows read in place, bit for bit, for every kind of metric, with
// weights, whatever the chunk size; a budget too small for two chunks of the least rows is refused
// before any work, naming the least that would do. With data_in = file the engine never reads the
// rows where they lie (its kernels get no address for them: a read would fault): k-means++, the
// median update, the farthest policy and the mini-batch modes stream them or read them on the host,
// with the same results; rows a RowSource reads (a chunked file's) stream the same way, and its
// errors stop the fit.
#include <KKM_TestHelpers.hpp>

#include <gtest/gtest.h>

#include <kkmeans/algorithms/KKM_Fit.hpp>
#include <kkmeans/algorithms/KKM_Predict.hpp>
#include <kkmeans/core/KKM_Backend.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace kkm_test {
namespace {

using space = TEST_EXECSPACE;
using mem = space::memory_space;

/// m in the host memory a fit streams from (page-locked on CUDA).
template <class T>
Kokkos::View<T**, Kokkos::LayoutRight, kkm::detail::staging_space_t<space>> to_host_rows(Matrix<T> const& m) {
  Kokkos::View<T**, Kokkos::LayoutRight, kkm::detail::staging_space_t<space>> h("host_rows", m.n, m.d);
  for (std::int64_t i = 0; i < m.n; ++i)
    for (int j = 0; j < m.d; ++j) h(i, j) = m(i, j);
  return h;
}

/// Expects fit b, streamed (`streamed`), to have a's results, and (several_chunks) its epochs'
/// stream several chunks.
template <class T, class R>
void expect_same_fit(R const& a, R const& b, Matrix<T> const& x, kkm::DataIn streamed, bool several_chunks = true) {
  EXPECT_EQ(a.data_in, "device");
  EXPECT_EQ(b.data_in, kkm::to_string(streamed));
  EXPECT_GT(b.stream_chunk_rows, 0);
  if (several_chunks) EXPECT_LT(b.stream_chunk_rows * 3, x.n) << "the stream should take several chunks";
  EXPECT_EQ(b.bytes_streamed_per_epoch, std::size_t(x.n) * x.d * sizeof(T));
  EXPECT_EQ(a.path, b.path);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (std::size_t e = 0; e < a.history.size(); ++e) {
    EXPECT_EQ(a.history[e].changed, b.history[e].changed) << "epoch " << e + 1;
    EXPECT_EQ(a.history[e].shift, b.history[e].shift) << "epoch " << e + 1;
    EXPECT_EQ(a.history[e].empty, b.history[e].empty) << "epoch " << e + 1;
    EXPECT_NEAR(a.history[e].inertia, b.history[e].inertia, 1e-9 * a.history[e].inertia) << "epoch " << e + 1;
  }
  EXPECT_EQ(centroids_vector(a), centroids_vector(b));
  EXPECT_EQ(labels_to_host(a.labels), labels_to_host(b.labels));
  EXPECT_NEAR(a.inertia, b.inertia, 1e-9 * a.inertia);
}

/// m read through kkm::RowSource, a range at a time (as a file's chunks hold it), each range
/// checked; a read that meets row `fail_at` throws.
template <class T>
class MatrixSource final : public kkm::RowSource<T> {
 public:
  MatrixSource(Matrix<T> const& m, std::int64_t block, std::int64_t fail_at = -1)
      : m_(m), block_(block), fail_at_(fail_at) {}
  std::int64_t rows() const override { return m_.n; }
  int cols() const override { return m_.d; }
  std::int64_t block_rows() const override { return block_; }
  void read(std::int64_t r0, std::int64_t r1, T* out) override {
    EXPECT_TRUE(0 <= r0 && r0 < r1 && r1 <= m_.n) << "[" << r0 << ", " << r1 << ")";
    if (r0 <= fail_at_ && fail_at_ < r1) throw kkm::UserError("row " + std::to_string(fail_at_) + " is unreadable");
    ++reads;
    for (std::int64_t i = r0; i < r1; ++i)
      for (int j = 0; j < m_.d; ++j) out[(i - r0) * m_.d + j] = m_(i, j);
  }
  int reads = 0;

 private:
  Matrix<T> const& m_;
  std::int64_t block_, fail_at_;
};

/// Fits in place and streamed within `budget` bytes; expects the same results and that the stream
/// took several chunks.
template <class T, class Metric>
void expect_streaming_changes_nothing(kkm::Parameters p, Matrix<T> const& x, Metric const& metric,
                                      std::size_t budget, std::vector<T> const& w = {},
                                      kkm::DataIn streamed = kkm::DataIn::host) {
  auto const wd = to_device_weights<space>(w);
  p.data_in = kkm::DataIn::device;
  auto const a = kkm::fit(space{}, to_device<space>(x), wd, p, metric);
  p.data_in = streamed;
  p.device_memory = budget;
  auto const b = kkm::fit(space{}, to_host_rows(x), wd, p, metric);
  expect_same_fit(a, b, x, streamed);
}

kkm::Parameters stream_params(int k) {
  kkm::Parameters p;
  p.k = k;
  p.init = kkm::Init::random;
  p.seed = 7;
  p.max_epochs = 30;
  return p;
}

constexpr kkm::DataIn streamed_modes[] = {kkm::DataIn::host, kkm::DataIn::file};

TEST(TEST_CATEGORY, stream_squared_euclidean_equals_in_place) {
  auto const x = blobs<float>(5000, 8, 12, 1.5, 21);
  // 60 KiB: 20 KB of labels, chunks of a few hundred rows.
  for (auto mode : streamed_modes)
    expect_streaming_changes_nothing(stream_params(12), x, kkm::SquaredEuclidean{}, 60 << 10, {}, mode);
}

TEST(TEST_CATEGORY, stream_weighted_cosine_and_median_equal_in_place) {
  auto const x = blobs<double>(3000, 5, 7, 2.0, 22);
  std::vector<double> w(x.n);
  for (std::int64_t i = 0; i < x.n; ++i) w[i] = 0.5 + double(i % 5);
  for (auto mode : streamed_modes) expect_streaming_changes_nothing(stream_params(7), x, kkm::Cosine{}, 60 << 10, w, mode);
  for (auto mode : streamed_modes) expect_streaming_changes_nothing(stream_params(7), x, kkm::Manhattan{}, 60 << 10, w, mode);
  auto const boxes = uniform<double>(3000, 4, 0.1, 6.0, 29);
  auto given = stream_params(7);  // given centroids, and IoU's boxes
  given.init = kkm::Init::given;
  for (std::int64_t q = 0; q < 7; ++q)
    for (int j = 0; j < boxes.d; ++j) given.initial_centroids.push_back(boxes(q * 400, j));
  expect_streaming_changes_nothing(given, boxes, kkm::IoU{2}, 60 << 10, w, kkm::DataIn::file);
}

TEST(TEST_CATEGORY, stream_generic_kernel_batches_and_empty_policies_equal_in_place) {
  auto const x = blobs<float>(4000, 24, 20, 1.0, 23);
  auto p = stream_params(40);  // more centroids than blobs: empty clusters under each policy
  p.batch_size = 100;
  for (auto empty : {kkm::EmptyPolicy::drop, kkm::EmptyPolicy::split, kkm::EmptyPolicy::farthest}) {
    p.empty = empty;
    for (auto mode : streamed_modes) expect_streaming_changes_nothing(p, x, kkm::Euclidean{}, 200 << 10, {}, mode);
  }
}

TEST(TEST_CATEGORY, stream_checked_gemm_equals_in_place) {
  auto const x = blobs<float>(4000, 40, 70, 1.0, 24);
  auto p = stream_params(70);
  p.max_epochs = 8;
  for (auto mode : streamed_modes) {
    p.assign = kkm::AssignPath::gemm_checked;
    expect_streaming_changes_nothing(p, x, kkm::SquaredEuclidean{}, 680 << 10, {}, mode);  // chunks of ≈ 800 rows
    p.assign = kkm::AssignPath::fused_checked;
    expect_streaming_changes_nothing(p, x, kkm::SquaredEuclidean{}, 420 << 10, {}, mode);  // (20 KiB of it the gaps)
  }
}

TEST(TEST_CATEGORY, stream_kmeans_parallel_equals_in_place) {
  // k-means‖ streams its rounds' passes too: the same candidates, so the same fit.
  auto const x = blobs<float>(6000, 40, 30, 1.0, 27);
  for (auto mode : streamed_modes) {
    auto p = stream_params(64);
    p.init = kkm::Init::kmeans_parallel;
    p.max_epochs = 6;
    // 600 KiB of the data's 938: on GPUs the streamed rounds' work buffers need about 550 KiB.
    expect_streaming_changes_nothing(p, x, kkm::SquaredEuclidean{}, 600 << 10, {}, mode);
    p.assign = kkm::AssignPath::gemm_checked;
    p.n_init = 2;
    expect_streaming_changes_nothing(p, x, kkm::SquaredEuclidean{}, 600 << 10, {}, mode);
  }
}

TEST(TEST_CATEGORY, stream_kmeanspp_equals_in_place) {
  // k-means++ from rows the device may not read in place (a RowSource) streams each step's
  // measuring pass within the budget beside its per-row buffers and reads its trials on the host:
  // the same centres, so the same fit; squared Euclidean (the tiled kernel on devices) and a metric
  // without its trait, with weights. Host rows (read in place across the link) too.
  auto const x = blobs<float>(5000, 8, 12, 1.5, 33);
  std::vector<float> w(x.n);
  for (std::int64_t i = 0; i < x.n; ++i) w[i] = 0.5f + float(i % 3);
  auto const wd = to_device_weights<space>(w);
  auto p = stream_params(12);
  p.init = kkm::Init::kmeanspp;
  p.max_epochs = 10;
  auto check = [&](auto const& metric, Kokkos::View<float const*, mem> const& weights) {
    auto const a = kkm::fit(space{}, to_device<space>(x), weights, p, metric);
    auto q = p;
    q.data_in = kkm::DataIn::file;
    // 20 KB of labels and 120 KB of k-means++'s per-row buffers leave chunks of about 900 rows.
    q.device_memory = 200 << 10;
    MatrixSource<float> source(x, 64);
    auto const b = kkm::fit(space{}, source, weights, q, metric);
    expect_same_fit(a, b, x, kkm::DataIn::file, false);
    // Each of the 12 steps reads the rows once; in one chunk, all passes together would read 12
    // times plus once an epoch.
    EXPECT_GE(source.reads, 3 * 12) << "k-means++ should stream its passes in several chunks";
    q.data_in = kkm::DataIn::host;
    expect_same_fit(a, kkm::fit(space{}, to_host_rows(x), weights, q, metric), x, kkm::DataIn::host, false);
  };
  check(kkm::SquaredEuclidean{}, {});
  check(kkm::Euclidean{}, wd);
}

TEST(TEST_CATEGORY, stream_minibatch_equals_in_place) {
  // The mini-batch modes read each batch (contiguous rows) on the host where the device may not
  // read them in place, and stream the final pass: the same centroids, labels and history.
  auto const x = blobs<float>(5000, 8, 12, 1.5, 34);
  for (auto mode : {kkm::Mode::minibatch, kkm::Mode::seed}) {
    auto p = stream_params(12);
    p.mode = mode;
    p.batch_size = 700;  // (batches wrap around the rows)
    p.max_epochs = 4;
    auto const a = kkm::fit(space{}, to_device<space>(x), p, kkm::SquaredEuclidean{});
    p.data_in = kkm::DataIn::file;
    p.device_memory = 100 << 10;
    MatrixSource<float> source(x, 64);
    auto const b = kkm::fit(space{}, source, {}, p, kkm::SquaredEuclidean{});
    EXPECT_EQ(b.data_in, "file");
    EXPECT_GT(source.reads, 0);
    // (an epoch's ⌈5000 / 700⌉ = 8 batches of 700 rows, read from the file)
    EXPECT_EQ(b.bytes_streamed_per_epoch, std::size_t(8 * 700) * x.d * sizeof(float));
    EXPECT_GT(b.stream_chunk_rows, 0);
    ASSERT_EQ(a.history.size(), b.history.size());
    for (std::size_t e = 0; e < a.history.size(); ++e) {
      EXPECT_EQ(a.history[e].changed, b.history[e].changed) << "epoch " << e + 1;
      EXPECT_EQ(a.history[e].shift, b.history[e].shift) << "epoch " << e + 1;
      EXPECT_EQ(a.history[e].k, b.history[e].k) << "epoch " << e + 1;
    }
    EXPECT_EQ(centroids_vector(a), centroids_vector(b));
    EXPECT_EQ(labels_to_host(a.labels), labels_to_host(b.labels));
    EXPECT_NEAR(a.inertia, b.inertia, 1e-9 * a.inertia);
  }
}

TEST(TEST_CATEGORY, stream_from_file_takes_kmeans_parallel_by_default) {
  auto const x = blobs<float>(2000, 6, 5, 1.0, 30);
  auto const rows = to_host_rows(x);
  // The automatic init is k-means‖ for rows streamed from their file, on every backend (k-means++
  // would read them once a centre).
  auto automatic = stream_params(5);
  automatic.init = kkm::Init::automatic;
  automatic.data_in = kkm::DataIn::file;
  EXPECT_EQ(kkm::fit(space{}, rows, automatic, kkm::SquaredEuclidean{}).init, "kmeans||");
  auto same = stream_params(3);  // k-means‖ finds one candidate (every row the same) for k = 3
  same.init = kkm::Init::kmeans_parallel;
  same.data_in = kkm::DataIn::file;
  Matrix<float> const ten{10, 2, std::vector<float>(20, 1.5f)};
  try {
    (void)kkm::fit(space{}, to_host_rows(ten), same, kkm::SquaredEuclidean{});
    ADD_FAILURE() << "k-means‖'s fallback was not refused";
  } catch (kkm::UserError const& e) {
    EXPECT_NE(std::string(e.what()).find("found 1 distinct candidate rows for k = 3"), std::string::npos) << e.what();
  }
}

TEST(TEST_CATEGORY, stream_data_summary_equals_in_place) {
  // The summary of streamed rows (three passes, 500-row chunks): the same scales, means and
  // fingerprint; a NaN is named at its global row either way.
  auto x = blobs<double>(3000, 7, 4, 3.0, 28);
  std::vector<double> w(x.n);
  for (std::int64_t i = 0; i < x.n; ++i) w[i] = 1.0 + double(i % 3);
  auto const wd = to_device_weights<space>(w);
  kkm::Communicator const comm;
  auto summary_of = [&](Matrix<double> const& m, bool streamed) {
    if (!streamed) return kkm::detail::summarize(space{}, to_device<space>(m), wd, comm);
    auto const h = to_host_rows(m);
    kkm::detail::RowStream<space, double> chunks(space{}, h.data(), m.n, m.d, 500);
    return kkm::detail::summarize(space{}, kkm::detail::device_rows<space>(h), wd, comm, &chunks);
  };
  auto const a = summary_of(x, false), b = summary_of(x, true);
  EXPECT_EQ(a.max_abs, b.max_abs);
  EXPECT_EQ(a.scale, b.scale);
  EXPECT_EQ(a.mean, b.mean);
  EXPECT_EQ(a.mean_variance, b.mean_variance);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  x(1234, 5) = std::nan("");
  for (bool streamed : {false, true}) {
    try {
      (void)summary_of(x, streamed);
      ADD_FAILURE() << "a NaN was accepted";
    } catch (kkm::UserError const& e) {
      EXPECT_NE(std::string(e.what()).find("the first at row 1234, column 5"), std::string::npos) << e.what();
    }
  }
}

TEST(TEST_CATEGORY, stream_passes_see_their_rows_with_the_next_pass_queued_early) {
  // Each chunk of each pass holds the rows it names, whether the next pass's first chunk was queued
  // behind the last (into the other buffer: the last chunk's work must not see it) or not; with an
  // odd and an even number of chunks, and one chunk, so that both buffers start a pass.
  auto const x = blobs<double>(1000, 3, 2, 1.0, 5);
  auto const h = to_host_rows(x);
  for (std::int64_t chunk : {300, 250, 1000}) {
    for (bool early : {true, false}) {
      kkm::detail::RowStream<space, double> stream(space{}, h.data(), x.n, x.d, chunk);
      stream.keep_next_pass_ready(early);
      for (int pass = 0; pass < 3; ++pass) {
        std::int64_t seen = 0;
        stream.for_each_chunk([&](kkm::detail::DeviceMatrix<space, double> rows, std::int64_t r0, std::int64_t r1) {
          EXPECT_EQ(r0, seen);
          seen = r1;
          auto const got = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), rows);
          ASSERT_EQ(std::int64_t(got.extent(0)), r1 - r0);
          int wrong = 0;
          for (std::int64_t i = r0; i < r1; ++i)
            for (int j = 0; j < x.d; ++j) wrong += got(i - r0, j) != x(i, j);
          EXPECT_EQ(wrong, 0) << "chunk [" << r0 << ", " << r1 << ") of pass " << pass << ", chunks of " << chunk
                              << (early ? ", next pass queued early" : "");
        });
        EXPECT_EQ(seen, x.n);
      }
    }
  }
}

TEST(TEST_CATEGORY, stream_from_a_source_equals_in_place) {
  // Rows a RowSource reads (a chunked file's): the fit, its random and k-means‖ draws gathered
  // through the source, predict and the distances are those of the rows in memory.
  auto const x = blobs<float>(6000, 40, 12, 1.5, 31);
  for (auto init : {kkm::Init::random, kkm::Init::kmeans_parallel}) {
    auto p = stream_params(12);
    p.init = init;
    auto const a = kkm::fit(space{}, to_device<space>(x), p, kkm::SquaredEuclidean{});
    MatrixSource<float> source(x, 64);
    p.data_in = kkm::DataIn::file;
    p.device_memory = init == kkm::Init::random ? 200 << 10 : 600 << 10;  // (k-means‖'s rounds need more)
    auto const b = kkm::fit(space{}, source, {}, p, kkm::SquaredEuclidean{});
    expect_same_fit(a, b, x, kkm::DataIn::file);
    EXPECT_EQ(b.stream_chunk_rows % 64, 0) << "chunks of whole blocks";
    EXPECT_GT(source.reads, 0);
    double in_place = 0, streamed = 0;
    auto const la = kkm::predict(space{}, to_device<space>(x), a.centroids, kkm::SquaredEuclidean{}, &in_place);
    auto const lb = kkm::predict(space{}, source, a.centroids, kkm::SquaredEuclidean{}, &streamed, 0, 40 << 10);
    EXPECT_EQ(labels_to_host(la), labels_to_host(lb));
    EXPECT_EQ(labels_to_host(la), labels_to_host(a.labels));
    EXPECT_NEAR(in_place, streamed, 1e-9 * in_place);
    auto const da = kkm::assigned_distances(space{}, to_device<space>(x), a.centroids, la, kkm::SquaredEuclidean{});
    auto const db = kkm::assigned_distances(space{}, source, a.centroids, lb, kkm::SquaredEuclidean{}, 40 << 10);
    auto const ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), da);
    auto const hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), db);
    ASSERT_EQ(ha.extent(0), hb.extent(0));
    for (std::size_t i = 0; i < ha.extent(0); ++i) ASSERT_EQ(ha(i), hb(i)) << "row " << i;
  }
}

TEST(TEST_CATEGORY, stream_from_a_source_stops_at_its_error) {
  // A read that fails (a corrupt chunk) stops the fit and predict with the source's own error.
  auto const x = blobs<float>(3000, 4, 5, 1.5, 32);
  auto p = stream_params(5);
  p.data_in = kkm::DataIn::file;
  p.device_memory = 60 << 10;
  MatrixSource<float> bad(x, 16, 2500);
  for (bool fit : {true, false}) {
    try {
      if (fit) (void)kkm::fit(space{}, bad, {}, p, kkm::SquaredEuclidean{});
      else (void)kkm::predict(space{}, bad, Kokkos::View<float**, Kokkos::LayoutRight, Kokkos::HostSpace>("c", 2, 4),
                                kkm::SquaredEuclidean{}, nullptr, 0, 40 << 10);
      ADD_FAILURE() << "the failed read went unnoticed";
    } catch (std::exception const& e) {
      EXPECT_EQ(std::string(e.what()), "row 2500 is unreadable");
    }
  }
  p.data_in = kkm::DataIn::host;
  try {
    (void)kkm::fit(space{}, bad, {}, p, kkm::SquaredEuclidean{});
    ADD_FAILURE() << "data_in = host was taken for a source";
  } catch (kkm::UserError const& e) {
    EXPECT_NE(std::string(e.what()).find("data_in must be file"), std::string::npos) << e.what();
  }
}

TEST(TEST_CATEGORY, stream_predict_equals_in_place) {
  auto const x = blobs<float>(5000, 6, 9, 1.5, 26);
  auto const fitted = kkm::fit(space{}, to_device<space>(x), stream_params(9), kkm::Manhattan{});
  double in_place = 0, streamed = 0;
  auto const a = kkm::predict(space{}, to_device<space>(x), fitted.centroids, kkm::Manhattan{}, &in_place);
  for (auto mode : streamed_modes) {
    auto const b = kkm::predict(space{}, to_host_rows(x), fitted.centroids, kkm::Manhattan{}, &streamed, 0, mode,
                                40 << 10);  // chunks of ≈ 400 rows
    EXPECT_EQ(labels_to_host(a), labels_to_host(b));
    EXPECT_EQ(labels_to_host(a), labels_to_host(fitted.labels));
    EXPECT_NEAR(in_place, streamed, 1e-9 * in_place);
  }
  // The distances to the labels' centroids, streamed the same way.
  auto const da = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace{}, kkm::assigned_distances(space{}, to_device<space>(x), fitted.centroids, a, kkm::Manhattan{}));
  for (auto mode : streamed_modes) {
    auto const db = Kokkos::create_mirror_view_and_copy(
        Kokkos::HostSpace{},
        kkm::assigned_distances(space{}, to_host_rows(x), fitted.centroids, a, kkm::Manhattan{}, mode, 40 << 10));
    ASSERT_EQ(da.extent(0), db.extent(0));
    for (std::size_t i = 0; i < da.extent(0); ++i) ASSERT_EQ(da(i), db(i)) << "row " << i;
  }
}

TEST(TEST_CATEGORY, stream_budget_too_small_is_refused_naming_the_least) {
  auto const x = blobs<float>(4000, 8, 4, 1.0, 25);
  auto p = stream_params(4);
  p.data_in = kkm::DataIn::host;
  p.device_memory = 20000;  // 16 000 bytes of labels leave too little for two chunks
  try {
    (void)kkm::fit(space{}, to_host_rows(x), Kokkos::View<float const*, mem>(), p, kkm::SquaredEuclidean{});
    FAIL() << "a budget too small for the stream's chunks was accepted";
  } catch (kkm::UserError const& e) {
    std::string const msg = e.what();
    EXPECT_NE(msg.find("two chunk buffers"), std::string::npos) << msg;
    EXPECT_NE(msg.find("allow at least"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace kkm_test
