// RemoteAnalysisJob's connection and model info; connectRemote (also without gRPC, where it says
// the build has no client). The keystroke path: remote_job_core.cpp.
#include "ui/remote_job.h"

#ifdef LAYERLENS_HAVE_REMOTE
#include "remote/server.h"
#include "runtime/analysis/method_limits.h"
#include "ui/remote_analysis_job.h"

#include <nlohmann/json.hpp>

#include <QFileInfo>
#include <QLocale>
#include <QStringList>

#include <algorithm>
#endif

#include <stdexcept>

namespace ll::ui {

#ifndef LAYERLENS_HAVE_REMOTE

bool remoteClientBuilt() {
  return false;
}

constexpr const char* kNoClient =
    "this build of LayerLens has no remote client (built without gRPC: libgrpc++-dev, "
    "protobuf-compiler-grpc)";

std::unique_ptr<AnalysisSource> connectRemote(const RemoteTarget&, ModelInfo*) {
  throw std::runtime_error(kNoClient);
}

ServerModels fetchServerModels(const RemoteTarget&, int) {
  throw std::runtime_error(kNoClient);
}

#else

namespace {

constexpr int kPiecesPerCall = 4096;  // token texts read per call at connect
constexpr int64_t kCallTimeoutMs = 5 * 60 * 1000;

remote::ClientOptions clientOptions(const RemoteTarget& t) {
  remote::ClientOptions o;
  o.address = t.address().toStdString();
  remote::splitHostPort(o.address);  // a clear error for a malformed host or port
  if (!t.tokenFile.isEmpty()) o.token = remote::readTokenFile(t.tokenFile.toStdString());
  if (!t.caFile.isEmpty()) o.tlsCaPem = remote::readTextFile(t.caFile.toStdString());
  o.timeoutMs = kCallTimeoutMs;
  return o;
}

QString quantSummary(const nlohmann::json& counts) {
  QStringList parts;
  if (counts.is_object())
    for (const auto& [type, n] : counts.items())
      if (n.is_number_integer())
        parts << QStringLiteral("%1 x%2").arg(QString::fromStdString(type)).arg(n.get<int>());
  return parts.join(QStringLiteral(", "));
}

}  // namespace

bool remoteClientBuilt() {
  return true;
}

QString remoteReason(const remote::RemoteError& e, const QString& where) {
  QString what = QString::fromUtf8(e.what());
  const QString prefix = QStringLiteral("server %1: ").arg(where);
  if (what.startsWith(prefix)) what = what.mid(prefix.size());
  return what;
}

std::unique_ptr<AnalysisSource> connectRemote(const RemoteTarget& target, ModelInfo* info) {
  auto job = std::make_unique<RemoteAnalysisJob>(target);
  if (info) *info = job->info();
  return job;
}

ServerModels fetchServerModels(const RemoteTarget& target, int deadlineMs) {
  const QString where = target.address();
  try {
    remote::RemoteSession server(clientOptions(target));
    const remote::ModelListing list = server.listModels(deadlineMs);
    ServerModels out;
    out.truncated = list.truncated;
    for (const remote::ListedModel& m : list.models) {
      out.paths << QString::fromStdString(m.path);
      const QString size = QLocale::system().formattedDataSize(m.bytes);
      const QString kind = m.arch.empty()
                               ? QString::fromStdString(m.format)
                               : QStringLiteral("%1 (%2)").arg(QString::fromStdString(m.format),
                                                               QString::fromStdString(m.arch));
      out.details << QStringLiteral("%1, %2").arg(kind, size);
    }
    return out;
  } catch (const remote::RemoteError& e) {
    constexpr int kDeadline = 4, kUnavailable = 14;  // grpc::StatusCode
    const bool silent = e.code == kDeadline || e.code == kUnavailable;
    throw std::runtime_error((silent ? QStringLiteral("no answer from the server %1 (%2)")
                                     : QStringLiteral("the server %1 says: %2"))
                                 .arg(where, remoteReason(e, where))
                                 .toStdString());
  } catch (const std::exception& e) {
    throw std::runtime_error(QStringLiteral("cannot ask the server %1: %2")
                                 .arg(where, QString::fromUtf8(e.what()))
                                 .toStdString());
  }
}

RemoteAnalysisJob::RemoteAnalysisJob(const RemoteTarget& target) : m_target(target) {
  const QString where = target.address();
  try {
    const remote::ClientOptions opt = clientOptions(target);
    auto session = std::make_unique<remote::RemoteSession>(opt);
    session->open(target.model.toStdString());
    auto gen = std::make_unique<remote::RemoteSession>(opt);
    gen->open(target.model.toStdString());
    auto aux = std::make_unique<remote::RemoteSession>(opt);
    aux->open(target.model.toStdString());
    auto steer = std::make_unique<remote::RemoteSession>(opt);
    steer->open(target.model.toStdString());
    const remote::RemoteModelInfo& ri = session->info();
    if (!ri.hasTokenizer) throw std::runtime_error("the model has no tokenizer");
    m_spec = ri.spec;
    for (int first = 0; first < m_spec.nVocab; first += kPiecesPerCall) {
      std::vector<int32_t> ids(size_t(std::min(kPiecesPerCall, m_spec.nVocab - first)));
      for (size_t i = 0; i < ids.size(); ++i) ids[i] = first + static_cast<int32_t>(i);
      const auto p = session->pieces(ids);
      if (p.size() != ids.size())
        throw std::runtime_error("the server sent the wrong number of tokens");
      m_pieces.insert(m_pieces.end(), p.begin(), p.end());
    }
    nlohmann::json j = nlohmann::json::parse(ri.infoJson, nullptr, false);
    if (!j.is_object()) j = nlohmann::json::object();
    const nlohmann::json spec = j.value("spec", nlohmann::json::object());
    ModelInfo& in = m_info;
    in.path = target.model;
    in.server = where;
    const std::string name = spec.is_object() ? spec.value("name", std::string()) : std::string();
    in.name = name.empty() ? QFileInfo(target.model).fileName() : QString::fromStdString(name);
    in.format = QString::fromStdString(j.value("format", std::string()));
    in.arch = QString::fromStdString(m_spec.arch);
    in.nLayer = m_spec.nLayer;
    in.nEmbd = m_spec.nEmbd;
    in.nHead = m_spec.nHead;
    in.nHeadKv = m_spec.nHeadKv;
    in.headDim = m_spec.headDim;
    in.nFf = m_spec.nFf;
    in.nCtx = m_spec.nCtx;
    in.nVocab = m_spec.nVocab;
    in.nExpert = m_spec.nExpert;
    in.nExpertUsed = m_spec.nExpertUsed;
    in.nFfExpert = m_spec.nFfExpert;
    in.fileBytes = j.value("file_size", quint64(0));
    in.quantization = quantSummary(j.value("tensor_types", nlohmann::json()));
    in.hasTemplate = j.value("chat_template", false);
    in.backend = QStringLiteral("%1 on the server %2")
                     .arg(QString::fromStdString(ri.backend.empty() ? "cpu" : ri.backend), where);
    if (!ri.stageFirst.empty()) {  // `mpirun -np N ... serve`: which process runs which layers
      QStringList stages;
      for (size_t r = 0; r < ri.stageFirst.size(); ++r) {
        const int first = ri.stageFirst[r];
        const int last = (r + 1 < ri.stageFirst.size() ? ri.stageFirst[r + 1] : m_spec.nLayer) - 1;
        stages << (last > first ? QStringLiteral("%1-%2").arg(first).arg(last)
                                : QString::number(first));
      }
      in.backend += QStringLiteral(", layers split over %1 processes (%2)")
                        .arg(ri.stageFirst.size())
                        .arg(stages.join(QStringLiteral(" | ")));
    }
    QStringList f;
    const std::string wl = rt::ana::windowedLayersText(m_spec);
    if (!wl.empty()) f << QStringLiteral("sliding window on %1").arg(QString::fromStdString(wl));
    if (spec.is_object()) {
      const double attnCap = spec.value("attn_logit_softcap", 0.0);
      const double finalCap = spec.value("final_logit_softcap", 0.0);
      if (attnCap > 0) f << QStringLiteral("attention soft-cap %1").arg(attnCap);
      if (finalCap > 0) f << QStringLiteral("final soft-cap %1").arg(finalCap);
      if (spec.value("attention_sinks", false)) f << QStringLiteral("attention sinks");
    }
    in.attentionFeatures = f.join(QStringLiteral("; "));
    {
      // The induction prompt runs on a server session of its own, closed after, as the local job
      // runs it on a throwaway session: the helper sessions start from the same empty cache on
      // both sides, so their later passes agree bit for bit.
      remote::RemoteSession probe(opt);
      probe.open(target.model.toStdString());
      fillModelCard(j, ri.bos, m_spec, probe, in);
    }
    m_session = std::move(session);
    m_gen = std::move(gen);
    m_aux = std::move(aux);
    m_steer = std::move(steer);
  } catch (const remote::RemoteError& e) {
    throw std::runtime_error(
        QStringLiteral("the server %1 says: %2").arg(where, remoteReason(e, where)).toStdString());
  } catch (const std::exception& e) {
    throw std::runtime_error(QStringLiteral("no connection to the server %1: %2")
                                 .arg(where, QString::fromUtf8(e.what()))
                                 .toStdString());
  }
}

RemoteAnalysisJob::~RemoteAnalysisJob() = default;

QString RemoteAnalysisJob::taskRefusal() const {
  return QStringLiteral(
             "not available on a remote session (%1): this export runs the model in this "
             "process; open the model locally (File > Open) to export it")
      .arg(m_target.address());
}

std::string RemoteAnalysisJob::piece(int32_t id) const {
  return id >= 0 && size_t(id) < m_pieces.size() ? m_pieces[size_t(id)] : std::string();
}

#endif

}  // namespace ll::ui
