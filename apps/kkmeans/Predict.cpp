// `kkmeans predict`: labels (and distances) of new data from a saved model; `kkmeans info`.
#include "App.hpp"
#include "Fit.hpp"

#include <kkmeans/core/KKM_CheckCentroids.hpp>
#include <kkmeans/io/KKM_HDF5.hpp>

#include <algorithm>

namespace kkm::app {
namespace {

template <class T>
int predict_as(PredictOptions const& o, Communicator const& comm) {
  using space = Kokkos::DefaultExecutionSpace;
  auto const ref = parse_ref(o.input);
  {  // before any work: the output is neither the model nor the data, however spelled
    FileRoles files;
    files.reads("--model", o.model);
    files.reads("--input", ref.file);
    files.writes("--output", o.output);
    on_every_rank(comm, [&] { files.check(); });
  }
  auto const info = on_every_rank(comm, [&] { return io::inspect(ref); });
  io::check_output_path(o.output, o.overwrite, comm, io::expected_file_bytes(info.rows, o.distances ? 8 : 0, 0, 0));
  if (comm.rank() == 0) remove_stale_temporaries(o.output);
  auto const model = on_every_rank(comm, [&] { return io::read_model(o.model); });
  KKM_REQUIRE(info.rows > 0, "dataset '" + ref.str() + "' has zero rows");
  KKM_REQUIRE(info.cols == model.d, "model '" + o.model + "' has d = " + std::to_string(model.d) + " but '" +
                                        ref.str() + "' has " + std::to_string(info.cols) + " columns");
  auto const mit = model.attributes.find("metric");
  KKM_REQUIRE(mit != model.attributes.end() && mit->second.kind == io::Attribute::text,
              "model '" + o.model + "' has no 'metric' attribute: not a kkmeans model");
  std::string const metric = mit->second.s;
  KKM_REQUIRE(std::find(metric_names.begin(), metric_names.end(), metric) != metric_names.end(),
              "model '" + o.model + "' has unknown metric '" + metric + "'");
  KKM_REQUIRE(o.metric.empty() || o.metric == metric,
              "model '" + o.model + "' was fitted with metric " + metric + ", not " + o.metric);
  auto const cit = model.attributes.find("iou_column");
  int const iou_column = cit != model.attributes.end() ? static_cast<int>(cit->second.i) : 0;

  detail::check_centroid_values<compute_t<T>>(
      model.k, static_cast<int>(model.d), [&](std::int64_t q, int j) { return model.centroids[q * model.d + j]; },
      "model '" + o.model + "': centroid");
  std::int64_t row0 = 0;
  // Rows that do not fit the device stay in host memory and are streamed (GPU builds). predict has no
  // --device-memory, so no least work to hold a budget against.
  auto const slice = read_slice<T>(ref, info, comm, row0, parse_name<DataIn>("data-in", o.data_in), 0, 0,
                                   [](std::int64_t, bool) { return std::size_t(0); });
  Kokkos::View<compute_t<T>**, Kokkos::LayoutRight, Kokkos::HostSpace> c("kkm::model", model.k, model.d);
  for (std::int64_t q = 0; q < model.k; ++q)
    for (std::int64_t j = 0; j < model.d; ++j) c(q, j) = static_cast<compute_t<T>>(model.centroids[q * model.d + j]);
  std::vector<double> dist;
  auto labels = with_metric(metric, iou_column, [&](auto m) {
    auto label_and_measure = [&](auto const& x) {
      auto l = predict(space{}, x, c, m, nullptr, 0, slice.library_data_in());
      if (o.distances) {
        auto dd = assigned_distances(space{}, x, c, l, m, slice.library_data_in());
        auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dd);
        dist.assign(h.data(), h.data() + h.extent(0));
      }
      return l;
    };
    if (slice.source) {  // (rows read from their file a block at a time)
      auto l = predict(space{}, *slice.source, c, m);
      if (o.distances) {
        auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                     assigned_distances(space{}, *slice.source, c, l, m));
        dist.assign(h.data(), h.data() + h.extent(0));
      }
      return l;
    }
    return slice.streamed() ? label_and_measure(slice.host) : label_and_measure(slice.device);
  });
  auto lh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), labels);
  std::vector<int> local(lh.data(), lh.data() + lh.extent(0));
  io::Attributes attrs;
  attrs["model"] = io::Attribute{io::Attribute::text, o.model, 0, 0};
  attrs["input"] = io::Attribute{io::Attribute::text, ref.str(), 0, 0};
  attrs["metric"] = io::Attribute{io::Attribute::text, metric, 0, 0};
  io::write_labels(o.output, local, dist, row0, info.rows, attrs, o.overwrite, comm);
  log(comm, o.quiet, fmt::format("labelled {} rows of {} with {} ({} centroids, {}) -> {}", info.rows, ref.str(),
                                 o.model, model.k, metric, o.output));
  return 0;
}

}  // namespace

int run_predict(PredictOptions const& o, Communicator const& comm) {
  return with_precision(o.precision, [&](auto rows) { return predict_as<decltype(rows)>(o, comm); });
}

int run_info(std::string const& what) {
  std::printf("kkmeans %s, %s, MPI %s, HDF5 %s\n", version().c_str(), backend_description().c_str(),
              KKMEANS_ENABLE_MPI ? "on" : "off", io::hdf5_is_parallel() ? "parallel" : "serial");
  if (what.empty()) return 0;
  if (what.find(":/") != std::string::npos) {
    auto const ref = parse_ref(what);
    auto const i = io::inspect(ref, true);
    std::printf("%s: %lld × %lld %s, %s\n", ref.str().c_str(), static_cast<long long>(i.rows),
                static_cast<long long>(i.cols), i.type.c_str(), i.chunked ? "chunked" : "contiguous");
    return 0;
  }
  auto const m = io::read_model(what);
  std::printf("%s: model with k = %lld centroids of d = %lld\n", what.c_str(), static_cast<long long>(m.k),
              static_cast<long long>(m.d));
  for (auto const& [name, a] : m.attributes) {
    if (a.kind == io::Attribute::text) std::printf("  %s = %s\n", name.c_str(), a.s.c_str());
    else if (a.kind == io::Attribute::integer) std::printf("  %s = %lld\n", name.c_str(), static_cast<long long>(a.i));
    else std::printf("  %s = %.9g\n", name.c_str(), a.r);
  }
  return 0;
}

}  // namespace kkm::app
