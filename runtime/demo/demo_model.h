// The built-in demo model: a 2-layer llama-architecture transformer whose weights are CONSTRUCTED
// (not trained) so that textbook mechanisms show clearly through the real engine. No download.
//
// Vocabulary (SPM "llama", byte fallback): <unk>, <s>, </s>, 256 byte tokens <0x00>..<0xFF>, then
// one token per character of kDemoChars ("▁" stands for the space). Any text tokenizes.
// Residual stream (nEmbd 256), all subspaces one-hot over the "identity index" of a token
// (0 = any byte/unknown/eos token, 1 = <s>, 2.. = the characters):
//   [0,80)    identity of the current token          (token embedding)
//   [80,160)  identity of the PREVIOUS token         (written by layer 0 head 0)
//   [160,240) predicted next token                   (written by layer 1 head 0)
//   [240,244) class marker: vowel/consonant/digit/other (written by the layer-1 experts)
//   244       a constant 1 (gives heads position-only queries and keys)
// Heads (nHead 2, headDim 96: dims 0..15 rotary with base 256, so pair p turns by 2^-p per
// position; dims 16..95 are not rotated and carry the identity one-hots):
//   layer 0 head 0  PREVIOUS-TOKEN head: constant q and k whose RoPE phases line up only at
//                   offset 1; it copies the previous token's identity into [80,160).
//   layer 0 head 1  CURRENT-TOKEN head: same construction with offset 0 (display only, no output).
//   layer 1 head 0  INDUCTION head (K-composition): the query is the current token's identity, the
//                   key is the previous-token identity written by layer 0 head 0, so token X
//                   attends to whatever followed X earlier and copies it into [160,240); with no
//                   earlier X it rests on <s> (a half-strength sink score).
//   layer 1 head 1  <s> SINK head: every query attends to <s> (display only, no output).
// FFN: every layer is a 4-expert top-1 MoE (our llama path needs all layers MoE once
// expert_count is set). Layer 0's router and experts are zero (no effect). Layer 1's router sends
// vowels to expert 0, consonants to 1, digits to 2 and everything else (space, punctuation, bytes,
// <s>) to 3; expert e writes 1 into class marker 240+e.
// LM head: the logit of token t is 10 * (predicted-token one-hot at t's identity) + 1 * (class
// marker of t's class), so the model continues repeated text and otherwise slightly prefers a
// token of the current token's class. Logits follow the RMS-normalised residual.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace ll::rt::demo {

enum class CharClass { Vowel = 0, Consonant = 1, Digit = 2, Other = 3 };

inline constexpr int kPrevTokenLayer = 0, kPrevTokenHead = 0;
inline constexpr int kCurrentTokenLayer = 0, kCurrentTokenHead = 1;
inline constexpr int kInductionLayer = 1, kInductionHead = 0;
inline constexpr int kSinkLayer = 1, kSinkHead = 1;
inline constexpr int kMoeLayer = 1;
inline constexpr int kNumExperts = 4;

// The characters with their own token, in vocabulary order after the 259 special/byte tokens.
// Space is the SPM piece "▁".
extern const std::string_view kDemoChars;
inline constexpr int kFirstCharToken = 259;

// Class (= expert) of one token piece of the demo vocabulary ("a" -> Vowel, "▁" -> Other, ...).
CharClass classOfPiece(std::string_view piece);

// Writes the demo model as a GGUF file (atomic: temporary file + rename). Deterministic.
void writeDemoModel(const std::filesystem::path& path);

}  // namespace ll::rt::demo
