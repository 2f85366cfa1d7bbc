// The Layer skip panel in the real main window (offscreen, not shown, so every panel takes every
// snapshot): off until Compute is ticked; then its bars (KL at the selected token, mean KL),
// top-1-changed markers and update curves hold exactly what rt::ana::layerSkip gives on the
// snapshot's trace, for another selected token and for the MLP-only variant too; the sublayer
// choice goes into the session document and back; a new model clears the panel at once and its
// data then belongs to the new (MoE) model.
#include "runtime/analysis/layer_skip.h"
#include "runtime/api/session.h"
#include "ui/export_actions.h"
#include "ui/layer_skip_panel.h"
#include "ui/main_window.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "ui/session_state_map.h"

#include <qcustomplot.h>
#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "ui_wait.h"

#include <cmath>
#include <memory>

using namespace ll;

namespace {

using uitest::modelPath;

QCPBars* bars(QCustomPlot* p, int i) {
  return qobject_cast<QCPBars*>(p->plottable(i));
}

bool near(double a, double b) {
  return std::fabs(a - b) <= 1e-9 + 1e-5 * std::fabs(b);
}

}  // namespace

class TstLayerSkipPanel : public QObject {
  Q_OBJECT
  std::unique_ptr<ui::MainWindow> m_w;
  QString m_dense, m_moe;

  bool load(const QString& path, int* barsAtLoad = nullptr) {
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    // Connected after the window's own handler: runs right after it cleared the panels.
    auto c = connect(m_w->controller(), &ui::SessionController::modelLoaded, this, [&] {
      if (barsAtLoad) *barsAtLoad = bars(m_w->layerSkipPanel()->klPlot(), 0)->data()->size();
    });
    m_w->openModel(path);
    const bool ok = loaded.wait(60000) && uitest::waitSettled(m_w.get());
    disconnect(c);
    return ok;
  }

  // The panel against the runtime function on the shown snapshot's trace (own Session).
  void compareWithRuntime(const QString& model, rt::SkipPart part) {
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    QVERIFY(s && s->trace);
    QVERIFY2(s->layerSkip, qPrintable(s->layerSkipError));
    rt::Session session;
    session.load(model.toStdString(), {"cpu", 2});
    const auto r = rt::ana::layerSkip(session, *s->trace, {s->token, part});
    auto* p = m_w->layerSkipPanel();
    const int L = s->trace->nLayer;
    QCOMPARE(bars(p->klPlot(), 0)->data()->size(), L);
    QCOMPARE(bars(p->klPlot(), 1)->data()->size(), L);
    int changed = 0, active = 0;
    for (int l = 0; l < L; ++l) {
      QVERIFY(near(bars(p->klPlot(), 0)->data()->at(l)->value, r.kl[l]));
      QVERIFY(near(bars(p->klPlot(), 1)->data()->at(l)->value, r.klMean[l]));
      QVERIFY(near(p->updatePlot()->graph(0)->data()->at(l)->value, r.relUpdate[l]));
      QVERIFY(near(p->updatePlot()->graph(1)->data()->at(l)->value, r.cosUpdate[l]));
      changed += r.top1Changed[l];
      active += r.active[l];
    }
    QCOMPARE(p->klPlot()->graph(0)->data()->size(), changed);
    QCOMPARE(p->updatePlot()->graph(2)->data()->size(), active);
    double sum = 0;
    for (double v : r.kl) sum += v;
    QVERIFY(sum > 0);  // a real comparison, not zeros against zeros
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_layer_skip_panel"));
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
    auto* p = m_w->layerSkipPanel();
    QVERIFY(!m_w->shownSnapshot()->layerSkip);  // off by default: no extra passes
    QCOMPARE(bars(p->klPlot(), 0)->data()->size(), 0);
    // Fits a narrow, short dock (a 1024x700 screen).
    QVERIFY2(p->minimumSizeHint().width() <= 330 && p->minimumSizeHint().height() <= 400,
             qPrintable(QStringLiteral("%1x%2")
                            .arg(p->minimumSizeHint().width())
                            .arg(p->minimumSizeHint().height())));
    p->enabledBox()->setChecked(true);
    QVERIFY(uitest::waitSettled(m_w.get()));
    compareWithRuntime(m_dense, rt::SkipPart::Layer);
    QCOMPARE(m_w->shownSnapshot()->layerSkip->position, m_w->shownSnapshot()->nTokens - 1);

    // The skipped passes stream last: the panels' snapshot of a new prompt does not wait for them;
    // a new token only re-reads them (already in the panels' snapshot, nothing more streamed).
    QStringList order;
    auto c1 = connect(
        m_w->controller(), &ui::SessionController::snapshotReady, this,
        [&](const ui::SnapshotPtr& x) { order << (x->layerSkip ? "panels+skip" : "panels"); });
    auto c2 = connect(m_w->controller(), &ui::SessionController::snapshotStreamed, this,
                      [&](const ui::SnapshotPtr& x) {
                        order << ui::outputName(x->streamed) + (x->complete ? " (complete)" : "");
                      });
    m_w->setPrompt(QStringLiteral("Once upon a time there was a little dog"));
    QVERIFY(uitest::waitSettled(m_w.get()));
    QCOMPARE(order.first(), QStringLiteral("panels"));
    QCOMPARE(order.last(), QStringLiteral("layer skip (complete)"));
    compareWithRuntime(m_dense, rt::SkipPart::Layer);
    order.clear();
    m_w->selection()->setToken(3);
    QVERIFY(uitest::waitSettled(m_w.get()));
    QCOMPARE(order.first(), QStringLiteral("panels+skip"));
    QVERIFY(!order.contains(QStringLiteral("layer skip (complete)")));
    disconnect(c1);
    disconnect(c2);
    QVERIFY(uitest::waitSettled(m_w.get()));
    QCOMPARE(m_w->shownSnapshot()->token, 3);
    compareWithRuntime(m_dense, rt::SkipPart::Layer);

    p->partBox()->setCurrentIndex(2);  // MLP only
    QVERIFY(uitest::waitSettled(m_w.get()));
    QCOMPARE(m_w->shownSnapshot()->state.layerSkip.part, rt::SkipPart::Mlp);
    compareWithRuntime(m_dense, rt::SkipPart::Mlp);
  }

