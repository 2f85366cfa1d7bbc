// The Patching panel in the real main window (offscreen, not shown, so every panel takes every
// snapshot): off until Compute is ticked; then its layer x token map and its head grid hold
// exactly what rt::ana::activationPatching gives on the snapshot's inputs (a corrupted prompt of
// the same length, another component and metric, noise on a span); a corrupted prompt of another
// length is named; the sweep streams last; hover reads a cell out and a click selects its layer
// and token; the settings go through a session file and back; a new model clears the panel.
#include "runtime/analysis/patching.h"
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/export_actions.h"
#include "ui/main_window.h"
#include "ui/patching_panel.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "ui/session_state_map.h"

#include <qcustomplot.h>
#include <QCheckBox>
#include <QComboBox>
#include <QFileInfo>
#include <QLineEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "ui_wait.h"

#include <cmath>
#include <memory>

using namespace ll;

namespace {

using uitest::modelPath;

const QString kPrompt = QStringLiteral("Once upon a time there was a little girl named Lily");

bool near(double a, double b) {
  return std::fabs(a - b) <= 1e-6 + 1e-5 * std::fabs(b);
}

std::vector<int32_t> encode(rt::Session& s, const QString& text) {
  return s.model().tokenizer->encode(text.toStdString(), -1).ids;
}

}  // namespace

class TstPatchingPanel : public QObject {
  Q_OBJECT
  std::unique_ptr<ui::MainWindow> m_w;
  QString m_dense, m_moe;
  QString m_corrupt;  // kPrompt with its last word changed, same token count (found at start)

  bool load(const QString& path, int* cellsAtLoad = nullptr) {
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    // Connected after the window's own handler: runs right after it cleared the panels.
    auto c = connect(m_w->controller(), &ui::SessionController::modelLoaded, this, [&] {
      if (cellsAtLoad) *cellsAtLoad = m_w->patchingPanel()->effectMap()->data()->keySize();
    });
    m_w->openModel(path);
    const bool ok = loaded.wait(60000) && uitest::waitSettled(m_w.get());
    disconnect(c);
    return ok;
  }

  void setCorrupt(const QString& text) {
    auto* e = m_w->patchingPanel()->corruptEdit();
    e->setText(text);
    emit e->editingFinished();
    QVERIFY(uitest::waitSettled(m_w.get()));
  }

