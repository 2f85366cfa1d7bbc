// The remote Session API's handlers (see service.h). Each handler body runs inside guarded(),
// which checks the token first and maps exceptions onto statuses.
#include "remote/service.h"

#include <new>

#include "remote/convert.h"
#include "remote/limits.h"
#include "remote/model_list.h"
#include "remote/trace_read.h"
#include "runtime/analysis/analysis_call.h"
#include "runtime/api/model_info.h"
#include "runtime/engine/engine.h"
#include "runtime/formats/mapped_file.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::remote {
namespace {

grpc::StatusCode codeOf(StatusError::Code c) {
  switch (c) {
    case StatusError::Code::NotFound:
      return grpc::StatusCode::NOT_FOUND;
    case StatusError::Code::ResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case StatusError::Code::Cancelled:
      return grpc::StatusCode::CANCELLED;
    case StatusError::Code::Unauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
  }
  return grpc::StatusCode::INTERNAL;
}

template <class F>
grpc::Status guarded(F&& body) {
  try {
    body();
    return grpc::Status::OK;
  } catch (const StatusError& e) {
    return {codeOf(e.code), e.what()};
  } catch (const rt::Cancelled&) {
    return {grpc::StatusCode::CANCELLED, "cancelled"};
  } catch (const PathMissing& e) {
    return {grpc::StatusCode::NOT_FOUND, e.what()};
  } catch (const rt::FormatError& e) {
    return {grpc::StatusCode::FAILED_PRECONDITION, e.what()};
  } catch (const std::invalid_argument& e) {
    return {grpc::StatusCode::INVALID_ARGUMENT, e.what()};
  } catch (const std::out_of_range& e) {
    return {grpc::StatusCode::INVALID_ARGUMENT, e.what()};
  } catch (const std::length_error& e) {
    return {grpc::StatusCode::INVALID_ARGUMENT, e.what()};
  } catch (const std::bad_alloc&) {
    return {grpc::StatusCode::RESOURCE_EXHAUSTED, "out of memory"};
  } catch (const std::exception& e) {
    return {grpc::StatusCode::INTERNAL, e.what()};
  }
}

// Constant time in the token's length, so a wrong guess does not tell how much of it matched.
bool sameSecret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i % std::max<size_t>(b.size(), 1)];
  return diff == 0 && !b.empty();
}

void checkIds(const google::protobuf::RepeatedField<int32_t>& ids, int nVocab, const char* what) {
  if (ids.size() > kMaxPromptTokens)
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(ids.size()) +
                                " ids, at most " + std::to_string(kMaxPromptTokens));
  for (int i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= nVocab)
      throw std::invalid_argument(std::string(what) + ": token id " + std::to_string(ids[i]) +
                                  " at index " + std::to_string(i) + " is out of range (0.." +
                                  std::to_string(nVocab - 1) + ")");
}

std::string pieceOf(const rt::Model& m, int32_t id) {
  return m.tokenizer ? m.tokenizer->piece(id) : std::to_string(id);
}

// A request of epoch `mine` on session s stays live until a newer one starts or the client goes.
struct Liveness {
  ServerSession& s;
  uint64_t mine;
  grpc::ServerContext* ctx;
  bool operator()() const { return s.epoch.load() == mine && !ctx->IsCancelled(); }
  [[noreturn]] void cancelled() const {
    throw StatusError(StatusError::Code::Cancelled,
                      ctx->IsCancelled()
                          ? "cancelled by the client"
                          : "cancelled: superseded by a newer request on the session");
  }
};

// An Analyze request's fields: bounded in size (the message limit: requests carry prompt sets and
// steering vectors) and depth before nlohmann parses them (a deeply nested document is refused as
// it is read, not after it was built).
nlohmann::json analyzeRequestJson(const std::string& text, int64_t maxBytes) {
  if (int64_t(text.size()) > maxBytes)
    throw std::invalid_argument("request_json: " + std::to_string(text.size()) +
                                " bytes, at most " + std::to_string(maxBytes));
  const auto depthLimit = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxAnalyzeRequestDepth)
      throw std::invalid_argument("request_json: nested deeper than " +
                                  std::to_string(kMaxAnalyzeRequestDepth) + " levels");
    return true;
  };
  try {
    return nlohmann::json::parse(text.empty() ? std::string("{}") : text, depthLimit);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("request_json: not JSON: ") + e.what());
  }
}

}  // namespace

