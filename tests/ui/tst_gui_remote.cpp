// The GUI attached to a real `layerlens-cli serve` on loopback (issue 17): a remote
// SessionController's snapshots equal a local one's bit for bit (dense and MoE, an expert ban and
// a knockout, a prompt edit with prefix reuse); File > Connect to server shows the remote model; a
// server killed mid-run leaves the last panels marked stale with a clear error, and connecting
// again works; a wrong token keeps the current model. Skips without gRPC or ../shared.
#include "gui_remote_compare.h"
#include "gui_remote_support.h"
#include "ui/connect_dialog.h"
#include "ui/main_window.h"
#include "ui/model_panel.h"
#include "ui/remote_job.h"
#include "ui/session_controller.h"
#include "ui_wait.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProcess>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <cstring>
#include <functional>
#include <memory>

using namespace ll;
using namespace guiremote;

namespace {

bool sameTop(const std::vector<std::pair<QString, float>>& a,
             const std::vector<std::pair<QString, float>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || std::memcmp(&a[i].second, &b[i].second, sizeof(float)))
      return false;
  return true;
}

// Every panel output a remote session fills, bit for bit.
void compareSnapshots(const ui::Snapshot& l, const ui::Snapshot& r) {
  QCOMPARE(r.tokens, l.tokens);
  QVERIFY(r.charSpans == l.charSpans);
  QCOMPARE(r.nTokens, l.nTokens);
  QCOMPARE(r.layer, l.layer);
  QCOMPARE(r.head, l.head);
  QCOMPARE(r.token, l.token);
  QCOMPARE(r.reusedRows, l.reusedRows);
  QVERIFY(l.trace && r.trace);
  // The trace's logits (exports and the selected token's lens read them, reused rows included).
  QVERIFY2(sameBits(r.trace->logits, l.trace->logits), "trace logits");
  QVERIFY(l.attention && r.attention);
  QVERIFY2(sameBits(r.attention->values, l.attention->values), "attention map");
  QCOMPARE(r.attention->maskWindow, l.attention->maskWindow);
  QVERIFY2(sameBits(r.queryRow, l.queryRow), "query row");
  QCOMPARE(r.gridTokens, l.gridTokens);
  QVERIFY2(sameBits(r.headGrid, l.headGrid), "head grid");
  QVERIFY2(sameBits(r.lensEntropy, l.lensEntropy), "lens entropy");
  QVERIFY2(sameBits(r.lensRank, l.lensRank), "lens rank");
  QCOMPARE(r.rankToken, l.rankToken);
  QCOMPARE(r.rankTokenText, l.rankTokenText);
  QVERIFY2(sameBits(r.outputEntropy, l.outputEntropy), "output entropy");
  QVERIFY(l.lensGrid && r.lensGrid);
  QCOMPARE(r.lensGrid->first, l.lensGrid->first);
  QCOMPARE(r.lensGrid->cols, l.lensGrid->cols);
  QVERIFY2(sameBits(r.lensGrid->prob, l.lensGrid->prob), "lens grid probabilities");
  QVERIFY2(sameBits(r.lensGrid->entropy, l.lensGrid->entropy), "lens grid entropy");
  QVERIFY2(sameBits(r.lensGrid->topIds, l.lensGrid->topIds), "lens grid top ids");
  QVERIFY2(sameBits(r.lensGrid->topProbs, l.lensGrid->topProbs), "lens grid top probabilities");
  QVERIFY(r.lensGrid->text == l.lensGrid->text);
  QVERIFY2(sameTop(r.topNext, l.topNext), "top-k");
  QVERIFY2(sameBits(r.routing, l.routing), "routing");
  QVERIFY2(sameBits(r.load, l.load), "expert load");
  QCOMPARE(r.routingWarning, l.routingWarning);
  QCOMPARE(r.knockoutWarning, l.knockoutWarning);
  QCOMPARE(r.selectionError, l.selectionError);
  QCOMPARE(r.kept, l.kept);
  QVERIFY2(sameBits(r.scores, l.scores), "selection scores");
  QVERIFY2(sameOverlap(r.overlap, l.overlap), "selection overlap");
  QCOMPARE(r.selectionK, l.selectionK);
  QVERIFY(r.selectionParams == l.selectionParams);
  QCOMPARE(r.selectionReason, l.selectionReason);
  QCOMPARE(r.selectionWarnings, l.selectionWarnings);
  QVERIFY(r.hasContinuation && l.hasContinuation);
  QCOMPARE(r.continuation, l.continuation);
}

