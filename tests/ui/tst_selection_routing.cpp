// The token-selection and routing panels on MoE fixtures (the real main window, offscreen, not
// shown so every panel takes every snapshot): the score plot's legend stays clear of the bars, k
// follows the prompt's length (a larger k is clamped with a note), a method that keeps more than
// k says why from its own parameters; the routing panel lists its edits (each removable), resets
// them all at once, says what a scope change did, and leaves values alone under an unfocused wheel.
#include "ui/main_window.h"
#include "ui/router_edit_list.h"
#include "ui/routing_panel.h"
#include "ui/selection_model.h"
#include "ui/selection_panel.h"
#include "ui/session_controller.h"
#include "ui/wheel_guard.h"
#include "visualizers/qt/routing_view.h"
#include "visualizers/qt/score_strip.h"

#include <qcustomplot.h>
#include <QApplication>
#include <QComboBox>
#include <QDockWidget>
#include <QFile>
#include <QLabel>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QTest>
#include <QToolButton>
#include <QVBoxLayout>
#include <QWheelEvent>

#include "ui_wait.h"

#include <memory>

using namespace ll;

namespace {

using uitest::modelPath;

// Labels under `root` showing text that contains `part` (as the user reads them).
QStringList labelsWith(QWidget* root, const QString& part) {
  QStringList out;
  for (auto* l : root->findChildren<QLabel*>())
    if (!l->isHidden() && l->text().contains(part)) out << l->text();
  return out;
}

// A wheel notch up over the middle of `w`, through the application (event filters apply).
// Returns whether the event was accepted: QApplication hands a window system's wheel event that
// is left unaccepted on to the parent (the scroll area), so false means "the panel scrolls".
bool wheelUp(QWidget* w) {
  const QPointF pos(w->width() / 2.0, w->height() / 2.0);
  QWheelEvent ev(pos, w->mapToGlobal(pos), QPoint(), QPoint(0, 120), Qt::NoButton, Qt::NoModifier,
                 Qt::NoScrollPhase, false);
  QApplication::sendEvent(w, &ev);
  return ev.isAccepted();
}

QString cell(QTableWidget* t, int r, int c) {
  return t->item(r, c) ? t->item(r, c)->text() : QString();
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
  // With the default budget (k = 1024, ALGORITHMS.md) a short prompt is kept whole: the panel
  // says why nothing is dropped and what to do, not that a value was wrong.
  void defaultBudgetKeepsAShortPromptAndSaysSo() {
    if (!m_w) QSKIP("no fixtures");
    ui::MainWindow w(nullptr, nullptr, 2);
    QSignalSpy loaded(w.controller(), &ui::SessionController::modelLoaded);
    w.setPrompt(kShortPrompt);
    w.openModel(modelPath("stories260K-moe4.gguf"));
    QVERIFY(loaded.wait(30000));
    QVERIFY(uitest::waitSettled(&w, 60000));
    const ui::SnapshotPtr s = w.shownSnapshot();
    QVERIFY(s);
    QCOMPARE(int(s->kept.size()), s->nTokens);
    const QString note = w.selectionPanel()->kNoteText();
    QVERIFY2(
        note.contains(QStringLiteral("default budget")) && note.contains(QStringLiteral("lower k")),
        qPrintable(note));
  }

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

  // The edits in force are listed one per row (layer, expert, kind, value), each removable, in a
  // list tall enough for several rows.
  void routerEditsAreListed() {
    if (!m_w) QSKIP("no fixtures");
    QVERIFY(loadModel("olmoe-tiny.gguf"));
    m_w->setPrompt(kShortPrompt);
    QVERIFY(settle(kShortPrompt));
    ui::RoutingPanel* r = m_w->routingPanel();
    auto* list = r->findChild<QTableWidget*>(QStringLiteral("routerEditList"));
    QVERIFY2(list, "no list of router edits");
    QCOMPARE(list->rowCount(), 0);
    QVERIFY(list->minimumHeight() >=
            ui::RouterEditList::kVisibleRows * list->verticalHeader()->defaultSectionSize());
    m_w->selection()->setLayer(1);
    r->setExpertEdit(0, 0.5, 0);
    r->setExpertEdit(2, 0.0, 2);
    QCOMPARE(list->rowCount(), 2);
    QCOMPARE(cell(list, 0, 0), QStringLiteral("1"));
    QCOMPARE(cell(list, 0, 1), QStringLiteral("0"));
    QCOMPARE(cell(list, 0, 2), QStringLiteral("bias"));
    QCOMPARE(cell(list, 0, 3), QStringLiteral("0.50"));
    QCOMPARE(cell(list, 1, 1), QStringLiteral("2"));
    QCOMPARE(cell(list, 1, 2), QStringLiteral("ban"));
    // Following the selection: the list names the new layer.
    m_w->selection()->setLayer(0);
    QCOMPARE(cell(list, 0, 0), QStringLiteral("0"));
    m_w->selection()->setLayer(1);

    // Removing the bias row leaves the ban, in the list, the controls and the next run.
    QVERIFY(r->editList()->removeButton(0));
    r->editList()->removeButton(0)->click();
    QTRY_COMPARE(list->rowCount(), 1);
    QCOMPARE(cell(list, 0, 2), QStringLiteral("ban"));
    QCOMPARE(r->expertBiasSlider(0)->value(), 0);
    const std::vector<rt::RouterEdit> ban{{1, 2, rt::RouterEditKind::Ban, 0.0f}};
    QCOMPARE(r->routerEdits(), ban);
    QVERIFY(settle());
    QCOMPARE(m_w->shownSnapshot()->state.routerEdits, ban);

    // Loaded per-layer edits are listed as loaded, and removed one by one.
    const std::vector<rt::RouterEdit> loaded{{0, 1, rt::RouterEditKind::Bias, 0.25f},
                                             {1, 3, rt::RouterEditKind::BiasStd, 0.5f}};
    r->applyState(loaded, 1);
    QCOMPARE(r->layersBox()->currentIndex(), 2);
    QCOMPARE(list->rowCount(), 2);
    QCOMPARE(cell(list, 1, 0), QStringLiteral("1"));
    QCOMPARE(cell(list, 1, 2), ui::routerEditKindName(rt::RouterEditKind::BiasStd));
    r->editList()->removeButton(0)->click();
    QTRY_COMPARE(list->rowCount(), 1);
    QCOMPARE(r->routerEdits(), std::vector<rt::RouterEdit>{loaded[1]});
    r->applyState({}, 1);
    QCOMPARE(list->rowCount(), 0);
  }

  // Switching the scope to all layers says what it copied (and back, what it kept).
  void scopeChangeSaysWhatItCopied() {
    if (!m_w) QSKIP("no fixtures");
    ui::RoutingPanel* r = m_w->routingPanel();
    if (r->expertModeBox(2) == nullptr) QVERIFY(loadModel("olmoe-tiny.gguf"));
    const int nLayer = m_w->controller()->modelInfo().nLayer;
    QVERIFY(nLayer > 1);
    r->applyState({}, 1);
    m_w->selection()->setLayer(1);
    r->setExpertEdit(1, -0.3, 0);
    r->setExpertEdit(2, 0.0, 1);
    r->layersBox()->setCurrentIndex(1);
    const QString copied = QStringLiteral("copied 2 edits of layer 1 to all %1 layers").arg(nLayer);
    QVERIFY2(!labelsWith(r, copied).isEmpty(), qPrintable(r->scopeNoteText()));
    QCOMPARE(int(r->routerEdits().size()), 2 * nLayer);
    QCOMPARE(r->editList()->rowCount(), 2);
    QCOMPARE(cell(r->editList(), 0, 0), QStringLiteral("all (0-%1)").arg(nLayer - 1));
    r->layersBox()->setCurrentIndex(0);
    QCOMPARE(r->scopeNoteText(), QStringLiteral("the 2 edits now apply in layer 1 only"));
    QCOMPARE(int(r->routerEdits().size()), 2);
  }

  // "Reset all edits" clears every edit (all layers, loaded ones) and recomputes.
  // On a 1024x700 screen the routing dock is ~330 px wide and short: the edits scroll as a whole
  // without running past the dock's right edge ("Reset all edits" and the force/ban boxes were
  // cut behind a horizontal scroll bar), and the score strip names the row its bars belong to.
  void routingReadsInANarrowDock() {
    if (!m_w) QSKIP("no fixtures");
    ui::RoutingPanel* r = m_w->routingPanel();
    if (r->expertModeBox(2) == nullptr) QVERIFY(loadModel("olmoe-tiny.gguf"));
    QVERIFY(settle());
    QDockWidget* d = m_w->dock(QStringLiteral("routing"));
    QVERIFY(d);
    d->setFloating(true);
    d->resize(330, 600);
    d->show();
    QTest::qWait(200);
    QPushButton* reset = nullptr;
    for (auto* b : r->findChildren<QPushButton*>())
      if (b->text() == QStringLiteral("Reset all edits")) reset = b;
    QVERIFY(reset);
    const QRect inPanel(reset->mapTo(r, QPoint(0, 0)), reset->size());
    QVERIFY2(r->rect().contains(inPanel),
             qPrintable(QStringLiteral("reset button at x %1..%2 in a %3 px panel")
                            .arg(inPanel.left())
                            .arg(inPanel.right())
                            .arg(r->width())));
    for (QScrollArea* a : r->findChildren<QScrollArea*>())
      if (a->isAncestorOf(reset)) QVERIFY(!a->horizontalScrollBar()->isVisible());
    auto* strip = r->view()->findChild<QCustomPlot*>();
    QVERIFY(strip);
    QVERIFY2(strip->xAxis->label().contains(QStringLiteral("token 0")),
             qPrintable(strip->xAxis->label()));
    d->setFloating(false);
  }

  void resetAllEdits() {
    if (!m_w) QSKIP("no fixtures");
    ui::RoutingPanel* r = m_w->routingPanel();
    if (r->expertModeBox(2) == nullptr) QVERIFY(loadModel("olmoe-tiny.gguf"));
    QPushButton* reset = nullptr;
    for (auto* b : r->findChildren<QPushButton*>())
      if (b->text() == QStringLiteral("Reset all edits")) reset = b;
    QVERIFY2(reset, "no \"Reset all edits\" button");
    r->applyState({}, 1);
    r->setExpertEdit(0, 1.0, 0);
    r->setExpertEdit(3, 0.0, 2);
    r->layersBox()->setCurrentIndex(1);
    QVERIFY(settle());
    QVERIFY(!m_w->shownSnapshot()->state.routerEdits.empty());
    QVERIFY(reset->isEnabled());
    reset->click();
    QVERIFY(r->routerEdits().empty());
    QCOMPARE(r->editList()->rowCount(), 0);
    QCOMPARE(r->expertBiasSlider(0)->value(), 0);
    QCOMPARE(r->expertModeBox(3)->currentIndex(), 0);
    QVERIFY(!reset->isEnabled());
    QVERIFY(settle());
    QVERIFY(m_w->shownSnapshot()->state.routerEdits.empty());

    // From loaded per-layer edits too: back to the expert controls in the selected layer.
    r->applyState({{0, 1, rt::RouterEditKind::Bias, 0.25f}, {2, 1, rt::RouterEditKind::Ban, 0}}, 1);
    QCOMPARE(r->layersBox()->currentIndex(), 2);
    reset->click();
    QCOMPARE(r->layersBox()->currentIndex(), 0);
    QVERIFY(r->routerEdits().empty());
    QVERIFY(r->expertBiasSlider(0)->isEnabled());
    QVERIFY(settle());
    QVERIFY(m_w->shownSnapshot()->state.routerEdits.empty());
  }

  // The wheel over an unfocused slider, spin box or combo box changes nothing (and is left for
  // the scroll area under it); once the control has focus it does.
  void wheelNeedsFocus() {
    if (!m_w) QSKIP("no fixtures");
    ui::RoutingPanel* r = m_w->routingPanel();
    if (r->expertBiasSlider(0) == nullptr) QVERIFY(loadModel("olmoe-tiny.gguf"));
    r->applyState({}, 0);
    QSlider* bias = r->expertBiasSlider(0);
    QComboBox* mode = r->expertModeBox(0);
    QVERIFY(!bias->hasFocus());
    QVERIFY(!wheelUp(bias));
    QCOMPARE(bias->value(), 0);
    mode->setCurrentIndex(1);
    wheelUp(mode);
    QCOMPARE(mode->currentIndex(), 1);
    mode->setCurrentIndex(0);
    QCOMPARE(bias->focusPolicy(), Qt::StrongFocus);
    QSlider* k = m_w->selectionPanel()->kSlider();
    const int kBefore = k->value();
    wheelUp(k);
    QCOMPARE(k->value(), kBefore);
    QVERIFY(r->routerEdits().empty());

    // The helper on its own, in a shown window that can take focus.
    QScrollArea area;
    auto* content = new QWidget;
    auto* v = new QVBoxLayout(content);
    auto* s = new QSlider(Qt::Horizontal);
    s->setRange(0, 100);
    s->setValue(50);
    auto* other = new QPushButton(QStringLiteral("elsewhere"));
    v->addWidget(other);
    v->addWidget(s);
    area.setWidget(content);
    area.resize(300, 200);
    ui::guardWheel(s);
    area.show();
    area.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&area));
    other->setFocus();
    QVERIFY(!wheelUp(s));
    QCOMPARE(s->value(), 50);
    s->setFocus();
    QVERIFY(s->hasFocus());
    QVERIFY(wheelUp(s));
    QVERIFY(s->value() != 50);
  }

  void cleanupTestCase() { m_w.reset(); }
};

QTEST_MAIN(TstSelectionRouting)
#include "tst_selection_routing.moc"