Service::Service(ModelStore& models, std::string token, int64_t maxMessageBytes,
                 SessionAttach attach, rt::StageShare share)
    : m_models(models),
      m_token(std::move(token)),
      m_maxMessageBytes(maxMessageBytes),
      m_attach(std::move(attach)),
      m_share(share) {}

void Service::authorize(grpc::ServerContext* ctx) const {
  if (m_token.empty()) return;
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  const std::string got = it == md.end() ? "" : std::string(it->second.data(), it->second.size());
  if (!sameSecret(got, "Bearer " + m_token))
    throw StatusError(
        StatusError::Code::Unauthenticated,
        it == md.end() ? "no token: this server needs the shared token" : "wrong token");
}

grpc::Status Service::OpenSession(grpc::ServerContext* ctx, const pb::OpenSessionRequest* req,
                                  pb::OpenSessionReply* out) {
  return guarded([&] {
    authorize(ctx);
    if (req->threads() < 0 || req->threads() > kMaxThreads)
      throw std::invalid_argument("threads " + std::to_string(req->threads()) +
                                  " is out of range (0.." + std::to_string(kMaxThreads) + ")");
    const auto choice =
        rt::parseBackend(req->backend().empty() ? "cpu" : req->backend(), req->threads());
    auto model = m_models.get(req->model());
    auto s = m_sessions.create();
    try {
      s->modelPath = req->model();
      s->backend = choice;
      rt::BackendChoice mine = choice;  // s->backend stays whole (a teacher model is local)
      mine.share = m_share;
      s->session.attach(model, mine);
      if (m_attach) s->attached = m_attach(*s, req->model(), choice);
    } catch (...) {
      m_sessions.close(s->id);
      throw;
    }
    out->set_session_id(s->id);
    auto* info = out->mutable_info();
    const rt::ModelSpec& spec = model->spec;
    info->set_info_json(rt::modelInfoJson(*model, req->model()).dump(2));
    info->set_backend(s->session.backendName());
    info->set_backend_note(s->session.backendNote());
    info->set_n_layer(spec.nLayer);
    info->set_n_embd(spec.nEmbd);
    info->set_n_head(spec.nHead);
    info->set_n_head_kv(spec.nHeadKv);
    info->set_head_dim(spec.headDim);
    info->set_n_vocab(spec.nVocab);
    info->set_n_expert(spec.nExpert);
    info->set_n_expert_used(spec.nExpertUsed);
    info->set_n_ctx(spec.nCtx);
    info->set_has_tokenizer(model->tokenizer != nullptr);
    info->set_bos(model->tokenizer ? model->tokenizer->bos() : -1);
    info->set_eos(model->tokenizer ? model->tokenizer->eos() : -1);
    info->set_max_message_bytes(m_maxMessageBytes);
    info->set_window(spec.window);
    for (bool w : spec.windowed) info->add_windowed(w);
    for (int first : s->stageFirst) info->add_stage_first(first);
  });
}

grpc::Status Service::CloseSession(grpc::ServerContext* ctx, const pb::SessionRef* req,
                                   pb::Empty*) {
  return guarded([&] {
    authorize(ctx);
    m_sessions.close(req->session_id());
  });
}

grpc::Status Service::Tokenize(grpc::ServerContext* ctx, const pb::TokenizeRequest* req,
                               pb::TokenizeReply* out) {
  return guarded([&] {
    authorize(ctx);
    SessionUse s(m_sessions.find(req->session_id()));
    const rt::Model& m = s->session.model();
    if (!m.tokenizer) throw std::invalid_argument("the model has no tokenizer");
    const rt::Encoding e =
        m.tokenizer->encode(req->text(), fromProto(req->add_bos()), req->parse_special());
    out->mutable_ids()->Assign(e.ids.begin(), e.ids.end());
    for (const auto& p : e.pieces) out->add_pieces(p);
    for (const auto& [b, en] : e.spans) {
      auto* sp = out->add_spans();
      sp->set_begin(b);
      sp->set_end(en);
    }
  });
}

