// The per-trace caches of the experiment stages that the local AnalysisJob and the remote job
// (RemoteAnalysisJob) both keep: a click that only changes the view re-reads them instead of
// running the analysis again.
#pragma once

#include "runtime/analysis/expert_contrast.h"
#include "runtime/analysis/knockout.h"
#include "runtime/analysis/lens.h"
#include "runtime/analysis/patching.h"
#include "runtime/analysis/steering_sweep.h"
#include "runtime/api/trace.h"
#include "ui/view_state.h"

#include <QString>
#include <QStringList>

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
};

// The expert contrast: per prompt sets (tau and the layers pick again from the result).
struct ContrastCache {
  std::vector<std::string> task, neutral;
  std::shared_ptr<const rt::ana::ExpertContrastResult> result;
  QString error;  // the sets cannot be run (kept, so a keystroke does not retry them)
};

// The knockout effect: per trace and readout request.
struct KnockoutCache {
  std::shared_ptr<const rt::Trace> trace;
  rt::ana::KnockoutReadoutRequest request;
  std::shared_ptr<const rt::ana::KnockoutReadout> result;
  QString error;
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
};

// The teacher comparison: per trace and teacher path.
struct TeacherCache {
  std::shared_ptr<const rt::Trace> trace;
  std::string path;
  std::shared_ptr<const rt::ana::TeacherComparison> result;
};

}  // namespace ll::ui
