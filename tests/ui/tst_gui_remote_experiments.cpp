// The GUI's analysis panels on a remote session (issue 17) against a real `layerlens-cli serve` on
// loopback: activation patching, the knockout effect, steering (vector, push ratio, the steered
// and unsteered continuations), the steering readouts' alpha and layer sweeps, the expert contrast,
// PromptDistill and the answers from the kept tokens, all run by the server, equal the local
// AnalysisJob's bit for bit (every field the panels and their exports read) on stories260K and
// stories260K-moe4, with a router edit and a knockout in force and after a prompt edit; a click
// that changes only the view re-reads the cached result (another token runs the sweeps again, as
// in process); the patching sweep reports its progress. Skips without gRPC, the CLI or ../shared.
#include <QStandardPaths>
#include "gui_remote_compare.h"
#include "gui_remote_support.h"

#include <memory>

using namespace ll;
using namespace guiremote;

class TestGuiRemoteExperiments : public QObject {
  Q_OBJECT

  std::unique_ptr<Server> m_srv;
  std::unique_ptr<ui::SessionController> m_local, m_remote;
  int m_ranks = 1;  // > 1: the server is split over `mpirun -np m_ranks` processes

  // A local and a remote controller on the same fixture; false (skipped or failed) otherwise.
  bool open(const QString& model) {
    const QString why = remoteSkipReason();
    if (!why.isEmpty()) {
      QTest::qSkip(qPrintable(why), __FILE__, __LINE__);
      return false;
    }
    const QStringList launcher = m_ranks > 1 ? mpirunLauncher(m_ranks) : QStringList();
    if (m_ranks > 1 && launcher.isEmpty()) return false;  // skipped
    m_remote.reset();                                     // the previous server's client first
    m_srv = std::make_unique<Server>();
    if (!m_srv->start(modelsDir(), {}, launcher)) {
      QTest::qFail("the server did not start", __FILE__, __LINE__);
      return false;
    }
    m_local = std::make_unique<ui::SessionController>();
    m_remote = std::make_unique<ui::SessionController>();
    m_remote->setProgressAfterMs(0);
    return loadBoth(*m_local, *m_remote, *m_srv, modelsDir() + "/" + model, model);
  }

  // Both sides' complete snapshots of st.
  std::pair<ui::SnapshotPtr, ui::SnapshotPtr> both(const ui::ViewState& st) {
    ui::SnapshotPtr l = settle(*m_local, st), r = settle(*m_remote, st);
    return {l, r};
  }

