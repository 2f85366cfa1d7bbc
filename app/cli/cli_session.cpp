// The local CliSession (an rt::Session in this process) and the --server options.
#include "cli_session.h"

#include <stdexcept>

#include "runtime/tokenizer/tokenizer.h"

namespace ll::cli {

void addServerOptions(CLI::App& sub, ServerTarget& t) {
  auto* server = sub.add_option("--server", t.server,
                                "run on a LayerLens server (HOST:PORT); the model path is then "
                                "relative to the server's --models folder");
  sub.add_option("--token-file", t.tokenFile, "file holding the server's shared token")
      ->needs(server);
  sub.add_option("--tls-ca", t.tlsCa, "CA certificate (PEM) to check a TLS server against")
      ->needs(server);
}

namespace {

class LocalSession final : public CliSession {
 public:
  // share: this rank's weights under mpirun; m_choice (other models: compare's teacher) keeps
  // the whole model.
  LocalSession(const std::string& model, const std::string& backend, int threads,
               const std::string& cpuMath, const rt::StageShare& share)
      : m_choice(rt::parseBackend(backend, threads, cpuMath)) {
    rt::BackendChoice mine = m_choice;
    mine.share = share;
    m_s.load(model, mine);
  }
  const rt::ModelSpec& spec() const override { return m_s.model().spec; }
  std::string backendName() const override { return m_s.backendName(); }
  bool hasTokenizer() const override { return m_s.model().tokenizer != nullptr; }
  int32_t bos() const override { return hasTokenizer() ? m_s.model().tokenizer->bos() : -1; }
  void setPrompt(const std::string& text, int addBos) override { m_s.setPrompt(text, addBos); }
  void setPromptIds(const std::vector<int32_t>& ids) override { m_s.setPromptIds(ids); }
  std::shared_ptr<const rt::Trace> run(const rt::RunRequest& req, unsigned) override {
    return m_s.run(req);
  }
  std::vector<float> attentionMap(const rt::Trace& tr, int layer, int head) override {
    return m_s.attentionMap(tr, layer, head);
  }
  rt::ana::LensResult lens(const rt::Trace& tr, const rt::ana::LensOptions& opt) override {
    return rt::ana::logitLens(m_s.engine(), tr, opt);
  }
  std::string piece(int32_t id) override {
    return hasTokenizer() ? m_s.model().tokenizer->piece(id) : std::to_string(id);
  }
  rt::Encoding tokenize(const std::string& text, int addBos, bool parseSpecial) override {
    if (!hasTokenizer()) throw std::runtime_error("the model has no tokenizer");
    return m_s.model().tokenizer->encode(text, addBos, parseSpecial);
  }
  rt::Generation generate(const rt::GenerateRequest& req,
                          const rt::TokenCallback& onToken) override {
    return m_s.generate(req, onToken);
  }
  rt::ana::AnalysisOutput analyze(const rt::ana::AnalysisRequest& req,
                                  const rt::Interventions& interventions) override {
    rt::RunRequest base;
    base.interventions = interventions;
    rt::ana::AnalysisEnv env;
    env.openModel = [this](rt::Session& other, const std::string& path) {
      other.load(path, m_choice);
    };
    return rt::ana::runAnalysis(m_s, req, base, {}, env);
  }
  std::string infoJson() const override {
    throw std::logic_error("local info reads the model file itself");
  }
  rt::Session* local() override { return &m_s; }

 private:
  rt::BackendChoice m_choice;
  rt::Session m_s;
};

}  // namespace

std::unique_ptr<CliSession> openLocalSession(const std::string& model, const std::string& backend,
                                             int threads, const std::string& cpuMath,
                                             const rt::StageShare& share) {
  return std::make_unique<LocalSession>(model, backend, threads, cpuMath, share);
}

std::unique_ptr<CliSession> openCliSession(const std::string& model, const std::string& backend,
                                           int threads, const ServerTarget& target,
                                           const std::string& cpuMath,
                                           const rt::StageShare& share) {
  if (target.remote()) {
    // The server's backend is the server's: its math mode is set where it runs.
    if (!cpuMath.empty())
      throw std::invalid_argument(
          "--cpu-math cannot be combined with --server (the server's "
          "LAYERLENS_CPU_MATH applies)");
    return openRemoteSession(model, backend, threads, target);
  }
  return openLocalSession(model, backend, threads, cpuMath, share);
}

#ifndef LAYERLENS_HAVE_REMOTE
std::unique_ptr<CliSession> openRemoteSession(const std::string&, const std::string&, int,
                                              const ServerTarget&) {
  throw std::runtime_error(
      "--server: this layerlens-cli was built without gRPC (install libgrpc++-dev and "
      "protobuf-compiler-grpc and rebuild)");
}
#endif

}  // namespace ll::cli
