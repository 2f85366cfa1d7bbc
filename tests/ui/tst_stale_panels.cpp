// No panel keeps data that no longer belongs to what the window shows (the real main window,
// offscreen, not shown so that every panel takes every snapshot, no Vulkan): a MoE model's routing,
// attention and plots are cleared the moment a dense model replaces it and stay empty where the
// dense model has nothing to show; an empty prompt clears what it leaves undefined; a session whose
// model fails to load leaves nothing pending for the next model; the demo guide leaves once a real
// model or a session is opened.
#include "runtime/api/session_file.h"
#include "ui/attention_panel.h"
#include "ui/demo_menu.h"
#include "ui/entropy_panel.h"
#include "ui/export_actions.h"
#include "ui/heatmap_view.h"
#include "ui/main_window.h"
#include "ui/model_panel.h"
#include "ui/plot_panel.h"
#include "ui/routing_panel.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "visualizers/qt/attention_map_view.h"
#include "visualizers/qt/head_grid_view.h"
#include "visualizers/qt/routing_view.h"

#include <qcustomplot.h>
#include <QCheckBox>
#include <QDockWidget>
#include <QFile>
#include <QMenu>
#include <QMenuBar>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <QTextBrowser>
#include "ui_wait.h"

#include <memory>

using namespace ll;

namespace {

using uitest::modelPath;

int barCount(QCustomPlot* p) {
  for (int i = 0; i < p->plottableCount(); ++i)
    if (auto* b = qobject_cast<QCPBars*>(p->plottable(i))) return b->data()->size();
  return 0;
}

int graphCount(QCustomPlot* p) {
  return p->graphCount() ? p->graph(0)->data()->size() : 0;
}

// What the routing panel still draws ("" when it draws nothing).
QString routingLeft(ui::RoutingPanel* r) {
  QStringList left;
  if (barCount(r->loadPlot())) left << "load bars";
  if (barCount(r->view()->strip())) left << "router-score strip";
  if (r->view()->shownMatrix().rows) left << "heatmap";
  if (!r->view()->rowLabels().isEmpty()) left << "token labels";
  if (!r->effectText().isEmpty()) left << "next-token effect";
  return left.join(", ");
}

// What the attention panel still draws.
QString attentionLeft(ui::AttentionPanel* a) {
  QStringList left;
  if (a->heatmap()->matrix()) left << "attention map";
  if (!a->heatmap()->map()->queryTokens().isEmpty()) left << "map labels";
  if (a->headGrid()->atlas()) left << "head grid";
  if (barCount(a->queryRowPlot())) left << "query row";
  return left.join(", ");
}

// Every panel's data from a previous model, listed ("" when none is left).
QString anythingLeft(ui::MainWindow* w) {
  QStringList left;
  for (const QString& s : {routingLeft(w->routingPanel()), attentionLeft(w->attentionPanel())})
    if (!s.isEmpty()) left << s;
  if (graphCount(w->entropyPanel()->lensPlot())) left << "lens plot";
  if (graphCount(w->entropyPanel()->outputPlot()->plot())) left << "output entropy";
  if (graphCount(w->entropyPanel()->rankPlot())) left << "rank plot";
  for (ui::Panel* p : w->panels())
    if (p->snapshot()) left << p->panelId() + " snapshot";
  return left.join(", ");
}

}  // namespace

class TstStalePanels : public QObject {
  Q_OBJECT
  std::unique_ptr<ui::MainWindow> m_w;
  QString m_moe, m_dense;
  QTemporaryDir m_dir;

  bool waitSettled(ui::MainWindow* w, int timeoutMs = 60000) {
    return uitest::waitSettled(w, timeoutMs);
  }

  bool load(ui::MainWindow* w, const QString& path) {
    QSignalSpy loaded(w->controller(), &ui::SessionController::modelLoaded);
    w->openModel(path);
    return loaded.wait(60000) && waitSettled(w);
  }

