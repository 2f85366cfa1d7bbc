#include "ui/session_controller.h"

#include "runtime/api/session.h"
#include "runtime/engine/engine.h"
#include "runtime/model/model.h"
#include "ui/analysis_job.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QThread>

namespace ll::ui {

SessionController::SessionController(int threads, QObject* parent)
    : QObject(parent), m_job(std::make_unique<AnalysisJob>()), m_threads(threads) {
  qRegisterMetaType<ll::ui::SnapshotPtr>("ll::ui::SnapshotPtr");
  qRegisterMetaType<ll::ui::ModelInfo>("ll::ui::ModelInfo");
  m_thread = QThread::create([this] { workerLoop(); });
  m_thread->setObjectName(QStringLiteral("LayerLens worker"));
  m_thread->start();
}

SessionController::~SessionController() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
    m_queue.clear();
  }
  ++m_generation;  // cancels a running analysis between layers
  ++m_loadGeneration;
  m_wake.notify_all();
  m_thread->wait();
  delete m_thread;
}

void SessionController::post(std::function<void(SessionController*)> fn) {
  QPointer<SessionController> self(this);
  QMetaObject::invokeMethod(
      this,
      [self, fn = std::move(fn)] {
        if (self) fn(self.data());
      },
      Qt::QueuedConnection);
}

void SessionController::setBusy(int delta) {
  const bool was = m_busy > 0;
  m_busy += delta;
  if (was != (m_busy > 0)) emit busyChanged(m_busy > 0);
}

void SessionController::loadModel(const QString& path) {
  Job job{Tag::Load, ++m_loadGeneration, path, {}, {}, {}, m_cpuMath};
  size_t replaced = 0;
  {
    std::lock_guard lock(m_mutex);
    replaced = std::erase_if(m_queue, [](const Job& j) { return j.tag == Tag::Load; });
    m_queue.push_front(job);  // a load goes before analyses of the old model
  }
  if (!replaced) setBusy(+1);
  m_wake.notify_one();
}

void SessionController::connectRemote(const RemoteTarget& target) {
  Job job{Tag::Load, ++m_loadGeneration, remoteLabel(target), {}, {}, {}, m_cpuMath, target};
  size_t replaced = 0;
  {
    std::lock_guard lock(m_mutex);
    replaced = std::erase_if(m_queue, [](const Job& j) { return j.tag == Tag::Load; });
    m_queue.push_front(job);  // a load goes before analyses of the old model
  }
  if (!replaced) setBusy(+1);
  m_wake.notify_one();
}

void SessionController::analyze(const ViewState& state) {
  Job job{Tag::Analyze, ++m_generation, {}, state, {}, {}};
  bool replaced = false;
  {
    std::lock_guard lock(m_mutex);
    for (Job& j : m_queue)
      if (j.tag == Tag::Analyze) {
        j = job;
        replaced = true;
      }
    if (!replaced) m_queue.push_back(job);
  }
  if (!replaced) setBusy(+1);
  m_wake.notify_one();
}

void SessionController::runTask(Task task, std::function<void(const QString&)> done) {
  Job job{Tag::Task, 0, {}, {}, std::move(task), std::move(done)};
  {
    std::lock_guard lock(m_mutex);
    m_queue.push_back(std::move(job));
  }
  setBusy(+1);
  m_wake.notify_one();
}

void SessionController::runSourceTask(SourceTask task, std::function<void(const QString&)> done) {
  Job job{Tag::Task, 0, {}, {}, {}, std::move(done)};
  job.sourceTask = std::move(task);
  {
    std::lock_guard lock(m_mutex);
    m_queue.push_back(std::move(job));
  }
  setBusy(+1);
  m_wake.notify_one();
}

void SessionController::workerLoop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(m_mutex);
      m_wake.wait(lock, [this] { return m_stop || !m_queue.empty(); });
      if (m_stop) return;
      job = m_queue.front();
      m_queue.pop_front();
    }
    runJob(job);
    post([](SessionController* c) { c->setBusy(-1); });
  }
}