// Answers the modal Connect dialog once it is up (it runs its own event loop).
void answerConnectDialog(const ui::RemoteTarget& t, bool* answered) {
  auto* d = qobject_cast<ui::ConnectDialog*>(QApplication::activeModalWidget());
  if (!d) {
    QTimer::singleShot(20, [t, answered] { answerConnectDialog(t, answered); });
    return;
  }
  d->hostEdit()->setText(t.host);
  d->portBox()->setValue(t.port);
  d->tokenEdit()->setText(t.tokenFile);
  d->modelEdit()->setText(t.model);
  *answered = true;
  d->accept();
}

}  // namespace

class TestGuiRemote : public QObject {
  Q_OBJECT

 private:
  // Skips without the client, the CLI or the fixtures; the models folder otherwise.
  QString setUp() { return modelsOrSkip(); }

  // ranks > 1: the server splits the layers over `mpirun -np ranks` processes.
  void parity(const QString& model, bool moe, int ranks = 1) {
    const QString models = setUp();
    if (models.isEmpty()) return;
    const QStringList launcher = ranks > 1 ? mpirunLauncher(ranks) : QStringList();
    if (ranks > 1 && launcher.isEmpty()) return;  // skipped
    Server srv;
    QVERIFY(srv.start(models, {}, launcher));
    ui::SessionController local, remote;
    QVERIFY(loadBoth(local, remote, srv, models + "/" + model, model));
    QCOMPARE(remote.modelInfo().server, srv.target(model).address());
    // The model card says where the layers run (and so that this is a split server).
    QCOMPARE(remote.modelInfo().backend.contains(
                 QStringLiteral("layers split over %1 processes").arg(ranks)),
             ranks > 1);
    QCOMPARE(remote.modelInfo().nLayer, local.modelInfo().nLayer);
    QCOMPARE(remote.modelInfo().nExpert, local.modelInfo().nExpert);

    ui::ViewState st;
    st.prompt = "Once upon a time there was a little girl named Lily";
    st.layer = 1;
    st.head = 0;
    st.outputTokens = 8;
    const auto same = [&](const ui::ViewState& v) {
      const ui::SnapshotPtr l = settle(local, v), r = settle(remote, v);
      QVERIFY(l && r);
      QVERIFY(l->nTokens > 4);
      // What is compared is there (not two empty views).
      QVERIFY(!l->headGrid.empty() && !l->kept.empty() && !l->topNext.empty());
      QVERIFY(!l->continuation.isEmpty() && !l->lensGrid->empty());
      QCOMPARE(l->routing.empty(), !moe);
      compareSnapshots(*l, *r);
    };
    same(st);
    if (QTest::currentTestFailed()) return;
    // Another head (the sum), the selected token, the lens grid with the after-attention rows and
    // another selection method: the same run, other reads.
    st.head = -2;
    st.token = 3;
    st.lensGrid.mid = true;
    st.selection.method = ui::SelectMethod::H2O;
    same(st);
    if (QTest::currentTestFailed()) return;
    // Interventions: a knockout of token 1 for the last queries, and an expert ban on the MoE.
    st.knockout = rt::Knockout{{}, {1}, 0, 2, 5};
    if (moe) st.routerEdits = {{0, 1, rt::RouterEditKind::Ban, 0.0f}};
    st.selection.method = ui::SelectMethod::SnapKv;
    same(st);
    if (QTest::currentTestFailed()) return;
    // A prompt edit: the prefix is reused on both sides, and everything is equal again.
    st.prompt += " who loved";
    st.token = 2;  // inside the reused prefix: its logit row is the previous run's
    const ui::SnapshotPtr l = settle(local, st), r = settle(remote, st);
    QVERIFY(l && r);
    QVERIFY2(r->reusedRows > 0, "the server reused the prompt's prefix");
    compareSnapshots(*l, *r);
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);  // QSettings of its own
    // Here, so that ctest reports the whole binary as skipped (no test function passes).
    if (!ui::remoteClientBuilt())
      QSKIP("built without gRPC (libgrpc++-dev, protobuf-compiler-grpc)");
  }
  void remoteEqualsLocalDense() { parity(QStringLiteral("stories260K.gguf"), false); }
  void remoteEqualsLocalMoe() { parity(QStringLiteral("stories260K-moe4.gguf"), true); }
  // The server split over ranks (mpirun): the panels cannot tell either.
  void splitServerEqualsLocalDense() { parity(QStringLiteral("stories260K.gguf"), false, 3); }
  void splitServerEqualsLocalMoe() { parity(QStringLiteral("stories260K-moe4.gguf"), true, 2); }

  // The teacher (once "not available") runs on the server (tst_gui_remote_teacher.cpp compares it
  // with the local one); exports that run the runtime in this process are refused.
  void unavailableOutputsSaySo() {
    const QString models = setUp();
    if (models.isEmpty()) return;
    Server srv;
    QVERIFY(srv.start(models));
    ui::SessionController remote;
    QSignalSpy rl(&remote, &ui::SessionController::modelLoaded);
    QSignalSpy rf(&remote, &ui::SessionController::loadFailed);
    remote.connectRemote(srv.target("stories260K.gguf"));
    QVERIFY(waitLoaded(remote, rl, rf));
    ui::ViewState st;
    st.prompt = "One day a cat";
    st.teacher.model = "stories260K.gguf";
    const ui::SnapshotPtr s = settle(remote, st);
    QVERIFY(s);
    QVERIFY2(s->teacher && s->teacherError.isEmpty(), qPrintable(s->teacherError));
    QString error = "unset";
    remote.runTask([](rt::Session&) {}, [&](const QString& e) { error = e; });
    QTRY_VERIFY_WITH_TIMEOUT(error != "unset", 30000);
    QVERIFY2(error.contains("not available on a remote session"), qPrintable(error));
  }

  // File > Connect to server through the window: the dialog's target opens the remote model, the
  // title and the model card name the server, and the panels fill from it.
  void connectDialogShowsRemoteModel() {
    const QString models = setUp();
    if (models.isEmpty()) return;
    Server srv;
    QVERIFY(srv.start(models));
    ui::MainWindow w(nullptr);
    w.setDebounceMs(0);
    w.show();
    QSignalSpy loaded(w.controller(), &ui::SessionController::modelLoaded);
    bool answered = false;
    const ui::RemoteTarget t = srv.target("stories260K.gguf");
    QTimer::singleShot(0, [t, &answered] { answerConnectDialog(t, &answered); });
    w.showConnectDialog();
    QVERIFY(answered);
    QTRY_VERIFY_WITH_TIMEOUT(!loaded.isEmpty(), 60000);
    QVERIFY2(w.windowTitle().contains(t.address()) && w.windowTitle().contains("remote"),
             qPrintable(w.windowTitle()));
    QVERIFY2(w.modelPanel()->cardText().contains(t.address()),
             qPrintable(w.modelPanel()->cardText()));
    QCOMPARE(ui::savedRemoteTarget().port, t.port);
    QCOMPARE(ui::savedRemoteTarget().model, t.model);
    w.setPrompt("Once upon a time");
    QVERIFY(uitest::waitSettled(&w, 60000, QStringLiteral("Once upon a time")));
    QVERIFY(w.shownSnapshot()->nTokens > 2);
    QVERIFY(w.shownSnapshot()->attention);
  }

  // The server SIGKILLed while the window runs on it: a clear error that stays, the panels keep
  // the last snapshot (marked stale), nothing hangs; connecting again works.
  void serverKilledKeepsPanels() {
    const QString models = setUp();
    if (models.isEmpty()) return;
    auto srv = std::make_unique<Server>();
    QVERIFY(srv->start(models));
    ui::MainWindow w(nullptr);
    w.setDebounceMs(0);
    w.show();
    QSignalSpy loaded(w.controller(), &ui::SessionController::modelLoaded);
    w.connectToServer(srv->target("stories260K-moe4.gguf"));
    QTRY_VERIFY_WITH_TIMEOUT(!loaded.isEmpty(), 60000);
    w.setPrompt("Once upon a time there was a dog");
    QVERIFY(uitest::waitSettled(&w, 60000));
    const ui::SnapshotPtr before = w.shownSnapshot();
    QVERIFY(before && before->nTokens > 2);
    QSignalSpy failed(w.controller(), &ui::SessionController::analysisFailed);
    // An edit, and the server dies while the window runs it (or right after).
    w.setPrompt("Once upon a time there was a dog and a cat");
    srv->kill();
    QElapsedTimer t;
    t.start();
    for (int edit = 0; failed.isEmpty() && t.elapsed() < 60000; ++edit) {
      QTest::qWait(50);
      if (!failed.isEmpty() || w.controller()->busy()) continue;
      w.setPrompt(QStringLiteral("Once upon a time there was a dog %1").arg(edit));
    }
    QVERIFY2(!failed.isEmpty(), "no error after the server was killed");
    QTRY_VERIFY_WITH_TIMEOUT(!w.controller()->busy(), 30000);  // no hang
    const QString error = w.analysisErrorText();
    QVERIFY2(error.contains(srv->target("").address()) && error.contains("stale"),
             qPrintable(error));
    QVERIFY2(error.contains("Lost the connection") || error.contains("did not answer"),
             qPrintable(error));
    // The panels keep the last result: the shown snapshot stays and still has its data.
    const ui::SnapshotPtr kept = w.shownSnapshot();
    QVERIFY(kept && kept->nTokens > 2 && kept->attention);
    QVERIFY(w.controller()->hasModel());

    // A new server: connecting again works and clears the error.
    Server again;
    QVERIFY(again.start(models));
    loaded.clear();
    w.connectToServer(again.target("stories260K-moe4.gguf"));
    QTRY_VERIFY_WITH_TIMEOUT(!loaded.isEmpty(), 60000);
    w.setPrompt("Once upon a time there was a bird");
    QVERIFY(uitest::waitSettled(&w, 60000, QStringLiteral("Once upon a time there was a bird")));
    QVERIFY(w.analysisErrorText().isEmpty());
    QVERIFY(w.windowTitle().contains(again.target("").address()));
  }

  // A refused token: a clear error, the current (local) model stays loaded.
  void wrongTokenKeepsModel() {
    const QString models = setUp();
    if (models.isEmpty()) return;
    QTemporaryDir dir;
    QFile good(dir.filePath("token")), bad(dir.filePath("wrong"));
    QVERIFY(good.open(QIODevice::WriteOnly) && good.write("right-secret\n") > 0);
    QVERIFY(bad.open(QIODevice::WriteOnly) && bad.write("wrong-secret\n") > 0);
    good.close();
    bad.close();
    Server srv;
    QVERIFY(srv.start(models, {"--token-file", good.fileName()}));
    ui::MainWindow w(nullptr);
    w.setDebounceMs(0);
    w.show();
    QSignalSpy loaded(w.controller(), &ui::SessionController::modelLoaded);
    QSignalSpy failed(w.controller(), &ui::SessionController::loadFailed);
    w.openModel(models + "/stories260K.gguf");
    QTRY_VERIFY_WITH_TIMEOUT(!loaded.isEmpty(), 60000);
    const QString title = w.windowTitle();
    w.connectToServer(srv.target("stories260K-moe4.gguf", bad.fileName()));
    QTRY_VERIFY_WITH_TIMEOUT(!failed.isEmpty(), 60000);
    const QString error = failed.first().at(1).toString();
    QVERIFY2(error.contains(srv.target("").address()) && error.contains("unauthenticated"),
             qPrintable(error));
    QCOMPARE(loaded.size(), 1);
    QVERIFY(w.controller()->hasModel());
    QVERIFY(w.controller()->modelInfo().server.isEmpty());
    QCOMPARE(w.controller()->modelInfo().nExpert, 0);
    QCOMPARE(w.windowTitle(), title);
    QVERIFY2(w.modelPanel()->errorText().contains("unauthenticated") &&
                 w.modelPanel()->errorText().contains("stories260K-moe4.gguf on 127.0.0.1"),
             qPrintable(w.modelPanel()->errorText()));
    // The right token opens it.
    w.connectToServer(srv.target("stories260K-moe4.gguf", good.fileName()));
    QTRY_VERIFY_WITH_TIMEOUT(loaded.size() == 2, 60000);
    QVERIFY(w.controller()->modelInfo().nExpert > 0);
  }
};

QTEST_MAIN(TestGuiRemote)
#include "tst_gui_remote.moc"