  QString garbageFile() {
    const QString bad = m_dir.filePath(QStringLiteral("truncated.gguf"));
    QFile f(bad);
    if (f.open(QIODevice::WriteOnly))
      f.write(QByteArray("GGUF\x03\x00\x00\x00", 8) + QByteArray(64, '\xee'));
    return bad;
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_stale_panels"));
    QSettings().clear();
    QVERIFY(m_dir.isValid());
    m_moe = modelPath("olmoe-tiny.gguf");
    if (m_moe.isEmpty()) m_moe = modelPath("stories260K-moe4.gguf");
    m_dense = modelPath("stories260K.gguf");
    if (m_moe.isEmpty() || m_dense.isEmpty())
      QSKIP("olmoe-tiny.gguf / stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 2);
    m_w->setDebounceMs(0);
    // Not shown: every panel takes every snapshot (none is behind another dock's tab).
  }

  // MoE first: every panel fills; an empty prompt leaves nothing drawn that it no longer defines.
  void moeFillsAndEmptyPromptClears() {
    m_w->setPrompt(QStringLiteral("Once upon a time there was a little"));
    QVERIFY(load(m_w.get(), m_moe));
    ui::RoutingPanel* r = m_w->routingPanel();
    QVERIFY(barCount(r->loadPlot()) > 0 && barCount(r->view()->strip()) > 0);
    QVERIFY(barCount(m_w->attentionPanel()->queryRowPlot()) > 0);
    m_w->setPrompt(QString());
    QVERIFY(waitSettled(m_w.get()));
    if (m_w->shownSnapshot()->nTokens == 0) {
      QVERIFY2(routingLeft(r).isEmpty(), qPrintable(routingLeft(r)));
      QVERIFY2(attentionLeft(m_w->attentionPanel()).isEmpty(),
               qPrintable(attentionLeft(m_w->attentionPanel())));
    }
    m_w->setPrompt(QStringLiteral("Once upon a time there was a little"));
    QVERIFY(waitSettled(m_w.get()));
    QVERIFY(barCount(r->loadPlot()) > 0);
  }

  // A dense model: at the moment it has loaded no panel shows the MoE model's data, and once
  // its own run is in, the routing panel stays empty (nothing is routed).
  void denseModelClearsEveryPanel() {
    QString atLoad = QStringLiteral("(modelLoaded not seen)");
    auto c = connect(m_w->controller(), &ui::SessionController::modelLoaded, this,
                     [&] { atLoad = anythingLeft(m_w.get()); });
    QVERIFY(load(m_w.get(), m_dense));
    disconnect(c);
    QVERIFY2(atLoad.isEmpty(), qPrintable("left from the MoE model: " + atLoad));
    ui::RoutingPanel* r = m_w->routingPanel();
    QVERIFY2(routingLeft(r).isEmpty(), qPrintable(routingLeft(r)));
    QVERIFY(r->infoText().contains(QStringLiteral("nothing is routed")));
    // The other panels show the dense model's run.
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    QCOMPARE(m_w->attentionPanel()->heatmap()->map()->queryTokens(), s->tokens);
    QVERIFY(m_w->attentionPanel()->headGrid()->atlas());
    QCOMPARE(m_w->attentionPanel()->headGrid()->atlas()->nLayer, s->nLayer);
    QCOMPARE(graphCount(m_w->entropyPanel()->lensPlot()), s->nLayer + 1);
  }

  // A failed load changes nothing that is shown (the dense model stays, routing stays empty), and
  // a session whose model failed leaves none of its settings for the next model that loads.
  void failedLoadLeavesNothingPending() {
    QSignalSpy failed(m_w->controller(), &ui::SessionController::loadFailed);
    rt::SessionState doc;
    doc.prompt = "Once upon a time there was a little";
    doc.interventions.knockout = rt::Knockout{{5, 6}, {0, 1}, 0, 1};
    m_w->applySessionDocument(doc, garbageFile(), true);
    QVERIFY(failed.wait(30000));
    QCOMPARE(m_w->controller()->modelInfo().path, m_dense);
    QVERIFY(waitSettled(m_w.get()));
    ui::RoutingPanel* r = m_w->routingPanel();
    QVERIFY2(routingLeft(r).isEmpty(), qPrintable(routingLeft(r)));
    QVERIFY(!m_w->attentionPanel()->knockoutBox()->isChecked());
    QVERIFY(load(m_w.get(), m_moe));
    QVERIFY2(!m_w->attentionPanel()->knockoutBox()->isChecked(),
             "the failed session's knockout was applied to the next model");
    QVERIFY(!m_w->requestedState().knockout);
    QVERIFY(barCount(r->loadPlot()) > 0);
    // A failed load over the MoE model keeps its (still valid) routing.
    m_w->openModel(garbageFile());
    QVERIFY(failed.wait(30000));
    QVERIFY(waitSettled(m_w.get()));
    QVERIFY(barCount(r->loadPlot()) > 0);
    QCOMPARE(r->view()->rowLabels(), m_w->shownSnapshot()->tokens);
  }

  // The demo guide describes its demo only: it leaves when a real model or a session is opened.
  void demoGuideLeavesForOtherModels() {
    ui::MainWindow w(nullptr, nullptr, 1);
    w.setDebounceMs(0);
    ui::installExportActions(&w);
    ui::installDemoMenu(&w, true);
    QTRY_VERIFY_WITH_TIMEOUT(w.controller()->hasModel(), 60000);
    QVERIFY(waitSettled(&w));
    auto* guide = w.findChild<QDockWidget*>(QStringLiteral("demo-guide"));
    QVERIFY(guide);
    QVERIFY(!guide->isHidden());
    QVERIFY(load(&w, m_dense));
    QVERIFY2(guide->isHidden(), "the demo guide still describes the demo over a real model");
    // A saved session (of this dense model) opened over a demo: the guide leaves as well.
    const QString session = m_dir.filePath(QStringLiteral("dense.llsession"));
    QString err;
    QVERIFY2(ui::saveSessionFile(&w, session, &err), qPrintable(err));
    QAction* demo = nullptr;  // the first guided demo, from the Demos menu
    for (QAction* m : w.menuBar()->actions())
      if (m->menu() && m->text().remove('&') == QStringLiteral("Demos") && !demo)
        demo = m->menu()->actions().value(0);
    QVERIFY(demo);
    demo->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(w.controller()->modelInfo().path != m_dense, 60000);
    QVERIFY(waitSettled(&w));
    QVERIFY(!guide->isHidden());
    QSignalSpy loaded(w.controller(), &ui::SessionController::modelLoaded);
    QVERIFY2(ui::openSessionFile(&w, session, &err), qPrintable(err));
    QVERIFY(loaded.wait(60000));
    QVERIFY(waitSettled(&w));
    QVERIFY2(guide->isHidden(), "the demo guide still describes the demo over a session");
  }
};

QTEST_MAIN(TstStalePanels)
#include "tst_stale_panels.moc"
