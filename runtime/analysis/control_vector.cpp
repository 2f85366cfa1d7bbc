#include "runtime/analysis/control_vector.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "kernels/quant.h"
#include "runtime/formats/gguf.h"
#include "runtime/formats/gguf_writer.h"

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
  GgufWriter w;
  w.addString("general.architecture", "controlvector");
  w.addString("controlvector.model_hint", cv.modelHint);
  w.addI32("controlvector.layer_count",
           cv.layerCount > 0 ? cv.layerCount : static_cast<int32_t>(cv.layers.size()));
  for (const auto& [l, v] : cv.layers)
    w.addTensorF32("direction." + std::to_string(l), {static_cast<int64_t>(n)}, v);
  try {
    w.write(path);
  } catch (const std::exception& e) {
    fail(path, std::string("cannot write the file: ") + e.what());
  }
}

}  // namespace ll::rt::ana
