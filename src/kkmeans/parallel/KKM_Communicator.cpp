#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/parallel/KKM_Communicator.hpp>

#include <algorithm>
#include <string>

namespace kkm {

#if KKMEANS_ENABLE_MPI
namespace {
void check(int rc, char const* what) {
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    throw std::runtime_error(std::string("kkmeans: ") + what + " failed: " + std::string(msg, len));
  }
}
bool mpi_is_live() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}
}  // namespace

Communicator::Communicator(MPI_Comm comm) {
  KKM_REQUIRE(mpi_is_live(), "kkm::Communicator needs an initialised MPI");
  auto* dup = new MPI_Comm;
  check(MPI_Comm_dup(comm, dup), "MPI_Comm_dup");
  comm_ = std::shared_ptr<MPI_Comm>(dup, [](MPI_Comm* c) {
    if (mpi_is_live()) MPI_Comm_free(c);
    delete c;
  });
  check(MPI_Comm_rank(*comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(*comm_, &size_), "MPI_Comm_size");
}

MPI_Comm Communicator::raw() const { return comm_ ? *comm_ : MPI_COMM_SELF; }

#define KKM_ALLREDUCE(data, n, type, op)                                                   \
  do {                                                                                     \
    if (size_ > 1 && n > 0)                                                                \
      check(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), type, op, *comm_), "MPI_Allreduce"); \
  } while (0)

void Communicator::allreduce_sum(unsigned long long* d, std::size_t n) const { KKM_ALLREDUCE(d, n, MPI_UNSIGNED_LONG_LONG, MPI_SUM); }
void Communicator::allreduce_sum(std::int64_t* d, std::size_t n) const { KKM_ALLREDUCE(d, n, MPI_INT64_T, MPI_SUM); }
void Communicator::allreduce_sum(double* d, std::size_t n) const { KKM_ALLREDUCE(d, n, MPI_DOUBLE, MPI_SUM); }
void Communicator::allreduce_max(double* d, std::size_t n) const { KKM_ALLREDUCE(d, n, MPI_DOUBLE, MPI_MAX); }
void Communicator::allreduce_max(std::int64_t* d, std::size_t n) const { KKM_ALLREDUCE(d, n, MPI_INT64_T, MPI_MAX); }
#undef KKM_ALLREDUCE

bool Communicator::any(bool flag) const {
  std::int64_t v = flag ? 1 : 0;
  allreduce_max(&v, 1);
  return v != 0;
}

std::int64_t Communicator::exscan_sum(std::int64_t value) const {
  auto all = allgather(value);
  std::int64_t s = 0;
  for (int r = 0; r < rank_; ++r) s += all[r];
  return s;
}

std::vector<double> Communicator::allgather(double value) const {
  std::vector<double> out(size_, value);
  if (size_ > 1) check(MPI_Allgather(&value, 1, MPI_DOUBLE, out.data(), 1, MPI_DOUBLE, *comm_), "MPI_Allgather");
  return out;
}

std::vector<std::int64_t> Communicator::allgather(std::int64_t value) const {
  std::vector<std::int64_t> out(size_, value);
  if (size_ > 1)
    check(MPI_Allgather(&value, 1, MPI_INT64_T, out.data(), 1, MPI_INT64_T, *comm_), "MPI_Allgather");
  return out;
}

void Communicator::barrier() const {
  if (size_ > 1) check(MPI_Barrier(*comm_), "MPI_Barrier");
}

std::string Communicator::broadcast(std::string text, int root) const {
  if (size_ == 1) return text;
  std::int64_t length = static_cast<std::int64_t>(text.size());
  check(MPI_Bcast(&length, 1, MPI_INT64_T, root, *comm_), "MPI_Bcast");
  text.resize(static_cast<std::size_t>(length));
  check(MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, root, *comm_), "MPI_Bcast");
  return text;
}
#else
void Communicator::allreduce_sum(unsigned long long*, std::size_t) const {}
void Communicator::allreduce_sum(std::int64_t*, std::size_t) const {}
void Communicator::allreduce_sum(double*, std::size_t) const {}
void Communicator::allreduce_max(double*, std::size_t) const {}
void Communicator::allreduce_max(std::int64_t*, std::size_t) const {}
bool Communicator::any(bool flag) const { return flag; }
std::int64_t Communicator::exscan_sum(std::int64_t) const { return 0; }
std::vector<double> Communicator::allgather(double value) const { return {value}; }
std::vector<std::int64_t> Communicator::allgather(std::int64_t value) const { return {value}; }
void Communicator::barrier() const {}
std::string Communicator::broadcast(std::string text, int) const { return text; }
#endif

void throw_if_any_failed(Communicator const& comm, std::string const& error) {
  std::int64_t lowest = -(error.empty() ? comm.size() : comm.rank());  // −(lowest failing rank), by a max
  comm.allreduce_max(&lowest, 1);
  if (-lowest == comm.size()) return;
  throw UserError(comm.broadcast(error, static_cast<int>(-lowest)));
}

double Communicator::ordered_sum(double local) const {
  double s = 0.0;
  for (double v : allgather(local)) s += v;
  return s;
}

}  // namespace kkm
