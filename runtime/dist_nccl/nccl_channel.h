// The residual's payload device buffer to device buffer over NCCL: ncclSend / ncclRecv on the
// stage's CUDA stream, straight from and into the engine's buffers (no PCIe staging). The control
// plane (commands, the hop's header, status, fetched captures) stays on the Transport (MPI).
// Built only with CUDA and NCCL (LAYERLENS_NCCL); never run on a GPU here (docs/distributed.md).
#pragma once

#include <memory>

#include "runtime/dist/payload_channel.h"
#include "runtime/dist/transport.h"

namespace ll::rt::dist {

// Collective over every rank of t, called once per job after the ranks agreed on the NCCL route
// (activation_route.h): rank 0 makes the communicator's unique id and sends it to the others over
// t, every rank joins with `stage`'s device. Throws std::runtime_error when the stage is not on a
// CUDA device or NCCL fails, TransportError when the id does not arrive within timeoutS.
std::unique_ptr<PayloadChannel> makeNcclChannel(Transport& t, kern::Backend& stage,
                                                double timeoutS);

}  // namespace ll::rt::dist
