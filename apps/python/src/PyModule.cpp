// kkmeans._kkmeans: the compiled half of the Python package. The estimator (kkmeans/_estimator.py)
// checks and converts its inputs and calls these; everything here is thin: rows in, numpy out, the
// library's errors as Python's (UserError → ValueError; nothing aborts the interpreter).
#include "KKM_PyBuiltin.hpp"

#include <kkmeans/kkmeans.hpp>
#include <kkmeans/python/KKM_PyMetric.hpp>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <Kokkos_Core.hpp>

#include <string>
#include <type_traits>
#include <vector>

namespace kkm::python {
namespace {

/// Whether o is a C-contiguous numpy array of T: for the 16-bit types, which pybind11 has no type for,
/// by kind and size — numpy's float16, and for bfloat16 the unsigned 16-bit integers the estimator
/// hands over as its bits (numpy has no bfloat16).
template <class T>
bool is_array_of(py::object const& o) {
  if constexpr (is_16_bit_v<T>) {
    if (!py::isinstance<py::array>(o)) return false;
    auto const a = py::reinterpret_borrow<py::array>(o);
    char const kind = std::is_same_v<T, bfloat16> ? 'u' : 'f';
    return a.dtype().kind() == kind && a.dtype().itemsize() == 2 && (a.flags() & py::array::c_style) != 0;
  } else {
    return py::isinstance<py::array_t<T, py::array::c_style>>(o);
  }
}

/// Rows handed over by Python: None (no weights), a C-contiguous numpy array of exactly T (used in
/// place), or ("device", pointer, n, d) for a CUDA array of T.
template <class T>
Rows<T> rows_from(py::object const& o) {
  Rows<T> r;
  if (o.is_none()) return r;
  if (py::isinstance<py::tuple>(o)) {
    auto const t = o.cast<py::tuple>();
    if (t.size() != 4 || t[0].cast<std::string>() != "device")
      throw py::type_error("kkmeans: rows must be a numpy array or ('device', pointer, n, d)");
    if constexpr (host_rows_in_place)
      throw py::type_error("this kkmeans module was built without a GPU backend: pass host (numpy) arrays");
    r.data = reinterpret_cast<T const*>(t[1].cast<std::uintptr_t>());
    r.n = t[2].cast<std::int64_t>();
    r.d = t[3].cast<std::int64_t>();
    r.on_device = true;
    return r;
  }
  if (!is_array_of<T>(o)) throw py::type_error(std::string("kkmeans: expected a C-contiguous array of ") + scalar_name<T>());
  auto const a = py::reinterpret_borrow<py::array>(o);
  if (a.ndim() != 1 && a.ndim() != 2) throw py::value_error("kkmeans: expected a 1-D or 2-D array");
  r.data = static_cast<T const*>(a.data());
  r.n = a.shape(0);
  r.d = a.ndim() == 2 ? a.shape(1) : 1;
  r.owner = a;
  return r;
}

std::vector<std::string> const precisions{"float", "double", "half", "bfloat16"};

/// Calls f(ops) with the metric's operations in the precision the options name.
template <class F>
auto in_precision(Metric const& m, py::dict const& options, F&& f) {
  auto const precision = options["precision"].cast<std::string>();
  if (precision == "float") return f(m.f32);
  if (precision == "double") return f(m.f64);
  if (precision == "half") return f(m.f16);
  if (precision == "bfloat16") return f(m.bf16);
  throw UserError(unknown_choice("precision", precision, precisions));
}

/// Centroids for predict/transform in the ops' precision (float for 16-bit rows).
template <class T>
py::array_t<T> centroids_as(py::object const& c) {
  return py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(c);
}

void bind_metric_type(py::module_& m) {
  py::class_<Metric>(m, "Metric", "A kkmeans metric: its kernels, for float32, float64, float16 and bfloat16 rows")
      .def_readonly("name", &Metric::name)
      .def("__repr__", [](Metric const& self) { return "<kkmeans metric '" + self.name + "'>"; })
      .def(
          "fit",
          [](Metric const& self, py::object const& x, py::object const& w, py::object const& init, py::dict const& o,
             py::object const& comm, std::intptr_t labels_out) {
            return in_precision(self, o, [&](auto const& ops) {
              using T = typename std::decay_t<decltype(ops)>::value_type;
              return ops.fit(rows_from<T>(x), rows_from<compute_t<T>>(w), init, o, comm, labels_out);
            });
          },
          py::arg("x"), py::arg("weights"), py::arg("init"), py::arg("options"), py::arg("comm") = py::none(),
          py::arg("labels_out") = 0)
      .def(
          "predict",
          [](Metric const& self, py::object const& x, py::object const& c, py::dict const& o, std::intptr_t labels_out,
             bool with_distances) {
            return in_precision(self, o, [&](auto const& ops) {
              using T = typename std::decay_t<decltype(ops)>::value_type;
              return ops.predict(rows_from<T>(x), centroids_as<compute_t<T>>(c), o, labels_out, with_distances);
            });
          },
          py::arg("x"), py::arg("centroids"), py::arg("options"), py::arg("labels_out") = 0,
          py::arg("with_distances") = false)
      .def(
          "transform",
          [](Metric const& self, py::object const& x, py::object const& c, py::dict const& o) {
            return in_precision(self, o, [&](auto const& ops) -> py::object {
              using T = typename std::decay_t<decltype(ops)>::value_type;
              return ops.transform(rows_from<T>(x), centroids_as<compute_t<T>>(c), o);
            });
          },
          py::arg("x"), py::arg("centroids"), py::arg("options"));
}

}  // namespace
}  // namespace kkm::python

PYBIND11_MODULE(_kkmeans, m) {
  namespace kp = kkm::python;
  m.doc() = "kkmeans' compiled kernels (use kkmeans.KMeans)";
  pybind11::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (kkm::UserError const& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  kp::bind_metric_type(m);
  pybind11::dict metrics;
  for (char const* name : kkm::metric_names)
    metrics[name] = kp::Metric{name, kp::builtin_ops<float>(name), kp::builtin_ops<double>(name),
                               kp::builtin_ops<kkm::float16>(name), kp::builtin_ops<kkm::bfloat16>(name)};
  m.attr("metrics") = metrics;
  m.attr("__version__") = kkm::version();
  m.attr("device") = Kokkos::DefaultExecutionSpace::name();
  m.attr("host_rows_in_place") = kp::host_rows_in_place;
  m.attr("with_mpi") = bool(KKMEANS_ENABLE_MPI);
  m.def(
      "byte_size",
      [](std::string const& what, std::string const& text) {
        if (auto const bytes = kkm::parse_bytes(text)) return *bytes;
        throw kkm::UserError(kkm::byte_size_error(what, text));
      },
      "bytes of a size such as '8G' or '512MiB' (as the command line reads it); ValueError naming `what` otherwise");
  m.attr("choices") = pybind11::dict(pybind11::arg("init") = kkm::selectable_names<kkm::Init>(),
                               pybind11::arg("empty") = kkm::selectable_names<kkm::EmptyPolicy>(),
                               pybind11::arg("mode") = kkm::selectable_names<kkm::Mode>(),
                               pybind11::arg("assign") = kkm::selectable_names<kkm::AssignPath>(),
                               pybind11::arg("data_in") = kp::array_data_in_names(),
                               pybind11::arg("metric") = std::vector<std::string>(kkm::metric_names.begin(),
                                                                             kkm::metric_names.end()),
                               pybind11::arg("precision") = kp::precisions);
}
