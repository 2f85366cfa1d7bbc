// The panels' outputs compared bit for bit, local against remote (tst_gui_remote_experiments.cpp):
// every field the panels and their exports read, NaN included.
#pragma once

#include "gui_remote_support.h"

#include <QTest>

#include <cstring>

namespace {

using guiremote::sameBits;  // gui_remote_support.h's
using guiremote::sameValue;

inline void comparePatching(const ll::ui::Snapshot& l, const ll::ui::Snapshot& r) {
  QCOMPARE(r.patchingError, l.patchingError);
  QCOMPARE(r.patchingTargetText, l.patchingTargetText);
  QCOMPARE(r.patchingOtherText, l.patchingOtherText);
  QCOMPARE(bool(r.patching), bool(l.patching));
  if (!l.patching) return;
  const ll::rt::ana::PatchingResult &a = *l.patching, &b = *r.patching;
  QCOMPARE(b.nLayer, a.nLayer);
  QCOMPARE(b.nTokens, a.nTokens);
  QCOMPARE(b.nHead, a.nHead);
  QVERIFY(b.request == a.request);
  QVERIFY(b.clean == a.clean);
  QVERIFY(b.corrupted == a.corrupted);
  QCOMPARE(b.firstDiff, a.firstDiff);
  QVERIFY2(sameValue(b.metricClean, a.metricClean), "metric_clean");
  QVERIFY2(sameValue(b.metricCorrupt, a.metricCorrupt), "metric_corrupt");
  QVERIFY2(sameBits(b.effect, a.effect), "effect");
  QVERIFY2(sameBits(b.metric, a.metric), "metric");
  QVERIFY2(sameBits(b.headEffect, a.headEffect), "head effect");
  QVERIFY2(sameBits(b.headMetric, a.headMetric), "head metric");
  QCOMPARE(b.passes, a.passes);
}

inline void compareKnockout(const ll::ui::Snapshot& l, const ll::ui::Snapshot& r) {
  QCOMPARE(r.knockoutEffectError, l.knockoutEffectError);
  QCOMPARE(r.knockoutAnswerText, l.knockoutAnswerText);
  QCOMPARE(bool(r.knockoutEffect), bool(l.knockoutEffect));
  if (!l.knockoutEffect) return;
  const ll::rt::ana::KnockoutReadout &a = *l.knockoutEffect, &b = *r.knockoutEffect;
  QCOMPARE(b.effect.layerBegin, a.effect.layerBegin);
  QCOMPARE(b.effect.layerEnd, a.effect.layerEnd);
  QCOMPARE(b.effect.answer, a.effect.answer);
  QVERIFY2(sameValue(b.effect.pBase, a.effect.pBase), "p_base");
  QVERIFY2(sameValue(b.effect.pNew, a.effect.pNew), "p_new");
  QVERIFY2(sameValue(b.effect.relativeChange, a.effect.relativeChange), "relative change");
  QCOMPARE(b.window, a.window);
  QVERIFY2(sameBits(b.sweep, a.sweep), "sweep");
  QVERIFY2(sameBits(b.sweepPNew, a.sweepPNew), "sweep p_new");
  QVERIFY(b.sweepLayers == a.sweepLayers);
}

inline bool sameOverlap(const std::vector<std::pair<QString, double>>& a,
                        const std::vector<std::pair<QString, double>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || !sameValue(a[i].second, b[i].second)) return false;
  return true;
}

// The Token selection panel and the answers beside it.
inline void compareSelection(const ll::ui::Snapshot& l, const ll::ui::Snapshot& r) {
  QCOMPARE(r.selectionError, l.selectionError);
  QCOMPARE(r.kept, l.kept);
  QVERIFY2(sameBits(r.scores, l.scores), "selection scores");
  QVERIFY2(sameOverlap(r.overlap, l.overlap), "selection overlap");
  QCOMPARE(r.selectionK, l.selectionK);
  QVERIFY(r.selectionParams == l.selectionParams);
  QCOMPARE(r.selectionReason, l.selectionReason);
  QCOMPARE(r.selectionWarnings, l.selectionWarnings);
  QVERIFY(r.keptPerStage == l.keptPerStage);
  QVERIFY(r.stageLayers == l.stageLayers);
  QVERIFY(r.hasAnswers && l.hasAnswers);
  QCOMPARE(r.answerFull, l.answerFull);
  QCOMPARE(r.answerKept, l.answerKept);
}

