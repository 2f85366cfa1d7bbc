// The analysis panels the server computes with its Analyze call (issue 17): direct logit
// attribution, the latent-language plot, the layer skip and the flow routes of a remote
// SessionController equal a local one's bit for bit on stories260K and stories260K-moe4, with a
// knockout and an expert ban in force, with another selected token (the layer skip re-read from
// its every-position values) and after a prompt edit. The model card's induction scores and chat
// template family equal the local ones, and a templated prompt runs as in process (on a copy of
// stories260K given a chatml template: no fixture has one). The exports that read beyond a snapshot
// (every head's map, the residual stream) write the same files from a server as in process. Skips
// without gRPC or ../shared.
#include "gui_remote_compare.h"
#include "gui_remote_support.h"
#include "runtime/analysis/attribution.h"
#include "runtime/formats/gguf.h"
#include "runtime/formats/gguf_writer.h"
#include "ui/export_actions.h"
#include "ui/main_window.h"
#include "ui_wait.h"

#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <cstring>

using namespace ll;
using namespace guiremote;

namespace {

template <class T>
bool same(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

void compareAttribution(const ui::Snapshot& l, const ui::Snapshot& r) {
  QCOMPARE(r.attributionError, l.attributionError);
  QCOMPARE(r.attributionTargetText, l.attributionTargetText);
  QCOMPARE(r.attributionOtherText, l.attributionOtherText);
  QCOMPARE(bool(r.attribution), bool(l.attribution));
  if (!l.attribution) return;
  const rt::ana::Attribution &a = *l.attribution, &b = *r.attribution;
  QCOMPARE(b.nLayer, a.nLayer);
  QCOMPARE(b.nHead, a.nHead);
  QCOMPARE(b.position, a.position);
  QCOMPARE(b.target, a.target);
  QCOMPARE(b.other, a.other);
  QVERIFY2(same(b.embed, a.embed) && same(b.bias, a.bias) && same(b.steering, a.steering),
           "attribution constants");
  QVERIFY2(same(b.logit, a.logit) && same(b.modelLogit, a.modelLogit), "attribution logit");
  QCOMPARE(b.softcapped, a.softcapped);
  QVERIFY2(sameBits(b.attn, a.attn) && sameBits(b.mlp, a.mlp), "attribution layers");
  QVERIFY2(sameBits(b.heads, a.heads), "attribution heads");
}

void compareLatent(const ui::Snapshot& l, const ui::Snapshot& r) {
  QCOMPARE(r.latentError, l.latentError);
  QCOMPARE(r.latentTokensA, l.latentTokensA);
  QCOMPARE(r.latentTokensB, l.latentTokensB);
  QCOMPARE(bool(r.latent), bool(l.latent));
  if (!l.latent) return;
  QCOMPARE(r.latent->nLayer, l.latent->nLayer);
  QCOMPARE(r.latent->position, l.latent->position);
  QVERIFY(r.latent->tokensA == l.latent->tokensA && r.latent->tokensB == l.latent->tokensB);
  QVERIFY2(sameBits(r.latent->a, l.latent->a) && sameBits(r.latent->b, l.latent->b),
           "latent-language masses");
}

void compareLayerSkip(const ui::Snapshot& l, const ui::Snapshot& r) {
  QCOMPARE(r.layerSkipError, l.layerSkipError);
  QCOMPARE(bool(r.layerSkip), bool(l.layerSkip));
  if (!l.layerSkip) return;
  const rt::ana::LayerSkipResult &a = *l.layerSkip, &b = *r.layerSkip;
  QCOMPARE(b.nLayer, a.nLayer);
  QCOMPARE(b.nTokens, a.nTokens);
  QCOMPARE(b.position, a.position);
  QVERIFY(b.part == a.part);
  QCOMPARE(b.top1, a.top1);
  QVERIFY2(sameBits(b.kl, a.kl) && sameBits(b.klMean, a.klMean), "layer skip KL");
  QVERIFY2(sameBits(b.klAll, a.klAll) && sameBits(b.top1SkipAll, a.top1SkipAll),
           "layer skip every position");
  QVERIFY2(sameBits(b.top1Skip, a.top1Skip) && sameBits(b.top1Changed, a.top1Changed),
           "layer skip top-1");
  QVERIFY2(sameBits(b.relUpdate, a.relUpdate) && sameBits(b.cosUpdate, a.cosUpdate) &&
               sameBits(b.active, a.active),
           "layer skip update measures");
}

void compareFlow(const ui::Snapshot& l, const ui::Snapshot& r) {
  QCOMPARE(r.flowError, l.flowError);
  QCOMPARE(bool(r.flow), bool(l.flow));
  if (!l.flow) return;
  const rt::ana::FlowGraph &a = *l.flow, &b = *r.flow;
  QCOMPARE(b.nLayer, a.nLayer);
  QCOMPARE(b.nTokens, a.nTokens);
  QVERIFY(same(b.threshold, a.threshold));
  QCOMPARE(b.pairsTotal, a.pairsTotal);
  QCOMPARE(b.pairsEvaluated, a.pairsEvaluated);
  QCOMPARE(b.edges.size(), a.edges.size());
  for (size_t k = 0; k < a.edges.size(); ++k) {
    const rt::ana::FlowEdge &x = a.edges[k], &y = b.edges[k];
    QVERIFY2(x.layer == y.layer && x.kind == y.kind && x.src == y.src && x.dst == y.dst &&
                 same(x.weight, y.weight),
             qPrintable(QStringLiteral("flow edge %1").arg(k)));
  }
}

// stories260K with a chatml tokenizer.chat_template added (the fixtures have none).
void writeTemplatedModel(const QString& from, const QString& to) {
  const auto src = rt::GgufFile::open(from.toStdString());
  rt::GgufWriter w;
  w.copyMetadata(from.toStdString(), "");
  w.addString("tokenizer.chat_template",
              "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
              "{% endfor %}<|im_start|>assistant\n");
  for (const auto& t : src->tensors())
    w.addTensor(t.name, uint32_t(t.type), t.ne,
                [p = t.data, n = t.nbytes] { return std::vector<uint8_t>(p, p + n); });
  w.write(to.toStdString());
}

// Runs exportFullView and waits for its result ("" on success).
QString exportFull(ui::MainWindow* w, const QString& view, const QString& path) {
  QString result = "pending", error;
  if (!ui::exportFullView(
          w, view, path, [&](const QString& e) { result = e; }, &error))
    return "not started: " + error;
  for (int t = 0; t < 120000 && result == "pending"; t += 10) QTest::qWait(10);
  return result;
}

QByteArray fileBytes(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

}  // namespace

class TestGuiRemoteAnalyses : public QObject {
  Q_OBJECT

  // ranks > 1: the server splits the layers over `mpirun -np ranks` processes.
  void parity(const QString& model, bool moe, int ranks = 1) {
    const QString models = modelsOrSkip();
    if (models.isEmpty()) return;
    const QStringList launcher = ranks > 1 ? mpirunLauncher(ranks) : QStringList();
    if (ranks > 1 && launcher.isEmpty()) return;  // skipped
    Server srv;
    QVERIFY(srv.start(models, {}, launcher));
    ui::SessionController local, remote;
    QVERIFY(loadBoth(local, remote, srv, models + "/" + model, model));
    ui::ViewState st;
    st.prompt = "Once upon a time there was a little girl named Lily";
    st.outputTokens = 4;
    st.attribution.enabled = true;
    st.latent.wordA = "girl";
    st.latent.wordB = "Lily";
    st.layerSkip.enabled = true;
    st.flow.enabled = true;
    st.flow.threshold = 0.03;
    const auto same = [&](const ui::ViewState& v) {
      const ui::SnapshotPtr l = settle(local, v), r = settle(remote, v);
      QVERIFY(l && r);
      // What is compared is there (not two empty views).
      QVERIFY2(l->attribution && l->latent && l->layerSkip && l->flow,
               qPrintable(l->attributionError + l->latentError + l->layerSkipError + l->flowError));
      QVERIFY(!l->flow->edges.empty());
      QCOMPARE(r->token, l->token);
      compareAttribution(*l, *r);
      compareLatent(*l, *r);
      compareLayerSkip(*l, *r);
      compareFlow(*l, *r);
    };
    same(st);
    if (QTest::currentTestFailed()) return;
    // Another selected token: the attribution there, the layer skip re-read at it.
    st.token = 3;
    same(st);
    if (QTest::currentTestFailed()) return;
    // Interventions: a knockout of token 1 for the last queries, an expert ban on the MoE; a
    // difference of two named tokens, the attention sublayer skipped, another threshold.
    st.knockout = rt::Knockout{{}, {1}, 0, 2, 5};
    if (moe) st.routerEdits = {{0, 1, rt::RouterEditKind::Ban, 0.0f}};
    st.attribution.target = "little";  // the piece " little"
    st.attribution.other = "265";      // " the", by id
    st.layerSkip.part = rt::SkipPart::Attention;
    st.flow.threshold = 0.1;
    same(st);
    if (QTest::currentTestFailed()) return;
    // A prompt edit (prefix reuse on both sides), the last token selected again.
    st.prompt += " who loved";
    st.token = -1;
    same(st);
    if (QTest::currentTestFailed()) return;
    // A word and a token the model cannot read: the same message on both sides.
    st.latent.wordB = " ";
    st.attribution.target = "not one token at all";
    const ui::SnapshotPtr l = settle(local, st), r = settle(remote, st);
    QVERIFY(l && r);
    QVERIFY(!l->latentError.isEmpty() && !l->attributionError.isEmpty());
    compareAttribution(*l, *r);
    compareLatent(*l, *r);
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    if (!ui::remoteClientBuilt())
      QSKIP("built without gRPC (libgrpc++-dev, protobuf-compiler-grpc)");
  }
  void panelsEqualLocalDense() { parity(QStringLiteral("stories260K.gguf"), false); }
  void panelsEqualLocalMoe() { parity(QStringLiteral("stories260K-moe4.gguf"), true); }
  void splitServerPanelsEqualLocalDense() { parity(QStringLiteral("stories260K.gguf"), false, 2); }
  void splitServerPanelsEqualLocalMoe() {
    parity(QStringLiteral("stories260K-moe4.gguf"), true, 3);
  }

  // The induction scores (NaN where a layer cannot see the stripe) and their note, bit for bit;
  // gemma3-tiny has sliding-window layers.
  void modelCardEqualsLocal() {
    const QString models = modelsOrSkip();
    if (models.isEmpty()) return;
    Server srv;
    QVERIFY(srv.start(models));
    for (const QString model :
         {QStringLiteral("stories260K-moe4.gguf"), QStringLiteral("gemma3-tiny.gguf")}) {
      ui::SessionController local, remote;
      QVERIFY(loadBoth(local, remote, srv, models + "/" + model, model));
      const ui::ModelInfo &l = local.modelInfo(), &r = remote.modelInfo();
      QVERIFY2(!l.induction.empty(), qPrintable(model));
      QCOMPARE(r.inductionN, l.inductionN);
      QVERIFY2(sameBits(r.induction, l.induction), qPrintable(model));
      QCOMPARE(r.inductionNote, l.inductionNote);
      QCOMPARE(r.hasTemplate, l.hasTemplate);
      QCOMPARE(r.chatFormat, l.chatFormat);
    }
  }

  // The chat template: the server's info names the family, and a templated prompt gives the same
  // run text, tokens, spans, logits and continuation as in process.
  void chatTemplateEqualsLocal() {
    const QString models = modelsOrSkip();
    if (models.isEmpty()) return;
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    writeTemplatedModel(models + "/stories260K.gguf", dir.filePath("chat.gguf"));
    Server srv;
    QVERIFY(srv.start(dir.path()));
    ui::SessionController local, remote;
    QVERIFY(loadBoth(local, remote, srv, dir.filePath("chat.gguf"), "chat.gguf"));
    QCOMPARE(local.modelInfo().chatFormat, QStringLiteral("chatml"));
    QCOMPARE(remote.modelInfo().chatFormat, local.modelInfo().chatFormat);
    QVERIFY(remote.modelInfo().hasTemplate);
    ui::ViewState st;
    st.prompt = "Once upon a time";
    st.outputTokens = 4;
    st.chatTemplate = true;
    for (const std::string edit : {"", " there was"}) {
      st.prompt += edit;
      const ui::SnapshotPtr l = settle(local, st), r = settle(remote, st);
      QVERIFY(l && r && l->trace && r->trace);
      QVERIFY2(l->runText.size() > st.prompt.size() && l->userOffset > 0, "the template applied");
      QCOMPARE(r->runText, l->runText);
      QCOMPARE(r->userOffset, l->userOffset);
      QCOMPARE(r->tokens, l->tokens);
      QVERIFY(r->charSpans == l->charSpans);
      QVERIFY(r->trace->ids == l->trace->ids);
      QVERIFY2(sameBits(r->trace->logits, l->trace->logits), "trace logits");
      QCOMPARE(r->continuation, l->continuation);
      compareAttribution(*l, *r);
    }
    // Patching tokenizes the corrupted prompt in the template as the prompt is (the remote job
    // once tokenized it as typed, so the lengths never lined up).
    st.prompt = "Once upon a time there was a little girl named Lily";
    st.patching.enabled = true;
    st.patching.corrupt = "Once upon a time there was a little boy named Lily";
    const ui::SnapshotPtr l = settle(local, st), r = settle(remote, st);
    QVERIFY(l && r);
    QVERIFY2(l->patching, qPrintable(l->patchingError));
    comparePatching(*l, *r);
  }

  // File > Export of the head grid (.npy [L, H, T, T] and the figure) and of the residual stream
  // (one layer, every layer): the same bytes from a server as from the model in this process.
  void fullExportsEqualLocal() {
    const QString models = modelsOrSkip();
    if (models.isEmpty()) return;
    Server srv;
    QVERIFY(srv.start(models));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ui::MainWindow local(nullptr), remote(nullptr);
    for (ui::MainWindow* w : {&local, &remote}) {
      w->setDebounceMs(0);
      w->show();
    }
    QSignalSpy ll(local.controller(), &ui::SessionController::modelLoaded);
    QSignalSpy rl(remote.controller(), &ui::SessionController::modelLoaded);
    local.openModel(models + "/stories260K-moe4.gguf");
    remote.connectToServer(srv.target("stories260K-moe4.gguf"));
    QTRY_VERIFY_WITH_TIMEOUT(!ll.isEmpty() && !rl.isEmpty(), 60000);
    const QString prompt = QStringLiteral("Once upon a time there was a little girl");
    for (ui::MainWindow* w : {&local, &remote}) {
      w->setPrompt(prompt);
      QVERIFY(uitest::waitSettled(w, 60000, prompt));
    }
    const std::pair<QString, QString> exports[] = {{"headgrid", "grid.npy"},
                                                   {"headgrid", "grid.png"},
                                                   {"residual", "resid.npy"},
                                                   {"residuals", "resids.npy"}};
    for (const auto& [view, file] : exports) {
      const QString l = dir.filePath("local-" + file), r = dir.filePath("remote-" + file);
      QCOMPARE(exportFull(&local, view, l), QString());
      QCOMPARE(exportFull(&remote, view, r), QString());
      const QByteArray lb = fileBytes(l);
      QVERIFY2(lb.size() > 1000, qPrintable(file));
      QVERIFY2(fileBytes(r) == lb, qPrintable(view + " " + file));
    }
  }
};

QTEST_MAIN(TestGuiRemoteAnalyses)
#include "tst_gui_remote_analyses.moc"
