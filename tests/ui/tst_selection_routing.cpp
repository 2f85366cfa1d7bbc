// The token-selection panel on MoE fixtures (the real main window, offscreen, not shown so every
// panel takes every snapshot): the score plot's legend stays clear of the bars, k follows the
// prompt's length (a larger k is clamped with a note), a method that keeps more than k says why
// from its own parameters.
#include "ui/main_window.h"
#include "ui/selection_model.h"
#include "ui/selection_panel.h"
#include "ui/session_controller.h"
#include "visualizers/qt/score_strip.h"

#include <qcustomplot.h>
#include <QFile>
#include <QLabel>
#include <QSettings>
#include <QSignalSpy>
#include <QTest>

#include "ui_wait.h"

#include <memory>

using namespace ll;

namespace {

QString modelPath(const char* name) {
  const QByteArray dir = qgetenv("LAYERLENS_SHARED_DIR");
  const QString p = QString::fromLocal8Bit(dir) + QStringLiteral("/models/") + QLatin1String(name);
  return !dir.isEmpty() && QFile::exists(p) ? p : QString();
}

// Labels under `root` showing text that contains `part` (as the user reads them).
QStringList labelsWith(QWidget* root, const QString& part) {
  QStringList out;
  for (auto* l : root->findChildren<QLabel*>())
    if (!l->isHidden() && l->text().contains(part)) out << l->text();
  return out;
}

const QString kLongPrompt = QStringLiteral(
    "Once upon a time there was a little girl named Lily. She liked to play in the park with "
    "her big red ball and her friend Tom.");
const QString kShortPrompt = QStringLiteral("Once upon a time");

}  // namespace

class TstSelectionRouting : public QObject {
  Q_OBJECT

  std::unique_ptr<ui::MainWindow> m_w;

  bool loadModel(const char* name) {
    const QString path = modelPath(name);
    if (path.isEmpty()) return false;
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    m_w->openModel(path);
    return loaded.wait(30000);
  }
  bool settle(const QString& prompt) { return uitest::waitSettled(m_w.get(), 60000, prompt); }
  bool settle() { return uitest::waitSettled(m_w.get(), 60000); }

  void selectMethod(ui::SelectMethod m, int k) {
    m_w->selectionPanel()->methodBox()->setCurrentIndex(int(m));
    m_w->selectionPanel()->kSlider()->setValue(k);
  }

