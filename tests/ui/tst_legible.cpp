// Legibility of the main window: token text is shown literally (a "<s>" piece is never taken for
// HTML), whitespace and bytes are visible through one labelling function shared with the
// exported figures.
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/attention_panel.h"
#include "ui/demo_menu.h"
#include "ui/entropy_panel.h"
#include "ui/export_actions.h"
#include "ui/heatmap_view.h"
#include "ui/main_window.h"
#include "ui/prompt_panel.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "visualizers/qt/attention_map_view.h"
#include "visualizers/qt/token_label.h"
#include "visualizers/qt/token_overlay_view.h"

#include <QApplication>
#include <QFile>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>

#include <QTextDocument>
#include <QTimer>
#include "ui_wait.h"

#include <memory>

using namespace ll;

namespace {

using uitest::modelPath;

// The text a label puts on screen (rich text rendered to plain text, as QLabel would show it).
QString shownText(const QLabel* l) {
  const bool rich = l->textFormat() == Qt::RichText ||
                    (l->textFormat() == Qt::AutoText && Qt::mightBeRichText(l->text()));
  if (!rich) return l->text();
  QTextDocument doc;
  doc.setHtml(l->text());
  return doc.toPlainText();
}

}  // namespace

class TstLegible : public QObject {
  Q_OBJECT

  std::unique_ptr<ui::MainWindow> m_w;
  QString m_model;

  bool waitSettled(const QString& prompt, int timeoutMs = 30000) {
    return uitest::waitSettled(m_w.get(), timeoutMs, prompt);
  }

  bool loadModel(const QString& path) {
    QSignalSpy loaded(m_w->controller(), &ui::SessionController::modelLoaded);
    m_w->openModel(path);
    return loaded.wait(30000);
  }

 private slots:
  void initTestCase() {
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_legible"));
    QSettings().clear();
    m_model = modelPath("stories260K.gguf");
    if (m_model.isEmpty()) QSKIP("stories260K.gguf not found: set LAYERLENS_SHARED_DIR");
    m_w = std::make_unique<ui::MainWindow>(nullptr, nullptr, 2);
    m_w->resize(1400, 900);
    m_w->show();
    QVERIFY(loadModel(m_model));
  }

  void tokenLabelShowsWhitespaceAndBytes() {
    QCOMPARE(vis::tokenLabel("<s>"), QStringLiteral("<s>"));
    QCOMPARE(vis::tokenLabel(" upon"), QString(QChar(0x2423)) + QStringLiteral("upon"));
    QCOMPARE(vis::tokenLabel("a b"), QStringLiteral("a") + QChar(0x2423) + QStringLiteral("b"));
    QCOMPARE(vis::tokenLabel("\n"), QStringLiteral("\\n"));
    QCOMPARE(vis::tokenLabel("\t"), QStringLiteral("\\t"));
    QCOMPARE(vis::tokenLabel("\r"), QStringLiteral("\\r"));
    QCOMPARE(vis::tokenLabel("\x01"), QStringLiteral("<0x01>"));
    QCOMPARE(vis::tokenLabel("\xC3"), QStringLiteral("<0xC3>"));            // a lone byte
    QCOMPARE(vis::tokenLabel("\xE2\x96"), QStringLiteral("<0xE2><0x96>"));  // a cut sequence
    QCOMPARE(vis::tokenLabel("\xC3\xA9t\xC3\xA9"), QString::fromUtf8("\xC3\xA9t\xC3\xA9"));
  }

