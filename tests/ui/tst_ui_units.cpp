// Unit tests of the GUI's non-widget parts: byte spans -> character positions, chat-template
// families, SelectionModel stepping, the head-grid helper against Session::attentionMap, and the
// SessionController's replace-queued / drop-stale behaviour.
#include "runtime/api/session.h"
#include "ui/head_grid_rows.h"
#include "ui/prompt_text.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"

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

  void controllerDropsStaleRequests() {
    const QString path = model();
    if (path.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    ui::SessionController c(2);
    QSignalSpy loaded(&c, &ui::SessionController::modelLoaded);
    c.loadModel(path);
    QVERIFY(loaded.wait(30000));
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
};

QTEST_MAIN(TstUiUnits)
#include "tst_ui_units.moc"