  void patchingParity(const QString& model, bool moe) {
    if (!open(model)) return;
    QSignalSpy progress(m_remote.get(), &ui::SessionController::streamProgress);
    ui::ViewState st;
    st.prompt = "Once upon a time there was a little girl named Lily";
    st.layer = 1;
    st.patching.enabled = true;
    st.patching.corrupt = "Once upon a time there was a little boy named Lily";
    auto [l, r] = both(st);
    QVERIFY(l && r);
    QVERIFY2(l->patching, qPrintable(l->patchingError));  // what is compared is there
    comparePatching(*l, *r);
    if (QTest::currentTestFailed()) return;
    bool sawPatching = false;
    for (const auto& args : progress)
      sawPatching |= args.at(0).value<ui::StreamedOutput>() == ui::StreamedOutput::Patching &&
                     args.at(2).toInt() > 0;
    QVERIFY2(sawPatching, "the remote sweep reported no progress");

    // A click that changes only the view re-reads the cached sweep.
    const auto kept = r->patching;
    st.layer = 0;
    st.token = 2;
    const ui::SnapshotPtr again = settle(*m_remote, st);
    QVERIFY(again && again->patching == kept);

    // Interventions in force (a knockout, an expert ban on the MoE), another component, metric
    // and direction, the target typed as a piece.
    st.knockout = rt::Knockout{{}, {1}, 0, 2, 5};
    if (moe) st.routerEdits = {{0, 1, rt::RouterEditKind::Ban, 0.0f}};
    st.patching.component = rt::ana::PatchComponent::Attn;
    st.patching.direction = rt::ana::PatchDirection::Noise;
    std::tie(l, r) = both(st);
    QVERIFY(l && r);
    QVERIFY2(l->patching, qPrintable(l->patchingError));
    comparePatching(*l, *r);
    if (QTest::currentTestFailed()) return;
    st.patching.component = rt::ana::PatchComponent::Mlp;
    st.patching.target = std::to_string(l->patching->request.target);
    st.patching.other = "5";
    std::tie(l, r) = both(st);
    QVERIFY(l && r);
    comparePatching(*l, *r);
    if (QTest::currentTestFailed()) return;

    // Noise on a token span, after a prompt edit (the prompt's prefix reused on both sides).
    st.prompt += " who loved";
    st.patching.noise = true;
    st.patching.noiseBegin = 1;
    st.patching.noiseEnd = 3;
    std::tie(l, r) = both(st);
    QVERIFY(l && r);
    QVERIFY2(l->patching, qPrintable(l->patchingError));
    comparePatching(*l, *r);
    if (QTest::currentTestFailed()) return;

    // Refusals say the same: a corrupted prompt of another length, a word that is no token.
    st.patching.noise = false;
    st.patching.target.clear();
    std::tie(l, r) = both(st);
    QVERIFY(l && r && !l->patchingError.isEmpty());
    comparePatching(*l, *r);
    st.patching.corrupt = st.prompt;
    st.patching.target = "notasingletokenatall";
    std::tie(l, r) = both(st);
    QVERIFY(l && r && !l->patchingError.isEmpty());
    comparePatching(*l, *r);
  }

  void knockoutParity(const QString& model, bool moe) {
    if (!open(model)) return;
    ui::ViewState st;
    st.prompt = "Once upon a time there was a little girl named Lily";
    st.knockout = rt::Knockout{{}, {1, 2}, 0, 2, 5};
    if (moe) st.routerEdits = {{0, 1, rt::RouterEditKind::Ban, 0.0f}};
    auto [l, r] = both(st);
    QVERIFY(l && r);
    QVERIFY2(l->knockoutEffect, qPrintable(l->knockoutEffectError));
    compareKnockout(*l, *r);
    if (QTest::currentTestFailed()) return;
    // The sweep over every layer with its window, and a chosen answer token.
    st.knockoutReadout.sweep = true;
    st.knockoutReadout.window = 2;
    std::tie(l, r) = both(st);
    QVERIFY(l && r);
    QVERIFY(l->knockoutEffect && !l->knockoutEffect->sweep.empty());
    compareKnockout(*l, *r);
    if (QTest::currentTestFailed()) return;
    // A view click re-reads the cached readout.
    const auto kept = r->knockoutEffect;
    st.layer = 1;
    const ui::SnapshotPtr again = settle(*m_remote, st);
    QVERIFY(again && again->knockoutEffect == kept);
    // After a prompt edit, with another knockout (explicit query tokens, one layer).
    st.prompt += " who loved";
    st.knockout = rt::Knockout{{6, 7}, {0}, 1, 2, -1};
    st.knockoutReadout.answer = 9;
    std::tie(l, r) = both(st);
    QVERIFY(l && r);
    QVERIFY2(l->knockoutEffect, qPrintable(l->knockoutEffectError));
    compareKnockout(*l, *r);
    if (QTest::currentTestFailed()) return;
    // A refusal says the same (an answer token past the vocabulary).
    st.knockoutReadout.answer = 1 << 30;
    std::tie(l, r) = both(st);
    QVERIFY(l && r && !l->knockoutEffectError.isEmpty());
    compareKnockout(*l, *r);
  }

