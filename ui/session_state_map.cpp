#include "ui/session_state_map.h"

#include <QString>
#include <QStringList>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>
#include <type_traits>

namespace ll::ui {

namespace {

const char* sourceName(SteerSource s) {
  switch (s) {
    case SteerSource::Concept:
      return "concept";
    case SteerSource::Contrastive:
      return "contrastive";
    case SteerSource::Saved:
      return "saved";
  }
  return "concept";
}

std::string joinLines(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "\n" : "") + items[i];
  return out;
}

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> out;
  for (const QString& s : QString::fromStdString(text).split('\n', Qt::SkipEmptyParts))
    out.push_back(s.toStdString());
  return out;
}

// The value of extra[key] as an int / float when present and well formed.
template <typename T>
void readNumber(const std::map<std::string, std::string>& extra, const std::string& key, T& out) {
  const auto it = extra.find(key);
  if (it == extra.end()) return;
  bool ok = false;
  const QString text = QString::fromStdString(it->second);
  if constexpr (std::is_same_v<T, int>) {
    const int v = text.toInt(&ok);
    if (ok) out = v;
  } else {
    const float v = text.toFloat(&ok);
    if (ok && std::isfinite(v)) out = v;
  }
}

// The Patching panel's settings under patching.* (names as the CLI spells them).
void writePatching(const PatchingSettings& p, std::map<std::string, std::string>& x) {
  x["patching.enabled"] = std::to_string(int(p.enabled));
  x["patching.noise"] = std::to_string(int(p.noise));
  x["patching.corrupt"] = p.corrupt;
  x["patching.noise_begin"] = std::to_string(p.noiseBegin);
  x["patching.noise_end"] = std::to_string(p.noiseEnd);
  x["patching.target"] = p.target;
  x["patching.other"] = p.other;
  x["patching.component"] = rt::ana::patchComponentName(p.component);
  x["patching.metric"] = rt::ana::patchMetricName(p.metric);
  x["patching.direction"] = rt::ana::patchDirectionName(p.direction);
}

void readPatching(const std::map<std::string, std::string>& x, PatchingSettings& p) {
  int enabled = 0, noise = 0;
  readNumber(x, "patching.enabled", enabled);
  readNumber(x, "patching.noise", noise);
  p.enabled = enabled != 0;
  p.noise = noise != 0;
  readNumber(x, "patching.noise_begin", p.noiseBegin);
  readNumber(x, "patching.noise_end", p.noiseEnd);
  p.noiseBegin = std::max(0, p.noiseBegin);
  p.noiseEnd = std::max(p.noiseBegin + 1, p.noiseEnd);
  if (const auto it = x.find("patching.corrupt"); it != x.end()) p.corrupt = it->second;
  if (const auto it = x.find("patching.target"); it != x.end()) p.target = it->second;
  if (const auto it = x.find("patching.other"); it != x.end()) p.other = it->second;
  // Unknown names from a hand-edited file keep the defaults.
  try {
    if (const auto it = x.find("patching.component"); it != x.end())
      p.component = rt::ana::parsePatchComponent(it->second);
  } catch (const std::invalid_argument&) {
  }
  try {
    if (const auto it = x.find("patching.metric"); it != x.end())
      p.metric = rt::ana::parsePatchMetric(it->second);
  } catch (const std::invalid_argument&) {
  }
  try {
    if (const auto it = x.find("patching.direction"); it != x.end())
      p.direction = rt::ana::parsePatchDirection(it->second);
  } catch (const std::invalid_argument&) {
  }
}

}  // namespace

std::optional<SelectMethod> parseSelectMethod(const std::string& name) {
  return rt::ana::parseSelectionMethod(name);
}

