// Unit tests of the GUI's non-widget parts: byte spans -> character positions, chat-template
// families, SelectionModel stepping, the head-grid helper against Session::attentionMap, and the
// SessionController's replace-queued / drop-stale behaviour.
#include "runtime/analysis/selection_runs.h"
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/head_grid_rows.h"
#include "ui/prompt_text.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "visualizers/figure/figure_builder.h"

#include <QFile>
#include <QSignalSpy>
#include <QTest>

#include <cmath>

using namespace ll;

class TstUiUnits : public QObject {
  Q_OBJECT

  static QString model() {
    const QByteArray dir = qgetenv("LAYERLENS_SHARED_DIR");
    const QString p = QString::fromLocal8Bit(dir) + QStringLiteral("/models/stories260K.gguf");
    return !dir.isEmpty() && QFile::exists(p) ? p : QString();
  }

  // Loads the model into the controller's worker and waits for it (false on a timeout).
  static bool load(ui::SessionController& c, const QString& path) {
    QSignalSpy loaded(&c, &ui::SessionController::modelLoaded);
    c.loadModel(path);
    return loaded.wait(30000);
  }

 private slots:
  void byteSpansToCharacters() {
    // "aé€😀b": bytes a(1) é(2) €(3) 😀(4) b(1); UTF-16 units a é € 😀(2) b.
    const std::string text =
        "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
        "b";
    const auto c =
        ui::byteSpansToChars(text, 0, {{0, 1}, {1, 3}, {3, 6}, {6, 10}, {10, 11}, {-1, -1}});
    const std::vector<std::pair<int, int>> want = {{0, 1}, {1, 2}, {2, 3},
                                                   {3, 5}, {5, 6}, {-1, -1}};
    QCOMPARE(c, want);
    const QString q = QString::fromUtf8(text.c_str());
    QCOMPARE(q.mid(3, 2), QString::fromUtf8("\xf0\x9f\x98\x80"));
    // With a template prefix of 5 bytes the spans shift; the prefix maps to nothing.
    const auto shifted = ui::byteSpansToChars("ab", 5, {{0, 5}, {5, 6}, {6, 7}, {7, 9}});
    const std::vector<std::pair<int, int>> want2 = {{-1, -1}, {0, 1}, {1, 2}, {-1, -1}};
    QCOMPARE(shifted, want2);
  }

  void chatTemplates() {
    QCOMPARE(ui::chatFamily("{% for m in messages %}<|im_start|>{{m.role}}"),
             QStringLiteral("chatml"));
    QCOMPARE(ui::chatFamily("<|start_header_id|>"), QStringLiteral("llama3"));
    QCOMPARE(ui::chatFamily("[INST] {{ x }} [/INST]"), QStringLiteral("llama2"));
    QCOMPARE(ui::chatFamily("{{- '<|start|>' + m.role + '<|message|>' + m.content + '<|end|>' }}"),
             QStringLiteral("harmony"));
    QCOMPARE(ui::applyChatTemplate(QStringLiteral("harmony"), "hi").text,
             std::string("<|start|>user<|message|>hi<|end|><|start|>assistant"));
    QCOMPARE(ui::chatFamily("<start_of_turn>user"), QStringLiteral("gemma"));
    QCOMPARE(ui::chatFamily("<|user|>{{c}}<|end|>"), QStringLiteral("phi3"));
    QCOMPARE(ui::chatFamily("something else"), QString());
    const auto t = ui::applyChatTemplate(QStringLiteral("chatml"), "hi");
    QCOMPARE(t.text, std::string("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"));
    QCOMPARE(t.text.substr(t.userOffset, 2), std::string("hi"));
    QCOMPARE(ui::applyChatTemplate(QString(), "hi").text, std::string("hi"));
  }