// The Steering panel: the vector's push ratio and the two continuations.
inline void compareSteering(const ll::ui::Snapshot& l, const ll::ui::Snapshot& r) {
  QCOMPARE(r.steeringError, l.steeringError);
  QCOMPARE(r.hasSteering, l.hasSteering);
  QCOMPARE(r.steerLayer, l.steerLayer);
  QVERIFY2(sameValue(r.pushRatio, l.pushRatio), "push ratio");
  QCOMPARE(r.steered, l.steered);
  QCOMPARE(r.unsteered, l.unsteered);
}

// The Steering readouts panel: the alpha and layer sweeps and their top-1 labels (every field of
// the result but reusedRows, which no panel or export reads and the document does not carry).
inline void compareSteerSweep(const ll::ui::Snapshot& l, const ll::ui::Snapshot& r) {
  QCOMPARE(r.steerSweepError, l.steerSweepError);
  QCOMPARE(bool(r.steerSweep), bool(l.steerSweep));
  QCOMPARE(r.steerSweepBaseTop1, l.steerSweepBaseTop1);
  QCOMPARE(r.steerSweepTop1, l.steerSweepTop1);
  QCOMPARE(r.steerSweepLayerTop1, l.steerSweepLayerTop1);
  if (!l.steerSweep) return;
  const ll::rt::ana::SteeringSweepResult &a = *l.steerSweep, &b = *r.steerSweep;
  QCOMPARE(b.nLayer, a.nLayer);
  QCOMPARE(b.nTokens, a.nTokens);
  QCOMPARE(b.position, a.position);
  QCOMPARE(b.layer, a.layer);
  QCOMPARE(b.fromPos, a.fromPos);
  QVERIFY2(sameValue(b.alpha, a.alpha), "alpha");
  QCOMPARE(b.reaches, a.reaches);
  QCOMPARE(b.top1Base, a.top1Base);
  QVERIFY2(sameValue(b.entropyBase, a.entropyBase), "entropy_base");
  QVERIFY2(sameBits(b.alphas, a.alphas), "alphas");
  QVERIFY2(sameBits(b.kl, a.kl), "kl");
  QVERIFY2(sameBits(b.entropy, a.entropy), "entropy");
  QVERIFY(b.top1 == a.top1);
  QVERIFY2(sameBits(b.layerKl, a.layerKl), "layer_kl");
  QVERIFY2(sameBits(b.layerEntropy, a.layerEntropy), "layer_entropy");
  QVERIFY(b.layerTop1 == a.layerTop1);
  QVERIFY2(sameBits(b.pushRatio, a.pushRatio), "push_ratio");
}

inline void compareContrast(const ll::ui::Snapshot& l, const ll::ui::Snapshot& r) {
  QCOMPARE(r.contrastError, l.contrastError);
  QCOMPARE(bool(r.contrast), bool(l.contrast));
  if (!l.contrast) return;
  const ll::rt::ana::ExpertContrastResult &a = *l.contrast, &b = *r.contrast;
  QCOMPARE(b.nLayer, a.nLayer);
  QCOMPARE(b.nExpert, a.nExpert);
  QCOMPARE(b.nExpertUsed, a.nExpertUsed);
  QVERIFY(b.request == a.request);
  QCOMPARE(b.nTask, a.nTask);
  QCOMPARE(b.nNeutral, a.nNeutral);
  QVERIFY(b.pickLayers == a.pickLayers);
  QVERIFY2(sameBits(b.taskFreq, a.taskFreq), "task frequencies");
  QVERIFY2(sameBits(b.neutralFreq, a.neutralFreq), "neutral frequencies");
  QVERIFY2(sameBits(b.delta, a.delta), "delta");
  QVERIFY(b.picked == a.picked);
}

}  // namespace
