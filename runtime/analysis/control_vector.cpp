#include "runtime/analysis/control_vector.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "kernels/quant.h"
#include "runtime/formats/gguf.h"

namespace ll::rt::ana {

namespace {

[[noreturn]] void fail(const std::filesystem::path& p, const std::string& what) {
  throw std::runtime_error("control vector " + p.string() + ": " + what);
}

// Parses "direction.<n>" strictly (digits only, no sign, fits an int).
bool parseLayer(const std::string& name, int& layer) {
  const std::string pre = "direction.";
  if (name.rfind(pre, 0) != 0 || name.size() == pre.size() || name.size() > pre.size() + 6)
    return false;
  layer = 0;
  for (size_t i = pre.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    layer = layer * 10 + (name[i] - '0');
  }
  return true;
}

struct Out {
  std::vector<uint8_t> b;
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void i32(int32_t v) { raw(&v, 4); }
  void str(const std::string& s) {
    u64(s.size());
    raw(s.data(), s.size());
  }
  void raw(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
  }
  void pad(size_t align) {
    while (b.size() % align) b.push_back(0);
  }
};

}  // namespace

ControlVector readControlVector(const std::filesystem::path& path, int expectedEmbd) {
  auto f = GgufFile::open(path);
  ControlVector cv;
  auto arch = f->getString("general.architecture");
  if (arch && *arch != "controlvector")
    fail(path, "general.architecture is '" + *arch + "', not 'controlvector'");
  cv.modelHint = f->getString("controlvector.model_hint").value_or("");
  cv.layerCount = static_cast<int>(f->getInt("controlvector.layer_count").value_or(0));
  int n = expectedEmbd;
  for (const auto& t : f->tensors()) {
    int layer = 0;
    if (!parseLayer(t.name, layer)) fail(path, "unexpected tensor '" + t.name + "'");
    if (layer < 1)
      fail(path, "tensor '" + t.name + "': layer 0 is not a valid control-vector layer");
    const int64_t count = t.nElements();
    if (t.ne.empty() || count != t.ne[0] || count <= 0 || count > (1 << 24))
      fail(path, "tensor '" + t.name + "' is not a 1-D vector of a sensible size");
    if (n > 0 && count != n)
      fail(path, "tensor '" + t.name + "' has " + std::to_string(count) + " values, expected " +
                     std::to_string(n));
    n = static_cast<int>(count);
    if (t.type != kern::QType::F32 && t.type != kern::QType::F16 && t.type != kern::QType::BF16)
      fail(path, "tensor '" + t.name + "' has an unsupported type (F32, F16 or BF16 only)");
    if (kern::rowBytes(t.type, count) > t.nbytes)
      fail(path, "tensor '" + t.name + "' is truncated");
    std::vector<float> v(count);
    kern::dequantizeRow(t.type, t.data, v.data(), count);
    if (!cv.layers.emplace(layer, std::move(v)).second)
      fail(path, "layer " + std::to_string(layer) + " appears twice");
  }
  if (cv.layers.empty()) fail(path, "no direction tensors");
  return cv;
}

void writeControlVector(const std::filesystem::path& path, const ControlVector& cv) {
  if (cv.layers.empty()) fail(path, "nothing to write (no layers)");
  const size_t n = cv.layers.begin()->second.size();
  for (const auto& [l, v] : cv.layers) {
    if (l < 1)
      fail(path, "layer " + std::to_string(l) + ": llama.cpp control vectors start at layer 1");
    if (v.size() != n || n == 0) fail(path, "directions differ in length");
  }
  constexpr size_t kAlign = 32;
  Out o;
  o.raw("GGUF", 4);
  o.u32(3);
  o.u64(cv.layers.size());
  o.u64(3);  // metadata entries
  o.str("general.architecture");
  o.u32(8);
  o.str("controlvector");
  o.str("controlvector.model_hint");
  o.u32(8);
  o.str(cv.modelHint);
  o.str("controlvector.layer_count");
  o.u32(5);
  o.i32(cv.layerCount > 0 ? cv.layerCount : static_cast<int32_t>(cv.layers.size()));
  uint64_t offset = 0;
  const uint64_t bytes = n * 4, stride = (bytes + kAlign - 1) / kAlign * kAlign;
  for (const auto& [l, v] : cv.layers) {
    o.str("direction." + std::to_string(l));
    o.u32(1);
    o.u64(n);
    o.u32(0);  // F32
    o.u64(offset);
    offset += stride;
  }
  o.pad(kAlign);
  for (const auto& [l, v] : cv.layers) {
    o.raw(v.data(), bytes);
    o.pad(kAlign);
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(o.b.data()), static_cast<std::streamsize>(o.b.size()));
  if (!f) fail(path, "cannot write the file");
}

}  // namespace ll::rt::ana
