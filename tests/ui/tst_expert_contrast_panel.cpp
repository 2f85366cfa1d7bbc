// The Expert contrast panel in the real main window (offscreen, not shown): nothing runs until
// Compute; then its heatmap holds exactly the Δ of rt::ana::expertContrast (own Session) with the
// Δ > τ experts marked, τ picks again without new passes, the one-click buttons put exactly the
// expected router edits into the Routing panel and the next run follows them (banned experts are
// never chosen, the over-forced warning shows); the request goes into sessions and back; a dense
// model says why nothing is shown.
#include "runtime/analysis/expert_contrast.h"
#include "runtime/analysis/routing_stats.h"
#include "runtime/api/session.h"
#include "ui/expert_contrast_panel.h"
#include "ui/export_actions.h"
#include "ui/main_window.h"
#include "ui/router_edit_list.h"
#include "ui/routing_panel.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "ui/session_state_map.h"

#include <qcustomplot.h>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "ui_wait.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <tuple>

using namespace ll;

namespace {

using uitest::modelPath;

const char* kTask = "Once upon a time there was a little girl.\nShe liked to play in the park.";
const char* kNeutral = "The sun was hot and the sky was blue.\n\nTom had a big red ball";

std::vector<rt::RouterEdit> sorted(std::vector<rt::RouterEdit> v) {
  const auto key = [](const rt::RouterEdit& r) {
    return std::tuple(r.layer, r.expert, int(r.kind), r.value);
  };
  std::sort(v.begin(), v.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
  return v;
}

}  // namespace

class TstExpertContrastPanel : public QObject {
  Q_OBJECT
  std::unique_ptr<ui::MainWindow> m_w;
  QString m_dense, m_moe;

  bool load(const QString& path, int* cellsAtLoad = nullptr) {
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    auto c = connect(m_w->controller(), &ui::SessionController::modelLoaded, this, [&] {
      if (cellsAtLoad) *cellsAtLoad = m_w->contrastPanel()->map()->data()->keySize();
    });
    m_w->openModel(path);
    const bool ok = loaded.wait(60000) && uitest::waitSettled(m_w.get());
    disconnect(c);
    return ok;
  }

  // The runtime function on its own Session with the request the shown snapshot ran.
  rt::ana::ExpertContrastResult runtime(const rt::ana::ExpertContrastRequest& rq) {
    rt::Session session;
    session.load(m_moe.toStdString(), {"cpu", 2});
    return rt::ana::expertContrast(session, rq);
  }

  void compareWithRuntime() {
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    QVERIFY(s);
    QVERIFY2(s->contrast, qPrintable(s->contrastError));
    const auto r = runtime(s->state.contrast);
    const auto& got = *s->contrast;
    QCOMPARE(got.nTask, 2);
    QCOMPARE(got.nNeutral, 2);
    auto* p = m_w->contrastPanel();
    QCOMPARE(p->map()->data()->keySize(), r.nExpert);
    QCOMPARE(p->map()->data()->valueSize(), r.nLayer);
    double maxAbs = 0;
    for (int l = 0; l < r.nLayer; ++l)
      for (int e = 0; e < r.nExpert; ++e) {
        QVERIFY(std::fabs(got.at(l, e) - r.at(l, e)) < 1e-6);
        QVERIFY(std::fabs(p->map()->data()->cell(e, l) - r.at(l, e)) < 1e-6);
        maxAbs = std::max(maxAbs, std::fabs(double(r.at(l, e))));
      }
    QVERIFY(maxAbs > 0.01);  // the sets route differently: a real comparison
    QVERIFY(got.picked == r.picked);
    QCOMPARE(p->plot()->graph(0)->data()->size(), int(r.picked.size()));
    QVERIFY(p->plot()->isVisibleTo(p));  // hidden until there is a result
    // Diverging and centred on 0.
    QCOMPARE(p->map()->dataRange().lower, -p->map()->dataRange().upper);
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_expert_contrast_panel"));
    QSettings().clear();
    m_dense = modelPath("stories260K.gguf");
    m_moe = modelPath("stories260K-moe4.gguf");
    if (m_dense.isEmpty() || m_moe.isEmpty())
      QSKIP("stories260K.gguf / stories260K-moe4.gguf not found: set LAYERLENS_SHARED_DIR");
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 2);
    m_w->setDebounceMs(0);
  }

