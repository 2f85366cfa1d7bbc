// Small numeric helpers shared by the analyses: statistics of one softmax row (entropy, top-k,
// rank of a token), Jensen-Shannon divergence, 1-D pooling as PyTorch does it, top-k selection.
#pragma once

#include <cstdint>
#include <vector>

namespace ll::rt::ana {

struct RowStats {
  float entropy = 0.0f;  // natural log
  std::vector<int32_t> topIds;
  std::vector<float> topProbs;
  int32_t rank = -1;  // of the chosen token (0 = top); -1 when none was chosen
  float prob = 0.0f;  // of the chosen token
};

// softmax(logits[0..n)) in double accumulation; top-k by descending probability (ties: lower id).
RowStats rowStats(const float* logits, int n, int topK, int32_t chosen = -1);
// Softmax probabilities of one row (f32 output, double accumulation).
std::vector<float> softmax(const float* logits, int n);
// JSD(p || q) in nats (0.5 KL(p||m) + 0.5 KL(q||m), m = (p+q)/2).
double jsd(const float* p, const float* q, int n);

// torch.nn.functional.avg_pool1d(kernel, stride 1, padding kernel/2, count_include_pad=True):
// zero padding, always divided by the kernel size. kernel <= 1 returns the input.
std::vector<float> avgPool(const std::vector<float>& s, int kernel);
// max_pool1d(kernel, stride 1, padding kernel/2): padding never wins.
std::vector<float> maxPool(const std::vector<float>& s, int kernel);

// The k largest of s[0..limit) (limit < 0: all), ties to the lower index, returned ascending.
std::vector<int> topKIndices(const std::vector<float>& s, int k, int limit = -1);
// |A ∩ B| / |A ∪ B| of two index sets (1 when both are empty).
double jaccard(const std::vector<int>& a, const std::vector<int>& b);

}  // namespace ll::rt::ana