void SessionController::runLoad(const Job& job) {
  const uint64_t gen = job.generation;
  auto progress = [this, gen](float f, const std::string& phase) {
    const QString p = QString::fromStdString(phase);
    post([gen, f, p](SessionController* c) {
      if (gen == c->m_loadGeneration.load()) emit c->loadProgress(f, p);
    });
    return gen == m_loadGeneration.load() && !m_stop;
  };
  try {
    ModelInfo info;
    if (job.remote) {
      // The current model (local or remote) is dropped only once the server opened this one.
      std::unique_ptr<AnalysisSource> source = ui::connectRemote(*job.remote, &info);
      if (gen != m_loadGeneration.load() || m_stop) return;  // a newer load replaced it
      m_job = std::move(source);
    } else {
      rt::BackendChoice backend;
      backend.threads = m_threads;
      backend.cpuMath = job.cpuMath.toStdString();
      if (auto* local = dynamic_cast<AnalysisJob*>(m_job.get())) {
        info = local->load(job.path.toStdString(), backend, progress);
      } else {  // back from a server: the remote model stays until this one has loaded
        auto fresh = std::make_unique<AnalysisJob>();
        info = fresh->load(job.path.toStdString(), backend, progress);
        m_job = std::move(fresh);
      }
    }
    post([info](SessionController* c) {
      c->m_hasModel = true;
      c->m_info = info;
      c->m_latest.reset();
      emit c->modelLoaded(info);
    });
  } catch (const rt::LoadCancelled&) {
    // A newer load replaced this one (or the window is closing): nothing to report.
  } catch (const std::exception& e) {
    const QString msg = QString::fromUtf8(e.what());
    const QString path = job.path;
    post([gen, path, msg](SessionController* c) {
      if (gen == c->m_loadGeneration.load()) emit c->loadFailed(path, msg);
    });
  }
}

void SessionController::runJob(const Job& job) {
  if (job.tag == Tag::Load) {
    runLoad(job);
    return;
  }

  if (job.tag == Tag::Task) {
    QString error;
    try {
      if (!m_job->loaded()) throw std::runtime_error("no model loaded");
      if (job.sourceTask) {
        job.sourceTask(*m_job);
      } else {
        rt::Session* session = m_job->taskSession();
        if (!session) throw std::runtime_error(m_job->taskRefusal().toStdString());
        job.task(*session);
      }
    } catch (const std::exception& e) {
      error = QString::fromUtf8(e.what());
    }
    auto done = job.done;
    post([done, error](SessionController*) {
      if (done) done(error);
    });
    return;
  }

  const uint64_t gen = job.generation;
  auto alive = [this, gen] { return gen == m_generation.load() && !m_stop; };
  if (!alive() || !m_job->loaded()) return;
  try {
    // Per-layer progress once the pass has taken a moment (short passes would only flicker).
    QElapsedTimer timer;
    timer.start();
    auto onLayer = [this, gen, &timer](int done, int total) {
      if (timer.elapsed() < m_progressAfterMs.load()) return;
      post([gen, done, total](SessionController* c) {
        if (gen == c->m_generation.load()) emit c->analysisProgress(done, total);
      });
    };
    std::shared_ptr<const Snapshot> core = m_job->core(job.state, gen, alive, onLayer);
    post([core](SessionController* c) {
      if (core->generation != c->m_generation.load()) return;  // stale
      c->m_latest = core;
      emit c->snapshotReady(core);
    });
    if (!alive()) return;
    // Stages of many passes report each one (already long by nature: no delay).
    auto onStage = [this, gen](StreamedOutput what, int done, int total) {
      post([gen, what, done, total](SessionController* c) {
        if (gen == c->m_generation.load()) emit c->streamProgress(what, done, total);
      });
    };
    m_job->stream(
        *core, alive,
        [this](std::shared_ptr<const Snapshot> s) {
          post([s](SessionController* c) {
            if (s->generation != c->m_generation.load()) return;
            c->m_latest = s;
            emit c->snapshotStreamed(s);
            if (s->complete) emit c->snapshotComplete(s);
          });
        },
        onStage);
  } catch (const rt::Cancelled&) {
    // A newer request took over; its own result follows.
  } catch (const std::exception& e) {
    const QString msg = QString::fromUtf8(e.what());
    post([gen, msg](SessionController* c) {
      if (gen == c->m_generation.load()) emit c->analysisFailed(msg);
    });
  }
}

}  // namespace ll::ui