  void tokenTextIsShownLiterally() {
    if (!m_w) QSKIP("no model");
    const QString prompt = QStringLiteral("Once <s> upon\na time");
    m_w->setPrompt(prompt);
    QVERIFY(waitSettled(prompt));
    ui::SnapshotPtr s = m_w->shownSnapshot();
    QVERIFY(s->tokens.size() >= 5);

    // The labels are the shared tokenLabel of each piece: the BOS piece "<s>", spaces as "␣",
    // the newline as "\n"; no raw whitespace is left in any label.
    rt::Session ref;
    ref.load(m_model.toStdString());
    ref.setPrompt(prompt.toStdString());
    const auto tr = ref.run(rt::RunRequest{});
    QCOMPARE(int(s->tokens.size()), tr->nTokens);
    for (int t = 0; t < tr->nTokens; ++t)
      QCOMPARE(s->tokens[t], vis::tokenLabel(tr->pieces[size_t(t)]));
    QCOMPARE(s->tokens.front(), QStringLiteral("<s>"));
    QVERIFY(s->tokens.join(QString()).contains(QChar(0x2423)));
    QVERIFY(s->tokens.contains(QStringLiteral("\\n")));
    for (const QString& l : s->tokens)
      QVERIFY2(!l.contains(QLatin1Char(' ')) && !l.contains(QLatin1Char('\n')), qPrintable(l));

    // The views receive those labels.
    QCOMPARE(m_w->attentionPanel()->heatmap()->map()->queryTokens(), s->tokens);
    QCOMPARE(m_w->attentionPanel()->heatmap()->map()->keyTokens(), s->tokens);

    // Query token 0 ("<s>") and rank of token id 1 ("<s>"): the captions show "<s>" literally.
    m_w->selection()->setToken(0);
    auto* target = m_w->entropyPanel()->findChild<QSpinBox*>();
    QVERIFY(target);
    target->setValue(1);
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < 30000) {
      QTest::qWait(20);
      s = m_w->shownSnapshot();
      if (s && s->complete && s->token == 0 && s->state.rankTarget == 1 &&
          !m_w->controller()->busy())
        break;
    }
    QCOMPARE(s->token, 0);
    QCOMPARE(s->rankTokenText, QStringLiteral("<s>"));
    bool entropyShown = false, attentionShown = false;
    for (QLabel* l : m_w->findChildren<QLabel*>()) {
      const QString shown = shownText(l);
      // A label whose text has a raw "<s>" must not render it as a tag.
      if (l->text().contains(QStringLiteral("<s>")))
        QVERIFY2(shown.contains(QStringLiteral("<s>")), qPrintable(l->text()));
      if (shown.contains(QStringLiteral("\"<s>\""))) {
        entropyShown |= m_w->entropyPanel()->isAncestorOf(l);
        attentionShown |= m_w->attentionPanel()->isAncestorOf(l);
      }
    }
    QVERIFY(entropyShown);
    QVERIFY(attentionShown);
  }

  // A failed load names its reason in a window that stays until closed (not only a status-bar
  // line) and does not block; the next successful load closes it.
  void loadFailureShowsReason() {
    if (!m_w) QSKIP("no model");
    QTemporaryDir dir;
    const QString bad = dir.filePath(QStringLiteral("truncated.gguf"));
    QFile in(m_model), out(bad);
    QVERIFY(in.open(QIODevice::ReadOnly) && out.open(QIODevice::WriteOnly));
    out.write(in.read(in.size() / 3));
    out.close();
    QSignalSpy failed(m_w->controller(), &ui::SessionController::loadFailed);
    m_w->openModel(bad);
    QVERIFY(failed.wait(30000));
    const QString reason = failed.at(0).at(1).toString();
    QVERIFY(!reason.isEmpty());
    QTest::qWait(50);
    QMessageBox* box = nullptr;
    for (QWidget* w : QApplication::topLevelWidgets())
      if (auto* b = qobject_cast<QMessageBox*>(w); b && b->isVisible()) box = b;
    QVERIFY2(box, "no message names the failed load");
    QVERIFY(!box->isModal());
    QCOMPARE(box->textFormat(), Qt::PlainText);
    QVERIFY2(box->text().contains(reason), qPrintable(box->text()));
    QVERIFY(box->text().contains(bad));
    QTest::qWait(9000);  // outlives the status-bar message
    QVERIFY(box->isVisible());
    // The previous model stays usable; loading it again closes the message.
    QPointer<QMessageBox> guard(box);
    QVERIFY(loadModel(m_model));
    QTest::qWait(50);
    QVERIFY(!guard || !guard->isVisible());
  }

  // The title names the open file; File ends with Quit, Help > About is the last menu, and no
  // export appears twice.
  void titleAndMenus() {
    if (!m_w) QSKIP("no model");
    QCOMPARE(m_w->windowTitle(), QString::fromUtf8("stories260K.gguf \u2014 LayerLens"));
    ui::installExportActions(m_w.get());  // as the application does
    ui::installDemoMenu(m_w.get(), false);
    QStringList menus, exports;
    QMenu *file = nullptr, *help = nullptr;
    for (QAction* m : m_w->menuBar()->actions()) {
      if (!m->menu()) continue;
      const QString title = m->text().remove(QLatin1Char('&'));
      menus << title;
      if (title == QLatin1String("File")) file = m->menu();
      if (title == QLatin1String("Help")) help = m->menu();
      for (QAction* a : m->menu()->actions())
        if (a->text().startsWith(QLatin1String("Export"))) exports << a->text();
    }
    QVERIFY(file && help);
    QCOMPARE(menus.last(), QStringLiteral("Help"));
    QCOMPARE(file->actions().last()->text().remove(QLatin1Char('&')), QStringLiteral("Quit"));
    QCOMPARE(int(exports.removeDuplicates()), 0);
    QVERIFY2(exports.filter(QStringLiteral("attention"), Qt::CaseInsensitive).isEmpty(),
             qPrintable(exports.join(", ")));  // the attention map is one view of Export figure
    QVERIFY(exports.filter(QStringLiteral("Export figure")).size() == 1);
    QAction* about = nullptr;
    for (QAction* a : help->actions())
      if (a->text().contains(QLatin1String("About"))) about = a;
    QVERIFY(about);
    // About is modal: read and close it from a timer.
    QString shown;
    QTimer::singleShot(200, this, [&] {
      if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget())) {
        shown = box->text();
        box->accept();
      }
    });
    about->trigger();
    QVERIFY2(shown.contains(QStringLiteral("LayerLens 0.")), qPrintable(shown));
    QVERIFY(shown.contains(QStringLiteral("Compute backend: ")));
    QVERIFY(!shown.contains(QStringLiteral("no model loaded")));
    QVERIFY(shown.contains(QStringLiteral("Vulkan")));  // the device, or that it is unavailable
  }
};

QTEST_MAIN(TstLegible)
#include "tst_legible.moc"
