// Token selection defined once (issue 16 §1): the CLI's `select` with no options, the GUI's
// default settings (ViewState and the panel's controls) and the figure exporter's selection view
// run the same rt::ana::SelectionRequest, whose derived defaults follow ALGORITHMS.md §2-5; and one
// selection (model, prompt, method, k, layer) keeps the same tokens through the CLI process, the
// GUI's worker and the figure export on stories260K.
#include "app/cli/selection_options.h"
#include "runtime/analysis/selection_request.h"
#include "runtime/api/selection_export.h"
#include "tests/parity/cli_process.h"
#include "ui/export_actions.h"
#include "ui/main_window.h"
#include "ui/selection_model.h"
#include "ui/selection_panel.h"
#include "ui/session_controller.h"
#include "ui/session_state_map.h"
#include "visualizers/figure/figure_builder.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>

#include "ui_wait.h"

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

using namespace ll;
namespace ana = rt::ana;

namespace {

QString modelPath(const char* name) {
  const QByteArray dir = qgetenv("LAYERLENS_SHARED_DIR");
  const QString p = QString::fromLocal8Bit(dir) + QStringLiteral("/models/") + QLatin1String(name);
  return !dir.isEmpty() && QFile::exists(p) ? p : QString();
}

// build/app/layerlens-cli above this test's folder; empty when it was not built.
std::filesystem::path cliPath() {
  std::error_code ec;
  auto dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (; !ec && dir.has_parent_path() && dir != dir.parent_path(); dir = dir.parent_path())
    if (std::filesystem::exists(dir / "app" / "layerlens-cli"))
      return dir / "app" / "layerlens-cli";
  return {};
}

char* describe(const ana::SelectionRequest& r) {
  return QTest::toString(QStringLiteral("method %1 layer %2 k %3 window %4 recent %5 kernel %6 "
                                        "maxPool %7 stages '%8' kvTrim %9")
                             .arg(ana::selectionMethodKey(r.method))
                             .arg(r.layer)
                             .arg(r.k)
                             .arg(r.window)
                             .arg(r.recent)
                             .arg(r.kernel)
                             .arg(r.maxPool)
                             .arg(QString::fromStdString(r.stages))
                             .arg(r.kvTrim));
}

const QString kPrompt = QStringLiteral(
    "Once upon a time there was a little girl named Lily. She liked to play in the park with "
    "her big red ball.");

}  // namespace

namespace QTest {
template <>
char* toString(const ana::SelectionRequest& r) {
  return describe(r);
}
}  // namespace QTest

