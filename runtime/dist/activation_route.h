// Which route the residual takes between pipeline stages (payload_channel.h): what
// LAYERLENS_PIPELINE_TRANSPORT asks for, what this rank can do, and the one route every rank of
// the job then uses.
#pragma once

#include <string>

#include "runtime/dist/payload_channel.h"
#include "runtime/dist/transport.h"

namespace ll::rt::dist {

enum class RouteRequest { Auto, Mpi, Nccl };

// LAYERLENS_PIPELINE_TRANSPORT's value (null or empty: auto); throws std::invalid_argument on
// anything but "mpi", "nccl" or "auto".
RouteRequest parseRouteRequest(const char* value);

// This rank's route for `run` / `generate`: NCCL when asked, or by default when NCCL is built and
// the stage runs on a CUDA device; MPI otherwise. Throws std::runtime_error saying why when NCCL
// is asked and cannot be (built without it, or a stage on `stageBackend`, not a CUDA device).
ActivationRoute chooseRoute(RouteRequest req, bool ncclBuilt, bool cudaStage,
                            const std::string& stageBackend);
// `serve`'s: its sessions pick their backends per client after the job started, so their
// activations go over MPI; throws when NCCL is asked.
ActivationRoute chooseServeRoute(RouteRequest req);

// Collective over every rank of t: each sends its choice to rank 0, which sends back the job's
// route, NCCL only when every rank chose it (a stage that fell back to the CPU takes the others
// to MPI).
ActivationRoute agreeOnRoute(Transport& t, ActivationRoute mine, double timeoutS);

// For the split plan on stderr: "nccl (CUDA device buffers)", "mpi (host memory)".
std::string routeText(ActivationRoute r);

}  // namespace ll::rt::dist
