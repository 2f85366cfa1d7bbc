// The Teacher panel on a remote session (issue 17) against a real `layerlens-cli serve` on
// loopback: the server's compare over the prompt session's trace, its teacher kept there across
// keystrokes, equals the local AnalysisJob's TeacherComparison bit for bit (stories260K student,
// stories260K-moe4 and llama-moe teachers: the same tok512 vocabulary) over prompt edits that
// reuse the prefix, with a knockout in force, after changing the teacher and back, on one server
// process and on `mpirun -np 2 serve` (the prompt session split over the ranks, the teacher
// whole on rank 0); a view-only click re-reads the cached result; the teacher export is the local
// one byte for byte; a missing, outside or mismatched teacher gives the panel an error (the local
// one's, where it names no path), never a crash. The window: File > Compare with teacher model...
// lists the server's models, the panel names the chosen one, a saved session keeps it apart from
// local paths; the Connect dialog's List fills the model list, an unreachable server says so
// without blocking. Skips without gRPC, the CLI or ../shared.
#include "gui_remote_support.h"
#include "runtime/analysis/lens.h"
#include "ui/connect_dialog.h"
#include "ui/export_teacher.h"
#include "ui/main_window.h"
#include "ui/server_models.h"
#include "ui/session_state_map.h"
#include "ui/teacher_panel.h"
#include "ui_wait.h"

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QLabel>
#include <QMenuBar>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>

#include <memory>

using namespace ll;
using namespace guiremote;

namespace {

void compareTeacher(const ui::Snapshot& l, const ui::Snapshot& r, const char* what) {
  QVERIFY2(
      l.teacher && r.teacher,
      qPrintable(
          QStringLiteral("%1: local '%2', remote '%3'").arg(what, l.teacherError, r.teacherError)));
  QCOMPARE(r.teacherError, l.teacherError);
  QCOMPARE(r.teacherName, l.teacherName);
  const rt::ana::TeacherComparison &a = *l.teacher, &b = *r.teacher;
  QVERIFY2(sameBits(b.jsdBits, a.jsdBits), what);
  QVERIFY2(sameBits(b.normalized, a.normalized), what);
  QVERIFY2(b.quadrant == a.quadrant, what);
  QVERIFY2(sameValue(b.entropyThreshold, a.entropyThreshold), what);
  QVERIFY2(sameValue(b.jsdThreshold, a.jsdThreshold), what);
  QCOMPARE(int(a.jsdBits.size()), l.nTokens);
}

QByteArray readAll(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Answers the modal server-model chooser once it has listed the server's models: checks `want`
// is among them and picks it.
void answerChooser(const QString& want, bool* listed, bool* answered) {
  auto* d = qobject_cast<ui::ServerModelDialog*>(QApplication::activeModalWidget());
  if (!d || !d->listed()) {
    QTimer::singleShot(20, [want, listed, answered] { answerChooser(want, listed, answered); });
    return;
  }
  *listed = d->combo()->findText(want) >= 0;
  d->combo()->setEditText(want);
  *answered = true;
  d->accept();
}

}  // namespace

class TestGuiRemoteTeacher : public QObject {
  Q_OBJECT

  std::unique_ptr<Server> m_srv;
  std::unique_ptr<ui::SessionController> m_local, m_remote;

  // ranks > 1: the server split over that many MPI ranks (mpirun).
  bool open(const QString& model, int ranks = 1) {
    const QString why = remoteSkipReason();
    if (!why.isEmpty()) {
      QTest::qSkip(qPrintable(why), __FILE__, __LINE__);
      return false;
    }
    const QStringList launcher = ranks > 1 ? mpirunLauncher(ranks) : QStringList();
    if (ranks > 1 && launcher.isEmpty()) return false;  // skipped
    m_srv = std::make_unique<Server>();
    if (!m_srv->start(modelsDir(), {}, launcher)) {
      QTest::qFail("the server did not start", __FILE__, __LINE__);
      return false;
    }
    m_local = std::make_unique<ui::SessionController>();
    m_remote = std::make_unique<ui::SessionController>();
    return loadBoth(*m_local, *m_remote, *m_srv, modelsDir() + "/" + model, model);
  }

  // The same view on both sides, the teacher a file here and a path on the server.
  std::pair<ui::SnapshotPtr, ui::SnapshotPtr> both(ui::ViewState st, const QString& teacher) {
    ui::ViewState local = st;
    local.teacher.model = (modelsDir() + "/" + teacher).toStdString();
    st.teacher.model = teacher.toStdString();
    ui::SnapshotPtr l = settle(*m_local, local), r = settle(*m_remote, st);
    return {l, r};
  }

