// What the experiment stages' caches answer and how they fill a snapshot, and the requests the
// local and the remote job both build from a snapshot (analysis_caches.h).
#include "ui/analysis_caches.h"

#include "ui/prompt_text.h"
#include "ui/steering_inputs.h"

#include <algorithm>
#include <stdexcept>

namespace ll::ui {

bool PatchingCache::answers(const Snapshot& s) const {
  return (result || !error.isEmpty()) && s.trace && trace == s.trace &&
         settings == s.state.patching;
}

void PatchingCache::fill(Snapshot& s) const {
  s.patching = result;
  s.patchingError = error;
  s.patchingTargetText = targetText;
  s.patchingOtherText = otherText;
}

bool ContrastCache::answers(const Snapshot& s) const {
  return (result || !error.isEmpty()) && task == s.state.contrast.task &&
         neutral == s.state.contrast.neutral;
}

void ContrastCache::fill(Snapshot& s) const {
  if (!result) {
    s.contrastError = error;
    return;
  }
  const rt::ana::ExpertContrastRequest& rq = s.state.contrast;
  if (result->request == rq) {
    s.contrast = result;
    return;
  }
  try {
    auto picked = std::make_shared<rt::ana::ExpertContrastResult>(*result);
    rt::ana::applyPicks(*picked, rq);
    s.contrast = std::move(picked);
  } catch (const std::exception& e) {
    s.contrastError = QString::fromUtf8(e.what());
  }
}

bool KnockoutCache::answers(const Snapshot& s) const {
  return (result || !error.isEmpty()) && trace == s.trace && request == s.state.knockoutReadout;
}

void KnockoutCache::fill(Snapshot& s, const std::function<QString(int32_t)>& label) const {
  if (!result) {
    s.knockoutEffectError = error;
    return;
  }
  s.knockoutEffect = result;
  s.knockoutAnswerText = label(result->effect.answer);
}

SteerSweepCache::SteerSweepCache(const Snapshot& s, rt::ana::SteeringSweepResult r,
                                 const std::function<QString(int32_t)>& label)
    : trace(s.trace),
      steering(steerSweepKey(s.state.steering)),
      layer(s.steerLayer),
      position(s.token),
      layerSweep(s.state.steerRead.layerSweep) {
  baseTop1 = label(r.top1Base);
  for (int32_t id : r.top1) top1 << label(id);
  for (int32_t id : r.layerTop1) layerTop1 << label(id);
  result = std::make_shared<const rt::ana::SteeringSweepResult>(std::move(r));
}

bool SteerSweepCache::answers(const Snapshot& s) const {
  return result && trace == s.trace && steering == steerSweepKey(s.state.steering) &&
         layer == s.steerLayer && position == s.token && layerSweep == s.state.steerRead.layerSweep;
}

void SteerSweepCache::fill(Snapshot& s) const {
  s.steerSweep = result;
  s.steerSweepBaseTop1 = baseTop1;
  s.steerSweepTop1 = top1;
  s.steerSweepLayerTop1 = layerTop1;
}

bool TeacherCache::answers(const Snapshot& s) const {
  return result && trace == s.trace && path == s.state.teacher.model;
}

bool FlowCache::answers(const Snapshot& s) const {
  return graph && trace == s.trace && threshold == s.state.flow.threshold;
}

rt::ana::SteeringSweepRequest steerSweepRequest(const Snapshot& s) {
  const SteeringSettings& st = s.state.steering;
  rt::ana::SteeringSweepRequest rq;
  rq.layer = s.steerLayer;
  rq.alpha = st.alpha;
  rq.fromPos = std::max(0, st.fromPos);
  rq.position = s.token;
  rq.layerSweep = s.state.steerRead.layerSweep;
  return rq;
}

rt::ana::PatchingRequest patchingRequest(
    const PatchingSettings& ps, const std::function<int32_t(const std::string&)>& resolve) {
  rt::ana::PatchingRequest rq;
  rq.component = ps.component;
  rq.metric = ps.metric;
  rq.direction = ps.direction;
  if (!ps.target.empty()) rq.target = resolve(ps.target);
  if (!ps.other.empty()) rq.other = resolve(ps.other);
  if (ps.noise) {
    rq.noiseBegin = ps.noiseBegin;
    rq.noiseEnd = ps.noiseEnd;
  }
  return rq;
}

std::vector<int32_t> corruptedIds(const Snapshot& s, const QString& chatFormat,
                                  const EncodeFn& encode) {
  const PatchingSettings& ps = s.state.patching;
  if (ps.noise) return {};
  if (ps.corrupt.empty())
    throw std::invalid_argument("type a corrupted prompt (or choose noise on a token span)");
  const bool templ = s.state.chatTemplate && !chatFormat.isEmpty();
  const TemplatedPrompt tp =
      templ ? applyChatTemplate(chatFormat, ps.corrupt) : TemplatedPrompt{ps.corrupt, 0};
  std::vector<int32_t> ids = encode(tp.text, templ);
  const size_t n = s.trace ? s.trace->ids.size() : 0;
  if (ids.size() != n)
    throw std::invalid_argument(
        "the corrupted prompt has " + std::to_string(ids.size()) + " tokens and the prompt " +
        std::to_string(n) +
        ": they must have the same number of tokens (edit a word for one of equal length)");
  return ids;
}

}  // namespace ll::ui