  void selectionParity(const QString& model, bool moe) {
    if (!open(model)) return;
    ui::ViewState st;
    st.prompt = "Once upon a time there was a little girl named Lily. She";
    st.layer = 2;
    st.outputTokens = 4;
    st.selection.method = ui::SelectMethod::PromptDistill;
    st.selection.k = 5;
    st.selection.answerTokens = 6;
    const auto check = [&](const char* what) {
      auto [l, r] = both(st);
      QVERIFY2(l && r, what);
      // What is compared is there (not two empty answers).
      QVERIFY2(!l->kept.empty() && !l->answerKept.isEmpty(), qPrintable(l->selectionError));
      compareSelection(*l, *r);
    };
    check("PromptDistill");
    if (QTest::currentTestFailed()) return;
    // Every method's answers, with a knockout (and an expert ban on the MoE) in force.
    st.knockout = rt::Knockout{{}, {1}, 0, 2, 5};
    if (moe) st.routerEdits = {{0, 1, rt::RouterEditKind::Ban, 0.0f}};
    for (const auto m : {ui::SelectMethod::PromptDistill, ui::SelectMethod::GemFilter,
                         ui::SelectMethod::SnapKv, ui::SelectMethod::H2O}) {
      st.selection.method = m;
      check("a method under interventions");
      if (QTest::currentTestFailed()) return;
    }
    // After a prompt edit, answers longer than the continuation, PromptDistill with KV trim.
    st.prompt += " went";
    st.selection.answerTokens = 9;
    st.selection.method = ui::SelectMethod::PromptDistill;
    st.selection.kvTrim = -1;
    check("after an edit");
    if (QTest::currentTestFailed()) return;
    st.selection.stages = "1:8,3:4";  // two stages: the second selects on the first's survivors
    check("two stages");
    if (QTest::currentTestFailed()) return;
    st.selection.method = ui::SelectMethod::GemFilter;
    check("GemFilter after an edit");
  }

  void steeringParity(const QString& model, bool moe) {
    if (!open(model)) return;
    ui::ViewState st;
    st.prompt = "Once upon a time there was a little girl named Lily";
    st.outputTokens = 4;
    st.steering.enabled = true;
    st.steering.source = ui::SteerSource::Contrastive;
    st.steering.positive = {"She was happy and glad", "joy and fun"};
    st.steering.negative = {"She was sad and cried", "grief and pain"};
    st.steering.genTokens = 6;
    const auto check = [&](const char* what) {
      auto [l, r] = both(st);
      QVERIFY2(l && r, what);
      compareSteering(*l, *r);
    };
    {
      auto [l, r] = both(st);
      QVERIFY(l && r);
      // What is compared is there.
      QVERIFY2(!l->steered.isEmpty(), qPrintable(l->steeringError));
      QVERIFY(l->pushRatio > 0 && l->steered != l->unsteered);
      compareSteering(*l, *r);
      if (QTest::currentTestFailed()) return;
    }
    // A concept vector at another layer and start, under interventions.
    st.steering.source = ui::SteerSource::Concept;
    st.steering.conceptWord = "cat";
    st.steering.baselines = {"dog", "tree"};
    st.steering.layer = 1;
    st.steering.fromPos = 3;
    st.steering.alpha = -6.5f;
    st.knockout = rt::Knockout{{}, {1}, 0, 2, 5};
    if (moe) st.routerEdits = {{0, 1, rt::RouterEditKind::Ban, 0.0f}};
    check("concept");
    if (QTest::currentTestFailed()) return;
    // A saved vector, after a prompt edit, continuations longer than the model's own.
    st.steering.source = ui::SteerSource::Saved;
    st.steering.savedVector.clear();
    for (int i = 0; i < m_local->modelInfo().nEmbd; ++i)
      st.steering.savedVector.push_back(0.05f * float(i % 7) - 0.1f);
    st.prompt += " who loved";
    st.steering.genTokens = 9;
    check("saved");
    if (QTest::currentTestFailed()) return;
    // Alpha 0 pushes nothing; refusals say the same (a saved vector of the wrong width, a
    // concept without baselines).
    st.steering.alpha = 0.0f;
    check("alpha 0");
    st.steering.savedVector.pop_back();
    check("wrong width");
    st.steering.source = ui::SteerSource::Concept;
    st.steering.baselines.clear();
    check("no baselines");
  }

