// The gRPC service behind `layerlens-cli serve`: checks the token on every call, maps the remote
// Session API onto per-client rt::Sessions (server_session.h) sharing loaded models
// (model_store.h), and turns every runtime error into a status (never a crash).
#pragma once

#include <cstdint>
#include <string>

#include "layerlens.grpc.pb.h"
#include "remote/model_store.h"
#include "remote/server.h"
#include "remote/server_session.h"

namespace ll::remote {

namespace pb = ::layerlens::remote::v1;

class Service final : public pb::LayerLens::Service {
 public:
  // token: the shared secret every call must carry ("" = none, loopback only).
  // attach (optional): called for each opened session (ServerOptions::attachSession).
  // share: what a session binds of its model (ServerOptions::share).
  Service(ModelStore& models, std::string token, int64_t maxMessageBytes, SessionAttach attach = {},
          rt::StageShare share = {});

  grpc::Status OpenSession(grpc::ServerContext* ctx, const pb::OpenSessionRequest* req,
                           pb::OpenSessionReply* out) override;
  grpc::Status CloseSession(grpc::ServerContext* ctx, const pb::SessionRef* req,
                            pb::Empty* out) override;
  grpc::Status Tokenize(grpc::ServerContext* ctx, const pb::TokenizeRequest* req,
                        pb::TokenizeReply* out) override;
  grpc::Status Pieces(grpc::ServerContext* ctx, const pb::PiecesRequest* req,
                      pb::PiecesReply* out) override;
  grpc::Status SetPrompt(grpc::ServerContext* ctx, const pb::SetPromptRequest* req,
                         pb::PromptReply* out) override;
  grpc::Status Run(grpc::ServerContext* ctx, const pb::RunRequest* req,
                   grpc::ServerWriter<pb::RunEvent>* out) override;
  grpc::Status ReadTrace(grpc::ServerContext* ctx, const pb::TraceReadRequest* req,
                         pb::TraceReadReply* out) override;
  grpc::Status AttentionMap(grpc::ServerContext* ctx, const pb::AttentionMapRequest* req,
                            pb::AttentionMapReply* out) override;
  grpc::Status Lens(grpc::ServerContext* ctx, const pb::LensRequest* req,
                    pb::LensReply* out) override;
  grpc::Status Generate(grpc::ServerContext* ctx, const pb::GenerateRequest* req,
                        grpc::ServerWriter<pb::GenerateEvent>* out) override;
  grpc::Status Analyze(grpc::ServerContext* ctx, const pb::AnalyzeRequest* req,
                       grpc::ServerWriter<pb::AnalyzeEvent>* out) override;
  grpc::Status ListModels(grpc::ServerContext* ctx, const pb::ListModelsRequest* req,
                          pb::ListModelsReply* out) override;

  SessionRegistry& sessions() { return m_sessions; }

 private:
  void authorize(grpc::ServerContext* ctx) const;

  ModelStore& m_models;
  std::string m_token;
  int64_t m_maxMessageBytes;
  SessionAttach m_attach;
  rt::StageShare m_share;
  SessionRegistry m_sessions;
};

}  // namespace ll::remote