rt::SessionState sessionFromViewState(const ViewState& v, const std::string& modelPath,
                                      const std::string& server) {
  rt::SessionState s;
  s.modelPath = modelPath;
  s.prompt = v.prompt;
  s.interventions.router = v.routerEdits;
  s.interventions.knockout = v.knockout;
  s.view.layer = v.layer;
  s.view.head = v.head;
  s.view.method = rt::ana::selectionMethodKey(v.selection.method);
  s.view.k = v.selection.k;
  auto& x = s.view.extra;
  x["token"] = std::to_string(v.token);
  x["chat_template"] = v.chatTemplate ? "1" : "0";
  // Every parameter of the selection request but k (view.k): selection.layer, selection.window, ...
  for (const auto& p : rt::ana::selectionIntParams())
    if (p.field != &rt::ana::SelectionRequest::k)
      x["selection." + std::string(p.name)] = std::to_string(v.selection.*p.field);
  x["selection.max_pool"] = v.selection.maxPool ? "1" : "0";
  x["selection.stages"] = v.selection.stages;
  const SteeringSettings& st = v.steering;
  x["steering.enabled"] = st.enabled ? "1" : "0";
  x["steering.source"] = sourceName(st.source);
  x["steering.concept"] = st.conceptWord;
  x["steering.baselines"] = joinLines(st.baselines);
  x["steering.positive"] = joinLines(st.positive);
  x["steering.negative"] = joinLines(st.negative);
  x["steering.layer"] = std::to_string(st.layer);
  x["steering.alpha"] = QString::number(double(st.alpha), 'g', 9).toStdString();
  x["steering.from"] = std::to_string(st.fromPos);
  x["lens.final_norm"] = v.lensGrid.finalNorm ? "1" : "0";
  x["lens.mid"] = v.lensGrid.mid ? "1" : "0";
  x["lens.value"] = v.lensGrid.value == LensValue::Entropy ? "entropy" : "prob";
  x["lens.first"] = std::to_string(v.lensGrid.first);
  x["attribution.target"] = v.attribution.target;
  x["attribution.other"] = v.attribution.other;
  x["layerskip.enabled"] = std::to_string(int(v.layerSkip.enabled));
  x["layerskip.sublayer"] = rt::ana::skipPartName(v.layerSkip.part);
  x["latent.word_a"] = v.latent.wordA;
  x["latent.word_b"] = v.latent.wordB;
  x["contrast.task"] = joinLines(v.contrast.task);
  x["contrast.neutral"] = joinLines(v.contrast.neutral);
  x["contrast.tau"] = QString::number(double(v.contrast.tau), 'g', 9).toStdString();
  x["contrast.layers"] = rt::ana::contrastLayersName(v.contrast.layers);
  x["contrast.lambda"] = QString::number(double(v.contrast.lambda), 'g', 9).toStdString();
  x["contrast.promote_middle"] = v.contrast.promoteMiddleOnly ? "1" : "0";
  x["knockout.sweep"] = v.knockoutReadout.sweep ? "1" : "0";
  x["knockout.window"] = std::to_string(v.knockoutReadout.window);
  x["steerread.enabled"] = std::to_string(int(v.steerRead.enabled));
  x["steerread.layer_sweep"] = std::to_string(int(v.steerRead.layerSweep));
  if (server.empty()) {
    x["teacher.model"] = v.teacher.model;
  } else if (!v.teacher.model.empty()) {
    x["teacher.server_model"] = v.teacher.model;
    x["teacher.server"] = server;
  }
  x["flow.enabled"] = std::to_string(int(v.flow.enabled));
  x["flow.threshold"] = QString::number(v.flow.threshold, 'g', 17).toStdString();
  writePatching(v.patching, x);
  if (st.source == SteerSource::Saved && !st.savedVector.empty())
    s.interventions.steering.push_back({st.layer, st.alpha, st.fromPos, st.savedVector});
  return s;
}