  // Over prompt edits (prefix reuse), a knockout, a view-only click, the export, another teacher
  // and back.
  void teacherParityOn(int ranks) {
    if (!open(QStringLiteral("stories260K.gguf"), ranks)) return;
    // The model card says whether the server is split (and so this test is what it says).
    QCOMPARE(m_remote->modelInfo().backend.contains(
                 QStringLiteral("layers split over %1 processes").arg(ranks)),
             ranks > 1);
    ui::ViewState st;
    st.outputTokens = 4;
    st.knockout = rt::Knockout{{}, {1}, 0, 2, 5};
    const QString moe = QStringLiteral("stories260K-moe4.gguf");
    const QStringList prompts = {"Once upon a time there was a little girl",
                                 "Once upon a time there was a little girl named Lily",
                                 "Once upon a time there was a little girl named Lily who loved"};
    ui::SnapshotPtr last;
    for (const QString& p : prompts) {
      st.prompt = p.toStdString();
      const auto [l, r] = both(st, moe);
      QVERIFY(l && r);
      QVERIFY2(r->reusedRows > 0 || p == prompts.first(), "the prompt session reused its prefix");
      compareTeacher(*l, *r, qPrintable(p));
      if (QTest::currentTestFailed()) return;
      last = r;
    }
    // A click that changes only the view re-reads the cached comparison.
    st.layer = 2;
    st.token = 3;
    {
      const auto [l, r] = both(st, moe);
      QVERIFY(l && r && r->teacher == last->teacher);
      compareTeacher(*l, *r, "view only");
    }
    // The teacher's export: the local bytes (JSON document and the figure's matrix).
    {
      const auto [l, r] = both(st, moe);
      QTemporaryDir dir;
      for (const char* ext : {"json", "npy"}) {
        const QString lp = dir.filePath(QStringLiteral("l.%1").arg(ext));
        const QString rp = dir.filePath(QStringLiteral("r.%1").arg(ext));
        ui::writeTeacherData(*l, lp);
        ui::writeTeacherData(*r, rp);
        QVERIFY(!readAll(lp).isEmpty());
        QVERIFY2(readAll(lp) == readAll(rp), ext);
      }
    }
    // Another teacher, an edit on it, and back (a new path: a fresh teacher session both sides).
    st.prompt = "Once upon a time there was a little boy";
    {
      const auto [l, r] = both(st, "llama-moe.gguf");
      QVERIFY(l && r);
      compareTeacher(*l, *r, "another teacher");
    }
    if (QTest::currentTestFailed()) return;
    st.prompt += " named Tim";
    {
      const auto [l, r] = both(st, "llama-moe.gguf");
      QVERIFY(l && r);
      compareTeacher(*l, *r, "another teacher, an edit");
    }
    st.knockout.reset();
    st.prompt += " who";
    {
      const auto [l, r] = both(st, moe);
      QVERIFY(l && r);
      compareTeacher(*l, *r, "back, no knockout");
    }
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    if (!ui::remoteClientBuilt())
      QSKIP("built without gRPC (libgrpc++-dev, protobuf-compiler-grpc)");
  }
  void cleanup() {
    m_local.reset();
    m_remote.reset();
    m_srv.reset();
  }

  void teacherParity() { teacherParityOn(1); }
  // On `mpirun -np 2 serve`: the prompt session's passes (and the prefix they reuse) go over the
  // ranks, the teacher model runs whole on rank 0; the panel equals the local one all the same.
  void teacherParitySplit() { teacherParityOn(2); }

  void teacherErrors() {
    if (!open(QStringLiteral("stories260K.gguf"))) return;
    ui::ViewState st;
    st.outputTokens = 2;
    st.prompt = "Once upon a time";
    // A vocabulary mismatch: the local message, word for word.
    {
      const auto [l, r] = both(st, QStringLiteral("gpt2-tiny-f16.gguf"));
      QVERIFY(l && r && !l->teacher && !r->teacher);
      QVERIFY(!l->teacherError.isEmpty());
      QCOMPARE(r->teacherError, l->teacherError);
    }
    // A path the server does not have, and one outside its folder: the panel says which.
    for (const char* bad : {"no-such-teacher.gguf", "../stories260K.gguf"}) {
      st.teacher.model = bad;
      const ui::SnapshotPtr r = settle(*m_remote, st);
      QVERIFY2(r && !r->teacher, bad);
      QVERIFY2(r->teacherError.contains(QLatin1String(bad)), qPrintable(r->teacherError));
      QVERIFY(r->attention);  // the other panels are filled as ever
    }
    // The session goes on: a good teacher afterwards.
    const auto [l, r] = both(st, QStringLiteral("stories260K-moe4.gguf"));
    QVERIFY(l && r);
    compareTeacher(*l, *r, "after the errors");
  }