  void steerSweepParity(const QString& model, bool moe) {
    if (!open(model)) return;
    ui::ViewState st;
    st.prompt = "Once upon a time there was a little girl named Lily";
    st.outputTokens = 4;
    st.steering.enabled = true;
    st.steering.source = ui::SteerSource::Saved;
    for (int i = 0; i < m_local->modelInfo().nEmbd; ++i)
      st.steering.savedVector.push_back(0.05f * float(i % 7) - 0.1f);
    st.steering.genTokens = 3;
    st.steerRead.enabled = true;
    const auto check = [&](const char* what, bool expectResult) {
      auto [l, r] = both(st);
      QVERIFY2(l && r, what);
      // What is compared is there (not two equal refusals), or is the refusal asked for.
      QVERIFY2(bool(l->steerSweep) == expectResult, qPrintable(what + (": " + l->steerSweepError)));
      if (expectResult) {
        QVERIFY2(l->steerSweep->layerKl.empty() != st.steerRead.layerSweep, what);
        bool moved = false;
        for (double kl : l->steerSweep->kl) moved |= kl > 0;
        QVERIFY2(moved, what);  // the steered passes changed the distribution
      }
      compareSteerSweep(*l, *r);
      if (QTest::currentTestFailed()) qWarning() << "in:" << what;
    };
    check("saved", true);
    if (QTest::currentTestFailed()) return;
    // A click that changes only the view re-reads the cached sweeps; another token runs them again.
    {
      const ui::SnapshotPtr first = settle(*m_remote, st);
      QVERIFY(first && first->steerSweep);
      const auto kept = first->steerSweep;
      st.layer = 1;
      st.head = 2;
      const ui::SnapshotPtr again = settle(*m_remote, st);
      QVERIFY(again && again->steerSweep == kept);
      st.token = 4;
      const ui::SnapshotPtr moved = settle(*m_remote, st);
      QVERIFY(moved && moved->steerSweep && moved->steerSweep != kept);
      QCOMPARE(moved->steerSweep->position, 4);
    }
    check("another token", true);
    if (QTest::currentTestFailed()) return;
    // Without the layer sweep.
    st.steerRead.layerSweep = false;
    check("no layer sweep", true);
    if (QTest::currentTestFailed()) return;
    // Another layer, start and alpha, under interventions, with the layer sweep; the Steering
    // panel's own stage off.
    st.steerRead.layerSweep = true;
    st.steering.enabled = false;
    st.steering.layer = 1;
    st.steering.fromPos = 2;
    st.steering.alpha = -6.5f;
    st.knockout = rt::Knockout{{}, {1}, 0, 2, 5};
    if (moe) st.routerEdits = {{0, 1, rt::RouterEditKind::Ban, 0.0f}};
    check("under interventions", true);
    if (QTest::currentTestFailed()) return;
    // After a prompt edit (its prefix reused on both sides), the last token.
    st.prompt += " who loved";
    st.token = -1;
    st.steering.enabled = true;
    check("after an edit", true);
    if (QTest::currentTestFailed()) return;
    st.steerRead.layerSweep = false;
    check("after an edit, without the layer sweep", true);
    if (QTest::currentTestFailed()) return;
    // A refusal says the same (a saved vector of the wrong width).
    st.steering.savedVector.pop_back();
    check("wrong width", false);
    if (QTest::currentTestFailed()) return;
    // A vector the server computes (contrastive), read by the readouts alone.
    st.steering.enabled = false;
    st.steering.source = ui::SteerSource::Contrastive;
    st.steering.positive = {"She was happy and glad", "joy and fun"};
    st.steering.negative = {"She was sad and cried", "grief and pain"};
    check("contrastive", true);
  }

