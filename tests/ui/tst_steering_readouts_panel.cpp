// The Steering readouts panel in the real main window (offscreen, not shown, so every panel takes
// every snapshot): off until Compute is ticked; then its curves (KL and entropy per alpha, per
// steered layer, alpha |v| / mean |h_l|), the current-alpha and steered-layer markers hold exactly
// what rt::ana::steeringSweep gives on the snapshot's trace with the Steering panel's vector
// (rebuilt here from the panel's concept words, or the session's own vector); they follow alpha,
// the selected token and the start; the passes stream last; the settings go into the session
// document and back; a new model clears the panel at once.
#include "runtime/analysis/run_helpers.h"
#include "runtime/analysis/steering.h"
#include "runtime/analysis/steering_sweep.h"
#include "runtime/api/session.h"
#include "ui/main_window.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "ui/session_state_map.h"
#include "ui/steering_panel.h"
#include "ui/steering_readouts_panel.h"

#include <qcustomplot.h>
#include <QCheckBox>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QStandardPaths>
#include <QTest>

#include "ui_wait.h"

#include <cmath>
#include <memory>

using namespace ll;
using Panel = ui::SteeringReadoutsPanel;

namespace {

using uitest::modelPath;

// The worker's passes reuse the rows before the steering start from its previous passes (a
// batch of another size may sum in another order), this side runs fresh: last-bit differences.
bool near(double a, double b) {
  return std::fabs(a - b) <= 1e-7 + 1e-4 * std::fabs(b);
}

// The Steering panel's vector as the worker builds it: concept word minus baseline words at the
// layer, "Tell me about {word}" (or the session's own vector).
std::vector<float> panelVector(rt::Session& s, const ui::SteeringSettings& st, int layer) {
  if (st.source == ui::SteerSource::Saved) return st.savedVector;
  const std::string tmpl = "Tell me about {word}";
  rt::ana::ConceptInput in;
  in.word = rt::ana::tokenize(s, rt::ana::fillTemplate(tmpl, st.conceptWord));
  for (const auto& b : st.baselines)
    in.baselines.push_back(rt::ana::tokenize(s, rt::ana::fillTemplate(tmpl, b)));
  return rt::ana::conceptVector(s, layer, in);
}

}  // namespace

class TstSteeringReadoutsPanel : public QObject {
  Q_OBJECT
  std::unique_ptr<ui::MainWindow> m_w;
  QString m_dense, m_moe;

  bool load(const QString& path, int* pointsAtLoad = nullptr) {
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    // Connected after the window's own handler: runs right after it cleared the panels.
    auto c = connect(m_w->controller(), &ui::SessionController::modelLoaded, this, [&] {
      if (pointsAtLoad)
        *pointsAtLoad = m_w->steeringReadoutsPanel()->alphaPlot()->graph(0)->data()->size() +
                        m_w->steeringReadoutsPanel()->layerPlot()->graph(2)->data()->size();
    });
    m_w->openModel(path);
    const bool ok = loaded.wait(60000) && uitest::waitSettled(m_w.get());
    disconnect(c);
    return ok;
  }

