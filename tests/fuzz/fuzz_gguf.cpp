// libFuzzer target: GgufFile::open on arbitrary bytes, then every getter and every tensor range.
#include "fuzz_common.h"
#include "runtime/formats/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& path = llfuzz::scratchFile(".gguf");
  llfuzz::writeFile(path, data, size);
  try {
    auto f = ll::rt::GgufFile::open(path);
    volatile uint32_t sink = 0;
    for (const auto& [key, v] : f->metadata()) {
      (void)v.asInt();
      (void)v.asFloat();
      if (const auto* a = v.asArray()) sink = sink + uint32_t(a->size());
      try {
        sink = sink + uint32_t(f->getStringArray(key).size() + f->getFloatArray(key).size() +
                               f->getIntArray(key).size());
      } catch (const ll::rt::FormatError&) {
      }
    }
    for (const auto& t : f->tensors()) {
      sink = sink + llfuzz::touch(t.data, t.nbytes);
      if (t.nElements() <= (1 << 16)) {
        std::vector<float> row(size_t(t.ne[0]));
        ll::kern::dequantizeRow(t.type, t.data, row.data(), t.ne[0]);
      }
    }
  } catch (const ll::rt::FormatError&) {
  }
  return 0;
}
