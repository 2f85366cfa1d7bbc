// What the GUI's remote tests share (tst_gui_remote*.cpp): a real `layerlens-cli serve` on
// loopback, the shared models folder, bit-for-bit comparison, and waiting for a SessionController
// to load a model and to settle on a ViewState.
#pragma once

#include "ui/remote_job.h"
#include "ui/session_controller.h"

#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>

#include <cstring>

#include <unistd.h>

namespace guiremote {

using namespace ll;

// A `layerlens-cli serve` on 127.0.0.1 with a free port, read from its `listening on` line.
class Server {
 public:
  ~Server() {
    if (m_p.state() != QProcess::NotRunning) {
      m_p.terminate();
      if (!m_p.waitForFinished(5000)) kill();
    }
  }
  // launcher: the program and arguments that start the CLI (mpirunLauncher), empty: none.
  bool start(const QString& models, const QStringList& extra = {},
             const QStringList& launcher = {}) {
    const QStringList args =
        QStringList{"serve", "--listen", "127.0.0.1:0", "--models", models} + extra;
    if (launcher.isEmpty()) {
      m_p.setProgram(qEnvironmentVariable("LAYERLENS_CLI"));
      m_p.setArguments(args);
    } else {
      m_p.setProgram(launcher.first());
      m_p.setArguments(launcher.mid(1) + QStringList{qEnvironmentVariable("LAYERLENS_CLI")} + args);
    }
    m_p.start();
    if (!m_p.waitForStarted(10000)) return false;
    QByteArray out;
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < 30000 && m_p.state() == QProcess::Running) {
      m_p.waitForReadyRead(200);
      out += m_p.readAllStandardOutput();
      const qsizetype at = out.indexOf("listening on ");
      const qsizetype end = at >= 0 ? out.indexOf('\n', at) : -1;
      if (end > at) {
        const QString address = QString::fromUtf8(out.mid(at + 13, end - at - 13)).trimmed();
        const qsizetype colon = address.lastIndexOf(QLatin1Char(':'));
        m_host = address.left(colon);
        m_port = address.mid(colon + 1).toInt();
        return m_port > 0;
      }
    }
    return false;
  }
  ui::RemoteTarget target(const QString& model, const QString& tokenFile = {}) const {
    ui::RemoteTarget t;
    t.host = m_host;
    t.port = m_port;
    t.model = model;
    t.tokenFile = tokenFile;
    return t;
  }
  void kill() {
    m_p.kill();  // SIGKILL: no goodbye to the clients
    m_p.waitForFinished(5000);
  }

 private:
  QProcess m_p;
  QString m_host;
  int m_port = 0;
};

QString modelsDir() {
  const QByteArray dir = qgetenv("LAYERLENS_SHARED_DIR");
  return dir.isEmpty() ? QString() : QString::fromLocal8Bit(dir) + QStringLiteral("/models");
}

// Bit for bit (NaN included): a std::vector or an rt::TraceTensor.
template <class A>
bool sameBits(const A& a, const A& b) {
  return a.size() == b.size() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size() * sizeof(*a.data())) == 0);
}