grpc::Status Service::Pieces(grpc::ServerContext* ctx, const pb::PiecesRequest* req,
                             pb::PiecesReply* out) {
  return guarded([&] {
    authorize(ctx);
    SessionUse s(m_sessions.find(req->session_id()));
    const rt::Model& m = s->session.model();
    checkIds(req->ids(), m.spec.nVocab, "ids");
    if (req->decode()) {
      if (!m.tokenizer) throw std::invalid_argument("the model has no tokenizer");
      out->add_pieces(m.tokenizer->decode({req->ids().begin(), req->ids().end()}));
      return;
    }
    for (int32_t id : req->ids()) out->add_pieces(pieceOf(m, id));
  });
}

grpc::Status Service::SetPrompt(grpc::ServerContext* ctx, const pb::SetPromptRequest* req,
                                pb::PromptReply* out) {
  return guarded([&] {
    authorize(ctx);
    SessionUse s(m_sessions.find(req->session_id()));
    const int addBos = fromProto(req->add_bos());
    if (req->has_ids()) checkIds(req->ids().ids(), s->session.model().spec.nVocab, "prompt ids");
    const uint64_t mine = ++s->epoch;
    std::lock_guard<std::mutex> lock(s->mutex);
    const Liveness live{*s, mine, ctx};
    if (!live()) live.cancelled();
    if (req->has_ids())
      s->session.setPromptIds({req->ids().ids().begin(), req->ids().ids().end()});
    else
      s->session.setPrompt(req->text(), addBos);
    const auto& ids = s->session.promptIds();
    out->mutable_ids()->Assign(ids.begin(), ids.end());
  });
}

grpc::Status Service::Run(grpc::ServerContext* ctx, const pb::RunRequest* req,
                          grpc::ServerWriter<pb::RunEvent>* out) {
  return guarded([&] {
    authorize(ctx);
    SessionUse s(m_sessions.find(req->session_id()));
    rt::RunRequest rr;
    rr.interventions = fromProto(req->interventions());
    if (req->has_subset()) rr.subset = fromProto(req->subset());
    if (req->has_capture()) rr.capture = fromProto(req->capture());
    const uint64_t mine = ++s->epoch;
    std::lock_guard<std::mutex> lock(s->mutex);  // the older request stops at its next layer
    const Liveness live{*s, mine, ctx};
    if (!live()) live.cancelled();
    std::shared_ptr<const rt::Trace> tr;
    try {
      tr = s->session.run(rr, [&](int done, int n) {
        if (!live()) return false;
        pb::RunEvent ev;
        ev.mutable_progress()->set_layers_done(done);
        ev.mutable_progress()->set_n_layer(n);
        out->Write(ev);
        return true;
      });
    } catch (const rt::Cancelled&) {
      live.cancelled();
    }
    pb::RunEvent ev;
    toProto(*tr, s->addTrace(tr), ev.mutable_done());
    out->Write(ev);
  });
}

grpc::Status Service::ReadTrace(grpc::ServerContext* ctx, const pb::TraceReadRequest* req,
                                pb::TraceReadReply* out) {
  return guarded([&] {
    authorize(ctx);
    SessionUse s(m_sessions.find(req->session_id()));
    // Traces are immutable and their reads thread-safe: no need to wait for a running request.
    readTrace(*s->trace(req->trace_id()), *req, m_maxMessageBytes, out);
  });
}

