// RemoteSession: the client side of the remote Session API (Qt-free), used by the CLI's --server.
// Mirrors rt::Session: open a model on the server, set the prompt, run, read the trace lazily in
// bounded slices (into a local rt::Trace that the runtime's analyses read as they read a local
// one), attention maps, logit lens and generation. Every call has a deadline and the channel
// pings an idle server, so a dead server gives a RemoteError, never a hang.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "remote/model_list.h"
#include "remote/trace_parts.h"
#include "runtime/analysis/analysis_call.h"
#include "runtime/analysis/lens.h"
#include "runtime/api/session.h"
#include "runtime/model/model_spec.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::remote {

struct ClientOptions {
  std::string address;   // HOST:PORT
  std::string token;     // shared secret ("" = none)
  std::string tlsCaPem;  // non-empty: TLS, the server's certificate checked against this CA
  int64_t timeoutMs = 10 * 60 * 1000;  // deadline of every call (a run or stream included)
};

// A failed call: the gRPC status code (grpc::StatusCode's value) and the server's message.
// reason: the server's message alone (what() adds the server and the status), e.g. an analysis's
// refusal as it reads in process.
struct RemoteError : std::runtime_error {
  RemoteError(int c, const std::string& what, std::string why = {})
      : std::runtime_error(what), code(c), reason(std::move(why)) {}
  int code;
  std::string reason;
};

struct RemoteModelInfo {
  std::string infoJson;  // `layerlens-cli info`'s document
  std::string backend, backendNote;
  // The shape fields only: layers, widths, heads, vocabulary, experts, context, sliding window.
  rt::ModelSpec spec;
  bool hasTokenizer = false;
  int32_t bos = -1, eos = -1;
  int64_t maxMessageBytes = 0;
  // A split server: the first layer of each rank's stage (ModelInfo.stage_first); empty: one
  // process.
  std::vector<int> stageFirst;
};

// A trace on the server: its id there and a local Trace with its shapes and token data; fetch()
// fills the arrays asked for.
struct RemoteTrace {
  int64_t id = 0;
  std::string session;  // the server session that ran it
  std::shared_ptr<rt::Trace> trace;
};

class RemoteSession {
 public:
  explicit RemoteSession(ClientOptions options);
  ~RemoteSession();  // closes the server's session (best effort)
  RemoteSession(const RemoteSession&) = delete;
  RemoteSession& operator=(const RemoteSession&) = delete;

  // model: a path relative to the server's --models folder.
  void open(const std::string& model, const std::string& backend = "cpu", int threads = 0);
  void close();
  const RemoteModelInfo& info() const;
  // The models the server may open (ListModels), before or after open(). deadlineMs > 0: this
  // call's deadline instead of the options' (a dialog asks with a short one). A reply over the
  // listing's bounds is refused (RemoteError).
  ModelListing listModels(int64_t deadlineMs = 0);

  rt::Encoding tokenize(const std::string& text, int addBos = -1, bool parseSpecial = false);
  std::vector<std::string> pieces(const std::vector<int32_t>& ids);
  // The ids' text as the model's tokenizer decodes it (rt::Tokenizer::decode).
  std::string decode(const std::vector<int32_t>& ids);
  std::vector<int32_t> setPrompt(const std::string& text, int addBos = -1);
  std::vector<int32_t> setPromptIds(const std::vector<int32_t>& ids);

  // progress returning false cancels the run (throws rt::Cancelled); so does a newer request on
  // this session from another thread (RemoteError with the CANCELLED code).
  RemoteTrace run(const rt::RunRequest& req = {}, const rt::RunProgress& progress = {});
  void fetch(const RemoteTrace& tr, unsigned parts);
  // Rows [r0, r1) of the logits only ([r1 - r0, nVocab]): what a view of a few tokens needs,
  // without shipping the whole [T, nVocab] array.
  std::vector<float> logitRows(const RemoteTrace& tr, int r0, int r1);
  // One layer's residual stream after the layer ([T, nEmbd]), without the other layers'.
  std::vector<float> residAfter(const RemoteTrace& tr, int layer);
  // [T, T] as rt::Session::attentionMap (rows before rowBegin are zeros), read in bounded slices.
  std::vector<float> attentionMap(const RemoteTrace& tr, int layer, int head, int rowBegin = 0);
  rt::ana::LensResult lens(const RemoteTrace& tr, const rt::ana::LensOptions& opt);
  rt::Generation generate(const rt::GenerateRequest& req, const rt::TokenCallback& onToken = {});
  // The document of a named analysis on the session's prompt (runtime/analysis/analysis_call.h):
  // requestJson holds its fields. progress as in run(); a newer request on the session cancels it.
  // arrays (when given) receives the arrays the command writes beside the document. on (when
  // given): the trace attribute, skip, latent and flow read instead of running the prompt (a run of
  // this or another session on the same model; interventions are then its own).
  std::string analyze(const std::string& name, const std::string& requestJson,
                      const rt::Interventions& interventions = {},
                      const rt::RunProgress& progress = {},
                      std::vector<rt::ana::OutputArray>* arrays = nullptr,
                      const RemoteTrace* on = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace ll::remote
