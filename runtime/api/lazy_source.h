// LazySource: where a TraceTensor's host copy comes from when the tensor is not host storage (a
// backend's buffer to download, another pipeline rank's captures to fetch). TraceTensor calls it
// once, on the first host read, under the tensor's lock.
#pragma once

#include <cstddef>

namespace ll::rt {

class LazySource {
 public:
  virtual ~LazySource() = default;
  // Writes the tensor's `bytes` bytes to dst. Throws when it cannot (the reader gets the error;
  // nothing is kept, so a later read tries again). Called from any reader's thread.
  virtual void fill(void* dst, size_t bytes) const = 0;
};

}  // namespace ll::rt
