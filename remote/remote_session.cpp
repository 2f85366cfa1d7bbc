// The remote Session API's client (see remote_session.h).
#include "remote/remote_session.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>

#include "layerlens.grpc.pb.h"
#include "remote/convert.h"
#include "remote/limits.h"
#include "runtime/engine/engine.h"

namespace ll::remote {
namespace {

const char* codeName(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::CANCELLED:
      return "cancelled";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "invalid argument";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "deadline exceeded";
    case grpc::StatusCode::NOT_FOUND:
      return "not found";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "resource exhausted";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "failed precondition";
    case grpc::StatusCode::UNAVAILABLE:
      return "unavailable";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "unauthenticated";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "permission denied";
    case grpc::StatusCode::INTERNAL:
      return "internal error";
    default:
      return "error";
  }
}

template <class T, class R>
std::vector<T> vec(const R& repeated) {
  return std::vector<T>(repeated.begin(), repeated.end());
}

}  // namespace

struct RemoteSession::Impl {
  ClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::LayerLens::Stub> stub;
  std::string sessionId;
  RemoteModelInfo info;

  void prepare(grpc::ClientContext& ctx) const {
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(options.timeoutMs));
    if (!options.token.empty()) ctx.AddMetadata("authorization", "Bearer " + options.token);
  }
  void check(const grpc::Status& st) const {
    if (st.ok()) return;
    std::string msg = "server " + options.address + ": " + codeName(st.error_code());
    if (!st.error_message().empty()) msg += ": " + st.error_message();
    throw RemoteError(static_cast<int>(st.error_code()), msg, st.error_message());
  }
  void needSession() const {
    if (sessionId.empty()) throw std::logic_error("RemoteSession: open a model first");
  }
  // Rows [first, rows) of a field, read in slices under the server's message limit.
  void read(const RemoteTrace& tr, pb::TraceField field, int layer, int rows, int cols,
            std::vector<float>* values, std::vector<int32_t>* ints, int first = 0) {
    values->clear();
    if (ints) ints->clear();
    const int64_t budget = std::max<int64_t>(info.maxMessageBytes - kReplyOverheadBytes, 4);
    const int step = static_cast<int>(
        std::clamp<int64_t>(budget / std::max<int64_t>(int64_t(cols) * 4, 1), 1, 1 << 30));
    for (int r0 = first; r0 < rows; r0 += step) {
      pb::TraceReadRequest req;
      req.set_session_id(sessionId);
      req.set_trace_id(tr.id);
      req.set_field(field);
      req.set_layer(layer);
      req.set_row_begin(r0);
      req.set_row_end(std::min(rows, r0 + step));
      pb::TraceReadReply rep;
      grpc::ClientContext ctx;
      prepare(ctx);
      check(stub->ReadTrace(&ctx, req, &rep));
      if (rep.rows() == 0 && rep.cols() == 0) return;  // the trace does not hold this array
      values->insert(values->end(), rep.values().begin(), rep.values().end());
      if (ints) ints->insert(ints->end(), rep.ints().begin(), rep.ints().end());
    }
  }
};