ViewState viewStateFromSession(const rt::SessionState& s) {
  ViewState v;
  v.prompt = s.prompt;
  v.routerEdits = s.interventions.router;
  v.knockout = s.interventions.knockout;
  v.layer = s.view.layer;
  v.head = s.view.head;
  if (const auto m = parseSelectMethod(s.view.method)) v.selection.method = *m;
  if (s.view.k > 0) v.selection.k = s.view.k;
  const auto& x = s.view.extra;
  readNumber(x, "token", v.token);
  int templ = 0;
  readNumber(x, "chat_template", templ);
  v.chatTemplate = templ != 0;
  for (const auto& p : rt::ana::selectionIntParams())
    if (p.field != &rt::ana::SelectionRequest::k)
      readNumber(x, "selection." + std::string(p.name), v.selection.*p.field);
  int maxPool = v.selection.maxPool ? 1 : 0;
  readNumber(x, "selection.max_pool", maxPool);
  v.selection.maxPool = maxPool != 0;
  if (const auto it = x.find("selection.stages"); it != x.end()) v.selection.stages = it->second;
  {
    LensGridSettings& lg = v.lensGrid;
    int finalNorm = lg.finalNorm ? 1 : 0, mid = lg.mid ? 1 : 0;
    readNumber(x, "lens.final_norm", finalNorm);
    readNumber(x, "lens.mid", mid);
    lg.finalNorm = finalNorm != 0;
    lg.mid = mid != 0;
    if (const auto it = x.find("lens.value"); it != x.end())
      lg.value = it->second == "entropy" ? LensValue::Entropy : LensValue::TopProb;
    readNumber(x, "lens.first", lg.first);
    lg.first = std::max(-1, lg.first);
  }
  if (const auto it = x.find("attribution.target"); it != x.end())
    v.attribution.target = it->second;
  if (const auto it = x.find("attribution.other"); it != x.end()) v.attribution.other = it->second;
  if (const auto it = x.find("latent.word_a"); it != x.end()) v.latent.wordA = it->second;
  if (const auto it = x.find("latent.word_b"); it != x.end()) v.latent.wordB = it->second;
  {
    int enabled = 0, layers = 1;
    readNumber(x, "steerread.enabled", enabled);
    readNumber(x, "steerread.layer_sweep", layers);
    v.steerRead.enabled = enabled != 0;
    v.steerRead.layerSweep = layers != 0;
  }
  if (const auto it = x.find("teacher.model"); it != x.end()) v.teacher.model = it->second;
  readPatching(x, v.patching);

  {
    int sweep = v.knockoutReadout.sweep ? 1 : 0;
    readNumber(x, "knockout.sweep", sweep);
    v.knockoutReadout.sweep = sweep != 0;
    readNumber(x, "knockout.window", v.knockoutReadout.window);
    v.knockoutReadout.window = std::max(1, v.knockoutReadout.window);
  }
  {
    rt::ana::ExpertContrastRequest& c = v.contrast;
    if (const auto it = x.find("contrast.task"); it != x.end()) c.task = splitLines(it->second);
    if (const auto it = x.find("contrast.neutral"); it != x.end())
      c.neutral = splitLines(it->second);
    readNumber(x, "contrast.tau", c.tau);
    readNumber(x, "contrast.lambda", c.lambda);
    int middle = c.promoteMiddleOnly ? 1 : 0;
    readNumber(x, "contrast.promote_middle", middle);
    c.promoteMiddleOnly = middle != 0;
    if (const auto it = x.find("contrast.layers"); it != x.end()) {
      try {
        c.layers = rt::ana::parseContrastLayers(it->second);
      } catch (const std::invalid_argument&) {
        // an unknown name from a hand-edited file: keep the default (all layers)
      }
    }
  }
  {
    int enabled = 0;
    readNumber(x, "layerskip.enabled", enabled);
    v.layerSkip.enabled = enabled != 0;
    if (const auto it = x.find("layerskip.sublayer"); it != x.end()) {
      try {
        v.layerSkip.part = rt::ana::parseSkipPart(it->second);
      } catch (const std::invalid_argument&) {
        // an unknown name from a hand-edited file: keep the default (whole layer)
      }
    }
  }

  {
    int enabled = 0;
    readNumber(x, "flow.enabled", enabled);
    v.flow.enabled = enabled != 0;
    if (const auto it = x.find("flow.threshold"); it != x.end()) {
      bool ok = false;
      const double t = QString::fromStdString(it->second).toDouble(&ok);
      if (ok && t >= 0.0 && t < 1.0) v.flow.threshold = t;  // else the default (a hand edit)
    }
  }

  SteeringSettings& st = v.steering;
  if (const auto src = x.find("steering.source"); src != x.end()) {
    st.source = src->second == "contrastive" ? SteerSource::Contrastive
                : src->second == "saved"     ? SteerSource::Saved
                                             : SteerSource::Concept;
    int enabled = 0;
    readNumber(x, "steering.enabled", enabled);
    st.enabled = enabled != 0;
    if (const auto it = x.find("steering.concept"); it != x.end()) st.conceptWord = it->second;
    if (const auto it = x.find("steering.baselines"); it != x.end())
      st.baselines = splitLines(it->second);
    if (const auto it = x.find("steering.positive"); it != x.end())
      st.positive = splitLines(it->second);
    if (const auto it = x.find("steering.negative"); it != x.end())
      st.negative = splitLines(it->second);
    readNumber(x, "steering.layer", st.layer);
    readNumber(x, "steering.alpha", st.alpha);
    readNumber(x, "steering.from", st.fromPos);
    if (st.source == SteerSource::Saved) {
      if (!s.interventions.steering.empty())
        st.savedVector = s.interventions.steering.front().vector;
      else
        st.source = SteerSource::Concept;  // nothing saved to steer with
    }
  } else if (!s.interventions.steering.empty()) {
    const rt::Steering& sv = s.interventions.steering.front();
    st.enabled = true;
    st.source = SteerSource::Saved;
    st.savedVector = sv.vector;
    st.layer = sv.layer;
    st.alpha = sv.alpha;
    st.fromPos = sv.fromPos;
  }
  return v;
}

}  // namespace ll::ui
