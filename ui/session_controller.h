// SessionController: the UI thread's handle on the runtime. One worker thread (QThread) owns the
// Session and makes every backend call. Requests are tagged; a newer request replaces a queued one
// with the same tag, and a generation counter cancels stale work between layers. Results come
// back as immutable snapshots through queued calls guarded by QPointer; stale ones are dropped.
#pragma once

#include "ui/view_state.h"

#include <QObject>
#include <QString>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

class QThread;

namespace ll::ui {

class AnalysisJob;

class SessionController : public QObject {
  Q_OBJECT
 public:
  enum class Tag { Load, Analyze };

  // threads: CPU backend threads (0: all cores).
  explicit SessionController(int threads = 0, QObject* parent = nullptr);
  ~SessionController() override;

  // Replaces any queued load; the current model stays until the new one has loaded.
  void loadModel(const QString& path);
  // Replaces any queued analysis and cancels the running one (the generation moves on).
  void analyze(const ViewState& state);

  bool hasModel() const { return m_hasModel; }
  const ModelInfo& modelInfo() const { return m_info; }
  bool busy() const { return m_busy > 0; }
  uint64_t generation() const { return m_generation.load(); }
  // The latest snapshot delivered (complete or not).
  SnapshotPtr latest() const { return m_latest; }

 signals:
  void loadProgress(float fraction, const QString& phase);
  void modelLoaded(const ll::ui::ModelInfo& info);
  void loadFailed(const QString& path, const QString& error);
  // The fast part of an analysis (attention, lens, entropy, routing, top-k) ...
  void snapshotReady(ll::ui::SnapshotPtr snapshot);
  // ... then the same with answers and generations filled in.
  void snapshotComplete(ll::ui::SnapshotPtr snapshot);
  void analysisFailed(const QString& error);
  void busyChanged(bool busy);

 private:
  struct Job {
    Tag tag;
    uint64_t generation = 0;
    QString path;
    ViewState state;
  };
  void workerLoop();
  void runJob(const Job& job);
  // Posts fn to the UI thread; dropped when the controller is gone.
  void post(std::function<void(SessionController*)> fn);
  void setBusy(int delta);

  std::unique_ptr<AnalysisJob> m_job;  // worker thread only
  int m_threads = 0;
  QThread* m_thread = nullptr;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<Job> m_queue;
  std::atomic<bool> m_stop{false};
  std::atomic<uint64_t> m_generation{0};
  std::atomic<uint64_t> m_loadGeneration{0};

  // UI thread state
  bool m_hasModel = false;
  ModelInfo m_info;
  int m_busy = 0;
  SnapshotPtr m_latest;
};

}  // namespace ll::ui
