#pragma once
/// \file KKM_PyFit.hpp
/// \brief The library's fit, predict and transform for Python callers: rows from numpy (in place) or
/// from CUDA arrays (device pointers), parameters from the keyword arguments Python checked the
/// types of, results as numpy arrays (labels optionally written into a CUDA array Python allocated).
/// Kokkos is started on first use and finalised at interpreter exit.
#include <kkmeans/kkmeans.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#if KKMEANS_ENABLE_MPI
#include <mpi.h>
#endif

namespace kkm::python {

namespace py = pybind11;

using Exec = Kokkos::DefaultExecutionSpace;
using Mem = Exec::memory_space;
/// Whether the fit's space reads host memory (OpenMP, Serial): numpy rows are then used in place.
inline constexpr bool host_rows_in_place = Kokkos::SpaceAccessibility<Exec, Kokkos::HostSpace>::accessible;

/// data_in's names for arrays: every place but file (the application's: it maps an HDF5 file).
inline std::vector<std::string> array_data_in_names() {
  std::vector<std::string> names;
  for (auto const& name : selectable_names<DataIn>())
    if (name != to_string(DataIn::file)) names.push_back(name);
  return names;
}

/// n × d rows (or n weights, d = 1) of T, C-contiguous, in host memory (a numpy array, kept alive by
/// `owner`) or in the device's (a CUDA array's pointer). data is null for "none" (no weights).
template <class T>
struct Rows {
  T const* data = nullptr;
  std::int64_t n = 0, d = 0;
  bool on_device = false;
  py::object owner;
};

/// Starts Kokkos once per process (per extension module: each links its own) and finalises it at
/// interpreter exit. Under MPI each rank of a node takes its own GPU, as the application's ranks do.
inline void ensure_kokkos() {
  static bool started = false;  // Kokkos cannot start again once finalised
  if (started) return;
  started = true;
  if (Kokkos::is_initialized()) return;  // a host program embedding Python started it
  std::vector<std::string> args{"kkmeans"};
#if KKMEANS_ENABLE_MPI && defined(KOKKOS_ENABLE_CUDA)
  int mpi_up = 0;
  MPI_Initialized(&mpi_up);
  int devices = 0;
  if (mpi_up && cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0 && !std::getenv("KOKKOS_DEVICE_ID")) {
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    int local = 0;
    MPI_Comm_rank(node, &local);
    MPI_Comm_free(&node);
    args.push_back("--kokkos-device-id=" + std::to_string(local % devices));
  }
#endif
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  int argc = static_cast<int>(argv.size());
  Kokkos::initialize(argc, argv.data());
  py::module_::import("atexit").attr("register")(py::cpp_function([]() {
    if (Kokkos::is_initialized()) Kokkos::finalize();
  }));
}

/// The library's parameters from the estimator's (types checked in Python; names and ranges here,
/// with the application's messages).
inline Parameters parameters_from(py::dict const& o) {
  Parameters p;
  p.k = o["n_clusters"].cast<int>();
  p.init = parse_name<Init>("init", o["init"].cast<std::string>());
  p.n_init = o["n_init"].cast<int>();
  p.max_epochs = o["max_iter"].cast<int>();
  p.tol = o["tol"].cast<double>();
  p.seed = o["seed"].cast<std::uint64_t>();
  p.batch_size = o["batch_size"].cast<std::int64_t>();
  p.device_memory = o["device_memory"].cast<std::size_t>();
  std::string const data_in = o["data_in"].cast<std::string>();
  if (data_in == to_string(DataIn::file)) throw UserError(unknown_choice("data_in", data_in, array_data_in_names()));
  p.data_in = parse_name<DataIn>("data_in", data_in);
  p.empty = parse_name<EmptyPolicy>("empty-cluster policy", o["empty"].cast<std::string>());
  p.mode = parse_name<Mode>("mode", o["mode"].cast<std::string>());
  p.assign = parse_name<AssignPath>("assign path", o["assign"].cast<std::string>());
  return p;
}

/// Calls f(x) with the rows as an unmanaged View the fit's space reads: in place when it can, else
/// through one copy to the device (its seconds, with the copy finished, in *upload_seconds). Numpy
/// rows a GPU fit streams (p.data_in host, or auto and they do not fit the device) stay where they
/// are, page-locked for the fit; CUDA arrays are read where they are (p.data_in becomes device).
template <class T, class F>
auto with_device_rows(Rows<T> const& r, Parameters& p, F&& f, double* upload_seconds = nullptr) {
  using Device = Kokkos::View<T const**, Kokkos::LayoutRight, Mem, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  if (r.on_device) p.data_in = DataIn::device;
  if (r.on_device || host_rows_in_place) return f(Device(r.data, r.n, r.d));
  std::size_t const bytes = std::size_t(r.n) * std::size_t(r.d) * sizeof(T);
  std::size_t const room = p.device_memory > 0 ? p.device_memory : detail::available_memory<Exec>() / 10 * 9;
  if (p.data_in == DataIn::host || (p.data_in == DataIn::automatic && bytes + std::size_t(r.n) * sizeof(int) > room)) {
    detail::PinnedRegistration<Exec> const pinned(r.data, bytes);
    p.data_in = DataIn::host;
    using Pinned = Kokkos::View<T const**, Kokkos::LayoutRight, detail::staging_space_t<Exec>,
                                Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
    return f(Pinned(r.data, r.n, r.d));
  }
  Kokkos::Timer clock;
  Kokkos::View<T**, Kokkos::LayoutRight, Mem> copy(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::python::rows"),
                                                  r.n, r.d);
  Kokkos::deep_copy(copy, Kokkos::View<T const**, Kokkos::LayoutRight, Kokkos::HostSpace,
                                       Kokkos::MemoryTraits<Kokkos::Unmanaged>>(r.data, r.n, r.d));
  Kokkos::fence();
  if (upload_seconds != nullptr) *upload_seconds = clock.seconds();
  return f(Device(copy.data(), r.n, r.d));
}

/// Weights where the fit reads them (empty View: unweighted).
template <class T>
Kokkos::View<T const*, Mem> device_weights(Rows<T> const& w) {
  if (w.data == nullptr) return {};
  Kokkos::View<T const*, Mem, Kokkos::MemoryTraits<Kokkos::Unmanaged>> in_place(w.data, w.n);
  if (w.on_device || host_rows_in_place) return in_place;
  Kokkos::View<T*, Mem> copy(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kkm::python::weights"), w.n);
  Kokkos::deep_copy(copy, Kokkos::View<T const*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(w.data, w.n));
  return copy;
}

/// Labels as Python gets them: written into its device array at labels_out (CUDA input), else a
/// new numpy int32 array.
template <class LabelView>
py::object labels_to_python(LabelView const& labels, std::intptr_t labels_out) {
  auto const n = static_cast<py::ssize_t>(labels.extent(0));
  if (labels_out != 0) {
    Kokkos::View<int*, Mem, Kokkos::MemoryTraits<Kokkos::Unmanaged>> out(reinterpret_cast<int*>(labels_out), n);
    Kokkos::deep_copy(out, labels);
    Kokkos::fence();
    return py::none();
  }
  py::array_t<int> out(n);
  Kokkos::deep_copy(Kokkos::View<int*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(out.mutable_data(), n),
                    labels);
  return std::move(out);
}

/// A k × d numpy array of the centroids (host View of T).
template <class T, class V>
py::array_t<T> centroids_to_python(V const& c) {
  py::array_t<T> out({static_cast<py::ssize_t>(c.extent(0)), static_cast<py::ssize_t>(c.extent(1))});
  for (std::size_t i = 0; i < c.extent(0); ++i)
    for (std::size_t j = 0; j < c.extent(1); ++j) out.mutable_at(i, j) = c(i, j);
  return out;
}

/// The communicator of an mpi4py handle (Comm.py2f(): MPI_COMM_WORLD's is 0), or the single-process
/// one for None.
inline Communicator communicator_from(py::object const& handle) {
  if (handle.is_none()) return Communicator{};
#if KKMEANS_ENABLE_MPI
  return Communicator(MPI_Comm_f2c(handle.cast<MPI_Fint>()));
#else
  throw UserError("this kkmeans module was built without MPI (KKMEANS_ENABLE_MPI=OFF): comm= is not available");
#endif
}

/// kkm::fit on the rows, with everything Python reads back (centroids in C: T, or float for 16-bit
/// rows).
template <class T, class Metric, class C = compute_t<T>>
py::dict fit_rows(Metric const& metric, Rows<T> const& x, Rows<C> const& w, py::object const& init_centroids,
                  py::dict const& options, py::object const& comm_handle, std::intptr_t labels_out) {
  ensure_kokkos();
  Parameters p = parameters_from(options);
  if (!init_centroids.is_none()) {
    p.initial_centroids = init_centroids.cast<std::vector<double>>();
    p.init = Init::given;
  }
  Communicator const comm = communicator_from(comm_handle);
  py::dict out;
  double upload_seconds = 0;
  with_device_rows(x, p, [&](auto rows) {
    auto const weights = device_weights(w);
    auto res = [&] {
      py::gil_scoped_release const free_python;
      return fit(Exec{}, rows, weights, p, metric, comm);
    }();
    out["centroids"] = centroids_to_python<C>(res.centroids);
    out["labels"] = labels_to_python(res.labels, labels_out);
    out["inertia"] = res.inertia;
    out["epochs"] = res.epochs;
    out["converged"] = res.converged;
    out["stop_reason"] = res.stop_reason;
    out["k_final"] = res.k_final;
    out["init"] = res.init;
    out["path"] = res.path;
    out["data_in"] = res.data_in;
    out["restart_inertia"] = res.restart_inertia;
    out["seconds_init"] = res.seconds_init;
    out["seconds_epochs"] = res.seconds_epochs;
    out["rows_address"] = reinterpret_cast<std::uintptr_t>(rows.data());  // where the fit read the rows
    return 0;
  }, &upload_seconds);
  out["seconds_upload"] = upload_seconds;
  return out;
}

/// Centroids as the library's predict wants them (host View of T).
template <class T>
Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::HostSpace> host_centroids(py::array_t<T> const& c) {
  KKM_REQUIRE(c.ndim() == 2, "centroids must be a k × d array");
  Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::HostSpace> out("kkm::python::centroids", c.shape(0), c.shape(1));
  for (py::ssize_t i = 0; i < c.shape(0); ++i)
    for (py::ssize_t j = 0; j < c.shape(1); ++j) out(i, j) = c.at(i, j);
  return out;
}

/// Labels of the rows (nearest centroid; ties to the lowest index) and, if asked, each row's
/// distance to its centroid and their sum (for score).
template <class T, class Metric, class C = compute_t<T>>
py::dict predict_rows(Metric const& metric, Rows<T> const& x, py::array_t<C> const& centroids, std::intptr_t labels_out,
                      bool with_distances) {
  ensure_kokkos();
  auto const c = host_centroids(centroids);
  py::dict out;
  Parameters p;  // data_in auto: numpy rows that do not fit the device are streamed
  with_device_rows(x, p, [&](auto rows) {
    double inertia = 0;
    auto const labels = [&] {
      py::gil_scoped_release const free_python;
      return predict(Exec{}, rows, c, metric, &inertia);
    }();
    out["labels"] = labels_to_python(labels, labels_out);
    out["inertia"] = inertia;
    if (with_distances) {
      auto const dist = assigned_distances(Exec{}, rows, c, labels, metric);
      py::array_t<double> d(static_cast<py::ssize_t>(dist.extent(0)));
      Kokkos::deep_copy(Kokkos::View<double*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                            d.mutable_data(), dist.extent(0)),
                        dist);
      out["distances"] = d;
    }
    return 0;
  });
  return out;
}

/// The n × k distances of the rows to every centroid, in the metric's own terms.
template <class T, class Metric, class C = compute_t<T>>
py::array_t<C> transform_rows(Metric const& metric, Rows<T> const& x, py::array_t<C> const& centroids) {
  ensure_kokkos();
  auto const c = host_centroids(centroids);
  Parameters p;  // the n × k distances live on the device anyway: the rows go there too
  p.data_in = DataIn::device;
  return with_device_rows(x, p, [&](auto rows) {
    auto const dist = [&] {
      py::gil_scoped_release const free_python;
      return transform(Exec{}, rows, c, metric);
    }();
    py::array_t<C> out({static_cast<py::ssize_t>(dist.extent(0)), static_cast<py::ssize_t>(dist.extent(1))});
    Kokkos::deep_copy(Kokkos::View<C**, Kokkos::LayoutRight, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                          out.mutable_data(), dist.extent(0), dist.extent(1)),
                      dist);
    return out;
  });
}

}  // namespace kkm::python