  // The panel against the runtime function on the shown snapshot's inputs (own Session).
  void compareWithRuntime(const QString& model) {
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    QVERIFY(s && s->trace);
    QVERIFY2(s->patching, qPrintable(s->patchingError));
    const ui::PatchingSettings& p = s->state.patching;
    rt::Session session;
    session.load(model.toStdString(), {"cpu", 2});
    rt::ana::PatchingRequest rq;
    rq.component = p.component;
    rq.metric = p.metric;
    rq.direction = p.direction;
    std::vector<int32_t> corrupt;
    if (p.noise) {
      rq.noiseBegin = p.noiseBegin;
      rq.noiseEnd = p.noiseEnd;
    } else {
      corrupt = encode(session, QString::fromStdString(p.corrupt));
    }
    const auto r = rt::ana::activationPatching(session, s->trace->ids, corrupt, rq);
    auto* panel = m_w->patchingPanel();
    QCPColorMapData* d = panel->effectMap()->data();
    QCOMPARE(d->keySize(), r.nTokens);
    QCOMPARE(d->valueSize(), r.nLayer);
    double sum = 0;
    for (int l = 0; l < r.nLayer; ++l)
      for (int t = 0; t < r.nTokens; ++t) {
        const double want = r.effect[size_t(l) * r.nTokens + t];
        QVERIFY2(near(d->cell(t, l), want), qPrintable(QStringLiteral("layer %1 token %2: %3 vs %4")
                                                           .arg(l)
                                                           .arg(t)
                                                           .arg(d->cell(t, l))
                                                           .arg(want)));
        sum += std::fabs(want);
      }
    QVERIFY(sum > 0);  // a real comparison, not zeros against zeros
    QCPColorMapData* h = panel->headMap()->data();
    QCOMPARE(h->keySize(), r.nHead);
    QCOMPARE(h->valueSize(), r.nLayer);
    for (int l = 0; l < r.nLayer; ++l)
      for (int k = 0; k < r.nHead; ++k)
        QVERIFY(near(h->cell(k, l), r.headEffect[size_t(l) * r.nHead + k]));
    // Diverging colours centred on 0.
    QVERIFY(near(panel->effectMap()->dataRange().lower, -panel->effectMap()->dataRange().upper));
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_patching_panel"));
    QSettings().clear();
    m_dense = modelPath("stories260K.gguf");
    m_moe = modelPath("stories260K-moe4.gguf");
    if (m_dense.isEmpty() || m_moe.isEmpty())
      QSKIP("stories260K.gguf / stories260K-moe4.gguf not found: set LAYERLENS_SHARED_DIR");
    rt::Session s;
    s.load(m_dense.toStdString(), {"cpu", 2});
    const size_t n = encode(s, kPrompt).size();
    for (const char* name : {"Lucy", "Sue", "Tom", "Amy", "Ben", "Max", "Sam", "Mia", "Tim"}) {
      const QString c = QString(kPrompt).replace(QStringLiteral("Lily"), QLatin1String(name));
      if (encode(s, c).size() == n) {
        m_corrupt = c;
        break;
      }
    }
    QVERIFY2(!m_corrupt.isEmpty(), "no corrupted prompt of the same token count");
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 2);
    m_w->setDebounceMs(0);
  }

  void panelMatchesRuntime() {
    m_w->setPrompt(kPrompt);
    QVERIFY(load(m_dense));
    auto* p = m_w->patchingPanel();
    QVERIFY(!m_w->shownSnapshot()->patching);  // off by default: no extra passes
    QCOMPARE(p->effectMap()->data()->keySize(), 0);
    QVERIFY(!p->effectPlot()->isVisibleTo(p));  // no empty axes or colour scale without a result
    QVERIFY(!p->headPlot()->isVisibleTo(p));
    // Fits a narrow, short dock (a 1024x700 screen).
    QVERIFY2(p->minimumSizeHint().width() <= 330 && p->minimumSizeHint().height() <= 400,
             qPrintable(QStringLiteral("%1x%2")
                            .arg(p->minimumSizeHint().width())
                            .arg(p->minimumSizeHint().height())));
    p->enabledBox()->setChecked(true);
    QVERIFY(uitest::waitSettled(m_w.get()));
    QVERIFY(p->status().contains(QStringLiteral("corrupted prompt")));  // none typed yet

    // The sweep streams last, with its progress shown meanwhile.
    QStringList order;
    int progressCalls = 0;
    auto c1 = connect(m_w->controller(), &ui::SessionController::snapshotStreamed, this,
                      [&](const ui::SnapshotPtr& x) {
                        order << ui::outputName(x->streamed) + (x->complete ? " (complete)" : "");
                      });
    auto c2 = connect(m_w->controller(), &ui::SessionController::streamProgress, this,
                      [&](ui::StreamedOutput, int, int) { ++progressCalls; });
    setCorrupt(m_corrupt);
    disconnect(c1);
    disconnect(c2);
    QCOMPARE(order.last(), QStringLiteral("activation patching (complete)"));
    QVERIFY(p->effectPlot()->isVisibleTo(p));
    QVERIFY(progressCalls > 0);
    compareWithRuntime(m_dense);
    const auto& r = *m_w->shownSnapshot()->patching;
    QVERIFY(r.firstDiff > 0);  // the shared prefix is not run

    // Readout and click on a cell.
    const int l = r.nLayer - 1, t = r.nTokens - 1;
    const QString text = p->readout(l, t);
    QVERIFY2(text.contains(QString::number(r.effect[size_t(l) * r.nTokens + t], 'g', 4)),
             qPrintable(text));
    QVERIFY(p->readout(0, 0).contains(QStringLiteral("not run")));
    // The window is not shown: give the plot its size and lay it out before mapping a cell.
    p->effectPlot()->resize(300, 220);
    p->effectPlot()->setViewport(p->effectPlot()->rect());
    p->effectPlot()->replot();
    const QPoint at(int(p->effectPlot()->xAxis->coordToPixel(2)),
                    int(p->effectPlot()->yAxis->coordToPixel(1)));
    QTest::mouseClick(p->effectPlot(), Qt::LeftButton, {}, at);
    QCOMPARE(m_w->selection()->layer(), 1);
    QCOMPARE(m_w->selection()->token(), 2);
    QVERIFY(uitest::waitSettled(m_w.get()));
    QVERIFY(m_w->shownSnapshot()->patching);  // another token re-reads the cached sweep

    // Another component and metric.
    p->componentBox()->setCurrentIndex(2);  // MLP
    p->metricBox()->setCurrentIndex(1);     // probability
    QVERIFY(uitest::waitSettled(m_w.get()));
    QCOMPARE(m_w->shownSnapshot()->state.patching.component, rt::ana::PatchComponent::Mlp);
    compareWithRuntime(m_dense);

    // A corrupted prompt of another length is named, and nothing from before is shown.
    setCorrupt(QStringLiteral("Once upon a time"));
    QVERIFY(!m_w->shownSnapshot()->patching);
    QVERIFY2(p->status().contains(QStringLiteral("same number of tokens")),
             qPrintable(p->status()));
    QCOMPARE(p->effectMap()->data()->keySize(), 0);

    // Noise on tokens 1..2 instead.
    p->noiseBeginBox()->setValue(1);
    p->noiseEndBox()->setValue(2);
    p->noiseBox()->setChecked(true);
    QVERIFY(uitest::waitSettled(m_w.get()));
    QCOMPARE(m_w->shownSnapshot()->state.patching.noiseEnd, 3);
    compareWithRuntime(m_dense);

    // A new prompt: the result follows it (the old sweep is never shown for it).
    p->noiseBox()->setChecked(false);
    setCorrupt(m_corrupt);
    p->componentBox()->setCurrentIndex(0);
    p->metricBox()->setCurrentIndex(0);
    m_w->setPrompt(kPrompt + QStringLiteral(" and"));
    QVERIFY(uitest::waitSettled(m_w.get()));
    QVERIFY(!m_w->shownSnapshot()->patching);
    QVERIFY(p->status().contains(QStringLiteral("same number of tokens")));
    setCorrupt(m_corrupt + QStringLiteral(" and"));
    compareWithRuntime(m_dense);
  }

  void sessionRoundTrip() {
    auto* p = m_w->patchingPanel();
    p->directionBox()->setCurrentIndex(1);  // noise direction
    QVERIFY(uitest::waitSettled(m_w.get()));
    const rt::SessionState doc = m_w->sessionDocument();
    QCOMPARE(doc.view.extra.at("patching.direction"), std::string("noise"));
    QCOMPARE(doc.view.extra.at("patching.corrupt"),
             (m_corrupt + QStringLiteral(" and")).toStdString());
    const ui::ViewState v = ui::viewStateFromSession(doc);
    QCOMPARE(v.patching, m_w->shownSnapshot()->state.patching);

    // Through a session file: Save, change the panel, Open restores it.
    QTemporaryDir dir;
    const QString file = dir.filePath(QStringLiteral("patch.llsession"));
    QString err;
    QVERIFY2(ui::saveSessionFile(m_w.get(), file, &err), qPrintable(err));
    ui::PatchingSettings other;
    p->applyState(other);
    QCOMPARE(p->directionBox()->currentIndex(), 0);
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    QVERIFY2(ui::openSessionFile(m_w.get(), file, &err), qPrintable(err));
    QVERIFY(loaded.wait(60000) && uitest::waitSettled(m_w.get()));
    QCOMPARE(p->directionBox()->currentIndex(), 1);
    QVERIFY(p->enabledBox()->isChecked());
    QCOMPARE(m_w->shownSnapshot()->state.patching, v.patching);
    compareWithRuntime(m_dense);

    // Export: the data is the runtime's array.
    const QString npy = dir.filePath(QStringLiteral("patching.npy"));
    QVERIFY2(ui::exportViewData(*m_w->shownSnapshot(), QStringLiteral("patching"), npy,
                                QStringLiteral("stories260K.gguf"), &err),
             qPrintable(err));
    QVERIFY(QFileInfo(npy).size() > 128);
  }

  void newModelClears() {
    int cellsAtLoad = -1;
    QVERIFY(load(m_moe, &cellsAtLoad));
    QCOMPARE(cellsAtLoad, 0);
    compareWithRuntime(m_moe);
  }

  void cleanupTestCase() { m_w.reset(); }
};

QTEST_MAIN(TstPatchingPanel)
#include "tst_patching_panel.moc"
