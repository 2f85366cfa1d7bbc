// The Teacher panel in the real main window (offscreen, not shown): nothing until a teacher is
// chosen; with stories260K-moe4 as the teacher of stories260K its scatter and table hold exactly
// what rt::ana::compareWithTeacher gives on the snapshot's trace against a fresh teacher run over
// the same ids, and they follow a prompt edit (never a result of an earlier prompt); a teacher with
// another vocabulary (gpt2-tiny) is refused with the reason; File > Compare with teacher model...
// exists; the teacher goes into the session document and back; Clear drops it.
#include "runtime/analysis/teacher.h"
#include "runtime/api/session.h"
#include "ui/main_window.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "ui/session_state_map.h"
#include "ui/teacher_panel.h"

#include <qcustomplot.h>
#include <QAction>
#include <QMenu>
#include <QMenuBar>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTest>

#include "ui_wait.h"

#include <cmath>
#include <memory>

using namespace ll;

namespace {
using uitest::modelPath;
}  // namespace

class TstTeacherPanel : public QObject {
  Q_OBJECT
  std::unique_ptr<ui::MainWindow> m_w;
  QString m_dense, m_moe, m_gpt2;

  // The panel against compareWithTeacher on the shown trace and a fresh teacher run.
  void compareWithRuntime() {
    const ui::SnapshotPtr s = m_w->shownSnapshot();
    QVERIFY(s && s->trace);
    QVERIFY2(s->teacher, qPrintable(s->teacherError));
    rt::Session teacher;
    teacher.load(m_moe.toStdString(), {"cpu", 2});
    teacher.setPromptIds(s->trace->ids);
    const auto c = rt::ana::compareWithTeacher(*s->trace, *teacher.run());
    const int T = s->trace->nTokens;
    auto* p = m_w->teacherPanel();
    QCOMPARE(p->table()->rowCount(), T);
    QCOMPARE(p->plot()->graph(0)->data()->size() + p->plot()->graph(1)->data()->size(), T);
    // The snapshot against the runtime (the worker's teacher session reuses its cached prefix:
    // last-bit differences), the panel against the snapshot it shows.
    const rt::ana::TeacherComparison& shown = *s->teacher;
    QVERIFY(std::fabs(shown.jsdThreshold - c.jsdThreshold) < 1e-6);
    QVERIFY(std::fabs(shown.entropyThreshold - c.entropyThreshold) < 1e-6);
    int over = 0;
    for (int t = 0; t < T; ++t) {
      QVERIFY(std::fabs(shown.jsdBits[t] - c.jsdBits[t]) < 1e-6);
      QVERIFY(std::fabs(shown.normalized[t] - c.normalized[t]) < 1e-6);
      QCOMPARE(p->table()->item(t, ui::TeacherPanel::kQuadrant)->text().toStdString(),
               rt::ana::quadrantName(shown.quadrant[t]));
      QCOMPARE(p->table()->item(t, ui::TeacherPanel::kJsd)->text(),
               QString::number(shown.jsdBits[t], 'g', 3));
      over += shown.quadrant[t] == rt::ana::Quadrant::Overconfident;
    }
    QCOMPARE(p->plot()->graph(ui::TeacherPanel::kOverconfident)->data()->size(), over);
    double most = 0;
    for (float v : c.jsdBits) most = std::max(most, double(v));
    QVERIFY(most > 1e-5);  // the two models differ: not zeros against zeros
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_teacher_panel"));
    QSettings().clear();
    m_dense = modelPath("stories260K.gguf");
    m_moe = modelPath("stories260K-moe4.gguf");
    m_gpt2 = modelPath("gpt2-tiny-f16.gguf");
    if (m_dense.isEmpty() || m_moe.isEmpty() || m_gpt2.isEmpty())
      QSKIP("stories260K / stories260K-moe4 / gpt2-tiny-f16 not found: set LAYERLENS_SHARED_DIR");
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 2);
    m_w->setDebounceMs(0);
  }

  void panelMatchesRuntimeAndFollowsThePrompt() {
    m_w->setPrompt(QStringLiteral("Once upon a time there was a little"));
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    m_w->openModel(m_dense);
    QVERIFY(loaded.wait(60000) && uitest::waitSettled(m_w.get()));
    auto* p = m_w->teacherPanel();
    QVERIFY(!m_w->shownSnapshot()->teacher);
    QCOMPARE(p->table()->rowCount(), 0);
    QVERIFY(p->minimumSizeHint().width() <= 330 && p->minimumSizeHint().height() <= 420);
    bool inMenu = false;
    for (QAction* a : m_w->menuBar()->actions())
      if (a->menu())
        for (QAction* b : a->menu()->actions())
          inMenu = inMenu || b->text()
                                 .remove(QLatin1Char('&'))
                                 .contains(QStringLiteral("Compare with teacher model"));
    QVERIFY(inMenu);

    p->setTeacherPath(m_moe);
    QVERIFY(uitest::waitSettled(m_w.get()));
    compareWithRuntime();
    QVERIFY2(p->status().contains(QStringLiteral("stories260K-moe4.gguf")),
             qPrintable(p->status()));

    // A prompt edit: the panel shows the new prompt's tokens only.
    m_w->setPrompt(QStringLiteral("The cat sat on the mat and looked at the dog"));
    QVERIFY(uitest::waitSettled(m_w.get()));
    QCOMPARE(static_cast<int>(m_w->shownSnapshot()->teacher->jsdBits.size()),
             m_w->shownSnapshot()->nTokens);
    compareWithRuntime();

    // A row click selects that token.
    emit p->table()->cellClicked(2, 0);
    QCOMPARE(m_w->selection()->token(), 2);
    QVERIFY(uitest::waitSettled(m_w.get()));
  }

  void otherVocabularyIsRefused() {
    auto* p = m_w->teacherPanel();
    p->setTeacherPath(m_gpt2);
    QVERIFY(uitest::waitSettled(m_w.get()));
    QVERIFY(!m_w->shownSnapshot()->teacher);
    QVERIFY2(p->status().contains(QStringLiteral("do not share a vocabulary")),
             qPrintable(p->status()));
    QCOMPARE(p->table()->rowCount(), 0);
  }

  void sessionKeepsTeacherAndClear() {
    auto* p = m_w->teacherPanel();
    p->setTeacherPath(m_moe);
    QVERIFY(uitest::waitSettled(m_w.get()));
    const rt::SessionState doc = m_w->sessionDocument();
    QCOMPARE(doc.view.extra.at("teacher.model"), m_moe.toStdString());
    QCOMPARE(ui::viewStateFromSession(doc).teacher.model, m_moe.toStdString());
    p->applyState({});
    QVERIFY(p->teacherPath().isEmpty());
    p->applyState(ui::viewStateFromSession(doc).teacher);
    QCOMPARE(p->teacherPath(), m_moe);
    p->setTeacherPath(QString());  // Clear
    QVERIFY(uitest::waitSettled(m_w.get()));
    QVERIFY(!m_w->shownSnapshot()->teacher);
    QCOMPARE(p->table()->rowCount(), 0);
    QVERIFY(m_w->sessionDocument().view.extra.at("teacher.model").empty());
  }

  void cleanupTestCase() { m_w.reset(); }
};

QTEST_MAIN(TstTeacherPanel)
#include "tst_teacher_panel.moc"
