// The model panel: open a GGUF file or a Hugging Face folder (dialog, recent files, drag and drop
// on the window), a progress bar while loading, the model card and load errors.
#pragma once

#include "ui/panel.h"

class QLabel;
class QListWidget;
class QProgressBar;
class QPushButton;

namespace ll::ui {

class ModelPanel : public Panel {
  Q_OBJECT
 public:
  explicit ModelPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("model"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void modelChanged(const ModelInfo& info) override;

  void setLoading(const QString& path);
  void setProgress(float fraction, const QString& phase);
  void setError(const QString& path, const QString& error);
  // Prominent "Open model" call to action when nothing is loaded.
  void setNoModel(bool noModel);
  QString cardText() const;
  QString errorText() const;
  void addRecent(const QString& path);
  QStringList recentFiles() const;

 signals:
  void openRequested(const QString& path);  // a recent entry or a chosen file / folder

 public slots:
  void chooseFile();
  void chooseFolder();

 private:
  QPushButton* m_open = nullptr;
  QPushButton* m_openFolder = nullptr;
  QProgressBar* m_progress = nullptr;
  QLabel* m_phase = nullptr;
  QLabel* m_card = nullptr;
  QLabel* m_error = nullptr;
  QListWidget* m_recent = nullptr;
};

}  // namespace ll::ui
