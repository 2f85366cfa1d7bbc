// SessionController: the UI thread's handle on the runtime. One worker thread (QThread) owns the
// Session and makes every backend call. Requests are tagged; a newer request replaces a queued one
// with the same tag, and a generation counter cancels stale work between layers. Results come
// back as immutable snapshots through queued calls guarded by QPointer; stale ones are dropped.
#pragma once

#include "ui/remote_job.h"
#include "ui/view_state.h"

#include <QObject>
#include <QString>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

class QThread;

namespace ll::rt {
class Session;
}

namespace ll::ui {

class AnalysisSource;

class SessionController : public QObject {
  Q_OBJECT
 public:
  enum class Tag { Load, Analyze, Task };
  using Task = std::function<void(rt::Session&)>;
  using SourceTask = std::function<void(AnalysisSource&)>;

  // threads: CPU backend threads (0: all cores).
  explicit SessionController(int threads = 0, QObject* parent = nullptr);
  ~SessionController() override;

  // Replaces any queued load; the current model stays until the new one has loaded.
  void loadModel(const QString& path);
  // Attaches to a model on a `layerlens-cli serve` server: like loadModel (it replaces a queued
  // load, and the current model, local or remote, stays until the server has opened the new one;
  // a failure arrives as loadFailed with the reason). Analyses then run on the server.
  void connectRemote(const RemoteTarget& target);
  // Replaces any queued analysis and cancels the running one (the generation moves on).
  void analyze(const ViewState& state);

  // Runs task on the worker thread with a session on the loaded model (refused with the reason on
  // a remote model, whose sessions are on the server) (not the prompt's own, so
  // the next keystroke keeps its prefix), after the jobs queued before it; for work that needs the
  // runtime itself. done gets "" or the error, on the UI thread.
  void runTask(Task task, std::function<void(const QString& error)> done);
  // The same with the model's AnalysisSource itself, local or remote: the exports that read beyond
  // a snapshot (every head's map, the residual stream) through AnalysisSource::exportReads.
  void runSourceTask(SourceTask task, std::function<void(const QString& error)> done);

  // Per-layer progress is reported once a pass has run this long (default 150 ms: short passes
  // would only flicker in the status bar).
  void setProgressAfterMs(int ms) { m_progressAfterMs = ms; }

  // The CPU backend's math for the loads requested from now on: "precise", "fast" or "" (the
  // LAYERLENS_CPU_MATH environment variable). The loaded model keeps its backend.
  void setCpuMath(const QString& mode) { m_cpuMath = mode; }
  const QString& cpuMath() const { return m_cpuMath; }

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
  // Every analysis panel's data from the (prefix-reused) forward pass ...
  void snapshotReady(ll::ui::SnapshotPtr snapshot);
  // ... then each generation-based output as it is there (snapshot->streamed names it) ...
  void snapshotStreamed(ll::ui::SnapshotPtr snapshot);
  // ... and the last of those once more: every output filled in.
  void snapshotComplete(ll::ui::SnapshotPtr snapshot);
  // The running analysis's forward pass has done `done` of `total` layers (only passes that take
  // long enough to show it).
  void analysisProgress(int done, int total);
  // A streamed stage of many passes (activation patching) has run `done` of `total`.
  void streamProgress(ll::ui::StreamedOutput what, int done, int total);
  void analysisFailed(const QString& error);
  void busyChanged(bool busy);

 private:
  struct Job {
    Tag tag;
    uint64_t generation = 0;
    QString path;
    ViewState state;
    Task task;
    std::function<void(const QString&)> done;
    QString cpuMath = {};  // Load: the CPU math asked for when the load was requested
    std::optional<RemoteTarget> remote = {};  // Load: a server's model instead of path
    SourceTask sourceTask = {};               // Task: run with the source instead of a session
  };
  void workerLoop();
  void runJob(const Job& job);
  // Posts fn to the UI thread; dropped when the controller is gone.
  void post(std::function<void(SessionController*)> fn);
  void setBusy(int delta);

  void runLoad(const Job& job);
  std::unique_ptr<AnalysisSource> m_job;  // worker thread only: local (AnalysisJob) or remote
  int m_threads = 0;
  QString m_cpuMath;  // UI thread; copied into each load job
  QThread* m_thread = nullptr;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<Job> m_queue;
  std::atomic<bool> m_stop{false};
  std::atomic<uint64_t> m_generation{0};
  std::atomic<uint64_t> m_loadGeneration{0};
  std::atomic<int> m_progressAfterMs{150};

  // UI thread state
  bool m_hasModel = false;
  ModelInfo m_info;
  int m_busy = 0;
  SnapshotPtr m_latest;
};

}  // namespace ll::ui
