// The remote CliSession: the calls of a CLI command made on a LayerLens server through
// remote::RemoteSession (built only with gRPC).
#ifdef LAYERLENS_HAVE_REMOTE
#include <map>
#include <stdexcept>

#include "cli_session.h"
#include "remote/remote_session.h"
#include "remote/server.h"

namespace ll::cli {
namespace {

class RemoteCliSession final : public CliSession {
 public:
  RemoteCliSession(const std::string& model, const std::string& backend, int threads,
                   const ServerTarget& t)
      : m_r(options(t)) {
    m_r.open(model, backend, threads);
  }
  const rt::ModelSpec& spec() const override { return m_r.info().spec; }
  std::string backendName() const override { return m_r.info().backend; }
  bool hasTokenizer() const override { return m_r.info().hasTokenizer; }
  int32_t bos() const override { return m_r.info().bos; }
  void setPrompt(const std::string& text, int addBos) override { m_r.setPrompt(text, addBos); }
  void setPromptIds(const std::vector<int32_t>& ids) override { m_r.setPromptIds(ids); }
  std::shared_ptr<const rt::Trace> run(const rt::RunRequest& req, unsigned parts) override {
    remote::RemoteTrace tr = m_r.run(req);
    m_r.fetch(tr, parts);
    m_ids[tr.trace.get()] = tr;
    return tr.trace;
  }
  std::vector<float> attentionMap(const rt::Trace& tr, int layer, int head) override {
    return m_r.attentionMap(find(tr), layer, head);
  }
  rt::ana::LensResult lens(const rt::Trace& tr, const rt::ana::LensOptions& opt) override {
    return m_r.lens(find(tr), opt);
  }
  std::string piece(int32_t id) override {
    auto it = m_pieces.find(id);
    if (it == m_pieces.end()) it = m_pieces.emplace(id, m_r.pieces({id}).at(0)).first;
    return it->second;
  }
  rt::Encoding tokenize(const std::string& text, int addBos, bool parseSpecial) override {
    return m_r.tokenize(text, addBos, parseSpecial);
  }
  rt::Generation generate(const rt::GenerateRequest& req,
                          const rt::TokenCallback& onToken) override {
    return m_r.generate(req, onToken);
  }
  rt::ana::AnalysisOutput analyze(const rt::ana::AnalysisRequest& req,
                                  const rt::Interventions& interventions) override {
    rt::ana::AnalysisOutput out;
    out.document = m_r.analyze(rt::ana::analysisName(req), rt::ana::analysisRequestJson(req).dump(),
                               interventions, {}, &out.arrays);
    return out;
  }
  std::string infoJson() const override { return m_r.info().infoJson; }

 private:
  static remote::ClientOptions options(const ServerTarget& t) {
    remote::ClientOptions o;
    remote::splitHostPort(t.server);  // a clear error for a malformed address
    o.address = t.server;
    if (!t.tokenFile.empty()) o.token = remote::readTokenFile(t.tokenFile);
    if (!t.tlsCa.empty()) o.tlsCaPem = remote::readTextFile(t.tlsCa);
    return o;
  }
  const remote::RemoteTrace& find(const rt::Trace& tr) const {
    auto it = m_ids.find(&tr);
    if (it == m_ids.end()) throw std::logic_error("the trace was not run on this server session");
    return it->second;
  }

  remote::RemoteSession m_r;
  std::map<const rt::Trace*, remote::RemoteTrace> m_ids;
  std::map<int32_t, std::string> m_pieces;
};

}  // namespace

std::unique_ptr<CliSession> openRemoteSession(const std::string& model, const std::string& backend,
                                              int threads, const ServerTarget& target) {
  return std::make_unique<RemoteCliSession>(model, backend, threads, target);
}

}  // namespace ll::cli
#endif
