// The model a CLI command runs on: an rt::Session in this process, or a session on a LayerLens
// server (--server HOST:PORT, built with gRPC). The remote-capable commands make the same calls
// on either and format the results with the same code, so their output is identical.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "remote/trace_parts.h"
#include "runtime/analysis/analysis_call.h"
#include "runtime/analysis/lens.h"
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::cli {

// --server, --token-file, --tls-ca: where a command runs (empty server: in this process).
struct ServerTarget {
  std::string server, tokenFile, tlsCa;
  bool remote() const { return !server.empty(); }
};
void addServerOptions(CLI::App& sub, ServerTarget& target);

class CliSession {
 public:
  virtual ~CliSession() = default;
  virtual const rt::ModelSpec& spec() const = 0;
  virtual std::string backendName() const = 0;
  virtual bool hasTokenizer() const = 0;
  virtual int32_t bos() const = 0;  // -1 without a tokenizer
  virtual void setPrompt(const std::string& text, int addBos) = 0;
  virtual void setPromptIds(const std::vector<int32_t>& ids) = 0;
  // parts: the remote::TracePart arrays the command reads (a local trace holds them all).
  virtual std::shared_ptr<const rt::Trace> run(const rt::RunRequest& req, unsigned parts) = 0;
  virtual std::vector<float> attentionMap(const rt::Trace& tr, int layer, int head) = 0;
  virtual rt::ana::LensResult lens(const rt::Trace& tr, const rt::ana::LensOptions& opt) = 0;
  virtual std::string piece(int32_t id) = 0;
  virtual rt::Encoding tokenize(const std::string& text, int addBos, bool parseSpecial) = 0;
  virtual rt::Generation generate(const rt::GenerateRequest& req,
                                  const rt::TokenCallback& onToken) = 0;
  // rt::ana::runAnalysis of req on the prompt under interventions (routing's; the others none),
  // here or on the server's session: the document and its arrays, and here also the result object
  // (figures). A second model the request names (compare's teacher) is a file here and a path in
  // the server's --models folder there.
  virtual rt::ana::AnalysisOutput analyze(const rt::ana::AnalysisRequest& req,
                                          const rt::Interventions& interventions = {}) = 0;
  // `layerlens-cli info`'s document for the model (remote sessions only; local info reads the
  // file itself).
  virtual std::string infoJson() const = 0;
  // The session in this process (null for a remote one): `mpirun` splits its engine's layers.
  virtual rt::Session* local() { return nullptr; }
};

// The model on the server named by target (relative to its --models folder) or loaded here.
// cpuMath: the local CPU backend's math mode ("", "precise", "fast"; refused with a server).
// share: this rank's share of the weights under mpirun (SplitRun::share); local sessions only.
std::unique_ptr<CliSession> openCliSession(const std::string& model, const std::string& backend,
                                           int threads, const ServerTarget& target,
                                           const std::string& cpuMath = {},
                                           const rt::StageShare& share = {});
std::unique_ptr<CliSession> openLocalSession(const std::string& model, const std::string& backend,
                                             int threads, const std::string& cpuMath = {},
                                             const rt::StageShare& share = {});
// Defined in cli_session_remote.cpp (gRPC builds) or cli_session.cpp (a clear error without).
std::unique_ptr<CliSession> openRemoteSession(const std::string& model, const std::string& backend,
                                              int threads, const ServerTarget& target);

}  // namespace ll::cli
