// The tensor list the engine expects, derived from the spec and its architecture's tensor table.
#include "runtime/model/spec_check.h"

#include "runtime/model/arch.h"

namespace ll::rt {

namespace {
std::string shapeText(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}
}  // namespace

std::vector<ExpectedTensor> expectedTensors(const ModelSpec& s) {
  const ArchDesc& a = archOf(s);
  std::vector<ExpectedTensor> out;
  for (const TensorDesc& t : a.tensors) {
    if (!tensorRequired(t, s) || layerScoped(t)) continue;
    out.push_back({tensorName(t, -1), tensorShape(t, s)});
  }
  for (int l = 0; l < s.nLayer; ++l)
    for (const TensorDesc& t : a.tensors)
      if (tensorRequired(t, s) && layerScoped(t))
        out.push_back({tensorName(t, l), tensorShape(t, s)});
  return out;
}

void checkTensors(const ModelSpec& spec, const WeightStore& weights,
                  const std::filesystem::path& file) {
  std::vector<std::string> problems;
  for (const auto& e : expectedTensors(spec)) {
    const TensorData* t = weights.find(e.name);
    if (!t)
      problems.push_back("missing " + e.name + " " + shapeText(e.ne));
    else if (t->ne != e.ne)
      problems.push_back(e.name + " has shape " + shapeText(t->ne) + ", expected " +
                         shapeText(e.ne));
  }
  if (problems.empty()) return;
  std::string msg = spec.arch + " model is incomplete (" + std::to_string(problems.size()) +
                    " problem" + (problems.size() > 1 ? "s" : "") + "): ";
  for (size_t i = 0; i < problems.size() && i < 8; ++i) msg += (i ? "; " : "") + problems[i];
  if (problems.size() > 8) msg += "; ...";
  throw FormatError(file, msg);
}

}  // namespace ll::rt