  void panelMatchesRuntime() {
    m_w->setPrompt(QStringLiteral("Lily saw a big dog"));
    QVERIFY(load(m_moe));
    auto* p = m_w->contrastPanel();
    QVERIFY2(p->minimumSizeHint().width() <= 330 && p->minimumSizeHint().height() <= 460,
             qPrintable(QStringLiteral("%1x%2")
                            .arg(p->minimumSizeHint().width())
                            .arg(p->minimumSizeHint().height())));
    p->taskEdit()->setPlainText(QString::fromUtf8(kTask));
    p->neutralEdit()->setPlainText(QString::fromUtf8(kNeutral));
    QVERIFY(uitest::waitSettled(m_w.get()));
    QVERIFY(!m_w->shownSnapshot()->contrast);  // typing runs nothing
    QVERIFY(!p->switchOffButton()->isEnabled());
    p->tauBox()->setValue(0.05);
    QVERIFY(p->computeButton()->isEnabled());
    p->computeButton()->click();
    QVERIFY(uitest::waitSettled(m_w.get()));
    compareWithRuntime();
    // Compute is off while the typed sets are the ones shown, on again after an edit.
    QVERIFY(!p->computeButton()->isEnabled());
    p->neutralEdit()->appendPlainText(QStringLiteral("A cat sat"));
    QVERIFY(p->computeButton()->isEnabled());
    p->neutralEdit()->setPlainText(QString::fromUtf8(kNeutral));
    QVERIFY(!p->computeButton()->isEnabled());
    QVERIFY(!m_w->shownSnapshot()->contrast->picked.empty());
    QVERIFY(p->switchOffButton()->isEnabled());

    // τ and the layers only pick again: the result is already in the panels' snapshot.
    QStringList order;
    auto c1 = connect(
        m_w->controller(), &ui::SessionController::snapshotReady, this,
        [&](const ui::SnapshotPtr& x) { order << (x->contrast ? "panels+contrast" : "panels"); });
    p->tauBox()->setValue(0.0);
    p->layersBox()->setCurrentIndex(1);
    QVERIFY(uitest::waitSettled(m_w.get()));
    disconnect(c1);
    QVERIFY(!order.isEmpty() && !order.contains(QStringLiteral("panels")));
    QCOMPARE(m_w->shownSnapshot()->state.contrast.layers, rt::ana::ContrastLayers::Middle);
    compareWithRuntime();
    p->layersBox()->setCurrentIndex(0);
    QVERIFY(uitest::waitSettled(m_w.get()));
  }