 private slots:
  void initTestCase() {
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_selection_routing"));
    QSettings().clear();
    if (modelPath("stories260K-moe4.gguf").isEmpty() || modelPath("olmoe-tiny.gguf").isEmpty())
      QSKIP("MoE fixtures not found: set LAYERLENS_SHARED_DIR");
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 2);
    m_w->resize(1400, 900);
  }

  // The legend of the per-token score plot sits outside the bars' area: with every bar at the
  // top of the range (the worst case) no bar and no part of the data region is under it.
  void scoreLegendLeavesBarsFree() {
    vis::ScoreStrip strip;
    strip.resize(600, 240);
    strip.show();
    vis::TokenOverlay o;
    o.scoreName = "SnapKV score";
    for (int i = 0; i < 24; ++i)
      o.items.push_back({"tok" + std::to_string(i), 1.0f,
                         i % 3 ? vis::TokenState::Kept : vis::TokenState::Dropped});
    strip.setOverlay(o);
    QCustomPlot* p = strip.plot();
    p->replot();
    QVERIFY(p->legend->visible());
    QVERIFY(p->legend->itemCount() >= 2);
    const QRect legend = p->legend->outerRect();
    QVERIFY(!legend.isEmpty());
    QVERIFY2(!legend.intersects(p->axisRect()->rect()),
             qPrintable(QStringLiteral("legend %1,%2 %3x%4 overlaps the data region")
                            .arg(legend.x())
                            .arg(legend.y())
                            .arg(legend.width())
                            .arg(legend.height())));
    int bars = 0;
    for (int i = 0; i < p->plottableCount(); ++i) {
      auto* b = qobject_cast<QCPBars*>(p->plottable(i));
      if (!b) continue;
      for (auto it = b->data()->constBegin(); it != b->data()->constEnd(); ++it, ++bars) {
        const double half = b->width() / 2;
        const QRectF r(
            QPointF(p->xAxis->coordToPixel(it->key - half), p->yAxis->coordToPixel(it->value)),
            QPointF(p->xAxis->coordToPixel(it->key + half), p->yAxis->coordToPixel(0)));
        QVERIFY2(!QRectF(legend).intersects(r.normalized()), qPrintable(QString::number(it->key)));
      }
    }
    QCOMPARE(bars, 24);
  }

  // k can be at most the prompt's token count; a larger k (an old value, a session's) is
  // clamped to it and the panel says so.
  void kFollowsThePromptLength() {
    if (!m_w) QSKIP("no fixtures");
    QVERIFY(loadModel("stories260K-moe4.gguf"));
    ui::SelectionPanel* p = m_w->selectionPanel();
    selectMethod(ui::SelectMethod::GemFilter, 8);
    m_w->setPrompt(kLongPrompt);
    QVERIFY(settle(kLongPrompt));
    const int tLong = m_w->shownSnapshot()->nTokens;
    QVERIFY(tLong > 20);
    QCOMPARE(p->kSlider()->maximum(), tLong);
    QVERIFY(p->kNoteText().isEmpty());

    p->kSlider()->setValue(tLong);
    QVERIFY(settle());
    m_w->setPrompt(kShortPrompt);
    QVERIFY(settle(kShortPrompt));
    QVERIFY(settle());  // the clamp asks for a recomputation with the new k
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    const int tShort = s->nTokens;
    QVERIFY(tShort < tLong);
    QCOMPARE(p->kSlider()->maximum(), tShort);
    QCOMPARE(p->kSlider()->value(), tShort);
    QCOMPARE(s->state.selection.k, tShort);
    QCOMPARE(s->selectionK, tShort);
    const QString note =
        QStringLiteral("k = %1 is more than the prompt's %2 tokens").arg(tLong).arg(tShort);
    QVERIFY2(!labelsWith(p, note).isEmpty(), qPrintable(p->kNoteText()));

    // A session's k larger than the prompt: clamped on the next result, with the note.
    ui::SelectionSettings big = p->state();
    big.k = 500;
    p->applyState(big);
    QCOMPARE(p->kSlider()->value(), std::min(500, p->kSlider()->maximum()));
    m_w->setPrompt(kShortPrompt + QStringLiteral(" there"));
    QVERIFY(settle(kShortPrompt + QStringLiteral(" there")));
    QVERIFY(settle());
    const int t2 = m_w->shownSnapshot()->nTokens;
    QCOMPARE(p->kSlider()->value(), t2);
    QVERIFY2(p->kNoteText().contains(QStringLiteral("is more than the prompt's %1 tokens").arg(t2)),
             qPrintable(p->kNoteText()));
    // Moving k by hand takes the note away.
    p->kSlider()->setValue(2);
    QVERIFY(p->kNoteText().isEmpty());
  }

  // A method that keeps more than k says why, with its own numbers.
  void keepingMoreThanKIsExplained() {
    if (!m_w) QSKIP("no fixtures");
    QVERIFY(loadModel("stories260K-moe4.gguf"));
    ui::SelectionPanel* p = m_w->selectionPanel();
    m_w->setPrompt(kLongPrompt);
    struct Case {
      ui::SelectMethod method;
      QString head, detail;
    };
    // k = 8: SnapKV's window is k/4 = 2, H2O's recent tokens k/2 = 4; PromptDistill keeps the
    // last token besides its top k.
    const Case cases[] = {
        {ui::SelectMethod::SnapKv, QStringLiteral("SnapKV keeps"),
         QStringLiteral("observation window of the last 2 tokens is always kept")},
        {ui::SelectMethod::H2O, QStringLiteral("H2O keeps"),
         QStringLiteral("the 4 most recent tokens are always kept")},
        {ui::SelectMethod::PromptDistill, QStringLiteral("PromptDistill keeps 9 > k = 8"),
         QStringLiteral("plus the last token itself (always kept)")},
    };
    for (const Case& c : cases) {
      selectMethod(c.method, 8);
      QVERIFY(settle());
      const ui::SnapshotPtr s = m_w->shownSnapshot();
      QVERIFY2(s->selectionError.isEmpty(), qPrintable(s->selectionError));
      QVERIFY2(s->kept.size() > 8, qPrintable(c.head));
      const QString head = c.head.contains('>')
                               ? c.head
                               : c.head + QStringLiteral(" %1 > k = 8").arg(s->kept.size());
      const QStringList shown = labelsWith(p, head);
      QVERIFY2(shown.size() == 1, qPrintable(head + " | " + p->reasonText()));
      QVERIFY2(shown.front().contains(c.detail), qPrintable(shown.front()));
    }
    // SnapKV and H2O name the union over the model's heads.
    selectMethod(ui::SelectMethod::SnapKv, 8);
    QVERIFY(settle());
    QVERIFY2(p->reasonText().contains(
                 QStringLiteral("each of the %1 heads").arg(m_w->shownSnapshot()->nHead)),
             qPrintable(p->reasonText()));
    // GemFilter keeps exactly k: nothing to explain.
    selectMethod(ui::SelectMethod::GemFilter, 8);
    QVERIFY(settle());
    QCOMPARE(int(m_w->shownSnapshot()->kept.size()), 8);
    QVERIFY(labelsWith(p, QStringLiteral("> k =")).isEmpty());
  }

  void cleanupTestCase() { m_w.reset(); }
};

QTEST_MAIN(TstSelectionRouting)
#include "tst_selection_routing.moc"
