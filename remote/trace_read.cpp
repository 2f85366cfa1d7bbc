// Bounded trace reads for the remote API (see trace_read.h).
#include "remote/trace_read.h"

#include <functional>
#include <stdexcept>
#include <string>

#include "remote/limits.h"

namespace ll::remote {

FieldShape fieldShape(const pb::TraceInfo& in, pb::TraceField field) {
  const int T = in.n_tokens();
  const int qd = in.n_head() * in.head_dim();
  switch (field) {
    case pb::FIELD_LOGITS:
      return {in.all_logits() ? T : 1, in.n_vocab(), false};
    case pb::FIELD_EMBD:
    case pb::FIELD_FINAL_NORM:
      return {T, in.n_embd(), false};
    case pb::FIELD_RESID:
    case pb::FIELD_RESID_MID:
    case pb::FIELD_ATTN_OUT:
    case pb::FIELD_MLP_OUT:
      return {T, in.n_embd(), true};
    case pb::FIELD_QUERIES:
    case pb::FIELD_HEAD_OUT:
      return {T, qd, true};
    case pb::FIELD_KEYS:
      return {T, in.n_head_kv() * in.head_dim(), true};
    case pb::FIELD_ENTROPY:
    case pb::FIELD_LAST_ROW:
    case pb::FIELD_COL_SUM:
      return {in.n_head(), T, true};
    case pb::FIELD_ROUTER_LOGITS:
    case pb::FIELD_ROUTER_PROBS:
      return {T, in.n_expert(), true};
    case pb::FIELD_EXPERTS:
    case pb::FIELD_EXPERT_WEIGHTS:
      return {T, in.n_expert_used(), true};
    default:
      break;
  }
  throw std::invalid_argument("field " + std::to_string(int(field)) + " is unknown");
}

namespace {

std::string rangeText(int r0, int r1) {
  return "[" + std::to_string(r0) + ", " + std::to_string(r1) + ")";
}

// Throws unless [r0, r1) is inside [0, rows) and its reply fits the message limit.
void checkRange(int rows, size_t cols, const pb::TraceReadRequest& req, int64_t maxBytes) {
  const int r0 = req.row_begin(), r1 = req.row_end();
  if (r0 < 0 || r1 > rows || r0 > r1)
    throw std::invalid_argument("row range " + rangeText(r0, r1) + " is out of range (rows 0.." +
                                std::to_string(rows) + ")");
  const int64_t bytes = int64_t(r1 - r0) * int64_t(cols) * 4 + kReplyOverheadBytes;
  if (bytes > maxBytes)
    throw std::invalid_argument("row range " + rangeText(r0, r1) + " is " + std::to_string(bytes) +
                                " bytes, over the message limit of " + std::to_string(maxBytes) +
                                ": read fewer rows");
}

// The checked slice [r0, r1) of an array of `size` values laid out as `rows` rows.
template <class T, class R>
void slice(const T* data, size_t size, int rows, const pb::TraceReadRequest& req, int64_t maxBytes,
           R* values, pb::TraceReadReply* out) {
  if (size == 0 || rows <= 0) return;  // not captured: rows = cols = 0
  if (size % size_t(rows) != 0)
    throw std::invalid_argument("the array does not match the trace's shape");
  const size_t cols = size / size_t(rows);
  checkRange(rows, cols, req, maxBytes);
  const int r0 = req.row_begin(), r1 = req.row_end();
  out->set_rows(r1 - r0);
  out->set_cols(static_cast<int>(cols));
  values->Assign(data + size_t(r0) * cols, data + size_t(r1) * cols);
}

// Rows computed on request (recomputed queries, final norm): checked before computing them.
void computed(int rows, size_t cols, const pb::TraceReadRequest& req, int64_t maxBytes,
              const std::function<std::vector<float>(int, int)>& rowsOf, pb::TraceReadReply* out) {
  checkRange(rows, cols, req, maxBytes);
  const auto v = rowsOf(req.row_begin(), req.row_end());
  out->set_rows(req.row_end() - req.row_begin());
  out->set_cols(static_cast<int>(cols));
  out->mutable_values()->Assign(v.begin(), v.end());
}

}  // namespace

void readTrace(const rt::Trace& tr, const pb::TraceReadRequest& req, int64_t maxBytes,
               pb::TraceReadReply* out) {
  if (!pb::TraceField_IsValid(req.field()))
    throw std::invalid_argument("field " + std::to_string(req.field()) + " is unknown");
  const int T = tr.nTokens;
  auto* vals = out->mutable_values();
  switch (req.field()) {
    case pb::FIELD_LOGITS:
      return slice(tr.logits.data(), tr.logits.size(), tr.allLogits ? T : 1, req, maxBytes, vals,
                   out);
    case pb::FIELD_EMBD:
      return slice(tr.embd.data(), tr.embd.size(), T, req, maxBytes, vals, out);
    case pb::FIELD_FINAL_NORM:
      if (!tr.captured) return;
      return computed(
          T, size_t(tr.nEmbd), req, maxBytes,
          [&](int r0, int r1) { return tr.finalNormRows(r0, r1); }, out);
    default:
      break;
  }
  if (req.layer() < 0 || req.layer() >= tr.nLayer || size_t(req.layer()) >= tr.layers.size())
    throw std::invalid_argument("layer " + std::to_string(req.layer()) + " is out of range (0.." +
                                std::to_string(tr.nLayer - 1) + ")");
  const rt::LayerTrace& L = tr.layers[size_t(req.layer())];
  switch (req.field()) {
    case pb::FIELD_RESID:
      return slice(L.resid.data(), L.resid.size(), T, req, maxBytes, vals, out);
    case pb::FIELD_RESID_MID:
      return slice(L.residMid.data(), L.residMid.size(), T, req, maxBytes, vals, out);
    case pb::FIELD_QUERIES:
      if (!tr.captured) return;
      return computed(
          T, size_t(tr.nHead) * size_t(tr.headDim), req, maxBytes,
          [&](int r0, int r1) { return tr.queries(req.layer(), r0, r1); }, out);
    case pb::FIELD_KEYS:
      return slice(L.k.data(), L.k.size(), T, req, maxBytes, vals, out);
    case pb::FIELD_ATTN_OUT:
      return slice(L.attnOut.data(), L.attnOut.size(), T, req, maxBytes, vals, out);
    case pb::FIELD_MLP_OUT:
      return slice(L.mlpOut.data(), L.mlpOut.size(), T, req, maxBytes, vals, out);
    case pb::FIELD_HEAD_OUT:
      return slice(L.headOut.data(), L.headOut.size(), T, req, maxBytes, vals, out);
    case pb::FIELD_ENTROPY:
      return slice(L.entropy.data(), L.entropy.size(), tr.nHead, req, maxBytes, vals, out);
    case pb::FIELD_LAST_ROW:
      return slice(L.lastRow.data(), L.lastRow.size(), tr.nHead, req, maxBytes, vals, out);
    case pb::FIELD_COL_SUM:
      return slice(L.colSum.data(), L.colSum.size(), tr.nHead, req, maxBytes, vals, out);
    case pb::FIELD_ROUTER_LOGITS:
      return slice(L.routerLogits.data(), L.routerLogits.size(), T, req, maxBytes, vals, out);
    case pb::FIELD_ROUTER_PROBS:
      return slice(L.routerProbs.data(), L.routerProbs.size(), T, req, maxBytes, vals, out);
    case pb::FIELD_EXPERTS:
      return slice(L.experts.data(), L.experts.size(), T, req, maxBytes, out->mutable_ints(), out);
    case pb::FIELD_EXPERT_WEIGHTS:
      return slice(L.expertWeights.data(), L.expertWeights.size(), T, req, maxBytes, vals, out);
    default:
      break;
  }
  throw std::invalid_argument("field " + std::to_string(req.field()) + " is unknown");
}

}  // namespace ll::remote