grpc::Status Service::AttentionMap(grpc::ServerContext* ctx, const pb::AttentionMapRequest* req,
                                   pb::AttentionMapReply* out) {
  return guarded([&] {
    authorize(ctx);
    SessionUse s(m_sessions.find(req->session_id()));
    auto tr = s->trace(req->trace_id());
    const int T = tr->nTokens;
    const int r0 = req->row_begin(), r1 = req->row_end() == 0 ? T : req->row_end();
    if (r0 < 0 || r1 > T || r0 >= r1)
      throw std::invalid_argument("row range [" + std::to_string(r0) + ", " + std::to_string(r1) +
                                  ") is out of range (rows 0.." + std::to_string(T) + ")");
    const int64_t bytes = int64_t(r1 - r0) * T * 4 + kReplyOverheadBytes;
    if (bytes > m_maxMessageBytes)
      throw std::invalid_argument("attention rows [" + std::to_string(r0) + ", " +
                                  std::to_string(r1) + ") are " + std::to_string(bytes) +
                                  " bytes, over the message limit of " +
                                  std::to_string(m_maxMessageBytes) + ": ask for fewer rows");
    std::lock_guard<std::mutex> lock(s->mutex);
    const auto map = s->session.attentionMap(*tr, req->layer(), req->head(), r0);
    out->set_rows(r1 - r0);
    out->set_cols(T);
    out->mutable_values()->Assign(map.begin() + size_t(r0) * T, map.begin() + size_t(r1) * T);
  });
}

grpc::Status Service::Lens(grpc::ServerContext* ctx, const pb::LensRequest* req,
                           pb::LensReply* out) {
  return guarded([&] {
    authorize(ctx);
    SessionUse s(m_sessions.find(req->session_id()));
    auto tr = s->trace(req->trace_id());
    if (req->top_k() < 1 || req->top_k() > kMaxLensTopK)
      throw std::invalid_argument("top_k " + std::to_string(req->top_k()) +
                                  " is out of range (1.." + std::to_string(kMaxLensTopK) + ")");
    if (req->target() < -1) throw std::invalid_argument("target token out of range");
    if (req->tokens_size() > tr->nTokens)
      throw std::invalid_argument("tokens: more indices than the trace has tokens");
    rt::ana::LensOptions lo;
    lo.finalNorm = req->final_norm();
    lo.topK = req->top_k();
    lo.target = req->target();
    lo.tokens.assign(req->tokens().begin(), req->tokens().end());
    lo.mid = req->mid();
    const int64_t rows = int64_t(tr->nLayer) * 2 + 1;
    const int64_t cols = lo.tokens.empty() ? tr->nTokens : int64_t(lo.tokens.size());
    if (rows * cols * (int64_t(lo.topK) * 2 + 8) * 4 + kReplyOverheadBytes > m_maxMessageBytes)
      throw std::invalid_argument("the lens of " + std::to_string(cols) + " tokens with top_k " +
                                  std::to_string(lo.topK) + " is over the message limit of " +
                                  std::to_string(m_maxMessageBytes) + ": ask for fewer tokens");
    std::lock_guard<std::mutex> lock(s->mutex);
    toProto(rt::ana::logitLens(s->session.engine(), *tr, lo), out);
  });
}

grpc::Status Service::Generate(grpc::ServerContext* ctx, const pb::GenerateRequest* req,
                               grpc::ServerWriter<pb::GenerateEvent>* out) {
  return guarded([&] {
    authorize(ctx);
    SessionUse s(m_sessions.find(req->session_id()));
    if (req->max_tokens() < 0 || req->max_tokens() > kMaxGenerateTokens)
      throw std::invalid_argument("max_tokens " + std::to_string(req->max_tokens()) +
                                  " is out of range (0.." + std::to_string(kMaxGenerateTokens) +
                                  ")");
    rt::GenerateRequest gr;
    gr.maxTokens = req->max_tokens();
    gr.stopAtEos = req->stop_at_eos();
    gr.sampling = fromProto(req->sampling());
    gr.interventions = fromProto(req->interventions());
    if (req->has_subset()) gr.subset = fromProto(req->subset());
    const uint64_t mine = ++s->epoch;
    std::lock_guard<std::mutex> lock(s->mutex);
    const Liveness live{*s, mine, ctx};
    if (!live()) live.cancelled();
    rt::Generation g;
    try {
      g = s->session.generate(
          gr,
          [&](int32_t id, const std::string& piece) {
            pb::GenerateEvent ev;
            ev.mutable_token()->set_id(id);
            ev.mutable_token()->set_piece(piece);
            return out->Write(ev) && live();
          },
          [&](int, int) { return live(); });
    } catch (const rt::Cancelled&) {
      live.cancelled();
    }
    if (!live()) live.cancelled();
    pb::GenerateEvent ev;
    ev.mutable_done()->set_stopped_at_eos(g.stoppedAtEos);
    out->Write(ev);
  });
}

