// The experiment figures' labels from a snapshot (see analysis_labels.h).
#include "ui/analysis_labels.h"

namespace ll::ui {

vis::AnalysisLabels analysisLabels(const Snapshot& s, const QString& view) {
  vis::AnalysisLabels l;
  l.tokens = s.tokens;
  const bool patching = view == "patching";
  l.target = patching ? s.patchingTargetText : s.attributionTargetText;
  l.other = patching ? s.patchingOtherText : s.attributionOtherText;
  l.wordA = QString::fromStdString(s.state.latent.wordA);
  l.wordB = QString::fromStdString(s.state.latent.wordB);
  l.answer = s.knockoutAnswerText;
  l.teacher = s.teacherName;
  l.top1 = s.steerSweepTop1;
  l.layerTop1 = s.steerSweepLayerTop1;
  return l;
}

}  // namespace ll::ui
