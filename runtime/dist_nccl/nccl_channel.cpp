// NcclChannel: the pipeline's residual over NCCL point-to-point (see nccl_channel.h). NCCL has no
// timeouts of its own, so every transfer is polled (cudaStreamQuery, ncclCommGetAsyncError)
// against the pipeline's deadline; on expiry the communicator is aborted (the hung kernel with
// it) and the error names the peer.
#include "runtime/dist_nccl/nccl_channel.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/dist/pipeline.h"
#include "runtime/dist/poll.h"

namespace ll::rt::dist {

namespace {

void checkCuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clears it, so later CUDA calls do not report it again
    throw std::runtime_error(std::string("NCCL route: ") + what + ": " + cudaGetErrorString(e));
  }
}

class NcclChannel : public PayloadChannel {
 public:
  NcclChannel(Transport& t, int device, double timeoutS) : m_device(device) {
    ncclUniqueId id;
    const std::string what = "the NCCL communicator's id";
    if (t.rank() == 0) {
      checkNccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
      for (int r = 1; r < t.size(); ++r) t.send(r, kTagSetup, &id, sizeof id, timeoutS, what);
    } else {
      const std::vector<char> b = t.recv(0, kTagSetup, sizeof id, timeoutS, what);
      if (b.size() != sizeof id)
        throw TransportError("rank 0 sent " + std::to_string(b.size()) + " bytes for " + what);
      std::memcpy(&id, b.data(), sizeof id);
    }
    checkCuda(cudaSetDevice(m_device), "cudaSetDevice");
    // Blocking: every rank has just agreed on this route over MPI, so all of them join.
    checkNccl(ncclCommInitRank(&m_comm, t.size(), id, t.rank()), "ncclCommInitRank");
    const cudaError_t e = cudaStreamCreateWithFlags(&m_own, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
      ncclCommDestroy(m_comm);
      checkCuda(e, "cudaStreamCreate");
    }
  }

  ~NcclChannel() override {
    if (m_scratch) cudaFree(m_scratch);
    if (m_own) cudaStreamDestroy(m_own);
    if (m_comm) ncclCommDestroy(m_comm);  // local; the transfers of the job are complete
  }

  ActivationRoute route() const override { return ActivationRoute::Nccl; }

  void send(kern::Backend& b, int to, const float* src, size_t n, double timeoutS,
            const std::string& what) override {
    cudaStream_t s = streamOf(b);
    b.sync();  // the stage's own ops first: the deadline then times the transfer alone
    checkNccl(ncclSend(src, n, ncclFloat32, to, m_comm, s), "ncclSend");
    wait(s, to, "rank " + std::to_string(to) + " did not take " + what, timeoutS);
  }

  void recv(kern::Backend& b, int from, float* dst, size_t n, double timeoutS,
            const std::string& what) override {
    cudaStream_t s = streamOf(b);
    b.sync();
    checkNccl(ncclRecv(dst, n, ncclFloat32, from, m_comm, s), "ncclRecv");
    wait(s, from, "nothing from rank " + std::to_string(from) + " (" + what + ")", timeoutS);
  }

  void discard(int from, size_t n, double timeoutS, const std::string& what) override {
    usable();
    checkCuda(cudaSetDevice(m_device), "cudaSetDevice");
    if (m_scratchBytes < n * sizeof(float)) {
      if (m_scratch) cudaFree(m_scratch);
      m_scratch = nullptr;
      m_scratchBytes = 0;
      checkCuda(cudaMalloc(&m_scratch, n * sizeof(float)), "cudaMalloc (a dropped residual)");
      m_scratchBytes = n * sizeof(float);
    }
    checkNccl(ncclRecv(m_scratch, n, ncclFloat32, from, m_comm, m_own), "ncclRecv");
    wait(m_own, from, "nothing from rank " + std::to_string(from) + " (" + what + ")", timeoutS);
  }

 private:
  void usable() const {
    if (!m_comm)
      throw TransportError("the NCCL communicator was aborted earlier (" + m_broken + ")");
  }

  // The stage's stream, when its backend runs on this channel's device.
  cudaStream_t streamOf(kern::Backend& b) {
    usable();
    if (!b.nativeStream() || b.deviceOrdinal() != m_device)
      throw std::logic_error("NCCL route: the stage's backend (" + b.name() +
                             ") is not on CUDA device " + std::to_string(m_device));
    checkCuda(cudaSetDevice(m_device), "cudaSetDevice");  // per host thread
    return static_cast<cudaStream_t>(b.nativeStream());
  }

  void checkNccl(ncclResult_t r, const char* what) {
    if (r == ncclSuccess) return;
    std::string msg = std::string("NCCL route: ") + what + ": " + ncclGetErrorString(r);
    if (m_comm) {
      if (const char* last = ncclGetLastError(m_comm); last && *last)
        msg += std::string(" (") + last + ")";
      abortComm(msg);
    }
    throw TransportError(msg);
  }

  void abortComm(const std::string& why) {
    if (!m_comm) return;
    ncclCommAbort(m_comm);  // also ends a send or receive still waiting on the device
    m_comm = nullptr;
    m_broken = why;
  }

  // Until the stream has run the transfer; past the deadline or on NCCL's asynchronous error, the
  // communicator is aborted and the error names the peer.
  void wait(cudaStream_t s, int peer, const std::string& what, double timeoutS) {
    cudaError_t ce = cudaSuccess;
    ncclResult_t async = ncclSuccess;
    const bool done = pollUntil(timeoutS, [&] {
      if (ncclCommGetAsyncError(m_comm, &async) != ncclSuccess) async = ncclInternalError;
      if (async != ncclSuccess && async != ncclInProgress) return true;
      ce = cudaStreamQuery(s);
      return ce != cudaErrorNotReady;
    });
    std::string msg;
    if (!done)
      msg = what + " over NCCL within " + secondsText(timeoutS) + " (it died or hangs)";
    else if (async != ncclSuccess && async != ncclInProgress)
      msg = "rank " + std::to_string(peer) + ": NCCL failed (" + ncclGetErrorString(async) +
            ") during " + what;
    else if (ce != cudaSuccess)
      msg = "rank " + std::to_string(peer) + ": CUDA failed (" + cudaGetErrorString(ce) +
            ") during " + what;
    if (msg.empty()) return;
    cudaGetLastError();
    abortComm(msg);
    throw TransportError(msg);
  }

  int m_device = 0;
  ncclComm_t m_comm = nullptr;
  cudaStream_t m_own = nullptr;  // for payloads dropped without a stage's stream
  void* m_scratch = nullptr;
  size_t m_scratchBytes = 0;
  std::string m_broken;  // why the communicator was aborted
};

}  // namespace

std::unique_ptr<PayloadChannel> makeNcclChannel(Transport& t, kern::Backend& stage,
                                                double timeoutS) {
  if (!stage.nativeStream() || stage.deviceOrdinal() < 0)
    throw std::runtime_error("NCCL route: this rank's stage runs on the " + stage.name() +
                             " backend, not on a CUDA device");
  return std::make_unique<NcclChannel>(t, stage.deviceOrdinal(), timeoutS);
}

}  // namespace ll::rt::dist