RemoteSession::RemoteSession(ClientOptions options) : m_impl(std::make_unique<Impl>()) {
  m_impl->options = std::move(options);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (!m_impl->options.tlsCaPem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = m_impl->options.tlsCaPem;
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(1 << 30);  // the server bounds what it sends
  args.SetMaxSendMessageSize(1 << 30);
  // Ping a quiet connection so a server that died without closing it is noticed in seconds.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  m_impl->channel = grpc::CreateCustomChannel(m_impl->options.address, creds, args);
  m_impl->stub = pb::LayerLens::NewStub(m_impl->channel);
}

RemoteSession::~RemoteSession() {
  try {
    close();
  } catch (...) {  // best effort: the server drops idle sessions itself
  }
}

void RemoteSession::open(const std::string& model, const std::string& backend, int threads) {
  close();
  pb::OpenSessionRequest req;
  req.set_model(model);
  req.set_backend(backend);
  req.set_threads(threads);
  pb::OpenSessionReply rep;
  grpc::ClientContext ctx;
  m_impl->prepare(ctx);
  m_impl->check(m_impl->stub->OpenSession(&ctx, req, &rep));
  m_impl->sessionId = rep.session_id();
  const auto& in = rep.info();
  RemoteModelInfo& i = m_impl->info;
  i = {};
  i.infoJson = in.info_json();
  i.backend = in.backend();
  i.backendNote = in.backend_note();
  i.spec.nLayer = in.n_layer();
  i.spec.nEmbd = in.n_embd();
  i.spec.nHead = in.n_head();
  i.spec.nHeadKv = in.n_head_kv();
  i.spec.headDim = in.head_dim();
  i.spec.nVocab = in.n_vocab();
  i.spec.nExpert = in.n_expert();
  i.spec.nExpertUsed = in.n_expert_used();
  i.spec.nCtx = in.n_ctx();
  i.spec.window = in.window();
  i.spec.windowed.assign(in.windowed().begin(), in.windowed().end());
  i.stageFirst.assign(in.stage_first().begin(), in.stage_first().end());
  // Untrusted: a split of the layers starts at 0 and rises, one layer at least per stage.
  for (size_t r = 0; r < i.stageFirst.size(); ++r)
    if ((r == 0 && i.stageFirst[r] != 0) || (r > 0 && i.stageFirst[r] <= i.stageFirst[r - 1]) ||
        i.stageFirst[r] >= i.spec.nLayer)
      throw std::runtime_error("server " + m_impl->options.address +
                               ": its stage_first is not a split of the model's " +
                               std::to_string(i.spec.nLayer) + " layers");
  i.hasTokenizer = in.has_tokenizer();
  i.bos = in.bos();
  i.eos = in.eos();
  i.maxMessageBytes = std::max<int64_t>(in.max_message_bytes(), kMinMaxMessageBytes);
}

void RemoteSession::close() {
  if (m_impl->sessionId.empty()) return;
  pb::SessionRef req;
  req.set_session_id(m_impl->sessionId);
  m_impl->sessionId.clear();
  pb::Empty rep;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!m_impl->options.token.empty())
    ctx.AddMetadata("authorization", "Bearer " + m_impl->options.token);
  m_impl->stub->CloseSession(&ctx, req, &rep);
}

const RemoteModelInfo& RemoteSession::info() const {
  m_impl->needSession();
  return m_impl->info;
}

rt::Encoding RemoteSession::tokenize(const std::string& text, int addBos, bool parseSpecial) {
  m_impl->needSession();
  pb::TokenizeRequest req;
  req.set_session_id(m_impl->sessionId);
  req.set_text(text);
  req.set_add_bos(toProto(addBos));
  req.set_parse_special(parseSpecial);
  pb::TokenizeReply rep;
  grpc::ClientContext ctx;
  m_impl->prepare(ctx);
  m_impl->check(m_impl->stub->Tokenize(&ctx, req, &rep));
  rt::Encoding e;
  e.ids = vec<int32_t>(rep.ids());
  e.pieces = vec<std::string>(rep.pieces());
  for (const auto& s : rep.spans()) e.spans.emplace_back(s.begin(), s.end());
  return e;
}

std::vector<std::string> RemoteSession::pieces(const std::vector<int32_t>& ids) {
  m_impl->needSession();
  pb::PiecesRequest req;
  req.set_session_id(m_impl->sessionId);
  req.mutable_ids()->Assign(ids.begin(), ids.end());
  pb::PiecesReply rep;
  grpc::ClientContext ctx;
  m_impl->prepare(ctx);
  m_impl->check(m_impl->stub->Pieces(&ctx, req, &rep));
  return vec<std::string>(rep.pieces());
}

std::string RemoteSession::decode(const std::vector<int32_t>& ids) {
  m_impl->needSession();
  pb::PiecesRequest req;
  req.set_session_id(m_impl->sessionId);
  req.mutable_ids()->Assign(ids.begin(), ids.end());
  req.set_decode(true);
  pb::PiecesReply rep;
  grpc::ClientContext ctx;
  m_impl->prepare(ctx);
  m_impl->check(m_impl->stub->Pieces(&ctx, req, &rep));
  if (rep.pieces_size() != 1)
    throw RemoteError(int(grpc::StatusCode::INTERNAL), "decode reply of the wrong shape");
  return rep.pieces(0);
}

