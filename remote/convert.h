// Conversions between the runtime's request/result values and their protobuf messages, used by
// both the server and the client. fromProto checks counts and enum values (std::invalid_argument
// naming the field); indices against the model are checked by the runtime itself.
#pragma once

#include <memory>

#include "layerlens.pb.h"
#include "runtime/analysis/lens.h"
#include "runtime/api/request.h"
#include "runtime/api/trace.h"

namespace ll::remote {

namespace pb = ::layerlens::remote::v1;

void toProto(const rt::Interventions& iv, pb::Interventions* out);
rt::Interventions fromProto(const pb::Interventions& in);
void toProto(const rt::TokenSubset& s, pb::TokenSubset* out);
rt::TokenSubset fromProto(const pb::TokenSubset& in);
void toProto(const rt::CaptureOptions& c, pb::CaptureOptions* out);
rt::CaptureOptions fromProto(const pb::CaptureOptions& in);
// Session::setPrompt's addBos (-1 default, 0 no, 1 yes) and back (throws on unknown values).
pb::AddBos toProto(int addBos);
int fromProto(pb::AddBos addBos);
void toProto(const rt::SamplingOptions& s, pb::Sampling* out);
rt::SamplingOptions fromProto(const pb::Sampling& in);

void toProto(const rt::ana::LensResult& r, pb::LensReply* out);
rt::ana::LensResult fromProto(const pb::LensReply& in);

// The trace's shapes and per-token data (the large arrays stay on the server).
void toProto(const rt::Trace& tr, int64_t traceId, pb::TraceInfo* out);
// A client-side Trace with the shapes and token data of `in` and empty arrays (filled by reads);
// it stores every row of Q (qFrom = 0), so nothing needs recomputing on the client.
std::shared_ptr<rt::Trace> traceSkeleton(const pb::TraceInfo& in, const rt::RunRequest& request);

}  // namespace ll::remote
