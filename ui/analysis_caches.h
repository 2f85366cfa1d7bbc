// The per-trace caches of the experiment stages that the local AnalysisJob and the remote job
// (RemoteAnalysisJob) both keep: a click that only changes the view re-reads them instead of
// running the analysis again. Each says which snapshots it answers and fills them, and the requests
// both jobs run are built here once, so the two jobs differ only in where the analysis runs.
#pragma once

#include "runtime/analysis/expert_contrast.h"
#include "runtime/analysis/flow_routes.h"
#include "runtime/analysis/knockout.h"
#include "runtime/analysis/lens.h"
#include "runtime/analysis/patching.h"
#include "runtime/analysis/steering_sweep.h"
#include "runtime/api/trace.h"
#include "ui/view_state.h"

#include <QString>
#include <QStringList>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ll::ui {

// Activation patching: per trace and panel settings.
struct PatchingCache {
  std::shared_ptr<const rt::Trace> trace;
  PatchingSettings settings;
  std::shared_ptr<const rt::ana::PatchingResult> result;
  QString error, targetText, otherText;

  bool answers(const Snapshot& s) const;  // a result or an error for s's trace and settings
  void fill(Snapshot& s) const;
};

// The expert contrast: per prompt sets (tau and the layers pick again from the result).
struct ContrastCache {
  std::vector<std::string> task, neutral;
  std::shared_ptr<const rt::ana::ExpertContrastResult> result;
  QString error;  // the sets cannot be run (kept, so a keystroke does not retry them)

  bool answers(const Snapshot& s) const;
  // The result with s's tau and layers picked again (no pass), or the error.
  void fill(Snapshot& s) const;
};

// The knockout effect: per trace and readout request.
struct KnockoutCache {
  std::shared_ptr<const rt::Trace> trace;
  rt::ana::KnockoutReadoutRequest request;
  std::shared_ptr<const rt::ana::KnockoutReadout> result;
  QString error;

  bool answers(const Snapshot& s) const;
  void fill(Snapshot& s, const std::function<QString(int32_t)>& label) const;
};

// The steering readouts: per trace, vector inputs, layer, token and sweep kind.
struct SteerSweepCache {
  std::shared_ptr<const rt::Trace> trace;
  SteeringSettings steering;  // enabled and genTokens cleared: they do not shape the sweeps
  int layer = -1, position = -1;
  bool layerSweep = true;
  std::shared_ptr<const rt::ana::SteeringSweepResult> result;
  QString baseTop1;
  QStringList top1, layerTop1;

  // A result for s (its labels read through `label`).
  SteerSweepCache() = default;
  SteerSweepCache(const Snapshot& s, rt::ana::SteeringSweepResult r,
                  const std::function<QString(int32_t)>& label);
  bool answers(const Snapshot& s) const;
  void fill(Snapshot& s) const;
};

// Flow routes: per trace and threshold (the panel walks the routes to a token itself).
struct FlowCache {
  std::shared_ptr<const rt::Trace> trace;
  double threshold = 0;
  std::shared_ptr<const rt::ana::FlowGraph> graph;

  bool answers(const Snapshot& s) const;
};

// The requests both jobs run for a snapshot.
// The sweep at the selected token and the Steering panel's layer, alpha and start.
rt::ana::SteeringSweepRequest steerSweepRequest(const Snapshot& s);
// Patching's component, metric, direction and noise span; target and other typed as ids or pieces
// are read by `resolve` (the job's vocabulary).
rt::ana::PatchingRequest patchingRequest(const PatchingSettings& ps,
                                         const std::function<int32_t(const std::string&)>& resolve);
// The corrupted prompt's ids, tokenized as the prompt is (in the model's chat template when the
// prompt is; `encode(text, parseSpecial)` is the job's tokenizer), checked to line up with the
// prompt's; none when patching runs on noise.
using EncodeFn = std::function<std::vector<int32_t>(const std::string& text, bool parseSpecial)>;
std::vector<int32_t> corruptedIds(const Snapshot& s, const QString& chatFormat,
                                  const EncodeFn& encode);

// The teacher comparison: per trace and teacher path.
struct TeacherCache {
  std::shared_ptr<const rt::Trace> trace;
  std::string path;
  std::shared_ptr<const rt::ana::TeacherComparison> result;

  bool answers(const Snapshot& s) const;
};

}  // namespace ll::ui