class TstSelectionDefaults : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_selection_defaults"));
    QSettings().clear();
  }

  // The three front ends' default requests are one request (the GUI's layer follows the
  // window's selected layer; with none selected it is the request's own rule, as in the CLI).
  void frontEndsShareDefaults() {
    const ana::SelectionRequest cli = cli::defaultCliSelectionRequest();
    const ana::SelectionRequest gui = ui::selectionRequest(ui::ViewState{}.selection, ana::kAuto);
    ui::SelectionModel sel;
    ui::SelectionPanel panel(&sel);
    const ana::SelectionRequest guiPanel = ui::selectionRequest(panel.state(), ana::kAuto);
    vis::FigureRequest fr;
    fr.view = "selection";
    const ana::SelectionRequest fig = vis::selectionRequestOf(fr);
    QCOMPARE(gui, cli);
    QCOMPARE(guiPanel, cli);
    QCOMPARE(fig, cli);
    // A session saved from the defaults, and one the CLI wrote (no selection settings), restore
    // the same request.
    const auto restored = ui::viewStateFromSession(ui::sessionFromViewState(ui::ViewState{}, "m"));
    QCOMPARE(ui::selectionRequest(restored.selection, ana::kAuto), cli);
    QCOMPARE(
        ui::selectionRequest(ui::viewStateFromSession(rt::SessionState{}).selection, ana::kAuto),
        cli);
  }

  // The defaults follow ALGORITHMS.md: at a 32-layer model and a long prompt GemFilter's r and
  // PromptDistill's l are 13 (§2, §5), k = 1024 (§2-3, §5), SnapKV's W = 32 (§3), H2O's r = 32 and
  // hh = k - 32 (§4), pooling kernel 5; for a small k the window and recent tokens shrink with it,
  // and k is min(k, T).
  void defaultsFollowAlgorithms() {
    const ana::SelectionParams p = ana::resolveSelection({}, 4000, 32);
    QCOMPARE(p.layer, 13);
    QCOMPARE(p.k, 1024);
    QCOMPARE(p.window, 32);
    QCOMPARE(p.capacity, 1024);
    QCOMPARE(p.recent, 32);
    QCOMPARE(p.heavy, 1024 - 32);
    QCOMPARE(p.kernel, 5);
    ana::SelectionRequest small;
    small.k = 8;
    const ana::SelectionParams q = ana::resolveSelection(small, 40, 5);
    QCOMPARE(q.layer, 2);  // floor(13 * 5 / 32)
    QCOMPARE(q.window, 2);
    QCOMPARE(q.recent, 4);
    QCOMPARE(ana::resolveSelection({}, 12, 5).k, 12);
    ana::SelectionRequest bad;
    bad.kernel = 0;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, ana::resolveSelection(bad, 12, 5));
    bad = {};
    bad.layer = 5;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, ana::resolveSelection(bad, 12, 5));
  }

  // The same selection through the CLI process, the GUI's worker and the figure export.
  void sameKeptSetEverywhere() {
    const QString model = modelPath("stories260K.gguf");
    if (model.isEmpty()) QSKIP("stories260K not found: set LAYERLENS_SHARED_DIR");
    const auto cli = cliPath();
    if (cli.empty()) QSKIP("layerlens-cli was not built");
    auto w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 2);
    w->resize(1400, 900);
    QSignalSpy loaded(w->controller(), &ui::SessionController::modelLoaded);
    w->openModel(model);
    QVERIFY(loaded.wait(30000));
    w->setPrompt(kPrompt);
    QVERIFY(uitest::waitSettled(w.get(), 60000, kPrompt));
    ui::SelectionPanel* p = w->selectionPanel();
    const std::vector<int32_t> ids = w->shownSnapshot()->trace->ids;
    std::string idText;
    for (int32_t id : ids) idText += (idText.empty() ? "" : ",") + std::to_string(id);
    rt::Session session;
    session.load(model.toStdString(), rt::parseBackend("cpu", 2));
    session.setPromptIds(ids);
    const auto trace = session.run();
    const int layer = 2, k = 7;
    p->followBox()->setChecked(false);
    p->layerSlider()->setValue(layer);
    for (auto m : {ana::SelectionMethod::GemFilter, ana::SelectionMethod::SnapKv,
                   ana::SelectionMethod::H2O, ana::SelectionMethod::PromptDistill}) {
      const std::string key = ana::selectionMethodKey(m);
      p->methodBox()->setCurrentIndex(int(m));
      p->kSlider()->setValue(k);
      QVERIFY(uitest::waitSettled(w.get(), 60000));
      const ui::SnapshotPtr s = w->shownSnapshot();
      QVERIFY2(s->selectionError.isEmpty(), qPrintable(s->selectionError));
      QVERIFY(s->state.selection.method == m);
      QCOMPARE(s->state.selection.k, k);

      int rc = 0;
      const std::string out =
          clitest::runCapture(cli.string() + " select " + model.toStdString() + " --ids " + idText +
                                  " --method " + key + " --layer " + std::to_string(layer) +
                                  " --k " + std::to_string(k) + " 2>/dev/null",
                              &rc);
      QCOMPARE(rc, 0);
      const auto j = nlohmann::json::parse(out);
      std::vector<int> cliKept;
      if (j.contains("kept")) {
        cliKept = j["kept"].get<std::vector<int>>();
      } else {  // SnapKV / H2O: the union over heads
        std::set<int> u;
        for (const auto& h : j["kept_per_head"]) u.insert(h.begin(), h.end());
        cliKept.assign(u.begin(), u.end());
      }

      vis::FigureRequest fr;
      fr.view = "selection";
      fr.method = key;
      fr.layer = layer;
      fr.selection.k = k;
      const rt::SelectionRecord rec = vis::selectionRecord(session, *trace, fr);
      std::vector<int> figKept;
      for (const auto& t : rec.tokens)
        if (t.kept) figKept.push_back(t.index);

      QVERIFY2(!s->kept.empty() && int(s->kept.size()) < s->nTokens, key.c_str());
      QCOMPARE(cliKept, s->kept);
      QCOMPARE(figKept, s->kept);
      QCOMPARE(j["k_used"].get<int>(), s->selectionK);
      QCOMPARE(QString::fromStdString(j.value("reason", std::string())), s->selectionReason);

      // The method is spelled the same way in all three records (and in the window's session).
      QCOMPARE(rec.method, key);
      QTemporaryDir dir;
      const QString jsonPath = dir.filePath("selection.json");
      QString error;
      QVERIFY2(ui::exportViewData(*s, "selection", jsonPath, "model", &error), qPrintable(error));
      QFile f(jsonPath);
      QVERIFY(f.open(QIODevice::ReadOnly));
      const auto exported = nlohmann::json::parse(f.readAll().toStdString());
      QCOMPARE(exported.value("method", std::string()), key);
      QCOMPARE(ui::sessionFromSnapshot(*s, model).view.method, key);
      QCOMPARE(ui::sessionFromViewState(s->state, model.toStdString()).view.method, key);
    }
  }
};

QTEST_MAIN(TstSelectionDefaults)
#include "tst_selection_defaults.moc"