  // The panel against the runtime function on the shown snapshot's trace (own Session). Returns
  // the runtime's result for further checks.
  rt::ana::SteeringSweepResult compareWithRuntime(const QString& model) {
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    [&] {
      QVERIFY(s && s->trace);
      QVERIFY2(s->steerSweep, qPrintable(s->steerSweepError));
    }();
    if (!s || !s->steerSweep) return {};
    rt::Session session;
    session.load(model.toStdString(), {"cpu", 2});
    const ui::SteeringSettings& st = s->state.steering;
    rt::ana::SteeringSweepRequest rq;
    rq.layer = s->steerLayer;
    rq.alpha = st.alpha;
    rq.fromPos = st.fromPos;
    rq.position = s->token;
    rq.layerSweep = s->state.steerRead.layerSweep;
    const auto r =
        rt::ana::steeringSweep(session, *s->trace, panelVector(session, st, s->steerLayer), rq);
    auto* p = m_w->steeringReadoutsPanel();
    const QCustomPlot* ap = p->alphaPlot();
    int i = 0;
    for (size_t k = 0; k < r.alphas.size(); ++k) {
      if (r.alphas[k] == 0.0f) continue;
      const auto kl = ap->graph(Panel::kAlphaKl)->data()->at(i);
      const auto h = ap->graph(Panel::kAlphaEntropy)->data()->at(i);
      [&] {
        QVERIFY(near(kl->key, std::fabs(r.alphas[k])));
        QVERIFY2(near(kl->value, r.kl[k]),
                 qPrintable(QString("%1 vs %2").arg(kl->value).arg(r.kl[k])));
        QVERIFY(near(h->value, r.entropy[k]));
      }();
      ++i;
    }
    [&] {
      QCOMPARE(ap->graph(Panel::kAlphaKl)->data()->size(), i);
      QVERIFY(near(p->alphaMarker(), std::fabs(st.alpha)));
      QCOMPARE(p->layerMarker(), double(s->steerLayer));
      const QCustomPlot* lp = p->layerPlot();
      const int L = s->trace->nLayer;
      QCOMPARE(lp->graph(Panel::kLayerPush)->data()->size(), L);
      QCOMPARE(lp->graph(Panel::kLayerKl)->data()->size(), rq.layerSweep ? L : 0);
      for (int l = 0; l < L; ++l) {
        QVERIFY(near(lp->graph(Panel::kLayerPush)->data()->at(l)->value, r.pushRatio[l]));
        if (!rq.layerSweep) continue;
        QVERIFY(near(lp->graph(Panel::kLayerKl)->data()->at(l)->value, r.layerKl[l]));
        QVERIFY(near(lp->graph(Panel::kLayerEntropy)->data()->at(l)->value, r.layerEntropy[l]));
      }
      if (rq.layerSweep && st.alpha != 0.0f) {  // the current alpha's own point
        QCOMPARE(ap->graph(Panel::kAlphaCurrent)->data()->size(), 1);
        QVERIFY(near(ap->graph(Panel::kAlphaCurrent)->data()->at(0)->value,
                     r.layerKl[size_t(s->steerLayer)]));
      }
    }();
    return r;
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_steering_readouts_panel"));
    QSettings().clear();
    m_dense = modelPath("stories260K.gguf");
    m_moe = modelPath("stories260K-moe4.gguf");
    if (m_dense.isEmpty() || m_moe.isEmpty())
      QSKIP("stories260K.gguf / stories260K-moe4.gguf not found: set LAYERLENS_SHARED_DIR");
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 2);
    m_w->setDebounceMs(0);
  }

  void panelMatchesRuntime() {
    m_w->setPrompt(QStringLiteral("Once upon a time there was a little"));
    QVERIFY(load(m_dense));
    auto* p = m_w->steeringReadoutsPanel();
    QVERIFY(!m_w->shownSnapshot()->steerSweep);  // off by default: no extra passes
    QCOMPARE(p->alphaPlot()->graph(0)->data()->size(), 0);
    // Fits a narrow, short dock (a 1024x700 screen).
    QVERIFY2(p->minimumSizeHint().width() <= 330 && p->minimumSizeHint().height() <= 420,
             qPrintable(QStringLiteral("%1x%2")
                            .arg(p->minimumSizeHint().width())
                            .arg(p->minimumSizeHint().height())));
    p->enabledBox()->setChecked(true);
    QVERIFY(uitest::waitSettled(m_w.get()));
    const auto r = compareWithRuntime(m_dense);
    QCOMPARE(m_w->shownSnapshot()->steerSweep->position, m_w->shownSnapshot()->nTokens - 1);
    double most = 0;
    for (double v : r.kl) most = std::max(most, v);
    QVERIFY2(most > 1e-3, qPrintable(QString::number(most)));  // not zeros against zeros
    QVERIFY(p->top1Text().startsWith(QStringLiteral("top-1 by alpha: 0")));
    QVERIFY(p->layerNote().contains(QStringLiteral("may mean nothing")));

    // The passes stream last: the panels' snapshot of a new alpha does not wait for them; the
    // marker and the curves follow the slider.
    QStringList order;
    auto c1 = connect(
        m_w->controller(), &ui::SessionController::snapshotReady, this,
        [&](const ui::SnapshotPtr& x) { order << (x->steerSweep ? "panels+sweep" : "panels"); });
    auto c2 = connect(m_w->controller(), &ui::SessionController::snapshotStreamed, this,
                      [&](const ui::SnapshotPtr& x) {
                        order << ui::outputName(x->streamed) + (x->complete ? " (complete)" : "");
                      });
    m_w->steeringPanel()->alphaSlider()->setValue(-25);  // alpha -2.5: the negative side
    QVERIFY(uitest::waitSettled(m_w.get()));
    QCOMPARE(order.first(), QStringLiteral("panels"));
    QCOMPARE(order.last(), QStringLiteral("steering readouts (complete)"));
    QCOMPARE(m_w->shownSnapshot()->state.steering.alpha, -2.5f);
    QVERIFY(m_w->shownSnapshot()->steerSweep->alphas.back() < 0);
    compareWithRuntime(m_dense);
    // Another token: new passes, up to that token only.
    order.clear();
    m_w->selection()->setToken(4);
    QVERIFY(uitest::waitSettled(m_w.get()));
    QCOMPARE(order.last(), QStringLiteral("steering readouts (complete)"));
    disconnect(c1);
    disconnect(c2);
    QCOMPARE(m_w->shownSnapshot()->steerSweep->position, 4);
    compareWithRuntime(m_dense);

    // A start after the selected token: nothing changes there, and the panel says so.
    ui::SteeringSettings st = m_w->steeringPanel()->state();
    st.fromPos = 6;
    m_w->steeringPanel()->applyState(st);
    emit m_w->steeringPanel()->settingsChanged();
    QVERIFY(uitest::waitSettled(m_w.get()));
    QVERIFY(!m_w->shownSnapshot()->steerSweep->reaches);
    QVERIFY2(p->status().contains(QStringLiteral("before the steering start")),
             qPrintable(p->status()));
    for (double v : compareWithRuntime(m_dense).kl) QVERIFY(v < 1e-12);

    // The session's own vector, without the layer sweep, at the last token.
    st.fromPos = 2;
    st.source = ui::SteerSource::Saved;
    st.savedVector.assign(size_t(m_w->shownSnapshot()->trace->nEmbd), 0.0f);
    for (size_t i = 0; i < st.savedVector.size(); ++i) st.savedVector[i] = std::cos(0.4f * i);
    m_w->steeringPanel()->applyState(st);
    p->layerSweepBox()->setChecked(false);
    m_w->selection()->setToken(-1);
    QVERIFY(uitest::waitSettled(m_w.get()));
    QVERIFY(!m_w->shownSnapshot()->state.steerRead.layerSweep);
    QVERIFY(m_w->shownSnapshot()->steerSweep->layerKl.empty());
    compareWithRuntime(m_dense);
    QVERIFY(p->layerNote().contains(QStringLiteral("Layer sweep off")));
  }

  void sessionKeepsSettings() {
    const rt::SessionState doc = m_w->sessionDocument();
    QCOMPARE(doc.view.extra.at("steerread.enabled"), std::string("1"));
    QCOMPARE(doc.view.extra.at("steerread.layer_sweep"), std::string("0"));
    const ui::ViewState v = ui::viewStateFromSession(doc);
    QVERIFY(v.steerRead.enabled && !v.steerRead.layerSweep);
    auto* p = m_w->steeringReadoutsPanel();
    p->applyState({false, true});
    QVERIFY(!p->enabledBox()->isChecked() && p->layerSweepBox()->isChecked());
    ui::ViewState st;
    p->applyTo(st);
    QCOMPARE(st.steerRead, (ui::SteeringReadoutSettings{false, true}));
    p->applyState(v.steerRead);
    QVERIFY(p->enabledBox()->isChecked() && !p->layerSweepBox()->isChecked());
    // An older session file without the keys: off, layer sweep on (the defaults).
    rt::SessionState old = doc;
    old.view.extra.erase("steerread.enabled");
    old.view.extra.erase("steerread.layer_sweep");
    QCOMPARE(ui::viewStateFromSession(old).steerRead, ui::SteeringReadoutSettings{});
  }

  void newModelClears() {
    m_w->steeringReadoutsPanel()->layerSweepBox()->setChecked(true);
    QVERIFY(uitest::waitSettled(m_w.get()));
    int pointsAtLoad = -1;
    QVERIFY(load(m_moe, &pointsAtLoad));
    QCOMPARE(pointsAtLoad, 0);
    compareWithRuntime(m_moe);
  }

  void cleanupTestCase() { m_w.reset(); }
};

QTEST_MAIN(TstSteeringReadoutsPanel)
#include "tst_steering_readouts_panel.moc"
