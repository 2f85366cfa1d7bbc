// The experiment analyses' figures are defined once: `layerlens-cli <analysis> --figure` writes,
// pixel for pixel, the figure the GUI's File > Export figure writes from a snapshot holding the
// same result (same builder, labels and caption), for every experiment view; bad --figure paths are
// refused before anything runs and leave no output.
#include <QFileInfo>
#include <QGuiApplication>
#include <QImage>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

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
#include "runtime/api/session.h"
#include "runtime/demo/demo_model.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/parity/cli_process.h"
#include "ui/export_actions.h"
#include "visualizers/figure/analysis_figures.h"
#include "visualizers/figure/figure.h"
#include "visualizers/qt/token_label.h"

using namespace ll;

class TstAnalysisFigures : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  std::string m_model, m_exe;
  const std::string m_prompt = "abcd abcd";
  rt::Session m_s;
  std::shared_ptr<const rt::Trace> m_tr;
  ui::Snapshot m_snap;  // the state a GUI run leaves: labels as the panels make them

  QString label(int32_t id) const { return vis::idLabel(m_s.model().tokenizer.get(), id); }

  // The GUI's figure of `view` (scale 1 PNG) next to the CLI's (`args` + --figure, scale 1).
  void compareWithCli(const QString& view, const std::string& args) {
    const QString gui = m_dir.filePath(view + "-gui.png"), cli = m_dir.filePath(view + "-cli.png");
    QString err;
    QVERIFY2(vis::exportFigure(ui::figureFromSnapshot(m_snap, view, "demo.gguf"), gui, 1, &err),
             qPrintable(err));
    int rc = -1;
    const std::string out = clitest::runCapture(m_exe + " " + args + " --threads 1 --figure " +
                                                    cli.toStdString() + " --figure-scale 1 2>&1",
                                                &rc);
    QVERIFY2(rc == 0, out.c_str());
    QVERIFY2(out.find("wrote " + cli.toStdString()) != std::string::npos, out.c_str());
    const QImage a(gui), b(cli);
    QVERIFY(!a.isNull() && !b.isNull());
    QCOMPARE(b.size(), a.size());
    QVERIFY2(a == b, qPrintable(view + ": the CLI's figure differs from the GUI's"));
  }

  std::string cmd(const std::string& name) const {
    return name + " " + m_model + " --text '" + m_prompt + "'";
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    // This test lives in build/tests/export/, the CLI in build/app/.
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    const auto exe = self.parent_path().parent_path().parent_path() / "app" / "layerlens-cli";
    if (ec || !std::filesystem::exists(exe)) QSKIP("layerlens-cli is not built next to the tests");
    m_exe = exe.string();
    m_model = m_dir.filePath("demo.gguf").toStdString();
    rt::demo::writeDemoModel(m_model);
    m_s.load(m_model, rt::parseBackend("cpu", 1));
    m_s.setPrompt(m_prompt);
    m_tr = m_s.run();
    ui::Snapshot& n = m_snap;
    n.state.prompt = m_prompt;
    n.trace = m_tr;
    n.nTokens = m_tr->nTokens;
    n.nLayer = m_tr->nLayer;
    n.nHead = m_tr->nHead;
    n.token = m_tr->nTokens - 1;
    for (const std::string& p : m_tr->pieces) n.tokens << vis::tokenLabel(p);
  }

  void attribution() {
    m_snap.attribution = std::make_shared<const rt::ana::Attribution>(
        rt::ana::directLogitAttribution(m_s.engine(), *m_tr, {1, 2, -1}));
    m_snap.attributionTargetText = label(1);
    m_snap.attributionOtherText = label(2);
    compareWithCli("attribution", cmd("attribute") + " --target 1 --other 2 --out " +
                                      m_dir.filePath("a.json").toStdString());
  }

  void layerSkip() {
    m_snap.layerSkip =
        std::make_shared<const rt::ana::LayerSkipResult>(rt::ana::layerSkip(m_s, *m_tr));
    compareWithCli("layerskip", cmd("skip") + " --out " + m_dir.filePath("s.json").toStdString());
  }

  void latent() {
    m_snap.state.latent = {"ab", "cd"};
    m_snap.latent = std::make_shared<const rt::ana::LatentLanguageResult>(
        rt::ana::latentLanguage(m_s.engine(), *m_tr, *m_s.model().tokenizer, {"ab", "cd"}));
    compareWithCli("latent", cmd("latent") + " --word-a ab --word-b cd --out " +
                                 m_dir.filePath("l.json").toStdString());
  }

  void flow() {
    m_snap.flow =
        std::make_shared<const rt::ana::FlowGraph>(rt::ana::flowGraph(m_s.engine(), *m_tr));
    compareWithCli("flow", cmd("flow") + " --position " + std::to_string(m_snap.token) + " --out " +
                               m_dir.filePath("f.json").toStdString());
  }

  void patching() {
    std::vector<int32_t> corrupt = m_tr->ids;
    corrupt[5] += 1;  // "abce abcd"
    m_snap.state.patching.corrupt = "abce abcd";
    m_snap.patching = std::make_shared<const rt::ana::PatchingResult>(
        rt::ana::activationPatching(m_s, m_tr->ids, corrupt, {}));
    m_snap.patchingTargetText = label(m_snap.patching->request.target);
    m_snap.patchingOtherText = label(m_snap.patching->request.other);
    compareWithCli("patching", "patch " + m_model + " --clean '" + m_prompt +
                                   "' --corrupt 'abce abcd' --out " +
                                   m_dir.filePath("p.npy").toStdString());
  }

  void knockoutSweep() {
    const int T = m_tr->nTokens, L = m_tr->nLayer;
    const auto from = rt::ana::parseSpan("last", T), to = rt::ana::parseSpan("all-but-last", T);
    const auto r = rt::ana::attentionKnockout(m_s, from, to, L / 2);
    const rt::Knockout ko{from, to, r.layerBegin, r.layerEnd};
    rt::ana::KnockoutReadoutRequest rq;
    rq.sweep = true;
    rq.answer = r.answer;
    m_snap.state.knockout = ko;  // the GUI's caption names the knockout the user set
    m_snap.knockoutEffect = std::make_shared<const rt::ana::KnockoutReadout>(
        rt::ana::knockoutReadout(m_s, m_tr->ids, {}, ko, rq));
    m_snap.knockoutAnswerText = label(r.answer);
    compareWithCli("knockout", cmd("knockout") + " --sweep");
    m_snap.state.knockout.reset();
  }

  void steeringReadouts() {
    std::vector<float> v;
    for (int i = 0; i < m_tr->nEmbd; ++i) v.push_back(std::sin(0.7f * i));
    const std::string vec = m_dir.filePath("v.npy").toStdString();
    rt::writeNpy(vec, v.data(), {int64_t(v.size())});
    rt::ana::SteeringSweepRequest rq;
    rq.layer = 1;
    m_snap.steerSweep = std::make_shared<const rt::ana::SteeringSweepResult>(
        rt::ana::steeringSweep(m_s, *m_tr, v, rq));
    m_snap.steerSweepTop1.clear();
    m_snap.steerSweepLayerTop1.clear();
    for (int32_t id : m_snap.steerSweep->top1) m_snap.steerSweepTop1 << label(id);
    for (int32_t id : m_snap.steerSweep->layerTop1) m_snap.steerSweepLayerTop1 << label(id);
    const std::string args = cmd("steer-sweep") + " --layer 1 --vector " + vec + " --out " +
                             m_dir.filePath("w.json").toStdString();
    compareWithCli("steeralpha", args);
    // --layer-figure: the layer sweep's figure.
    const QString gui = m_dir.filePath("steerlayer-gui.png"),
                  cli = m_dir.filePath("steerlayer-cli.png");
    QString err;
    QVERIFY2(
        vis::exportFigure(ui::figureFromSnapshot(m_snap, "steerlayer", "demo.gguf"), gui, 1, &err),
        qPrintable(err));
    int rc = -1;
    const std::string out =
        clitest::runCapture(m_exe + " " + args + " --threads 1 --layer-figure " +
                                cli.toStdString() + " --figure-scale 1 2>&1",
                            &rc);
    QVERIFY2(rc == 0, out.c_str());
    QVERIFY(QImage(gui) == QImage(cli));
  }

  void teacher() {
    rt::Session t;
    t.load(m_model, rt::parseBackend("cpu", 1));
    m_snap.teacherName = QStringLiteral("demo.gguf");
    m_snap.teacher = std::make_shared<const rt::ana::TeacherComparison>(
        rt::ana::compareWithTeacherModel(m_s.model(), *m_tr, t));
    compareWithCli("teacher", "compare " + m_model + " " + m_model + " --text '" + m_prompt +
                                  "' --out " + m_dir.filePath("t.json").toStdString());
  }

  void contrast() {
    rt::ana::ExpertContrastRequest rq;
    rq.task = {"abcd abcd", "dcba"};
    rq.neutral = {"a b c d"};
    rq.tau = 0.0f;
    m_snap.contrast =
        std::make_shared<const rt::ana::ExpertContrastResult>(rt::ana::expertContrast(m_s, rq));
    compareWithCli("contrast", "contrast " + m_model +
                                   " --task 'abcd abcd' --task dcba --neutral 'a b c d' --tau 0 "
                                   "--out " +
                                   m_dir.filePath("c.json").toStdString());
  }

  // Refused before the model loads: no JSON, no figure.
  void badFigurePathsAreRefused() {
    const std::string json = m_dir.filePath("bad.json").toStdString();
    for (const std::string& fig : {m_dir.filePath("x.txt").toStdString(),
                                   m_dir.filePath("no/such/folder/x.png").toStdString()}) {
      int rc = 0;
      const std::string out = clitest::runCapture(
          m_exe + " " + cmd("skip") + " --out " + json + " --figure " + fig + " 2>&1", &rc);
      QVERIFY2(rc != 0, out.c_str());
      QVERIFY2(out.find("--figure") != std::string::npos, out.c_str());
      QVERIFY(!std::filesystem::exists(json));
      QVERIFY(!std::filesystem::exists(fig));
    }
    int rc = 0;
    const std::string out =
        clitest::runCapture(m_exe + " " + cmd("skip") + " --out " + json + " --figure " +
                                m_dir.filePath("s.png").toStdString() + " --figure-scale 9 2>&1",
                            &rc);
    QVERIFY2(rc != 0 && out.find("--figure-scale") != std::string::npos, out.c_str());
  }
};

QTEST_MAIN(TstAnalysisFigures)
#include "tst_analysis_figures.moc"
