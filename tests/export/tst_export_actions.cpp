// GUI export hooks: figures and data from a snapshot of every view (built here
// from a real demo model trace), session documents from a snapshot, and the
// File/Demos menu entries installed on a real MainWindow (offscreen, no
// Vulkan).
#include <QAction>
#include <QApplication>
#include <QFileInfo>
#include <QMenu>
#include <QMenuBar>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "runtime/api/npy_io.h"
#include "runtime/api/selection_export.h"
#include "runtime/api/session.h"
#include "runtime/api/session_file.h"
#include "runtime/demo/demo_model.h"
#include "ui/demo_menu.h"
#include "ui/export_actions.h"
#include "ui/main_window.h"

using namespace ll;

class TstExportActions : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  ui::Snapshot m_snap;

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    const std::string model = m_dir.filePath("demo.gguf").toStdString();
    rt::demo::writeDemoModel(model);
    rt::Session s;
    s.load(model, rt::parseBackend("cpu", 1));
    const std::string prompt = "abcd abcd";
    s.setPrompt(prompt);
    auto tr = s.run();
    const int T = tr->nTokens, L = tr->nLayer, H = tr->nHead, E = tr->nExpert;
    ui::Snapshot& n = m_snap;
    n.state.prompt = prompt;
    n.trace = tr;
    n.nTokens = T;
    n.nLayer = L;
    n.nHead = H;
    n.nExpert = E;
    n.layer = 1;
    n.head = 0;
    n.token = T - 1;
    for (int t = 0; t < T; ++t) n.tokens << QString::fromStdString(tr->pieces[size_t(t)]);
    n.attention =
        std::make_shared<vis::HeatmapMatrix>(vis::HeatmapMatrix{T, T, s.attentionMap(*tr, 1, 0)});
    n.gridTokens = T;
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h) {
        const auto m = s.attentionMap(*tr, l, h);
        n.headGrid.insert(n.headGrid.end(), m.begin(), m.end());
      }
    n.lensEntropy = {3.0f, 2.5f, 0.1f};
    n.lensRank = {40, 12, 0};
    for (int l = 0; l < L; ++l)
      n.routing.insert(n.routing.end(), tr->layers[size_t(l)].routerProbs.begin(),
                       tr->layers[size_t(l)].routerProbs.end());
    n.kept = {0, 2, 5};
    for (int t = 0; t < T; ++t) n.scores.push_back(float(t));
    n.state.selection.k = 3;
  }

  void figuresOfEveryView() {
    for (const QString& view : ui::exportViews()) {
      const auto spec = ui::figureFromSnapshot(m_snap, view, "demo.gguf");
      QVERIFY(spec.caption.contains(QString::fromStdString(rt::promptHash("abcd abcd"))));
      const QString path = m_dir.filePath(view + ".svg");
      QString err;
      QVERIFY2(vis::exportFigure(spec, path, 1, &err), qPrintable(err));
      QVERIFY(QFileInfo(path).size() > 1000);
    }
    ui::Snapshot empty;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                             ui::figureFromSnapshot(empty, "attention", "m"));
  }

  void dataExports() {
    QString err;
    const QString att = m_dir.filePath("att.npy");
    QVERIFY2(ui::exportViewData(m_snap, "attention", att, "demo.gguf", &err), qPrintable(err));
    QCOMPARE(rt::readNpyF32(att.toStdString()).data, m_snap.attention->values);
    const QString grid = m_dir.filePath("grid.npy");
    QVERIFY(ui::exportViewData(m_snap, "headgrid", grid, "demo.gguf", &err));
    const std::vector<int64_t> gshape = {2, 2, m_snap.nTokens, m_snap.nTokens};
    QCOMPARE(rt::readNpyF32(grid.toStdString()).shape, gshape);
    for (const char* ext : {"json", "csv"}) {
      const QString sel = m_dir.filePath(QString("sel.") + ext);
      QVERIFY2(ui::exportViewData(m_snap, "selection", sel, "demo.gguf", &err), qPrintable(err));
      const auto rec = QString(ext) == "json" ? rt::readSelectionJson(sel.toStdString())
                                              : rt::readSelectionCsv(sel.toStdString());
      QCOMPARE(int(rec.tokens.size()), m_snap.nTokens);
      QVERIFY(rec.tokens[2].kept && !rec.tokens[3].kept);
      QCOMPARE(rec.tokens[4].score, 4.0f);
    }
    QVERIFY(!ui::exportViewData(m_snap, "attention", m_dir.filePath("x.txt"), "m", &err));
  }

  void sessionRoundTrip() {
    const auto st = ui::sessionFromSnapshot(m_snap, m_dir.filePath("demo.gguf"));
    const std::string path = m_dir.filePath("s.llsession").toStdString();
    rt::saveSession(path, st);
    const auto back = rt::loadSession(path);
    QVERIFY(back == st);
    QCOMPARE(back.prompt, std::string("abcd abcd"));
    QCOMPARE(back.view.layer, 1);
    QCOMPARE(int(back.selections.size()), 1);
  }

  void menusOnTheMainWindow() {
    ui::MainWindow w(nullptr);
    ui::installExportActions(&w);
    ui::installDemoMenu(&w, false);
    QStringList file, demos, other;
    for (QAction* a : w.menuBar()->actions()) {
      if (!a->menu()) continue;
      const QString title = a->text().remove('&');
      for (QAction* b : a->menu()->actions())
        (title == "File" ? file : title == "Demos" ? demos : other) << b->text();
    }
    QVERIFY(file.filter("Export figure").size() == 1);
    QVERIFY(file.filter("Save session").size() == 1);
    QVERIFY2(demos.size() >= 10, qPrintable(demos.join(", ")));
  }

  // Started without a model: the first guided demo opens the built-in model with its prompt, the
  // panels get a snapshot of it and every view exports.
  void startsOnTheDemoModel() {
    QStandardPaths::setTestModeEnabled(true);
    ui::MainWindow w(nullptr);
    ui::installExportActions(&w);
    ui::installDemoMenu(&w, true);
    QTRY_VERIFY_WITH_TIMEOUT(w.shownSnapshot() && w.shownSnapshot()->nTokens > 5, 60000);
    const auto snap = w.shownSnapshot();
    QCOMPARE(QString::fromStdString(snap->state.prompt), QString("the cat sat on the mat"));
    QVERIFY(QFileInfo(ui::demoModelCacheDir() + "/layerlens-demo.gguf").exists());
    for (const QString& view : {QString("attention"), QString("selection")}) {
      const auto spec = ui::figureFromSnapshot(*snap, view, "layerlens-demo.gguf");
      QString err;
      QVERIFY2(vis::exportFigure(spec, m_dir.filePath("live-" + view + ".pdf"), 1, &err),
               qPrintable(err));
    }
  }
};

QTEST_MAIN(TstExportActions)
#include "tst_export_actions.moc"
