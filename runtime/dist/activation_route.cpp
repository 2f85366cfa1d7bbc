// The activation route's selection and the ranks' agreement on it (see activation_route.h).
#include "runtime/dist/activation_route.h"

#include <stdexcept>

#include "runtime/dist/pipeline.h"

namespace ll::rt::dist {

namespace {

constexpr const char* kEnv = "LAYERLENS_PIPELINE_TRANSPORT";

}  // namespace

RouteRequest parseRouteRequest(const char* value) {
  const std::string v = value ? value : "";
  if (v.empty() || v == "auto") return RouteRequest::Auto;
  if (v == "mpi") return RouteRequest::Mpi;
  if (v == "nccl") return RouteRequest::Nccl;
  throw std::invalid_argument(std::string(kEnv) + " must be 'mpi', 'nccl' or 'auto', not '" + v +
                              "'");
}

ActivationRoute chooseRoute(RouteRequest req, bool ncclBuilt, bool cudaStage,
                            const std::string& stageBackend) {
  if (req == RouteRequest::Mpi) return ActivationRoute::Mpi;
  if (req == RouteRequest::Auto)
    return ncclBuilt && cudaStage ? ActivationRoute::Nccl : ActivationRoute::Mpi;
  if (!ncclBuilt)
    throw std::runtime_error(std::string(kEnv) +
                             "=nccl: this layerlens-cli was built without NCCL (it needs the "
                             "CUDA backend and NCCL's headers and library: rebuild with "
                             "LAYERLENS_CUDA=ON and LAYERLENS_NCCL=AUTO or ON)");
  if (!cudaStage)
    throw std::runtime_error(std::string(kEnv) + "=nccl: this rank's stage runs on the " +
                             stageBackend +
                             " backend; NCCL moves CUDA device buffers only (run with --backend "
                             "cuda on a GPU per rank, or set " +
                             kEnv + "=mpi)");
  return ActivationRoute::Nccl;
}

ActivationRoute chooseServeRoute(RouteRequest req) {
  if (req == RouteRequest::Nccl)
    throw std::runtime_error(std::string(kEnv) +
                             "=nccl: serve's sessions choose their backend per client, and their "
                             "activations go over MPI (NCCL is used by run and generate)");
  return ActivationRoute::Mpi;
}

ActivationRoute agreeOnRoute(Transport& t, ActivationRoute mine, double timeoutS) {
  const std::string what = "the activation route";
  auto byte = [](ActivationRoute r) { return static_cast<char>(r); };
  auto parse = [&](const std::vector<char>& b, int from) {
    if (b.size() != 1 ||
        (b[0] != byte(ActivationRoute::Mpi) && b[0] != byte(ActivationRoute::Nccl)))
      throw TransportError("rank " + std::to_string(from) + " sent a malformed " + what);
    return static_cast<ActivationRoute>(b[0]);
  };
  if (t.rank() != 0) {
    const char c = byte(mine);
    t.send(0, kTagSetup, &c, 1, timeoutS, what);
    return parse(t.recv(0, kTagSetup, 1, timeoutS, what), 0);
  }
  ActivationRoute job = mine;
  for (int r = 1; r < t.size(); ++r)
    if (parse(t.recv(r, kTagSetup, 1, timeoutS, what), r) == ActivationRoute::Mpi)
      job = ActivationRoute::Mpi;
  const char c = byte(job);
  for (int r = 1; r < t.size(); ++r) t.send(r, kTagSetup, &c, 1, timeoutS, what);
  return job;
}

std::string routeText(ActivationRoute r) {
  return r == ActivationRoute::Nccl ? "nccl (CUDA device buffers)" : "mpi (host memory)";
}

}  // namespace ll::rt::dist
