// The residual crossing a pipeline stage boundary, moved straight from and into the stage's backend
// memory (device memory on a GPU, host memory on the CPU): the engine hands the link its own
// buffers, so a GPU stage whose link carries device buffers (NCCL) copies nothing over PCIe.
#pragma once

#include <cstddef>
#include <vector>

#include "kernels/backend.h"

namespace ll::rt {

class ActivationLink {
 public:
  virtual ~ActivationLink() = default;
  // Fills dst (backend memory, n floats: [rows, nEmbd]) with the residual entering the stage.
  // Called in the backend's op order: ops enqueued after it see the data.
  virtual void recvInto(float* dst, size_t n) = 0;
  // Sends n floats at src (backend memory): the residual leaving the stage, after every op
  // enqueued before the call; src may be reused once it returns.
  virtual void sendFrom(const float* src, size_t n) = 0;
};

// A link over host arrays (a stage run in-process, tests): input from `in` (n floats), output
// into `*out` (resized to n). Either may be null when that direction is not used.
class HostActivations : public ActivationLink {
 public:
  HostActivations(kern::Backend& b, const float* in, std::vector<float>* out)
      : m_b(b), m_in(in), m_out(out) {}
  void recvInto(float* dst, size_t n) override;
  void sendFrom(const float* src, size_t n) override;

 private:
  kern::Backend& m_b;
  const float* m_in;
  std::vector<float>* m_out;
};

}  // namespace ll::rt