grpc::Status Service::Analyze(grpc::ServerContext* ctx, const pb::AnalyzeRequest* req,
                              grpc::ServerWriter<pb::AnalyzeEvent>* out) {
  return guarded([&] {
    authorize(ctx);
    SessionUse s(m_sessions.find(req->session_id()));
    // Checked before the request cancels the running one: a malformed request changes nothing.
    const rt::ana::AnalysisRequest ar = rt::ana::parseAnalysisRequest(
        req->name(),
        analyzeRequestJson(req->request_json(), m_maxMessageBytes - kReplyOverheadBytes));
    rt::RunRequest base;
    base.interventions = fromProto(req->interventions());
    const uint64_t mine = ++s->epoch;
    std::lock_guard<std::mutex> lock(s->mutex);
    const Liveness live{*s, mine, ctx};
    if (!live()) live.cancelled();
    // A second model (compare's teacher) comes from the --models folder, like the session's own.
    rt::ana::AnalysisEnv env;
    env.openModel = [&](rt::Session& other, const std::string& path) {
      other.attach(m_models.get(path), s->backend);
    };
    env.teacherSession = [&](const std::string& path) -> rt::Session& {
      if (!s->teacher || s->teacherPath != path) {
        s->teacher.reset();
        s->teacherPath.clear();
        auto t = std::make_unique<rt::Session>();
        t->attach(m_models.get(path), s->backend);
        s->teacher = std::move(t);
        s->teacherPath = path;
      }
      return *s->teacher;
    };
    if (!req->trace_session_id().empty()) {
      // Another session's trace: only of the very model this session computes with.
      const std::shared_ptr<ServerSession> owner = m_sessions.find(req->trace_session_id());
      if (&owner->session.model() != &s->session.model())
        throw std::invalid_argument("trace_session_id: a session on another model");
      env.trace = owner->trace(req->trace_id());
    }
    rt::ana::AnalysisOutput res;
    try {
      res = rt::ana::runAnalysis(
          s->session, ar, base,
          [&](int done, int n) {
            if (!live()) return false;
            pb::AnalyzeEvent ev;
            ev.mutable_progress()->set_layers_done(done);
            ev.mutable_progress()->set_n_layer(n);
            out->Write(ev);
            return true;
          },
          env);
    } catch (const rt::Cancelled&) {
      live.cancelled();
    }
    if (!live()) live.cancelled();
    int64_t bytes = int64_t(res.document.size()) + kReplyOverheadBytes;
    for (const auto& a : res.arrays)
      bytes += int64_t(a.data.size()) * int64_t(sizeof(float)) + int64_t(a.name.size()) + 64;
    if (bytes > m_maxMessageBytes)
      throw StatusError(StatusError::Code::ResourceExhausted,
                        std::string("the ") + req->name() + " document is " +
                            std::to_string(bytes) + " bytes, over the message limit of " +
                            std::to_string(m_maxMessageBytes));
    pb::AnalyzeEvent ev;
    ev.mutable_done()->set_result_json(res.document);
    for (const auto& a : res.arrays) {
      auto* pa = ev.mutable_done()->add_arrays();
      pa->set_name(a.name);
      for (int64_t d : a.shape) pa->add_shape(d);
      pa->mutable_values()->Add(a.data.begin(), a.data.end());
    }
    out->Write(ev);
  });
}

grpc::Status Service::ListModels(grpc::ServerContext* ctx, const pb::ListModelsRequest*,
                                 pb::ListModelsReply* out) {
  return guarded([&] {
    authorize(ctx);
    const ModelListing list = listModels(m_models.root());
    for (const ListedModel& m : list.models) {
      auto* e = out->add_models();
      e->set_path(m.path);
      e->set_format(m.format);
      e->set_size_bytes(m.bytes);
      e->set_arch(m.arch);
    }
    out->set_truncated(list.truncated);
  });
}

}  // namespace ll::remote
