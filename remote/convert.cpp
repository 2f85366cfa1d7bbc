// Conversions between runtime values and the remote API's protobuf messages (see convert.h).
#include "remote/convert.h"

#include <stdexcept>
#include <string>

#include "remote/limits.h"

namespace ll::remote {
namespace {

template <class T, class R>
std::vector<T> vec(const R& repeated) {
  return std::vector<T>(repeated.begin(), repeated.end());
}

template <class R, class V>
void put(R* repeated, const V& values) {
  repeated->Assign(values.begin(), values.end());
}

void checkCount(int n, const char* field) {
  if (n > kMaxInterventionItems)
    throw std::invalid_argument(std::string(field) + ": " + std::to_string(n) +
                                " entries, at most " + std::to_string(kMaxInterventionItems));
}

void toProto(const rt::Knockout& k, pb::Knockout* out) {
  put(out->mutable_from(), k.from);
  put(out->mutable_to(), k.to);
  out->set_layer_begin(k.layerBegin);
  out->set_layer_end(k.layerEnd);
  out->set_from_index(k.fromIndex);
}

rt::Knockout fromProto(const pb::Knockout& in) {
  if (in.from_size() > kMaxPromptTokens || in.to_size() > kMaxPromptTokens)
    throw std::invalid_argument("knockout: token sets longer than the longest prompt");
  rt::Knockout k;
  k.from = vec<int>(in.from());
  k.to = vec<int>(in.to());
  k.layerBegin = in.layer_begin();
  k.layerEnd = in.layer_end();
  k.fromIndex = in.has_from_index() ? in.from_index() : -1;
  return k;
}

}  // namespace

void toProto(const rt::Interventions& iv, pb::Interventions* out) {
  for (const auto& s : iv.steering) {
    auto* p = out->add_steering();
    p->set_layer(s.layer);
    p->set_alpha(s.alpha);
    p->set_from_pos(s.fromPos);
    put(p->mutable_vector(), s.vector);
  }
  for (const auto& e : iv.router) {
    auto* p = out->add_router();
    p->set_layer(e.layer);
    p->set_expert(e.expert);
    p->set_kind(static_cast<pb::RouterEditKind>(e.kind));
    p->set_value(e.value);
  }
  if (iv.knockout) toProto(*iv.knockout, out->mutable_knockout());
  for (const auto& k : iv.masks) toProto(k, out->add_masks());
  if (iv.eviction) {
    auto* p = out->mutable_eviction();
    p->set_from_index(iv.eviction->fromIndex);
    p->set_length(iv.eviction->length);
    for (const auto& row : iv.eviction->keep) p->add_keep(std::string(row.begin(), row.end()));
  }
  for (const auto& s : iv.skips) {
    auto* p = out->add_skips();
    p->set_layer(s.layer);
    p->set_part(static_cast<pb::SkipPart>(s.part));
  }
  for (const auto& pt : iv.patches) {
    auto* p = out->add_patches();
    p->set_site(static_cast<pb::PatchSite>(pt.site));
    p->set_layer(pt.layer);
    p->set_index(pt.index);
    p->set_head(pt.head);
    p->set_add(pt.add);
    put(p->mutable_value(), pt.value);
  }
}

rt::Interventions fromProto(const pb::Interventions& in) {
  checkCount(in.steering_size(), "steering");
  checkCount(in.router_size(), "router edits");
  checkCount(in.masks_size(), "masks");
  checkCount(in.skips_size(), "skips");
  checkCount(in.patches_size(), "patches");
  rt::Interventions iv;
  for (const auto& p : in.steering())
    iv.steering.push_back(
        {p.layer(), p.has_alpha() ? p.alpha() : 1.0f, p.from_pos(), vec<float>(p.vector())});
  for (const auto& p : in.router()) {
    if (!pb::RouterEditKind_IsValid(p.kind()))
      throw std::invalid_argument("router edit: unknown kind " + std::to_string(p.kind()));
    iv.router.push_back(
        {p.layer(), p.expert(), static_cast<rt::RouterEditKind>(p.kind()), p.value()});
  }
  if (in.has_knockout()) iv.knockout = fromProto(in.knockout());
  for (const auto& k : in.masks()) iv.masks.push_back(fromProto(k));
  if (in.has_eviction()) {
    const auto& e = in.eviction();
    checkCount(e.keep_size(), "eviction layers");
    rt::HeadEviction ev;
    ev.fromIndex = e.from_index();
    ev.length = e.length();
    for (const auto& row : e.keep()) ev.keep.emplace_back(row.begin(), row.end());
    iv.eviction = std::move(ev);
  }
  for (const auto& s : in.skips()) {
    if (!pb::SkipPart_IsValid(s.part()))
      throw std::invalid_argument("skip: unknown part " + std::to_string(s.part()));
    iv.skips.push_back({s.layer(), static_cast<rt::SkipPart>(s.part())});
  }
  for (const auto& p : in.patches()) {
    if (!pb::PatchSite_IsValid(p.site()))
      throw std::invalid_argument("patch: unknown site " + std::to_string(p.site()));
    rt::Patch pt;
    pt.site = static_cast<rt::PatchSite>(p.site());
    pt.layer = p.layer();
    pt.index = p.index();
    pt.head = p.head();
    pt.add = p.add();
    pt.value = vec<float>(p.value());
    iv.patches.push_back(std::move(pt));
  }
  return iv;
}

void toProto(const rt::TokenSubset& s, pb::TokenSubset* out) {
  put(out->mutable_indices(), s.indices);
  out->set_keep_positions(s.keepPositions);
}

rt::TokenSubset fromProto(const pb::TokenSubset& in) {
  if (in.indices_size() > kMaxPromptTokens)
    throw std::invalid_argument("token subset: longer than the longest prompt");
  return {vec<int>(in.indices()), in.has_keep_positions() ? in.keep_positions() : true};
}

void toProto(const rt::CaptureOptions& c, pb::CaptureOptions* out) {
  out->set_enabled(c.enabled);
  out->set_all_logits(c.allLogits);
  out->set_last_layer(c.lastLayer);
  out->set_components(c.components);
}

rt::CaptureOptions fromProto(const pb::CaptureOptions& in) {
  rt::CaptureOptions c;
  if (in.has_enabled()) c.enabled = in.enabled();
  if (in.has_all_logits()) c.allLogits = in.all_logits();
  if (in.has_last_layer()) c.lastLayer = in.last_layer();
  c.components = in.components();
  return c;
}

pb::AddBos toProto(int addBos) {
  return addBos < 0 ? pb::BOS_DEFAULT : addBos == 0 ? pb::BOS_NO : pb::BOS_YES;
}

int fromProto(pb::AddBos addBos) {
  switch (addBos) {
    case pb::BOS_DEFAULT:
      return -1;
    case pb::BOS_YES:
      return 1;
    case pb::BOS_NO:
      return 0;
    default:
      break;
  }
  throw std::invalid_argument("add_bos: unknown value " + std::to_string(int(addBos)));
}

void toProto(const rt::SamplingOptions& s, pb::Sampling* out) {
  out->set_greedy(s.greedy);
  out->set_temperature(s.temperature);
  out->set_top_k(s.topK);
  out->set_top_p(s.topP);
  out->set_seed(s.seed);
}

rt::SamplingOptions fromProto(const pb::Sampling& in) {
  rt::SamplingOptions s;
  if (in.has_greedy()) s.greedy = in.greedy();
  if (in.has_temperature()) s.temperature = in.temperature();
  s.topK = in.top_k();
  if (in.has_top_p()) s.topP = in.top_p();
  s.seed = in.seed();
  return s;
}

void toProto(const rt::ana::LensResult& r, pb::LensReply* out) {
  out->set_n_rows(r.nRows);
  out->set_n_layer(r.nLayer);
  out->set_top_k(r.topK);
  put(out->mutable_tokens(), r.tokens);
  put(out->mutable_entropy(), r.entropy);
  put(out->mutable_top1(), r.top1);
  put(out->mutable_top_ids(), r.topIds);
  put(out->mutable_top_probs(), r.topProbs);
  put(out->mutable_rank(), r.rank);
  put(out->mutable_prob(), r.prob);
  put(out->mutable_mid_entropy(), r.midEntropy);
  put(out->mutable_mid_top1(), r.midTop1);
  put(out->mutable_mid_top_ids(), r.midTopIds);
  put(out->mutable_mid_top_probs(), r.midTopProbs);
  put(out->mutable_delta_attn(), r.deltaAttn);
  put(out->mutable_delta_mlp(), r.deltaMlp);
  put(out->mutable_final_top1(), r.finalTop1);
  put(out->mutable_early_exit(), r.earlyExit);
}

rt::ana::LensResult fromProto(const pb::LensReply& in) {
  rt::ana::LensResult r;
  r.nRows = in.n_rows();
  r.nLayer = in.n_layer();
  r.topK = in.top_k();
  r.tokens = vec<int>(in.tokens());
  r.entropy = vec<float>(in.entropy());
  r.top1 = vec<int32_t>(in.top1());
  r.topIds = vec<int32_t>(in.top_ids());
  r.topProbs = vec<float>(in.top_probs());
  r.rank = vec<int32_t>(in.rank());
  r.prob = vec<float>(in.prob());
  r.midEntropy = vec<float>(in.mid_entropy());
  r.midTop1 = vec<int32_t>(in.mid_top1());
  r.midTopIds = vec<int32_t>(in.mid_top_ids());
  r.midTopProbs = vec<float>(in.mid_top_probs());
  r.deltaAttn = vec<float>(in.delta_attn());
  r.deltaMlp = vec<float>(in.delta_mlp());
  r.finalTop1 = vec<int32_t>(in.final_top1());
  r.earlyExit = vec<int>(in.early_exit());
  return r;
}

void toProto(const rt::Trace& tr, int64_t traceId, pb::TraceInfo* out) {
  out->set_trace_id(traceId);
  out->set_n_tokens(tr.nTokens);
  out->set_n_layer(tr.nLayer);
  out->set_n_embd(tr.nEmbd);
  out->set_n_head(tr.nHead);
  out->set_n_head_kv(tr.nHeadKv);
  out->set_head_dim(tr.headDim);
  out->set_n_vocab(tr.nVocab);
  out->set_n_expert(tr.nExpert);
  out->set_n_expert_used(tr.nExpertUsed);
  out->set_attn_scale(tr.attnScale);
  for (const auto& a : tr.layerAttn) {
    auto* p = out->add_layer_attn();
    p->set_window(a.window);
    p->set_softcap(a.softcap);
    put(p->mutable_sinks(), a.sinks);
  }
  put(out->mutable_ids(), tr.ids);
  put(out->mutable_positions(), tr.positions);
  put(out->mutable_prompt_index(), tr.promptIndex);
  for (const auto& p : tr.pieces) out->add_pieces(p);
  for (const auto& [b, e] : tr.spans) {
    auto* s = out->add_spans();
    s->set_begin(b);
    s->set_end(e);
  }
  out->set_captured(tr.captured);
  out->set_all_logits(tr.allLogits);
  out->set_reused_rows(tr.reusedRows);
  for (const auto& L : tr.layers) out->add_moe_layer(!L.routerLogits.empty());
  out->set_components(!tr.layers.empty() && !tr.layers[0].attnOut.empty());
}

std::shared_ptr<rt::Trace> traceSkeleton(const pb::TraceInfo& in, const rt::RunRequest& request) {
  auto tr = std::make_shared<rt::Trace>();
  tr->nTokens = in.n_tokens();
  tr->nLayer = in.n_layer();
  tr->nEmbd = in.n_embd();
  tr->nHead = in.n_head();
  tr->nHeadKv = in.n_head_kv();
  tr->headDim = in.head_dim();
  tr->nVocab = in.n_vocab();
  tr->nExpert = in.n_expert();
  tr->nExpertUsed = in.n_expert_used();
  tr->attnScale = in.attn_scale();
  for (const auto& a : in.layer_attn())
    tr->layerAttn.push_back({a.window(), a.softcap(), vec<float>(a.sinks())});
  tr->ids = vec<int32_t>(in.ids());
  tr->positions = vec<int32_t>(in.positions());
  tr->promptIndex = vec<int32_t>(in.prompt_index());
  tr->pieces = vec<std::string>(in.pieces());
  for (const auto& s : in.spans()) tr->spans.emplace_back(s.begin(), s.end());
  tr->captured = in.captured();
  tr->allLogits = in.all_logits();
  tr->reusedRows = in.reused_rows();
  tr->layers.resize(tr->captured ? size_t(std::max(0, tr->nLayer)) : 0);
  tr->qFrom = 0;
  tr->request = request;
  return tr;
}

}  // namespace ll::remote