std::vector<int32_t> RemoteSession::setPrompt(const std::string& text, int addBos) {
  m_impl->needSession();
  pb::SetPromptRequest req;
  req.set_session_id(m_impl->sessionId);
  req.set_text(text);
  req.set_add_bos(toProto(addBos));
  pb::PromptReply rep;
  grpc::ClientContext ctx;
  m_impl->prepare(ctx);
  m_impl->check(m_impl->stub->SetPrompt(&ctx, req, &rep));
  return vec<int32_t>(rep.ids());
}

std::vector<int32_t> RemoteSession::setPromptIds(const std::vector<int32_t>& ids) {
  m_impl->needSession();
  pb::SetPromptRequest req;
  req.set_session_id(m_impl->sessionId);
  req.mutable_ids()->mutable_ids()->Assign(ids.begin(), ids.end());
  pb::PromptReply rep;
  grpc::ClientContext ctx;
  m_impl->prepare(ctx);
  m_impl->check(m_impl->stub->SetPrompt(&ctx, req, &rep));
  return vec<int32_t>(rep.ids());
}

RemoteTrace RemoteSession::run(const rt::RunRequest& r, const rt::RunProgress& progress) {
  m_impl->needSession();
  pb::RunRequest req;
  req.set_session_id(m_impl->sessionId);
  toProto(r.interventions, req.mutable_interventions());
  if (r.subset) toProto(*r.subset, req.mutable_subset());
  toProto(r.capture, req.mutable_capture());
  grpc::ClientContext ctx;
  m_impl->prepare(ctx);
  auto reader = m_impl->stub->Run(&ctx, req);
  pb::RunEvent ev;
  RemoteTrace out;
  bool stopped = false;
  while (reader->Read(&ev)) {
    if (ev.has_progress()) {
      if (progress && !progress(ev.progress().layers_done(), ev.progress().n_layer())) {
        ctx.TryCancel();
        stopped = true;
      }
    } else if (ev.has_done()) {
      out.id = ev.done().trace_id();
      out.session = m_impl->sessionId;
      out.trace = traceSkeleton(ev.done(), r);
    }
  }
  const grpc::Status st = reader->Finish();
  if (stopped) throw rt::Cancelled();
  m_impl->check(st);
  if (!out.trace)
    throw RemoteError(int(grpc::StatusCode::INTERNAL), "the run ended without a trace");
  return out;
}

void RemoteSession::fetch(const RemoteTrace& rtr, unsigned parts) {
  rt::Trace& tr = *rtr.trace;
  const int T = tr.nTokens, d = tr.nEmbd, qd = tr.nHead * tr.headDim;
  std::vector<float> v;
  std::vector<int32_t> ints;
  auto read = [&](pb::TraceField f, int layer, int rows, int cols) {
    m_impl->read(rtr, f, layer, rows, cols, &v, nullptr);
    return v;
  };
  if (parts & kPartLogits) tr.logits = read(pb::FIELD_LOGITS, 0, tr.allLogits ? T : 1, tr.nVocab);
  if (!tr.captured) return;
  if (parts & kPartEmbd) tr.embd = read(pb::FIELD_EMBD, 0, T, d);
  if (parts & kPartFinalNorm) tr.finalNorm = read(pb::FIELD_FINAL_NORM, 0, T, d);
  for (int l = 0; l < tr.nLayer && size_t(l) < tr.layers.size(); ++l) {
    rt::LayerTrace& L = tr.layers[size_t(l)];
    if (parts & kPartResid) {
      L.resid = read(pb::FIELD_RESID, l, T, d);
      L.residMid = read(pb::FIELD_RESID_MID, l, T, d);
    }
    if (parts & kPartQK) {
      L.qTail = read(pb::FIELD_QUERIES, l, T, qd);
      L.k = read(pb::FIELD_KEYS, l, T, tr.nHeadKv * tr.headDim);
    }
    if (parts & kPartAttnStats) {
      L.entropy = read(pb::FIELD_ENTROPY, l, tr.nHead, T);
      L.lastRow = read(pb::FIELD_LAST_ROW, l, tr.nHead, T);
      L.colSum = read(pb::FIELD_COL_SUM, l, tr.nHead, T);
    }
    if (parts & kPartRouting) {
      L.routerLogits = read(pb::FIELD_ROUTER_LOGITS, l, T, tr.nExpert);
      L.routerProbs = read(pb::FIELD_ROUTER_PROBS, l, T, tr.nExpert);
      m_impl->read(rtr, pb::FIELD_EXPERTS, l, T, tr.nExpertUsed, &v, &ints);
      L.experts = ints;
      L.expertWeights = read(pb::FIELD_EXPERT_WEIGHTS, l, T, tr.nExpertUsed);
    }
    if (parts & kPartComponents) {
      L.attnOut = read(pb::FIELD_ATTN_OUT, l, T, d);
      L.mlpOut = read(pb::FIELD_MLP_OUT, l, T, d);
      L.headOut = read(pb::FIELD_HEAD_OUT, l, T, qd);
    }
  }
}