  void sessionKeepsSublayer() {
    const rt::SessionState doc = m_w->sessionDocument();
    QCOMPARE(doc.view.extra.at("layerskip.sublayer"), std::string("mlp"));
    const ui::ViewState v = ui::viewStateFromSession(doc);
    QCOMPARE(v.layerSkip.part, rt::SkipPart::Mlp);
    QVERIFY(v.layerSkip.enabled);
    auto* p = m_w->layerSkipPanel();
    ui::LayerSkipSettings attn{true, rt::SkipPart::Attention};
    p->applyState(attn);
    QCOMPARE(p->partBox()->currentIndex(), 1);
    ui::ViewState st;
    p->applyTo(st);
    QCOMPARE(st.layerSkip, attn);
    p->applyState(v.layerSkip);

    // Through a session file: Save, change the panel, Open restores Compute and "MLP only".
    QTemporaryDir dir;
    const QString file = dir.filePath(QStringLiteral("skip.llsession"));
    QString err;
    QVERIFY2(ui::saveSessionFile(m_w.get(), file, &err), qPrintable(err));
    p->applyState({false, rt::SkipPart::Layer});
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    QVERIFY2(ui::openSessionFile(m_w.get(), file, &err), qPrintable(err));
    QVERIFY(loaded.wait(60000) && uitest::waitSettled(m_w.get()));
    QCOMPARE(p->partBox()->currentIndex(), 2);
    QVERIFY(p->enabledBox()->isChecked());
    QCOMPARE(m_w->shownSnapshot()->state.layerSkip.part, rt::SkipPart::Mlp);
    compareWithRuntime(m_dense, rt::SkipPart::Mlp);
  }

  void newModelClears() {
    int barsAtLoad = -1;
    QVERIFY(load(m_moe, &barsAtLoad));
    QCOMPARE(barsAtLoad, 0);
    compareWithRuntime(m_moe, rt::SkipPart::Mlp);
  }

  void cleanupTestCase() { m_w.reset(); }
};

QTEST_MAIN(TstLayerSkipPanel)
#include "tst_layer_skip_panel.moc"