  // File > Compare with teacher model... on a remote session: the server's list, the chosen path,
  // the panel's name and data, the session document.
  void windowChoosesTheServersModel() {
    const QString models = modelsOrSkip();
    if (models.isEmpty()) return;
    Server srv;
    QVERIFY(srv.start(models));
    ui::MainWindow w(nullptr);
    w.setDebounceMs(0);
    w.show();
    // A local teacher chosen before: not sent to the server.
    w.teacherPanel()->setTeacherPath(models + "/stories260K-moe4.gguf");
    QSignalSpy loaded(w.controller(), &ui::SessionController::modelLoaded);
    w.connectToServer(srv.target("stories260K.gguf"));
    QTRY_VERIFY_WITH_TIMEOUT(!loaded.isEmpty(), 60000);
    QVERIFY(w.teacherPanel()->teacherPath().isEmpty());
    w.setPrompt("Once upon a time there was a little girl");
    QVERIFY(uitest::waitSettled(&w, 60000));
    QAction* compare = nullptr;
    for (QAction* a : w.menuBar()->actions())
      if (a->menu())
        for (QAction* b : a->menu()->actions())
          if (b->text().remove('&').startsWith(QLatin1String("Compare with teacher"))) compare = b;
    QVERIFY(compare);
    bool listed = false, answered = false;
    const QString pick = QStringLiteral("stories260K-moe4.gguf");
    QTimer::singleShot(0, [&] { answerChooser(pick, &listed, &answered); });
    compare->trigger();
    QVERIFY(answered);
    QVERIFY(listed);
    QCOMPARE(w.teacherPanel()->teacherPath(), pick);
    QVERIFY(uitest::waitSettled(&w, 60000));
    const ui::SnapshotPtr s = w.shownSnapshot();
    QVERIFY2(s && s->teacher, qPrintable(s ? s->teacherError : QString()));
    QCOMPARE(s->teacherName, pick);
    const auto labels = w.teacherPanel()->findChildren<QLabel*>();
    bool named = false;
    for (QLabel* l : labels) named |= l->text() == QStringLiteral("Teacher: %1").arg(pick);
    QVERIFY(named);
    // Saved, the server's path is kept apart: never read back as a local file.
    const rt::SessionState doc = w.sessionDocument();
    QCOMPARE(doc.view.extra.at("teacher.server_model"), pick.toStdString());
    QCOMPARE(doc.view.extra.at("teacher.server"), srv.target(pick).address().toStdString());
    QVERIFY(!doc.view.extra.count("teacher.model"));
    QVERIFY(ui::viewStateFromSession(doc).teacher.model.empty());
    // Back to a local model: the server's path is dropped.
    QSignalSpy again(w.controller(), &ui::SessionController::modelLoaded);
    w.openModel(models + "/stories260K.gguf");
    QTRY_VERIFY_WITH_TIMEOUT(!again.isEmpty(), 60000);
    QVERIFY(w.teacherPanel()->teacherPath().isEmpty());
  }

  // The Connect dialog's List: the server's models in the combo; an unreachable server says so in
  // the dialog, and the call returns at once (the listing runs off the UI thread).
  void connectDialogLists() {
    const QString models = modelsOrSkip();
    if (models.isEmpty()) return;
    auto srv = std::make_unique<Server>();
    QVERIFY(srv->start(models));
    ui::ConnectDialog d;
    d.setTarget(srv->target(QString()));
    QSignalSpy done(&d, &ui::ConnectDialog::modelsListed);
    d.listModels();
    QTRY_VERIFY_WITH_TIMEOUT(d.listed(), 30000);
    QVERIFY(d.modelCombo()->findText("stories260K.gguf") >= 0);
    QVERIFY(d.modelCombo()->findText("hf/stories260K") >= 0);
    QVERIFY2(d.listStatus()->text().contains("on the server"), qPrintable(d.listStatus()->text()));
    d.modelCombo()->setCurrentIndex(d.modelCombo()->findText("stories260K-moe4.gguf"));
    QCOMPARE(d.target().model, QStringLiteral("stories260K-moe4.gguf"));
    // The server gone: a clear message, the UI thread free meanwhile.
    const ui::RemoteTarget gone = srv->target(QString());
    srv.reset();
    d.setTarget(gone);
    QElapsedTimer t;
    t.start();
    d.listModels();
    QVERIFY(t.elapsed() < 1000);
    QTRY_VERIFY_WITH_TIMEOUT(d.listed(), ui::kListModelsDeadlineMs + 10000);
    QVERIFY2(d.listStatus()->text().contains("Could not list") &&
                 d.listStatus()->text().contains(gone.address()),
             qPrintable(d.listStatus()->text()));
  }
};

QTEST_MAIN(TestGuiRemoteTeacher)
#include "tst_gui_remote_teacher.moc"