std::vector<float> RemoteSession::logitRows(const RemoteTrace& tr, int r0, int r1) {
  m_impl->needSession();
  std::vector<float> v;
  m_impl->read(tr, pb::FIELD_LOGITS, 0, r1, tr.trace->nVocab, &v, nullptr, r0);
  return v;
}

std::vector<float> RemoteSession::residAfter(const RemoteTrace& tr, int layer) {
  m_impl->needSession();
  const rt::Trace& t = *tr.trace;
  if (!t.captured) throw std::invalid_argument("the trace was run without capture");
  if (layer < 0 || layer >= t.nLayer) throw std::invalid_argument("layer out of range");
  std::vector<float> v;
  m_impl->read(tr, pb::FIELD_RESID, layer, t.nTokens, t.nEmbd, &v, nullptr);
  return v;
}

std::vector<float> RemoteSession::attentionMap(const RemoteTrace& tr, int layer, int head,
                                               int rowBegin) {
  m_impl->needSession();
  const int T = tr.trace->nTokens;
  std::vector<float> map(size_t(T) * size_t(T), 0.0f);
  const int64_t budget = m_impl->info.maxMessageBytes - kReplyOverheadBytes;
  const int step =
      static_cast<int>(std::clamp<int64_t>(budget / std::max<int64_t>(int64_t(T) * 4, 1), 1, T));
  for (int r0 = std::max(rowBegin, 0); r0 < T; r0 += step) {
    pb::AttentionMapRequest req;
    req.set_session_id(m_impl->sessionId);
    req.set_trace_id(tr.id);
    req.set_layer(layer);
    req.set_head(head);
    req.set_row_begin(r0);
    req.set_row_end(std::min(T, r0 + step));
    pb::AttentionMapReply rep;
    grpc::ClientContext ctx;
    m_impl->prepare(ctx);
    m_impl->check(m_impl->stub->AttentionMap(&ctx, req, &rep));
    if (rep.cols() != T || size_t(rep.values_size()) != size_t(rep.rows()) * size_t(T))
      throw RemoteError(int(grpc::StatusCode::INTERNAL), "attention map reply of the wrong shape");
    std::copy(rep.values().begin(), rep.values().end(), map.begin() + size_t(r0) * T);
  }
  return map;
}

rt::ana::LensResult RemoteSession::lens(const RemoteTrace& tr, const rt::ana::LensOptions& opt) {
  m_impl->needSession();
  pb::LensRequest req;
  req.set_session_id(m_impl->sessionId);
  req.set_trace_id(tr.id);
  req.set_final_norm(opt.finalNorm);
  req.set_top_k(opt.topK);
  req.set_target(opt.target);
  req.mutable_tokens()->Assign(opt.tokens.begin(), opt.tokens.end());
  req.set_mid(opt.mid);
  pb::LensReply rep;
  grpc::ClientContext ctx;
  m_impl->prepare(ctx);
  m_impl->check(m_impl->stub->Lens(&ctx, req, &rep));
  return fromProto(rep);
}

