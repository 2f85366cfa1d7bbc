// libFuzzer target: SafetensorsFile::open on arbitrary bytes, then every tensor range.
#include "fuzz_common.h"
#include "runtime/formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& path = llfuzz::scratchFile(".safetensors");
  llfuzz::writeFile(path, data, size);
  try {
    auto f = ll::rt::SafetensorsFile::open(path);
    volatile uint32_t sink = 0;
    for (const auto& t : f->tensors()) sink = sink + llfuzz::touch(t.data, t.nbytes);
  } catch (const ll::rt::FormatError&) {
  }
  return 0;
}