  void contrastParity(const QString& model, bool moe) {
    if (!open(model)) return;
    ui::ViewState st;
    st.prompt = "Once upon a time";
    st.contrast.task = {"She counted one two three four", "Add five and six"};
    st.contrast.neutral = {"The cat sat on the mat", "A bird sang"};
    st.contrast.tau = 0.05f;
    auto [l, r] = both(st);
    QVERIFY(l && r);
    compareContrast(*l, *r);  // the dense model: the same refusal
    QCOMPARE(l->contrastError.isEmpty(), moe);
    if (!moe || QTest::currentTestFailed()) return;
    QVERIFY(l->contrast);
    // A view click and a prompt edit keep the sets' passes; τ and the layers pick again.
    const auto kept = r->contrast;
    st.prompt += " there was";
    const ui::SnapshotPtr again = settle(*m_remote, st);
    QVERIFY(again && again->contrast == kept);
    st.contrast.tau = 0.2f;
    st.contrast.layers = rt::ana::ContrastLayers::Middle;
    std::tie(l, r) = both(st);
    QVERIFY(l && r && l->contrast);
    compareContrast(*l, *r);
    if (QTest::currentTestFailed()) return;
    // Other sets run again.
    st.contrast.task = {"Count to ten: one, two, three"};
    std::tie(l, r) = both(st);
    QVERIFY(l && r && l->contrast);
    compareContrast(*l, *r);
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    if (!ui::remoteClientBuilt())
      QSKIP("built without gRPC (libgrpc++-dev, protobuf-compiler-grpc)");
  }
  void cleanup() {
    m_ranks = 1;
    m_local.reset();
    m_remote.reset();
    m_srv.reset();
  }
  void patchingDense() { patchingParity(QStringLiteral("stories260K.gguf"), false); }
  void patchingMoe() { patchingParity(QStringLiteral("stories260K-moe4.gguf"), true); }
  void knockoutDense() { knockoutParity(QStringLiteral("stories260K.gguf"), false); }
  void knockoutMoe() { knockoutParity(QStringLiteral("stories260K-moe4.gguf"), true); }
  void steeringDense() { steeringParity(QStringLiteral("stories260K.gguf"), false); }
  void steeringMoe() { steeringParity(QStringLiteral("stories260K-moe4.gguf"), true); }
  void steerSweepDense() { steerSweepParity(QStringLiteral("stories260K.gguf"), false); }
  void steerSweepMoe() { steerSweepParity(QStringLiteral("stories260K-moe4.gguf"), true); }
  void contrastDense() { contrastParity(QStringLiteral("stories260K.gguf"), false); }
  void contrastMoe() { contrastParity(QStringLiteral("stories260K-moe4.gguf"), true); }
  void selectionDense() { selectionParity(QStringLiteral("stories260K.gguf"), false); }
  void selectionMoe() { selectionParity(QStringLiteral("stories260K-moe4.gguf"), true); }
  // Every experiment on a server split over two processes (mpirun): the helper sessions' passes
  // go through the pipeline too.
  void experimentsOnSplitServer() {
    m_ranks = 2;
    const QString moe = QStringLiteral("stories260K-moe4.gguf");
    for (const auto& run :
         std::initializer_list<void (TestGuiRemoteExperiments::*)(const QString&, bool)>{
             &TestGuiRemoteExperiments::patchingParity, &TestGuiRemoteExperiments::knockoutParity,
             &TestGuiRemoteExperiments::steeringParity, &TestGuiRemoteExperiments::steerSweepParity,
             &TestGuiRemoteExperiments::contrastParity,
             &TestGuiRemoteExperiments::selectionParity}) {
      (this->*run)(moe, true);
      if (QTest::currentTestFailed() || !m_srv) return;
    }
  }
};

QTEST_MAIN(TestGuiRemoteExperiments)
#include "tst_gui_remote_experiments.moc"
