// Help > Keyboard shortcuts: a table generated from the actions that exist now (menus and
// widget actions such as the prompt editor's), so it cannot drift from the real key bindings.
#pragma once

#include <QList>
#include <QString>

class QDialog;
class QWidget;

namespace ll::ui {

struct ShortcutRow {
  QString group;     // the menu the action sits in, or the widget's window title / "Editor"
  QString action;    // the action's text without mnemonics
  QString shortcut;  // every key sequence, in the platform's notation, comma separated
};

// Every action under root (recursively) that has a shortcut, in menu order, then the rest.
QList<ShortcutRow> collectShortcuts(const QWidget* root);
// A non-modal dialog (object name "shortcutsDialog") listing collectShortcuts(window).
QDialog* showShortcutsDialog(QWidget* window);

}  // namespace ll::ui