  void selectionStepping() {
    ui::SelectionModel s;
    QSignalSpy changed(&s, &ui::SelectionModel::changed);
    s.setLimits(3, 2, 5);
    s.stepLayer(+1);
    s.stepLayer(+5);
    QCOMPARE(s.layer(), 2);
    s.stepLayer(-10);
    QCOMPARE(s.layer(), 0);
    QCOMPARE(s.head(), ui::SelectionModel::kHeadMean);
    s.stepHead(+1);
    QCOMPARE(s.head(), 0);
    s.stepHead(+2);
    QCOMPARE(s.head(), ui::SelectionModel::kHeadSum);  // wraps: ..., 1, sum
    s.setToken(3);
    QCOMPARE(s.resolvedToken(), 3);
    s.setLimits(3, 2, 2);  // the prompt got shorter: back to following the last token
    QCOMPARE(s.token(), -1);
    QCOMPARE(s.resolvedToken(), 1);
    QVERIFY(changed.count() >= 5);
  }

  void headGridMatchesAttentionMap() {
    const QString path = model();
    if (path.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    rt::Session s;
    s.load(path.toStdString());
    s.setPrompt("Once upon a time there was a big dog named Max");
    const auto tr = s.run();
    const int T = tr->nTokens, G = 5, off = T - G;
    const auto grid = ui::headGridRows(*tr, G);
    for (int l = 0; l < tr->nLayer; ++l)
      for (int h = 0; h < tr->nHead; ++h) {
        const auto map = s.attentionMap(*tr, l, h);
        for (int i = 0; i < G; ++i)
          for (int j = 0; j < G; ++j) {
            const float a = grid[((size_t(l) * tr->nHead + h) * G + i) * G + j];
            const float b = map[size_t(off + i) * T + off + j];
            QVERIFY2(std::abs(a - b) < 1e-4,
                     qPrintable(QStringLiteral("%1 %2 %3 %4").arg(l).arg(h).arg(i).arg(j)));
          }
      }
  }

  // The head grid (AttentionRows on the host), the main map (Session::attentionMap on the backend)
  // and the exported attention figure show the same probabilities under every intervention kind:
  // knockout, per-head eviction, a subset run, and a sliding-window family's local layers.
  void gridMapAndExportAgreeUnderInterventions() {
    const QByteArray dir = qgetenv("LAYERLENS_SHARED_DIR");
    if (dir.isEmpty()) QSKIP("LAYERLENS_SHARED_DIR not set: no models");
    struct Case {
      const char* name;
      const char* model;
      rt::RunRequest req;
    };
    std::vector<Case> cases;
    rt::RunRequest ko;
    ko.interventions.knockout = rt::Knockout{{9, 10, 11}, {1, 2, 3, 4}, 1, 4};
    cases.push_back({"knockout", "stories260K.gguf", ko});
    rt::RunRequest ev;
    rt::HeadEviction e;
    e.fromIndex = 8;
    e.length = 8;
    e.keep.assign(5, std::vector<uint8_t>(4 * 8, 1));
    for (int g = 0; g < 4; ++g) e.keep[2][size_t(g) * 8 + size_t(1 + g)] = 0;
    ev.interventions.eviction = e;
    cases.push_back({"eviction", "stories260K.gguf", ev});
    rt::RunRequest sub;
    sub.subset = rt::TokenSubset{{0, 1, 3, 4, 6, 8, 9, 10, 11}, true};
    cases.push_back({"subset", "stories260K.gguf", sub});
    cases.push_back({"window", "gemma3-tiny.gguf", {}});
    cases.push_back({"window+softcap", "gemma2-tiny.gguf", {}});
    cases.push_back({"sinks", "gpt-oss-tiny.gguf", {}});
    for (const Case& c : cases) {
      const QString path = QString::fromLocal8Bit(dir) + "/models/" + c.model;
      if (!QFile::exists(path)) QSKIP(qPrintable(path + " not found"));
      rt::Session s;
      s.load(path.toStdString());
      s.setPrompt("Once upon a time there was a big dog named Max who ran");
      const auto tr = s.run(c.req);
      const int T = tr->nTokens, G = std::min(T, 10), off = T - G;
      const auto grid = ui::headGridRows(*tr, G, nullptr, c.req.interventions);
      for (int l = 0; l < tr->nLayer; l += std::max(1, tr->nLayer / 6)) {
        vis::FigureRequest fr;
        fr.layer = l;
        for (int h = 0; h < tr->nHead; ++h) {
          fr.head = h;
          const auto map = s.attentionMap(*tr, l, h);
          const auto fig = vis::buildFigure(s, *tr, fr);
          QCOMPARE(fig.matrix.values.size(), map.size());
          const int window = tr->layerAttn[size_t(l)].window;
          QCOMPARE(fig.style.maskWindow, window);
          for (int i = 0; i < G; ++i)
            for (int j = 0; j < G; ++j) {
              const size_t at = size_t(off + i) * T + off + j;
              const float a = grid[((size_t(l) * tr->nHead + h) * G + i) * G + j];
              const QString where = QStringLiteral("%1 layer %2 head %3 row %4 col %5")
                                        .arg(c.name)
                                        .arg(l)
                                        .arg(h)
                                        .arg(off + i)
                                        .arg(off + j);
              QVERIFY2(std::abs(a - map[at]) < 1e-5f, qPrintable(where));
              QVERIFY2(fig.matrix.values[at] == map[at], qPrintable(where));
              if (window > 0 && i - j >= window) QVERIFY2(map[at] == 0.0f, qPrintable(where));
            }
        }
      }
    }
  }

  void controllerDropsStaleRequests() {
    const QString path = model();
    if (path.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    ui::SessionController c(2);
    QVERIFY(load(c, path));
    QSignalSpy ready(&c, &ui::SessionController::snapshotReady);
    QSignalSpy complete(&c, &ui::SessionController::snapshotComplete);
    ui::ViewState st;
    for (int i = 0; i < 20; ++i) {
      st.prompt = "Once upon a time " + std::string(size_t(i), 'a');
      c.analyze(st);
    }
    QTRY_VERIFY_WITH_TIMEOUT(!c.busy(), 30000);
    // Only the last request's results arrive (every earlier one was replaced or cancelled).
    QVERIFY(complete.count() >= 1);
    for (const auto& args : complete) {
      const auto snap = args.at(0).value<ui::SnapshotPtr>();
      QCOMPARE(snap->generation, c.generation());
    }
    QCOMPARE(c.latest()->state.prompt, st.prompt);
    QVERIFY(ready.count() <= 2);
  }

  // Rows kept from the previous keystroke's grid (same tokens up to the row) equal a fresh
  // computation; an edit in the middle makes every later row computed again.
  void headGridKeepsRowsOfTheSamePrefix() {
    const QString path = model();
    if (path.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    rt::Session s;
    s.load(path.toStdString());
    s.setPrompt("Once upon a time there was a big dog named Max who liked to run");
    ui::HeadGridCache prev;
    prev.trace = s.run();
    prev.G = 8;
    prev.values = ui::headGridRows(*prev.trace, prev.G);
    for (const char* next : {"Once upon a time there was a big dog named Max who liked to run far",
                             "Once upon a time there was a small dog named Max who liked to run"}) {
      s.setPrompt(next);
      const auto tr = s.run();
      const auto kept = ui::headGridRows(*tr, 8, &prev);
      const auto fresh = ui::headGridRows(*tr, 8);
      QCOMPARE(kept.size(), fresh.size());
      double d = 0;
      for (size_t i = 0; i < kept.size(); ++i)
        d = std::max(d, double(std::abs(kept[i] - fresh[i])));
      QVERIFY2(d < 1e-5, qPrintable(QString::number(d)));
      // With other interventions nothing is taken over.
      rt::Interventions iv;
      iv.knockout = rt::Knockout{};
      QCOMPARE(ui::headGridRows(*tr, 8, &prev, iv).size(), fresh.size());
    }
  }

  // The worker keeps the attention map's rows of the shared prefix from the previous keystroke
  // (same layer, head and interventions) and computes the rest: the result equals a fresh map.
  void attentionMapKeepsRowsOfTheSamePrefix() {
    const QString path = model();
    if (path.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    ui::SessionController c(2);
    QVERIFY(load(c, path));
    rt::Session fresh;
    fresh.load(path.toStdString());
    ui::ViewState st;
    st.layer = 3;
    int step = 0;
    for (int head : {-1, 2, -2})
      for (const char* p : {"Once upon a time there was a big dog named Max who liked to run",
                            "Once upon a time there was a big dog named Max who liked to run far",
                            "Once upon a time there was a small dog named Max who liked to run"}) {
        st.head = head;
        st.prompt = p;
        c.analyze(st);
        QTRY_VERIFY_WITH_TIMEOUT(!c.busy() && c.latest() && c.latest()->complete, 30000);
        const auto snap = c.latest();
        QCOMPARE(snap->state.prompt, st.prompt);
        const auto& tr = *snap->trace;
        fresh.setPromptIds(tr.ids);
        auto want = fresh.attentionMap(*fresh.run(), snap->layer, head >= 0 ? head : -1);
        if (head == -2)
          for (float& v : want) v *= float(tr.nHead);
        QCOMPARE(snap->attention->values.size(), want.size());
        double d = 0;
        for (size_t i = 0; i < want.size(); ++i)
          d = std::max(d, double(std::abs(snap->attention->values[i] - want[i])));
        QVERIFY2(d < 1e-5, qPrintable(QStringLiteral("step %1: %2").arg(step).arg(d)));
        ++step;
      }
  }

  // A pass reports its progress layer by layer (the status bar's "layer l of L").
  void progressPerLayer() {
    const QString path = model();
    if (path.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    ui::SessionController c(2);
    QVERIFY(load(c, path));
    const int L = c.modelInfo().nLayer;
    c.setProgressAfterMs(0);
    QSignalSpy progress(&c, &ui::SessionController::analysisProgress);
    ui::ViewState st;
    st.prompt = "Once upon a time there was a little dog";
    c.analyze(st);
    QTRY_VERIFY_WITH_TIMEOUT(!c.busy(), 30000);
    QCOMPARE(progress.count(), L);  // one fresh pass over every layer
    for (int i = 0; i < L; ++i) {
      QCOMPARE(progress.at(i).at(0).toInt(), i + 1);
      QCOMPARE(progress.at(i).at(1).toInt(), L);
    }
    // Passes shorter than the threshold report nothing.
    c.setProgressAfterMs(60000);
    progress.clear();
    st.prompt += " named Max";
    c.analyze(st);
    QTRY_VERIFY_WITH_TIMEOUT(!c.busy(), 30000);
    QCOMPARE(progress.count(), 0);
  }

  // The analysis panels' snapshot comes first and carries no generation; the continuation, the
  // answer from the kept tokens and the steering continuations then stream in, in that order,
  // each a separate snapshot, the last one complete.
  void outputsStreamAfterThePanels() {
    const QString path = model();
    if (path.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    ui::SessionController c(2);
    QVERIFY(load(c, path));
    QStringList order;
    QObject::connect(&c, &ui::SessionController::snapshotReady, [&](const ui::SnapshotPtr& s) {
      QVERIFY(!s->hasContinuation && !s->hasAnswers && !s->hasSteering && !s->complete);
      QVERIFY(!s->kept.empty() && s->gridTokens > 0 && !s->lensEntropy.empty());
      order << "panels";
    });
    QObject::connect(&c, &ui::SessionController::snapshotStreamed, [&](const ui::SnapshotPtr& s) {
      order << ui::outputName(s->streamed) + (s->complete ? " (complete)" : "");
      if (s->streamed == ui::StreamedOutput::Continuation)
        QVERIFY(s->hasContinuation && !s->continuation.isEmpty() && !s->hasAnswers);
      if (s->streamed == ui::StreamedOutput::Answers)
        QVERIFY(s->hasContinuation && s->hasAnswers && !s->answerKept.isEmpty());
      if (s->streamed == ui::StreamedOutput::Steering)
        QVERIFY(s->hasSteering && !s->steered.isEmpty() && !s->unsteered.isEmpty());
    });
    ui::ViewState st;
    st.prompt = "Once upon a time there was a little dog";
    st.steering.enabled = true;
    st.steering.conceptWord = "cat";
    st.steering.baselines = {"dog", "park"};
    c.analyze(st);
    QTRY_VERIFY_WITH_TIMEOUT(!c.busy(), 30000);
    QCOMPARE(order, (QStringList{"panels", "continuation", "answer from kept tokens",
                                 "steering continuations (complete)"}));
    QVERIFY(c.latest()->complete);

    // A newer request cancels the stream of the running one: its outputs never arrive, and the
    // new request's panels come next.
    order.clear();
    st.outputTokens = 400;  // a long continuation, cut short
    QObject::connect(&c, &ui::SessionController::snapshotReady, &c, [&](const ui::SnapshotPtr& s) {
      if (s->state.outputTokens == 400) {
        ui::ViewState next = st;
        next.outputTokens = 4;
        next.steering.enabled = false;
        c.analyze(next);
      }
    });
    c.analyze(st);
    QTRY_VERIFY_WITH_TIMEOUT(!c.busy() && c.latest() && c.latest()->complete, 30000);
    QCOMPARE(c.latest()->state.outputTokens, 4);
    QCOMPARE(order, (QStringList{"panels", "panels", "continuation",
                                 "answer from kept tokens (complete)"}));
  }

  // PromptDistill with two stages: the answer from the kept tokens is the continuation in which
  // each stage's dropped tokens vanish after that stage's own layer (ana::answerDistilled), not
  // the last stage's survivors masked from the first stage's layer on.
  void promptDistillAnswerFollowsEveryStage() {
    const QString path = model();
    if (path.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    ui::SessionController c(2);
    QVERIFY(load(c, path));
    ui::ViewState st;
    st.prompt = "Once upon a time there was a little dog named Max who liked to run in the park";
    st.selection.method = ui::SelectMethod::PromptDistill;
    st.selection.stages = "1:10,3:4";
    c.analyze(st);
    QTRY_VERIFY_WITH_TIMEOUT(!c.busy() && c.latest() && c.latest()->complete, 30000);
    const ui::SnapshotPtr s = c.latest();
    QVERIFY2(s->selectionError.isEmpty(), qPrintable(s->selectionError));
    rt::Session ref;
    ref.load(path.toStdString());
    ref.setPrompt(st.prompt);
    const auto r = rt::ana::promptDistill(ref, {{1, 10}, {3, 4}});
    QCOMPARE(s->keptPerStage, r.keptPerStage);
    QCOMPARE(s->stageLayers, (std::vector<int>{1, 3}));
    QCOMPARE(s->kept, r.keptPerStage.back());
    const auto a =
        rt::ana::answerDistilled(ref, {1, 3}, r.keptPerStage, 0, st.selection.answerTokens);
    QCOMPARE(s->answerKept, QString::fromStdString(ref.model().tokenizer->decode(a.compressed)));
    QCOMPARE(s->answerFull, QString::fromStdString(ref.model().tokenizer->decode(a.full)));
    QVERIFY(s->selectionWarnings.isEmpty());  // stories260K has no sliding window
  }

  // PromptDistill under the user's interventions: its stages' runs and both answers keep the
  // prompt run's router edits and knockout (the helper session used to run without them, so the
  // "full" answer contradicted the continuation and the kept set ignored the edits).
  void promptDistillFollowsTheInterventions() {
    const QString dense = model();
    if (dense.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    const QString path = QString(dense).replace(QStringLiteral("stories260K.gguf"),
                                                QStringLiteral("stories260K-moe4.gguf"));
    ui::SessionController c(2);
    QVERIFY(load(c, path));
    ui::ViewState st;
    st.prompt = "Once upon a time there was a little dog named Max who liked to run in the park";
    st.selection.method = ui::SelectMethod::PromptDistill;
    st.selection.stages = "1:10,3:4";
    for (int l = 0; l < 5; ++l)  // every layer routes to experts 2 and 3 only
      for (int e : {0, 1}) st.routerEdits.push_back({l, e, rt::RouterEditKind::Ban, 0.0f});
    rt::Session ref;
    ref.load(path.toStdString());
    QCOMPARE(ref.model().spec.nLayer, 5);
    ref.setPrompt(st.prompt);
    // The last prompt token and every generated one see only themselves in layers 1-3.
    const int T = static_cast<int>(ref.promptIds().size());
    rt::Knockout ko{{T - 1}, {}, 1, 4, T - 1};
    for (int i = 0; i + 1 < T; ++i) ko.to.push_back(i);
    st.knockout = ko;
    c.analyze(st);
    QTRY_VERIFY_WITH_TIMEOUT(!c.busy() && c.latest() && c.latest()->complete, 30000);
    const ui::SnapshotPtr s = c.latest();
    QVERIFY2(s->selectionError.isEmpty(), qPrintable(s->selectionError));
    const rt::Interventions iv = s->trace->request.interventions;
    QVERIFY(iv.router == st.routerEdits && iv.knockout == st.knockout);
    const auto r = rt::ana::promptDistill(ref, {{1, 10}, {3, 4}}, 5, -1, iv);
    QCOMPARE(s->keptPerStage, r.keptPerStage);
    const int n = st.selection.answerTokens;
    const auto a = rt::ana::answerDistilled(ref, {1, 3}, r.keptPerStage, 0, n, iv);
    const auto decode = [&](const std::vector<int32_t>& ids) {
      return QString::fromStdString(ref.model().tokenizer->decode(ids));
    };
    QCOMPARE(s->answerFull, decode(a.full));
    QCOMPARE(s->answerKept, decode(a.compressed));
    // The full answer is the start of the continuation under the same interventions.
    QVERIFY2(s->continuation.startsWith(s->answerFull),
             qPrintable(s->continuation + " | " + s->answerFull));
    // The interventions matter here: without them the answers differ.
    const auto plain = rt::ana::answerDistilled(ref, {1, 3}, r.keptPerStage, 0, n);
    QVERIFY2(plain.full != a.full && plain.compressed != a.compressed,
             qPrintable(decode(plain.full) + " | " + decode(a.full) + " || " +
                        decode(plain.compressed) + " | " + decode(a.compressed)));
  }

  // GemFilter's two answers follow the prompt run's router edits and knockout too: the full one
  // under them, the kept tokens' under them carried onto their new indices
  // (ana::answerReindexed), as the runtime gives them; without them the answers differ.
  void gemFilterAnswersFollowTheInterventions() {
    const QString dense = model();
    if (dense.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    const QString path = QString(dense).replace(QStringLiteral("stories260K.gguf"),
                                                QStringLiteral("stories260K-moe4.gguf"));
    ui::SessionController c(2);
    QVERIFY(load(c, path));
    ui::ViewState st;
    st.prompt = "Once upon a time there was a little dog named Max who liked to run in the park";
    st.selection.method = ui::SelectMethod::GemFilter;
    st.selection.layer = 1;
    st.selection.k = 9;
    for (int l = 0; l < 5; ++l)  // every layer routes to experts 2 and 3 only
      for (int e : {0, 1}) st.routerEdits.push_back({l, e, rt::RouterEditKind::Ban, 0.0f});
    rt::Session ref;
    ref.load(path.toStdString());
    ref.setPrompt(st.prompt);
    const int T = static_cast<int>(ref.promptIds().size());
    rt::Knockout ko{{T - 1}, {}, 1, 4, T - 1};  // the last token and the answer see only themselves
    for (int i = 0; i + 1 < T; ++i) ko.to.push_back(i);
    st.knockout = ko;
    c.analyze(st);
    QTRY_VERIFY_WITH_TIMEOUT(!c.busy() && c.latest() && c.latest()->complete, 30000);
    const ui::SnapshotPtr s = c.latest();
    QVERIFY2(s->selectionError.isEmpty(), qPrintable(s->selectionError));
    QVERIFY(!s->kept.empty() && int(s->kept.size()) < T);
    const rt::Interventions iv = s->trace->request.interventions;
    QVERIFY(iv.router == st.routerEdits && iv.knockout == st.knockout);
    const int n = st.selection.answerTokens;
    const auto a = rt::ana::answerReindexed(ref, s->kept, n, iv);
    const auto decode = [&](const std::vector<int32_t>& ids) {
      return QString::fromStdString(ref.model().tokenizer->decode(ids));
    };
    QCOMPARE(s->answerFull, decode(a.full));
    QCOMPARE(s->answerKept, decode(a.compressed));
    const auto plain = rt::ana::answerReindexed(ref, s->kept, n);
    QVERIFY2(plain.full != a.full && plain.compressed != a.compressed,
             qPrintable(decode(plain.full) + " | " + decode(a.full) + " || " +
                        decode(plain.compressed) + " | " + decode(a.compressed)));
  }
};

QTEST_MAIN(TstUiUnits)
#include "tst_ui_units.moc"
