// GUI export hooks: figures and data from a snapshot of every view (built here
// from a real demo model trace), session documents from a snapshot, and the
// File/Demos menu entries installed on a real MainWindow (offscreen, no
// Vulkan).
#include <QAction>
#include <QApplication>
#include <QFile>
#include <QFileInfo>
#include <QMenu>
#include <QMenuBar>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "runtime/analysis/attribution.h"
#include "runtime/analysis/expert_contrast.h"
#include "runtime/analysis/flow_routes.h"
#include "runtime/analysis/knockout.h"
#include "runtime/analysis/latent_language.h"
#include "runtime/analysis/layer_skip.h"
#include "runtime/analysis/lens.h"
#include "runtime/analysis/patching.h"
#include "runtime/analysis/steering_sweep.h"
#include "runtime/analysis/teacher.h"
#include "runtime/api/npy_io.h"
#include "runtime/api/selection_export.h"
#include "runtime/api/session.h"
#include "runtime/api/session_file.h"
#include "runtime/demo/demo_model.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/parity/cli_process.h"
#include "ui/demo_menu.h"
#include "ui/export_actions.h"
#include "ui/main_window.h"
#include "visualizers/figure/figure_builder.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

using namespace ll;

class TstExportActions : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  ui::Snapshot m_snap;
  std::vector<float> m_steerVector;

  // The CLI: this test lives in build/tests/export/, the CLI in build/app/ (empty: not built).
  static std::filesystem::path cliExe() {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    auto exe = self.parent_path().parent_path().parent_path() / "app" / "layerlens-cli";
    if (ec || !std::filesystem::exists(exe)) exe = clitest::cliPath();
    return exe;
  }
  static nlohmann::json readJsonFile(const QString& path) {
    std::ifstream f(path.toStdString());
    return nlohmann::json::parse(f);
  }

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
    {
      rt::ana::LensProjector proj(s.engine());
      const auto piece = [&](int32_t id) { return s.model().tokenizer->piece(id); };
      n.lensGrid = std::make_shared<const ui::LensGrid>(
          ui::computeLensGrid(proj, *tr, piece, n.state.lensGrid, T - 1));
    }
    for (int l = 0; l < L; ++l)
      n.routing.insert(n.routing.end(), tr->layers[size_t(l)].routerProbs.begin(),
                       tr->layers[size_t(l)].routerProbs.end());
    n.kept = {0, 2, 5};
    for (int t = 0; t < T; ++t) n.scores.push_back(float(t));
    n.state.selection.k = 3;
    n.attribution = std::make_shared<const rt::ana::Attribution>(
        rt::ana::directLogitAttribution(s.engine(), *tr, {1, 2, -1}));
    n.attributionTargetText = QStringLiteral("a");
    n.attributionOtherText = QStringLiteral("b");
    n.state.latent = {"ab", "cd"};
    n.latent = std::make_shared<const rt::ana::LatentLanguageResult>(
        rt::ana::latentLanguage(s.engine(), *tr, *s.model().tokenizer, {"ab", "cd"}));
    n.state.layerSkip.enabled = true;
    n.layerSkip = std::make_shared<const rt::ana::LayerSkipResult>(rt::ana::layerSkip(s, *tr));
    n.state.contrast.task = {"abcd abcd", "dcba"};
    n.state.contrast.neutral = {"a b c d"};
    n.state.contrast.tau = 0.0f;
    n.contrast = std::make_shared<const rt::ana::ExpertContrastResult>(
        rt::ana::expertContrast(s, n.state.contrast));
    n.state.knockoutReadout.sweep = true;
    n.knockoutEffect = std::make_shared<const rt::ana::KnockoutReadout>(rt::ana::knockoutReadout(
        s, tr->ids, {}, rt::Knockout{{T - 1}, {0, 1}, 0, 1}, n.state.knockoutReadout));
    n.knockoutAnswerText = QStringLiteral("x");
    n.state.steerRead.enabled = true;
    for (int i = 0; i < tr->nEmbd; ++i) m_steerVector.push_back(std::sin(0.7f * i));
    n.steerSweep = std::make_shared<const rt::ana::SteeringSweepResult>(
        rt::ana::steeringSweep(s, *tr, m_steerVector));
    for (int32_t id : n.steerSweep->top1) n.steerSweepTop1 << QString::number(id);
    for (int32_t id : n.steerSweep->layerTop1) n.steerSweepLayerTop1 << QString::number(id);
    // The demo model as its own teacher (a second session on the same file).
    rt::Session teacher;
    teacher.load(model, rt::parseBackend("cpu", 1));
    n.state.teacher.model = model;
    n.teacherName = QStringLiteral("demo.gguf");
    n.teacher = std::make_shared<const rt::ana::TeacherComparison>(
        rt::ana::compareWithTeacherModel(s.model(), *tr, teacher));
    n.state.flow.enabled = true;
    n.flow = std::make_shared<const rt::ana::FlowGraph>(rt::ana::flowGraph(s.engine(), *tr));
    n.state.patching.enabled = true;
    n.state.patching.corrupt = "abce abcd";  // what patchCorrupt gives
    n.patching = std::make_shared<const rt::ana::PatchingResult>(
        rt::ana::activationPatching(s, tr->ids, patchCorrupt(tr->ids), {}));
    n.patchingTargetText = QStringLiteral("a");
    n.patchingOtherText = QStringLiteral("b");
  }

  // The corrupted ids of the patching export: the first "d" of "abcd abcd" made an "e" (the demo
  // model's constructed weights then predict another token at the end).
  static std::vector<int32_t> patchCorrupt(std::vector<int32_t> ids) {
    ids[5] += 1;
    return ids;
  }

  void figuresOfEveryView() {
    for (const QString& view : ui::exportViews()) {
      const auto spec = ui::figureFromSnapshot(m_snap, view, "demo.gguf");
      // The contrast figure is of its two prompt sets (it names their hashes), not of the prompt.
      const std::string prompt = view == "contrast" ? "abcd abcd\ndcba\n" : "abcd abcd";
      QVERIFY2(spec.caption.contains(QString::fromStdString(rt::promptHash(prompt))),
               qPrintable(view + ": " + spec.caption));
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
    // Attribution: the CLI's JSON document byte for byte, and the heads as .npy.
    const QString attr = m_dir.filePath("attr.json");
    QVERIFY2(ui::exportViewData(m_snap, "attribution", attr, "demo.gguf", &err), qPrintable(err));
    QFile f(attr);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll().toStdString(), rt::ana::attributionJson(*m_snap.attribution) + "\n");
    const QString heads = m_dir.filePath("heads.npy");
    QVERIFY2(ui::exportViewData(m_snap, "attribution", heads, "demo.gguf", &err), qPrintable(err));
    const std::vector<int64_t> hshape = {m_snap.nLayer, m_snap.nHead};
    QCOMPARE(rt::readNpyF32(heads.toStdString()).shape, hshape);
    ui::Snapshot none = m_snap;
    none.attribution.reset();
    QVERIFY(!ui::exportViewData(none, "attribution", attr, "demo.gguf", &err));
  }

  // The Layer skip data export is `layerlens-cli skip`'s document: the real CLI on the same model
  // and token ids (the last position, whole layers) writes the same keys and values.
  void layerSkipExportMatchesCli() {
    QString err;
    const QString gui = m_dir.filePath("skip-gui.json"), cli = m_dir.filePath("skip-cli.json");
    QVERIFY2(ui::exportViewData(m_snap, "layerskip", gui, "demo.gguf", &err), qPrintable(err));
    const QString npy = m_dir.filePath("skip.npy");
    QVERIFY2(ui::exportViewData(m_snap, "layerskip", npy, "demo.gguf", &err), qPrintable(err));
    const std::vector<int64_t> shape = {2, m_snap.nLayer};
    QCOMPARE(rt::readNpyF32(npy.toStdString()).shape, shape);
    const std::filesystem::path exe = cliExe();
    if (exe.empty()) QSKIP("layerlens-cli not built next to the tests");
    std::string ids;
    for (int32_t id : m_snap.trace->ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    int rc = -1;
    const std::string out = clitest::runCapture(
        exe.string() + " skip " + m_dir.filePath("demo.gguf").toStdString() + " --ids " + ids +
            " --threads 1 --out " + cli.toStdString() + " 2>&1",
        &rc);
    QVERIFY2(rc == 0, out.c_str());
    const nlohmann::json a = readJsonFile(gui), b = readJsonFile(cli);
    QCOMPARE(a.dump(), b.dump());
    QCOMPARE(a["kl"].size(), size_t(m_snap.nLayer));
    ui::Snapshot none = m_snap;
    none.layerSkip.reset();
    QVERIFY(!ui::exportViewData(none, "layerskip", gui, "demo.gguf", &err));
    QVERIFY2(err.contains("no layerskip data"), qPrintable(err));
  }

  // The Expert contrast data export is `layerlens-cli contrast`'s document (same model, prompts
  // and τ); .npy is Δ [nLayer, nExpert].
  void contrastExportMatchesCli() {
    QVERIFY(m_snap.contrast);
    QString err;
    const QString gui = m_dir.filePath("contrast-gui.json"), cli = m_dir.filePath("contrast.json");
    QVERIFY2(ui::exportViewData(m_snap, "contrast", gui, "demo.gguf", &err), qPrintable(err));
    const QString npy = m_dir.filePath("contrast.npy");
    QVERIFY2(ui::exportViewData(m_snap, "contrast", npy, "demo.gguf", &err), qPrintable(err));
    const auto arr = rt::readNpyF32(npy.toStdString());
    QCOMPARE(arr.shape, (std::vector<int64_t>{m_snap.nLayer, m_snap.nExpert}));
    QCOMPARE(arr.data, m_snap.contrast->delta);
    const std::filesystem::path exe = cliExe();
    if (exe.empty()) QSKIP("layerlens-cli not built next to the tests");
    int rc = -1;
    const std::string out = clitest::runCapture(
        exe.string() + " contrast " + m_dir.filePath("demo.gguf").toStdString() +
            " --task 'abcd abcd' --task dcba --neutral 'a b c d' --tau 0 --threads 1 --out " +
            cli.toStdString() + " 2>&1",
        &rc);
    QVERIFY2(rc == 0, out.c_str());
    QCOMPARE(readJsonFile(gui).dump(), readJsonFile(cli).dump());
    ui::Snapshot none = m_snap;
    none.contrast.reset();
    QVERIFY(!ui::exportViewData(none, "contrast", gui, "demo.gguf", &err));
    QVERIFY2(err.contains("no contrast data"), qPrintable(err));
  }

  // The Knockout effect data export: the readout's JSON (effect and sweep) and the sweep as .npy
  // [1, nLayer]; without the sweep, the single effect [1, 1].
  void knockoutExports() {
    QString err;
    const QString json = m_dir.filePath("ko.json"), npy = m_dir.filePath("ko.npy");
    QVERIFY2(ui::exportViewData(m_snap, "knockout", json, "demo.gguf", &err), qPrintable(err));
    std::ifstream f(json.toStdString());
    const auto j = nlohmann::json::parse(f);
    QCOMPARE(j.dump(), rt::ana::knockoutReadoutJson(*m_snap.knockoutEffect).dump());
    QCOMPARE(j["sweep"].size(), size_t(m_snap.nLayer));
    QVERIFY2(ui::exportViewData(m_snap, "knockout", npy, "demo.gguf", &err), qPrintable(err));
    const auto arr = rt::readNpyF32(npy.toStdString());
    QCOMPARE(arr.shape, (std::vector<int64_t>{1, m_snap.nLayer}));
    for (int l = 0; l < m_snap.nLayer; ++l)
      QCOMPARE(arr.data[size_t(l)], float(m_snap.knockoutEffect->sweep[size_t(l)]));
    ui::Snapshot single = m_snap;
    auto r = *m_snap.knockoutEffect;
    r.sweep.clear();
    single.knockoutEffect = std::make_shared<const rt::ana::KnockoutReadout>(r);
    QVERIFY2(ui::exportViewData(single, "knockout", npy, "demo.gguf", &err), qPrintable(err));
    QCOMPARE(rt::readNpyF32(npy.toStdString()).data,
             (std::vector<float>{float(r.effect.relativeChange)}));
  }

  // The Steering readouts data export is `layerlens-cli steer-sweep`'s document: the real CLI on
  // the same model, token ids and vector (defaults: layer floor(0.7 L), alpha 4, the last token)
  // writes the same keys and values; the figures' .npy are [2, alphas] and [2, nLayer].
  void steerSweepExportMatchesCli() {
    QString err;
    const QString gui = m_dir.filePath("sweep-gui.json"), cli = m_dir.filePath("sweep-cli.json");
    QVERIFY2(ui::exportViewData(m_snap, "steeralpha", gui, "demo.gguf", &err), qPrintable(err));
    const QString alpha = m_dir.filePath("alpha.npy"), layer = m_dir.filePath("layer.npy");
    QVERIFY2(ui::exportViewData(m_snap, "steeralpha", alpha, "demo.gguf", &err), qPrintable(err));
    QVERIFY2(ui::exportViewData(m_snap, "steerlayer", layer, "demo.gguf", &err), qPrintable(err));
    const auto a = rt::readNpyF32(alpha.toStdString()), l = rt::readNpyF32(layer.toStdString());
    const std::vector<int64_t> ashape = {2, int64_t(m_snap.steerSweep->alphas.size())},
                               lshape = {2, m_snap.nLayer};
    QCOMPARE(a.shape, ashape);
    QCOMPARE(l.shape, lshape);
    QCOMPARE(double(a.data[1]), double(float(m_snap.steerSweep->kl[1])));
    QCOMPARE(double(l.data[size_t(m_snap.nLayer)]),
             double(float(m_snap.steerSweep->layerEntropy[0])));
    const std::filesystem::path exe = cliExe();
    if (exe.empty()) QSKIP("layerlens-cli not built next to the tests");
    const QString vec = m_dir.filePath("steer.npy");
    rt::writeNpy(vec.toStdString(), m_steerVector.data(), {int64_t(m_steerVector.size())});
    std::string ids;
    for (int32_t id : m_snap.trace->ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    int rc = -1;
    const std::string out = clitest::runCapture(
        exe.string() + " steer-sweep " + m_dir.filePath("demo.gguf").toStdString() + " --ids " +
            ids + " --vector " + vec.toStdString() + " --threads 1 --out " + cli.toStdString() +
            " 2>&1",
        &rc);
    QVERIFY2(rc == 0, out.c_str());
    QCOMPARE(readJsonFile(gui).dump(), readJsonFile(cli).dump());
    ui::Snapshot none = m_snap;
    none.steerSweep.reset();
    QVERIFY(!ui::exportViewData(none, "steerlayer", gui, "demo.gguf", &err));
    QVERIFY2(err.contains("no steerlayer data"), qPrintable(err));
  }

  // The Teacher data export is `layerlens-cli compare`'s document: the real CLI on the same
  // student, teacher and ids writes the same keys and values; the figure's .npy is [2, T].
  void teacherExportMatchesCli() {
    QString err;
    const QString gui = m_dir.filePath("teacher-gui.json"),
                  cli = m_dir.filePath("teacher-cli.json");
    QVERIFY2(ui::exportViewData(m_snap, "teacher", gui, "demo.gguf", &err), qPrintable(err));
    const QString npy = m_dir.filePath("teacher.npy");
    QVERIFY2(ui::exportViewData(m_snap, "teacher", npy, "demo.gguf", &err), qPrintable(err));
    const std::vector<int64_t> shape = {2, m_snap.nTokens};
    QCOMPARE(rt::readNpyF32(npy.toStdString()).shape, shape);
    const std::filesystem::path exe = cliExe();
    if (exe.empty()) QSKIP("layerlens-cli not built next to the tests");
    std::string ids;
    for (int32_t id : m_snap.trace->ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    const std::string model = m_dir.filePath("demo.gguf").toStdString();
    int rc = -1;
    const std::string out =
        clitest::runCapture(exe.string() + " compare " + model + " " + model + " --ids " + ids +
                                " --threads 1 --out " + cli.toStdString() + " 2>&1",
                            &rc);
    QVERIFY2(rc == 0, out.c_str());
    QCOMPARE(readJsonFile(gui).dump(), readJsonFile(cli).dump());
    ui::Snapshot none = m_snap;
    none.teacher.reset();
    QVERIFY(!ui::exportViewData(none, "teacher", gui, "demo.gguf", &err));
    QVERIFY2(err.contains("no teacher data"), qPrintable(err));
  }

  // The Flow routes data export is `layerlens-cli flow`'s document (routes to the selected token):
  // the real CLI on the same model, ids and position writes the same; .npy is the figure's matrix.
  void flowExportMatchesCli() {
    QString err;
    const QString gui = m_dir.filePath("flow-gui.json"), cli = m_dir.filePath("flow-cli.json");
    QVERIFY2(ui::exportViewData(m_snap, "flow", gui, "demo.gguf", &err), qPrintable(err));
    const QString npy = m_dir.filePath("flow.npy");
    QVERIFY2(ui::exportViewData(m_snap, "flow", npy, "demo.gguf", &err), qPrintable(err));
    const std::vector<int64_t> shape = {2 * m_snap.nLayer + 1, m_snap.token + 1};
    QCOMPARE(rt::readNpyF32(npy.toStdString()).shape, shape);
    const std::filesystem::path exe = cliExe();
    if (exe.empty()) QSKIP("layerlens-cli not built next to the tests");
    std::string ids;
    for (int32_t id : m_snap.trace->ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    int rc = -1;
    const std::string out =
        clitest::runCapture(exe.string() + " flow " + m_dir.filePath("demo.gguf").toStdString() +
                                " --ids " + ids + " --position " + std::to_string(m_snap.token) +
                                " --threads 1 --out " + cli.toStdString() + " 2>&1",
                            &rc);
    QVERIFY2(rc == 0, out.c_str());
    const nlohmann::json a = readJsonFile(gui), b = readJsonFile(cli);
    QCOMPARE(a["edges"].size(), b["edges"].size());
    QCOMPARE(a["nodes"].size(), b["nodes"].size());
    QCOMPARE(a["position"].get<int>(), b["position"].get<int>());
    for (size_t k = 0; k < a["edges"].size(); ++k) {
      QCOMPARE(a["edges"][k]["src"].get<int>(), b["edges"][k]["src"].get<int>());
      QCOMPARE(a["edges"][k]["dst"].get<int>(), b["edges"][k]["dst"].get<int>());
      QVERIFY(std::fabs(a["edges"][k]["weight"].get<double>() -
                        b["edges"][k]["weight"].get<double>()) < 1e-6);
    }
    ui::Snapshot none = m_snap;
    none.flow.reset();
    QVERIFY(!ui::exportViewData(none, "flow", gui, "demo.gguf", &err));
    QVERIFY2(err.contains("no flow data"), qPrintable(err));
  }

  // The Patching data export is the array `layerlens-cli patch --out` writes for the same ids.
  void patchingExportMatchesCli() {
    QString err;
    const QString gui = m_dir.filePath("patch-gui.npy"), cli = m_dir.filePath("patch-cli.npy");
    QVERIFY2(ui::exportViewData(m_snap, "patching", gui, "demo.gguf", &err), qPrintable(err));
    const std::filesystem::path exe = cliExe();
    if (exe.empty()) QSKIP("layerlens-cli not built next to the tests");
    auto join = [](const std::vector<int32_t>& v) {
      std::string t;
      for (int32_t id : v) t += (t.empty() ? "" : ",") + std::to_string(id);
      return t;
    };
    int rc = -1;
    const std::string out = clitest::runCapture(
        exe.string() + " patch " + m_dir.filePath("demo.gguf").toStdString() + " --clean-ids " +
            join(m_snap.trace->ids) + " --corrupt-ids " + join(patchCorrupt(m_snap.trace->ids)) +
            " --threads 1 --out " + cli.toStdString() + " 2>&1",
        &rc);
    QVERIFY2(rc == 0, out.c_str());
    const auto a = rt::readNpyF32(gui.toStdString()), b = rt::readNpyF32(cli.toStdString());
    const std::vector<int64_t> shape = {m_snap.nLayer, m_snap.nTokens};
    QCOMPARE(a.shape, shape);
    QCOMPARE(b.shape, shape);
    for (size_t i = 0; i < a.data.size(); ++i) QVERIFY(std::fabs(a.data[i] - b.data[i]) < 1e-5f);
    QVERIFY(!ui::exportViewData(m_snap, "patching", m_dir.filePath("p.json"), "demo.gguf", &err));
    ui::Snapshot none = m_snap;
    none.patching.reset();
    QVERIFY(!ui::exportViewData(none, "patching", gui, "demo.gguf", &err));
    QVERIFY2(err.contains("no patching data"), qPrintable(err));
  }

  // "Follow the selected layer" (selection.layer -1) exports the layer the selection ran at, and
  // the prompt text next to its hash; the same in the session document's selection record.
  void selectionExportsRecordLayerAndPrompt() {
    ui::Snapshot s = m_snap;
    s.state.selection.layer = -1;
    s.layer = 1;
    QString err;
    for (const char* ext : {"json", "csv"}) {
      const QString sel = m_dir.filePath(QString("follow.") + ext);
      QVERIFY2(ui::exportViewData(s, "selection", sel, "demo.gguf", &err), qPrintable(err));
      QFile f(sel);
      QVERIFY(f.open(QIODevice::ReadOnly));
      const QByteArray text = f.readAll();
      QVERIFY2(text.contains(QString(ext) == "json" ? "\"prompt\": \"abcd abcd\""
                                                    : "# prompt: \"abcd abcd\""),
               text.constData());
      const auto rec = QString(ext) == "json" ? rt::readSelectionJson(sel.toStdString())
                                              : rt::readSelectionCsv(sel.toStdString());
      QCOMPARE(rec.params.at("layer"), std::string("1"));
      QCOMPARE(rec.promptHash, rt::promptHash("abcd abcd"));
    }
    const auto st = ui::sessionFromSnapshot(s, m_dir.filePath("demo.gguf"));
    QCOMPARE(int(st.selections.size()), 1);
    QCOMPARE(st.selections[0].params.at("layer"), std::string("1"));
    const QByteArray doc = QByteArray::fromStdString(rt::selectionToJson(st.selections[0]).dump());
    QVERIFY2(doc.contains("\"prompt\":\"abcd abcd\""), doc.constData());
  }

  // Captions name the active interventions (and say nothing of them when none is on).
  void captionsNameInterventions() {
    for (const QString& view : ui::exportViews())
      QVERIFY(!ui::figureFromSnapshot(m_snap, view, "demo.gguf").caption.contains("intervention"));
    ui::Snapshot s = m_snap;
    s.state.knockout = rt::Knockout{{3, 4}, {0, 1}, 0, 2};
    s.state.routerEdits = {{0, 1, rt::RouterEditKind::Ban, 0.0f}};
    s.state.steering.enabled = true;
    s.state.steering.alpha = 4.0f;
    s.steerLayer = 1;
    for (const QString& view : ui::exportViews()) {
      if (view == "contrast") continue;  // its prompt sets run without interventions (§9)
      const QString c = ui::figureFromSnapshot(s, view, "demo.gguf").caption;
      QVERIFY2(c.contains("knockout layers 0-1") && c.contains("router edits x1 (ban 1)") &&
                   c.contains("steering layer 1"),
               qPrintable(view + ": " + c));
    }
    // The runtime's figures (CLI, full-length GUI exports) name what FigureRequest carries.
    rt::Session session;
    session.load(m_dir.filePath("demo.gguf").toStdString(), rt::parseBackend("cpu", 1));
    session.setPrompt("abcd abcd");
    const auto tr = session.run();
    vis::FigureRequest req;
    req.view = "attention";
    req.prompt = "abcd abcd";
    QVERIFY(!vis::buildFigure(session, *tr, req).caption.contains("intervention"));
    req.interventions.eviction = rt::HeadEviction{2, 3, {}};
    req.subset = rt::TokenSubset{{0, 1, 2}, true};
    const QString c = vis::buildFigure(session, *tr, req).caption;
    QVERIFY2(
        c.contains("head eviction (3 tokens from #2)") && c.contains("token subset (3 tokens)"),
        qPrintable(c));
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