// One value bit for bit (a float's NaN and signed zero included).
template <class T>
bool sameValue(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// The complete snapshot of `state` (analysisFailed: null).
ui::SnapshotPtr settle(ui::SessionController& c, const ui::ViewState& state) {
  QSignalSpy failed(&c, &ui::SessionController::analysisFailed);
  c.analyze(state);
  const uint64_t gen = c.generation();
  QElapsedTimer t;
  t.start();
  while (t.elapsed() < 120000 && failed.isEmpty()) {
    QTest::qWait(10);
    const ui::SnapshotPtr s = c.latest();
    if (s && s->generation == gen && s->complete && !c.busy()) return s;
  }
  if (!failed.isEmpty()) qWarning() << "analysis failed:" << failed.first().first().toString();
  return nullptr;
}

bool waitLoaded(ui::SessionController& c, QSignalSpy& loaded, QSignalSpy& failed) {
  QElapsedTimer t;
  t.start();
  while (t.elapsed() < 120000 && loaded.isEmpty() && failed.isEmpty()) QTest::qWait(20);
  if (!failed.isEmpty()) qWarning() << "load failed:" << failed.first().at(1).toString();
  return !loaded.isEmpty() && !c.busy();
}

// Loads modelFile locally and `model` from the server into the two controllers.
inline bool loadBoth(ui::SessionController& local, ui::SessionController& remote, const Server& srv,
                     const QString& modelFile, const QString& model) {
  QSignalSpy ll(&local, &ui::SessionController::modelLoaded);
  QSignalSpy lf(&local, &ui::SessionController::loadFailed);
  QSignalSpy rl(&remote, &ui::SessionController::modelLoaded);
  QSignalSpy rf(&remote, &ui::SessionController::loadFailed);
  local.loadModel(modelFile);
  remote.connectRemote(srv.target(model));
  return waitLoaded(local, ll, lf) && waitLoaded(remote, rl, rf);
}

// Why a remote GUI test cannot run here (no client, no CLI, no fixtures); empty when it can.
inline QString remoteSkipReason() {
  if (!ui::remoteClientBuilt())
    return QStringLiteral("built without gRPC (libgrpc++-dev, protobuf-compiler-grpc)");
  if (qEnvironmentVariable("LAYERLENS_CLI").isEmpty() ||
      !QFile::exists(qEnvironmentVariable("LAYERLENS_CLI")))
    return QStringLiteral("layerlens-cli not built");
  if (modelsDir().isEmpty() || !QFile::exists(modelsDir() + "/stories260K.gguf"))
    return QStringLiteral("../shared/models not found");
  return {};
}

// `mpirun -np N` as tests/remote/tst_remote_mpi starts it (oversubscribed, shared memory and
// loopback only, as root when the tests run as root), so that Server::start runs a split server;
// a skip (and an empty list) without mpirun or without MPI in the CLI.
inline QStringList mpirunLauncher(int np) {
  const QString mpirun = QStandardPaths::findExecutable(QStringLiteral("mpirun"));
  if (mpirun.isEmpty()) {
    QTest::qSkip("mpirun not found (Debian: openmpi-bin)", __FILE__, __LINE__);
    return {};
  }
  QStringList l = {QStringLiteral("env"),
                   QStringLiteral("OMPI_MCA_btl=self,vader"),
                   QStringLiteral("OMPI_MCA_btl_vader_single_copy_mechanism=none"),
                   QStringLiteral("OMPI_MCA_rmaps_base_oversubscribe=1"),
                   mpirun,
                   QStringLiteral("--oversubscribe")};
  if (getuid() == 0) l << QStringLiteral("--allow-run-as-root");
  l << QStringLiteral("-np") << QString::number(np);
  // Without MPI every rank refuses at start: ask once, as tst_remote_mpi does.
  QProcess probe;
  probe.setProcessChannelMode(QProcess::MergedChannels);
  probe.start(l.first(), l.mid(1) + QStringList{qEnvironmentVariable("LAYERLENS_CLI"), "generate",
                                                "/nonexistent.gguf", "--text", "x"});
  probe.waitForFinished(60000);
  if (probe.readAll().contains("built without MPI")) {
    QTest::qSkip("layerlens-cli was built without MPI (LAYERLENS_MPI, libopenmpi-dev)", __FILE__,
                 __LINE__);
    return {};
  }
  return l;
}

// The models folder; a skip (and "") without the remote client, the CLI or the fixtures.
inline QString modelsOrSkip() {
  const QString why = remoteSkipReason();
  if (why.isEmpty()) return modelsDir();
  QTest::qSkip(qPrintable(why), __FILE__, __LINE__);
  return {};
}

}  // namespace guiremote
