// Window behaviour (offscreen QPA): the layout is saved on close, restored by the next window
// and View > Reset layout brings back the default; Tab leaves the prompt editor and Ctrl+Shift+I
// types a tab; local files dropped on any part of the window open; Help lists the real keyboard
// shortcuts and leads to the demos; a demo brings its panels to the front and a disabled demo
// says why.
#include "ui/demo_menu.h"
#include "ui/main_window.h"
#include "ui/prompt_panel.h"
#include "ui/session_controller.h"

#include <QAction>
#include <QApplication>
#include <QDialog>
#include <QDockWidget>
#include <QDropEvent>
#include <QMenu>
#include <QMenuBar>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QStatusBar>
#include <QTableWidget>
#include <QTest>
#include <QUrl>
#include <QWindow>

#include <memory>

using namespace ll;

namespace {

QAction* namedAction(const QWidget* w, const char* name) {
  return w->findChild<QAction*>(QLatin1String(name));
}

QString plain(QString t) {
  t.remove(QLatin1Char('&'));
  if (t.endsWith(QLatin1String("..."))) t.chop(3);
  return t;
}

// Drags `file` onto the top-level window at `pos` (window coordinates) the way the platform
// does: enter, move, drop, each sent to the window, which finds the widget under the cursor.
bool dropOnWindow(QWidget* window, QPoint pos, const QString& file) {
  QMimeData mime;
  mime.setUrls({QUrl::fromLocalFile(file)});
  QWindow* handle = window->windowHandle();
  QDragEnterEvent enter(pos, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
  QCoreApplication::sendEvent(handle, &enter);
  QDragMoveEvent move(pos, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
  QCoreApplication::sendEvent(handle, &move);
  if (!move.isAccepted()) return false;
  QDropEvent drop(pos, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
  QCoreApplication::sendEvent(handle, &drop);
  return drop.isAccepted();
}

// The same, sent straight to one widget (as Qt does once it has picked the drop target).
void dropOnWidget(QWidget* target, const QString& file) {
  QMimeData mime;
  mime.setUrls({QUrl::fromLocalFile(file)});
  const QPoint pos = target->rect().center();
  QDragEnterEvent enter(pos, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
  QCoreApplication::sendEvent(target, &enter);
  QDropEvent drop(pos, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
  QCoreApplication::sendEvent(target, &drop);
}

}  // namespace

class TstWindowBehaviour : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QCoreApplication::setOrganizationName(QStringLiteral("LayerLensTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_window_behaviour"));
    QSettings().clear();
  }
  void cleanup() { QSettings().clear(); }

  void layoutIsRememberedAndResets() {
    QSize saved;
    {
      ui::MainWindow w(nullptr, nullptr, 1);
      w.show();
      QVERIFY(QTest::qWaitForWindowExposed(&w));
      QCOMPARE(w.dockWidgetArea(w.dock(QStringLiteral("entropy"))), Qt::RightDockWidgetArea);
      w.addDockWidget(Qt::BottomDockWidgetArea, w.dock(QStringLiteral("entropy")));
      w.dock(QStringLiteral("steering"))->hide();
      w.resize(1450, 930);
      saved = w.size();
      w.close();
    }
    ui::MainWindow again(nullptr, nullptr, 1);
    again.show();
    QVERIFY(QTest::qWaitForWindowExposed(&again));
    QCOMPARE(again.size(), saved);
    QCOMPARE(again.dockWidgetArea(again.dock(QStringLiteral("entropy"))), Qt::BottomDockWidgetArea);
    QVERIFY(again.dock(QStringLiteral("steering"))->isHidden());
    QAction* reset = namedAction(&again, "viewResetLayout");
    QVERIFY2(reset, "no View > Reset layout");
    reset->trigger();
    QCOMPARE(again.dockWidgetArea(again.dock(QStringLiteral("entropy"))), Qt::RightDockWidgetArea);
    QVERIFY(!again.dock(QStringLiteral("steering"))->isHidden());
    QVERIFY(again.tabifiedDockWidgets(again.dock(QStringLiteral("entropy")))
                .contains(again.dock(QStringLiteral("steering"))));
    QVERIFY(again.tabifiedDockWidgets(again.dock(QStringLiteral("model")))
                .contains(again.dock(QStringLiteral("output"))));
  }

  // The demo guide is created when a demo opens, after the saved layout was restored: it goes
  // back where the user put it.
  void demoGuideKeepsItsPlace() {
    auto openDemo = [](ui::MainWindow& w) -> QDockWidget* {
      QSignalSpy loaded(w.controller(), &ui::SessionController::modelLoaded);
      for (QAction* top : w.menuBar()->actions())
        if (top->menu() && plain(top->text()) == QLatin1String("Demos"))
          top->menu()->actions().constFirst()->trigger();
      if (!loaded.wait(30000)) return nullptr;
      return w.findChild<QDockWidget*>(QStringLiteral("demo-guide"));
    };
    {
      ui::MainWindow w(nullptr, nullptr, 1);
      ui::installDemoMenu(&w, false);
      w.show();
      QVERIFY(QTest::qWaitForWindowExposed(&w));
      QDockWidget* guide = openDemo(w);
      QVERIFY(guide);
      QCOMPARE(w.dockWidgetArea(guide), Qt::RightDockWidgetArea);
      w.addDockWidget(Qt::LeftDockWidgetArea, guide);
      w.close();
    }
    ui::MainWindow again(nullptr, nullptr, 1);
    ui::installDemoMenu(&again, false);
    again.show();
    QVERIFY(QTest::qWaitForWindowExposed(&again));
    QDockWidget* guide = openDemo(again);
    QVERIFY(guide);
    QCOMPARE(again.dockWidgetArea(guide), Qt::LeftDockWidgetArea);
  }

  // View > CPU math: the choice is saved, applies from the next load on (the loaded model keeps
  // its backend, whose name says the mode), and the next window starts with it.
  void cpuMathSettingAppliesToTheNextLoad() {
    qunsetenv("LAYERLENS_CPU_MATH");
    auto loadDemo = [](ui::MainWindow& w) {
      QSignalSpy loaded(w.controller(), &ui::SessionController::modelLoaded);
      for (QAction* top : w.menuBar()->actions())
        if (top->menu() && plain(top->text()) == QLatin1String("Demos"))
          top->menu()->actions().constFirst()->trigger();
      return loaded.wait(30000);
    };
    {
      ui::MainWindow w(nullptr, nullptr, 1);
      ui::installDemoMenu(&w, false);
      w.show();
      QVERIFY(QTest::qWaitForWindowExposed(&w));
      QAction* precise = namedAction(&w, "cpuMathPrecise");
      QAction* fast = namedAction(&w, "cpuMathFast");
      QVERIFY(precise && fast);
      QVERIFY(precise->isChecked() && !fast->isChecked());
      QVERIFY(loadDemo(w));
      QVERIFY(!w.controller()->modelInfo().backend.contains(QLatin1String("fast math")));
      fast->trigger();
      QCOMPARE(QSettings().value(QStringLiteral("cpuMath")).toString(), QStringLiteral("fast"));
      QVERIFY(!w.controller()->modelInfo().backend.contains(QLatin1String("fast math")));
      QVERIFY2(w.statusBar()->currentMessage().contains(QLatin1String("fast from the next")),
               qPrintable(w.statusBar()->currentMessage()));
      QVERIFY(loadDemo(w));
      const QString backend = w.controller()->modelInfo().backend;
      QVERIFY2(backend.startsWith(QLatin1String("cpu (")) &&
                   backend.contains(QLatin1String("; fast math:")),
               qPrintable(backend));
    }
    ui::MainWindow again(nullptr, nullptr, 1);
    QVERIFY(namedAction(&again, "cpuMathFast")->isChecked());
    QCOMPARE(again.controller()->cpuMath(), QStringLiteral("fast"));
  }

  void tabLeavesThePromptEditor() {
    ui::MainWindow w(nullptr, nullptr, 1);
    w.show();
    w.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&w));
    QPlainTextEdit* e = w.promptEditor();
    e->setPlainText(QStringLiteral("ab"));
    e->moveCursor(QTextCursor::End);
    e->setFocus();
    QTRY_VERIFY(e->hasFocus());
    QTest::keyClick(e, Qt::Key_Tab);
    QCOMPARE(e->toPlainText(), QStringLiteral("ab"));
    QVERIFY(!e->hasFocus());
    e->setFocus();
    QTRY_VERIFY(e->hasFocus());
    e->moveCursor(QTextCursor::End);
    QTest::keyClick(e, Qt::Key_I, Qt::ControlModifier | Qt::ShiftModifier);
    QCOMPARE(e->toPlainText(), QStringLiteral("ab\t"));
  }

  // Over a dock, the prompt editor (which would paste the path as text) and a line edit: the
  // file opens and nothing is typed.
  void dropsAnywhereOpenTheFile() {
    ui::MainWindow w(nullptr, nullptr, 1);
    w.resize(1400, 900);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    const QString file = QStringLiteral("/nonexistent/dropped.gguf");
    QSignalSpy requested(&w, &ui::MainWindow::modelRequested);
    QPlainTextEdit* e = w.promptEditor();
    const QString text = e->toPlainText();
    const QList<QWidget*> targets = {w.dock(QStringLiteral("entropy")), e->viewport(),
                                     w.dock(QStringLiteral("model"))};
    for (QWidget* t : targets) {
      const int before = requested.size();
      const QPoint at = t->mapTo(&w, t->rect().center());
      QVERIFY2(dropOnWindow(&w, at, file), qPrintable(t->objectName()));
      QCOMPARE(requested.size(), before + 1);
      QCOMPARE(requested.last().first().toString(), file);
      QCOMPARE(e->toPlainText(), text);
    }
    dropOnWidget(e->viewport(), file);
    QCOMPARE(requested.size(), targets.size() + 1);
    QCOMPARE(e->toPlainText(), text);
    if (w.loadErrorBox()) w.loadErrorBox()->close();
  }

  void helpListsTheRealShortcuts() {
    ui::MainWindow w(nullptr, nullptr, 1);
    ui::installDemoMenu(&w, false);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    auto rowsShown = [&] {
      QAction* keys = namedAction(&w, "helpShortcuts");
      if (!keys) return QStringList();
      keys->trigger();
      auto* dialog = w.findChild<QDialog*>(QStringLiteral("shortcutsDialog"));
      auto* table = dialog ? dialog->findChild<QTableWidget*>() : nullptr;
      QStringList rows;
      for (int r = 0; table && r < table->rowCount(); ++r)
        rows << table->item(r, 1)->text() + QLatin1Char('=') + table->item(r, 2)->text();
      if (dialog) delete dialog;
      return rows;
    };
    QStringList expected;
    for (QAction* top : w.menuBar()->actions())
      for (QAction* a : top->menu()->actions())
        if (!a->shortcut().isEmpty())
          expected << plain(a->text()) + QLatin1Char('=') +
                          a->shortcut().toString(QKeySequence::NativeText);
    expected << QStringLiteral("Insert a tab in the prompt=Ctrl+Shift+I");  // the editor's own
    QVERIFY(expected.size() > 8);
    const QStringList shown = rowsShown();
    for (const QString& e : expected) QVERIFY2(shown.contains(e), qPrintable(e));
    // Generated when it opens: a shortcut added later is listed too.
    QMenu* view = nullptr;
    for (QAction* top : w.menuBar()->actions())
      if (plain(top->text()) == QLatin1String("View")) view = top->menu();
    QVERIFY(view);
    view->addAction(QStringLiteral("Late action"))->setShortcut(QKeySequence(Qt::Key_F9));
    QVERIFY(rowsShown().contains(QStringLiteral("Late action=F9")));

    // Help > Guided demos opens the Demos menu.
    QAction* demos = namedAction(&w, "helpDemos");
    QVERIFY2(demos, "no Help > Guided demos");
    QVERIFY(demos->isEnabled());
    demos->trigger();
    QVERIFY(w.menuBar()->activeAction());
    QCOMPARE(plain(w.menuBar()->activeAction()->text()), QStringLiteral("Demos"));
    QTRY_VERIFY(w.menuBar()->activeAction()->menu()->isVisible());
    w.menuBar()->activeAction()->menu()->close();
  }

  // A demo about routing (or token selection) puts that panel in front of its tab group, even
  // a panel the user had closed.
  void demosRaiseTheirPanels() {
    ui::MainWindow w(nullptr, nullptr, 1);
    ui::installDemoMenu(&w, false);
    w.resize(1400, 900);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QMenu* menu = w.menuBar()->findChild<QMenu*>(QStringLiteral("demosMenu"));
    if (!menu)
      for (QAction* top : w.menuBar()->actions())
        if (plain(top->text()) == QLatin1String("Demos")) menu = top->menu();
    QVERIFY(menu);
    auto demo = [&](const QString& title) -> QAction* {
      for (QAction* a : menu->actions())
        if (a->text().contains(title)) return a;
      return nullptr;
    };
    struct Case {
      QString title;
      QString panel;
    };
    w.dock(QStringLiteral("selection"))->hide();
    for (const Case& c : {Case{QStringLiteral("Experts by character class"), "routing"},
                          Case{QStringLiteral("Which tokens matter"), "selection"}}) {
      w.raisePanels({QStringLiteral("entropy")});
      QTRY_VERIFY(w.frontPanels().contains(QStringLiteral("entropy")));
      QAction* a = demo(c.title);
      QVERIFY2(a, qPrintable(c.title));
      QSignalSpy loaded(w.controller(), &ui::SessionController::modelLoaded);
      a->trigger();
      QVERIFY(loaded.wait(30000));
      QTRY_VERIFY2(w.frontPanels().contains(c.panel), qPrintable(w.frontPanels().join(',')));
      QVERIFY(!w.frontPanels().contains(QStringLiteral("entropy")));
    }
  }

  // Analyses lists every panel of the right column (more than its tab bar shows at once) and each
  // entry brings its panel to the front, shown again if the user had closed it.
  void analysesMenuBringsEachPanelForward() {
    ui::MainWindow w(nullptr, nullptr, 1);
    w.resize(1024, 700);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QMenu* menu = nullptr;
    for (QAction* top : w.menuBar()->actions())
      if (top->objectName() == QLatin1String("analysesMenu")) menu = top->menu();
    QVERIFY(menu);
    QStringList ids;
    for (QAction* a : menu->actions())
      if (!a->isSeparator()) ids << a->objectName().mid(int(strlen("analysis_")));
    const QStringList rightColumn = {"entropy",     "selection", "routing", "steering", "lens",
                                     "attribution", "layerskip", "latent",  "contrast", "knockout",
                                     "steerread",   "teacher",   "flow",    "patching"};
    for (const QString& id : rightColumn) QVERIFY2(ids.contains(id), qPrintable(id));
    QCOMPARE(ids.size(), rightColumn.size());
    w.dock(QStringLiteral("patching"))->close();
    for (QAction* a : menu->actions()) {
      if (a->isSeparator()) continue;
      const QString id = a->objectName().mid(int(strlen("analysis_")));
      a->trigger();
      QTRY_VERIFY2(w.frontPanels().contains(id), qPrintable(id + ": " + w.frontPanels().join(',')));
      QVERIFY(w.dock(id)->isVisible());
    }
  }

  // Without the shared models folder the real-model demo is disabled and says what it needs.
  void disabledDemoSaysWhy() {
    const QByteArray shared = qgetenv("LAYERLENS_SHARED_DIR");
    qunsetenv("LAYERLENS_SHARED_DIR");
    ui::MainWindow w(nullptr, nullptr, 1);
    ui::installDemoMenu(&w, false);
    qputenv("LAYERLENS_SHARED_DIR", shared);
    QAction* stories = nullptr;
    for (QAction* top : w.menuBar()->actions())
      if (top->menu() && plain(top->text()) == QLatin1String("Demos"))
        for (QAction* a : top->menu()->actions())
          if (a->text().contains(QLatin1String("stories260K"))) stories = a;
    QVERIFY(stories);
    if (stories->isEnabled()) QSKIP("a shared folder was found next to the build");
    QVERIFY2(stories->text().contains(QLatin1String("needs stories260K.gguf")),
             qPrintable(stories->text()));
    QVERIFY2(stories->toolTip().contains(QLatin1String("models/stories260K.gguf")) &&
                 stories->toolTip().contains(QLatin1String("LAYERLENS_SHARED_DIR")),
             qPrintable(stories->toolTip()));
    QCOMPARE(stories->statusTip(), stories->toolTip());
  }
};

QTEST_MAIN(TstWindowBehaviour)
#include "tst_window_behaviour.moc"
