#include "runtime/api/intervention_args.h"

#include <cmath>
#include <stdexcept>

#include "runtime/api/npy_io.h"

namespace ll::rt {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t b = 0;
  while (true) {
    size_t e = s.find(sep, b);
    out.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}

int toInt(const std::string& s, const std::string& what) {
  size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size())
    throw std::invalid_argument(what + ": '" + s + "' is not an integer");
  return v;
}

RouterEdit parseEdit(const std::string& s, RouterEditKind kind, const ModelSpec& spec) {
  auto parts = split(s, ':');
  const size_t want = kind == RouterEditKind::Bias ? 3 : 2;
  if (parts.size() != want)
    throw std::invalid_argument("expert edit '" + s + "': expected " +
                                (want == 3 ? "L:E:VALUE" : "L:E"));
  RouterEdit e;
  e.kind = kind;
  e.layer = toInt(parts[0], "expert edit layer");
  e.expert = toInt(parts[1], "expert edit expert");
  if (want == 3) {
    try {
      e.value = std::stof(parts[2]);
    } catch (const std::exception&) {
      throw std::invalid_argument("expert bias '" + s + "': bad value");
    }
  }
  if (spec.nExpert <= 0)
    throw std::invalid_argument("expert edit '" + s + "': the model has no experts");
  if (e.layer < 0 || e.layer >= spec.nLayer)
    throw std::invalid_argument("expert edit '" + s + "': layer out of range (0.." +
                                std::to_string(spec.nLayer - 1) + ")");
  if (e.expert < 0 || e.expert >= spec.nExpert)
    throw std::invalid_argument("expert edit '" + s + "': expert out of range (0.." +
                                std::to_string(spec.nExpert - 1) + ")");
  return e;
}

}  // namespace

Interventions buildInterventions(const InterventionArgs& a, const ModelSpec& spec) {
  Interventions iv;
  if (!a.steerPath.empty()) {
    NpyF32 v = readNpyF32(a.steerPath);
    if (static_cast<int64_t>(v.data.size()) != spec.nEmbd)
      throw std::invalid_argument(a.steerPath + ": steering vector has " +
                                  std::to_string(v.data.size()) +
                                  " values, the model's n_embd is " + std::to_string(spec.nEmbd));
    Steering s;
    s.layer = a.steerLayer >= 0 ? a.steerLayer : static_cast<int>(std::floor(0.7 * spec.nLayer));
    if (s.layer >= spec.nLayer)
      throw std::invalid_argument("steering layer " + std::to_string(s.layer) +
                                  " is out of range (0.." + std::to_string(spec.nLayer - 1) + ")");
    if (a.steerFrom < 0) throw std::invalid_argument("steering start position is negative");
    s.alpha = a.steerAlpha;
    s.fromPos = a.steerFrom;
    s.vector = std::move(v.data);
    iv.steering.push_back(std::move(s));
  }
  for (const auto& s : a.banExperts) iv.router.push_back(parseEdit(s, RouterEditKind::Ban, spec));
  for (const auto& s : a.forceExperts)
    iv.router.push_back(parseEdit(s, RouterEditKind::Force, spec));
  for (const auto& s : a.biasExperts) iv.router.push_back(parseEdit(s, RouterEditKind::Bias, spec));
  return iv;
}

}  // namespace ll::rt