rt::Generation RemoteSession::generate(const rt::GenerateRequest& r,
                                       const rt::TokenCallback& onToken) {
  m_impl->needSession();
  pb::GenerateRequest req;
  req.set_session_id(m_impl->sessionId);
  req.set_max_tokens(r.maxTokens);
  req.set_stop_at_eos(r.stopAtEos);
  toProto(r.sampling, req.mutable_sampling());
  toProto(r.interventions, req.mutable_interventions());
  if (r.subset) toProto(*r.subset, req.mutable_subset());
  grpc::ClientContext ctx;
  m_impl->prepare(ctx);
  auto reader = m_impl->stub->Generate(&ctx, req);
  pb::GenerateEvent ev;
  rt::Generation g;
  bool stopped = false;
  while (!stopped && reader->Read(&ev)) {
    if (ev.has_token()) {
      g.ids.push_back(ev.token().id());
      g.pieces.push_back(ev.token().piece());
      g.text += ev.token().piece();
      if (onToken && !onToken(ev.token().id(), ev.token().piece())) stopped = true;
    } else if (ev.has_done()) {
      g.stoppedAtEos = ev.done().stopped_at_eos();
    }
  }
  if (stopped) {  // the caller stopped early, as a local generation stops at the callback
    ctx.TryCancel();
    reader->Finish();
    return g;
  }
  m_impl->check(reader->Finish());
  return g;
}

namespace {

// The server's arrays, each checked against its shape (a reply that does not add up is an error).
std::vector<rt::ana::OutputArray> analyzeArrays(const pb::AnalyzeDone& done) {
  std::vector<rt::ana::OutputArray> out;
  for (const auto& a : done.arrays()) {
    rt::ana::OutputArray o;
    o.name = a.name();
    int64_t n = 1;
    for (int64_t d : a.shape()) {
      if (d < 0 || (d > 0 && n > INT64_MAX / d))
        throw RemoteError(int(grpc::StatusCode::INTERNAL), "array " + o.name + ": bad shape");
      n *= d;
      o.shape.push_back(d);
    }
    if (n != a.values_size())
      throw RemoteError(
          int(grpc::StatusCode::INTERNAL),
          "array " + o.name + ": " + std::to_string(a.values_size()) + " values for its shape");
    o.data.assign(a.values().begin(), a.values().end());
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

ModelListing RemoteSession::listModels(int64_t deadlineMs) {
  grpc::ClientContext ctx;
  m_impl->prepare(ctx);
  if (deadlineMs > 0)
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadlineMs));
  pb::ListModelsReply rep;
  m_impl->check(m_impl->stub->ListModels(&ctx, pb::ListModelsRequest{}, &rep));
  if (rep.models_size() > kMaxListedModels)
    throw RemoteError(int(grpc::StatusCode::INTERNAL), "the server listed too many models");
  ModelListing out;
  out.truncated = rep.truncated();
  for (const auto& m : rep.models()) {
    if (m.path().empty() || m.path().size() > size_t(kMaxPathBytes))
      throw RemoteError(int(grpc::StatusCode::INTERNAL), "the server listed a malformed path");
    out.models.push_back({m.path(), m.format(), m.size_bytes(), m.arch()});
  }
  return out;
}

std::string RemoteSession::analyze(const std::string& name, const std::string& requestJson,
                                   const rt::Interventions& interventions,
                                   const rt::RunProgress& progress,
                                   std::vector<rt::ana::OutputArray>* arrays,
                                   const RemoteTrace* on) {
  m_impl->needSession();
  pb::AnalyzeRequest req;
  req.set_session_id(m_impl->sessionId);
  req.set_name(name);
  req.set_request_json(requestJson);
  toProto(interventions, req.mutable_interventions());
  if (on) {
    req.set_trace_session_id(on->session);
    req.set_trace_id(on->id);
  }
  grpc::ClientContext ctx;
  m_impl->prepare(ctx);
  auto reader = m_impl->stub->Analyze(&ctx, req);
  pb::AnalyzeEvent ev;
  std::string doc;
  bool done = false, stopped = false;
  while (reader->Read(&ev)) {
    if (ev.has_progress()) {
      if (progress && !stopped && !progress(ev.progress().layers_done(), ev.progress().n_layer())) {
        ctx.TryCancel();
        stopped = true;
      }
    } else if (ev.has_done()) {
      doc = ev.done().result_json();
      if (arrays) *arrays = analyzeArrays(ev.done());
      done = true;
    }
  }
  const grpc::Status st = reader->Finish();
  if (stopped) throw rt::Cancelled();
  m_impl->check(st);
  if (!done)
    throw RemoteError(int(grpc::StatusCode::INTERNAL), "the analysis ended without a document");
  return doc;
}

}  // namespace ll::remote