  void oneClickEditsGoToTheRoutingPanel() {
    auto* p = m_w->contrastPanel();
    auto* routing = m_w->routingPanel();
    routing->resetAllEdits();
    QVERIFY(uitest::waitSettled(m_w.get()));
    const auto picked = m_w->shownSnapshot()->contrast->picked;
    QVERIFY(!picked.empty());

    p->switchOffButton()->click();
    const auto off = sorted(rt::ana::switchOff(picked));
    QVERIFY(sorted(routing->routerEdits()) == off);
    QCOMPARE(routing->editList()->rowCount(), int(off.size()));
    QVERIFY(uitest::waitSettled(m_w.get()));
    const auto s = m_w->shownSnapshot();
    QVERIFY(sorted(s->state.routerEdits) == off);
    QVERIFY(sorted(s->trace->request.interventions.router) == off);
    // A switched-off expert gets no probability and no weight (it fills a top-k slot with weight 0
    // only where fewer than k experts are left).
    const int k = s->trace->nExpertUsed, E = s->trace->nExpert, T = s->trace->nTokens;
    int zeroed = 0;
    for (auto [l, e] : picked) {
      const rt::LayerTrace& lt = s->trace->layers[size_t(l)];
      for (int t = 0; t < T; ++t) {
        QCOMPARE(lt.routerProbs[size_t(t) * E + e], 0.0f);
        for (int j = 0; j < k; ++j)
          if (lt.experts[size_t(t) * k + j] == e)
            QCOMPARE(lt.expertWeights[size_t(t) * k + j], 0.0f);
      }
      ++zeroed;
    }
    QCOMPARE(zeroed, int(picked.size()));
    // The heatmap is the sets' own routing: the edits do not change it.
    compareWithRuntime();

    // Hard force replaces the bans on the same experts; with τ = -1 every expert is picked, more
    // than k per layer, and the panel warns.
    routing->resetAllEdits();
    p->tauBox()->setValue(-1.0);
    QVERIFY(uitest::waitSettled(m_w.get()));
    const auto all = m_w->shownSnapshot()->contrast->picked;
    QVERIFY(!rt::ana::overForcedLayers(rt::ana::hardForce(all), k).empty());
    QVERIFY2(p->warning().contains(QStringLiteral("derails")), qPrintable(p->warning()));
    p->switchOffButton()->click();
    p->hardForceButton()->click();
    QVERIFY(sorted(routing->routerEdits()) == sorted(rt::ana::hardForce(all)));
    QVERIFY(uitest::waitSettled(m_w.get()));
    QVERIFY(sorted(m_w->shownSnapshot()->trace->request.interventions.router) ==
            sorted(rt::ana::hardForce(all)));

    // Soft promotion: λ·std(z), middle layers only by default.
    routing->resetAllEdits();
    p->tauBox()->setValue(0.0);
    p->lambdaBox()->setValue(0.8);
    QVERIFY(uitest::waitSettled(m_w.get()));
    const auto now = m_w->shownSnapshot()->contrast;
    const auto mid = rt::ana::middleLayers(now->nLayer);
    std::vector<std::pair<int, int>> inMid;
    for (auto le : now->picked)
      if (std::count(mid.begin(), mid.end(), le.first)) inMid.push_back(le);
    QVERIFY(!inMid.empty());
    p->promoteButton()->click();
    QVERIFY(sorted(routing->routerEdits()) == sorted(rt::ana::softPromotion(inMid, 0.8f)));
    QVERIFY(uitest::waitSettled(m_w.get()));
    QVERIFY(sorted(m_w->shownSnapshot()->trace->request.interventions.router) ==
            sorted(rt::ana::softPromotion(inMid, 0.8f)));
    // Another selected layer does not move the per-layer edits.
    m_w->selection()->setLayer(0);
    QVERIFY(uitest::waitSettled(m_w.get()));
    QVERIFY(sorted(routing->routerEdits()) == sorted(rt::ana::softPromotion(inMid, 0.8f)));
    routing->resetAllEdits();
    QVERIFY(uitest::waitSettled(m_w.get()));
  }

  void sessionKeepsTheRequest() {
    const rt::SessionState doc = m_w->sessionDocument();
    QCOMPARE(doc.view.extra.at("contrast.layers"), std::string("all"));
    const ui::ViewState v = ui::viewStateFromSession(doc);
    QCOMPARE(v.contrast, m_w->requestedState().contrast);
    QCOMPARE(v.contrast.task.size(), size_t(2));
    QCOMPARE(v.contrast.neutral.size(), size_t(2));  // the blank line is not a prompt

    QTemporaryDir dir;
    const QString file = dir.filePath(QStringLiteral("contrast.llsession"));
    QString err;
    QVERIFY2(ui::saveSessionFile(m_w.get(), file, &err), qPrintable(err));
    auto* p = m_w->contrastPanel();
    p->applyState({});
    QCOMPARE(p->taskEdit()->toPlainText(), QString());
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    QVERIFY2(ui::openSessionFile(m_w.get(), file, &err), qPrintable(err));
    QVERIFY(loaded.wait(60000) && uitest::waitSettled(m_w.get()));
    QCOMPARE(m_w->shownSnapshot()->state.contrast, v.contrast);
    QVERIFY(std::fabs(p->lambdaBox()->value() - 0.8) < 1e-9);
    compareWithRuntime();
  }

  void denseModelSaysWhy() {
    int cellsAtLoad = -1;
    QVERIFY(load(m_dense, &cellsAtLoad));
    QCOMPARE(cellsAtLoad, 0);  // cleared at once on the model change
    QVERIFY(!m_w->contrastPanel()->plot()->isVisibleTo(m_w->contrastPanel()));
    auto* p = m_w->contrastPanel();
    QVERIFY(!m_w->shownSnapshot()->contrast);
    QVERIFY(m_w->shownSnapshot()->contrastError.isEmpty());  // nothing was run
    QVERIFY2(p->status().contains(QStringLiteral("no experts")), qPrintable(p->status()));
    QVERIFY(!p->computeButton()->isEnabled());
    QVERIFY(!p->switchOffButton()->isEnabled());
  }

  void cleanupTestCase() { m_w.reset(); }
};

QTEST_MAIN(TstExpertContrastPanel)
#include "tst_expert_contrast_panel.moc"
