// Vocabulary index, token attributes and special-token partitioning shared by both tokenizer
// kinds, following llama.cpp's llama_vocab::load / tokenizer_st_partition / tokenize.
#include <utf8proc.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <stdexcept>

#include "runtime/tokenizer/tokenizer_impl.h"
#include "runtime/tokenizer/unicode_text.h"

namespace ll::rt {
namespace detail {

namespace {

uint32_t attrOf(TokenType t) {
  switch (t) {
    case TokenType::Unknown:
      return kAttrUnknown;
    case TokenType::Unused:
      return kAttrUnused;
    case TokenType::Normal:
      return kAttrNormal;
    case TokenType::Control:
      return kAttrControl;
    case TokenType::UserDefined:
      return kAttrUserDefined;
    case TokenType::Byte:
      return kAttrByte;
    default:
      return 0;
  }
}

// Token texts llama.cpp treats as control whatever the file says (EOT/EOM/FIM/EOG detection).
bool looksControl(const std::string& t) {
  static const char* const kNames[] = {"<|eot_id|>",
                                       "<|im_end|>",
                                       "<|end|>",
                                       "<end_of_turn>",
                                       "<|endoftext|>",
                                       "<|end_of_text|>",
                                       "<EOT>",
                                       "_<EOT>",
                                       "<｜end▁of▁sentence｜>",
                                       "<end_of_utterance>",
                                       "<|eom_id|>",
                                       "<|fim_prefix|>",
                                       "<fim-prefix>",
                                       "<fim_prefix>",
                                       "<｜fim▁begin｜>",
                                       "<PRE>",
                                       "▁<PRE>",
                                       "<|fim_suffix|>",
                                       "<fim-suffix>",
                                       "<fim_suffix>",
                                       "<｜fim▁hole｜>",
                                       "<SUF>",
                                       "▁<SUF>",
                                       "<|fim_middle|>",
                                       "<fim-middle>",
                                       "<fim_middle>",
                                       "<｜fim▁end｜>",
                                       "<MID>",
                                       "▁<MID>",
                                       "<|fim_pad|>",
                                       "<fim-pad>",
                                       "<fim_pad>",
                                       "<PAD>",
                                       "<|fim_repo|>",
                                       "<|repo_name|>",
                                       "<fim-repo>",
                                       "<REPO>",
                                       "<reponame>",
                                       "<|file_sep|>"};
  for (const char* n : kNames)
    if (t == n) return true;
  return false;
}

bool isSpaceByte(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

}  // namespace

BaseTokenizer::BaseTokenizer(VocabData v) : m_v(std::move(v)) {
  const size_t n = m_v.tokens.size();
  if (n == 0) throw std::runtime_error("tokenizer: empty vocabulary");
  if (n > size_t(INT32_MAX)) throw std::runtime_error("tokenizer: vocabulary too large");
  m_v.scores.resize(n, 0.0f);
  m_v.types.resize(n, TokenType::Normal);
  for (int32_t* id : {&m_v.bos, &m_v.eos, &m_v.unk, &m_v.pad})
    if (*id >= int32_t(n)) *id = -1;
  m_toId.reserve(n);
  m_attr.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (m_v.tokens[i].empty()) m_v.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";
    m_toId[m_v.tokens[i]] = int32_t(i);  // a repeated text resolves to its last id
    m_attr[i] = attrOf(m_v.types[i]);
  }
  for (size_t i = 0; i < n; ++i)
    if (looksControl(m_v.tokens[i]) && m_toId[m_v.tokens[i]] == int32_t(i))
      m_attr[i] |= kAttrControl;
  for (size_t i = 0; i < n; ++i)
    if (m_attr[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown))
      m_specials.push_back(int32_t(i));
  std::sort(m_specials.begin(), m_specials.end(),
            [&](int32_t a, int32_t b) { return m_v.tokens[a].size() > m_v.tokens[b].size(); });
  // llama.cpp: phi-3 special tokens swallow the whitespace after them, except these three.
  std::string name = m_v.modelName;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return char(std::tolower(static_cast<unsigned char>(c))); });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (int32_t id : m_specials) m_attr[id] |= kAttrRstrip;
    if (int32_t id = find("</s>"); id >= 0) m_attr[id] |= kAttrRstrip;
    for (const char* t : {"<unk>", "<s>", "<|endoftext|>"})
      if (int32_t id = find(t); id >= 0) m_attr[id] &= ~uint32_t(kAttrRstrip);
  }
  for (int32_t id : m_v.lstripIds)
    if (id >= 0 && size_t(id) < n) m_attr[id] |= kAttrLstrip;
  for (int32_t id : m_v.rstripIds)
    if (id >= 0 && size_t(id) < n) m_attr[id] |= kAttrRstrip;
}

std::string BaseTokenizer::piece(int32_t id) const {
  if (id < 0 || size_t(id) >= m_pieces.size()) return {};
  return m_pieces[id];
}

std::string BaseTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids)
    if (id >= 0 && size_t(id) < m_pieces.size()) out += m_pieces[id];
  return out;
}

void BaseTokenizer::finishPieces() {
  m_pieces.resize(m_v.tokens.size());
  for (size_t i = 0; i < m_pieces.size(); ++i) {
    const std::string& t = m_v.tokens[i];
    if (m_attr[i] & (kAttrControl | kAttrUnknown | kAttrUserDefined)) {
      m_pieces[i] = t;
    } else if (m_attr[i] & kAttrByte) {
      unsigned v = 0;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 &&
          std::sscanf(t.c_str() + 3, "%2x", &v) == 1)
        m_pieces[i] = std::string(1, char(v));
      else
        m_pieces[i] = t;
    } else if (m_attr[i] & kAttrNormal) {
      if (m_v.model == "gpt2") {
        // Byte-level stand-ins back to bytes; characters outside the alphabet stay as they are.
        std::string out;
        for (const auto& c : uni::decodeLenient(t)) {
          const int b = uni::unicodeToByte(c.cp);
          if (b >= 0)
            out += char(b);
          else
            out.append(t, c.begin, c.end - c.begin);
        }
        m_pieces[i] = std::move(out);
      } else {
        std::string out;
        for (size_t k = 0; k < t.size(); ++k) {
          if (t.compare(k, 3, "\xE2\x96\x81") == 0) {
            out += ' ';
            k += 2;
          } else {
            out += t[k];
          }
        }
        m_pieces[i] = std::move(out);
      }
    }
  }
}

MappedText BaseTokenizer::mapText(std::string_view input, uint32_t off, uint32_t len) const {
  MappedText mt;
  const std::string_view frag = input.substr(off, len);
  if (m_v.normalizer.empty() || !uni::isValidUtf8(frag)) {
    mt.s.assign(frag);
    mt.src.resize(len);
    for (uint32_t i = 0; i < len; ++i) mt.src[i] = {off + i, off + i + 1};
    return mt;
  }
  // Normalise runs that start at a character with combining class 0, so composition stays
  // inside a run and each run maps onto its own input bytes.
  const bool compat = m_v.normalizer == "nfkc";
  const auto cpts = uni::decodeLenient(frag);
  size_t i = 0;
  while (i < cpts.size()) {
    size_t j = i + 1;
    while (j < cpts.size() &&
           utf8proc_get_property(utf8proc_int32_t(cpts[j].cp))->combining_class != 0)
      ++j;
    const uint32_t b = cpts[i].begin, e = cpts[j - 1].end;
    const std::string run = uni::normalizeUtf8(frag.substr(b, e - b), compat);
    if (run == frag.substr(b, e - b)) {
      for (uint32_t k = b; k < e; ++k) mt.append(frag.substr(k, 1), off + k, off + k + 1);
    } else {
      mt.append(run, off + b, off + e);
    }
    i = j;
  }
  return mt;
}

Encoding BaseTokenizer::encode(std::string_view text, int addBos, bool parseSpecial) const {
  if (text.size() > size_t(UINT32_MAX) / 2) throw std::runtime_error("tokenizer: text too long");
  struct Frag {
    bool isToken;
    int32_t id;
    uint32_t off, len;  // raw text, or the token's span
  };
  std::vector<Frag> frags;
  if (!text.empty()) frags.push_back({false, -1, 0, uint32_t(text.size())});
  for (int32_t sid : m_specials) {
    const uint32_t attr = m_attr[sid];
    if (!parseSpecial && (attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string& st = m_v.tokens[sid];
    if (st.empty()) continue;
    std::vector<Frag> next;
    next.reserve(frags.size() + 2);
    bool changed = false;
    for (const Frag& f : frags) {
      if (f.isToken) {
        next.push_back(f);
        continue;
      }
      uint32_t base = f.off, left = f.len;
      while (left > 0) {
        const std::string_view view = text.substr(0, base + left);
        const size_t m = view.find(st, base);
        if (m == std::string_view::npos) break;
        changed = true;
        uint32_t tokB = uint32_t(m), tokE = uint32_t(m + st.size());
        uint32_t leftLen = uint32_t(m) - base;
        if (attr & kAttrLstrip)
          while (leftLen > 0 && isSpaceByte(text[base + leftLen - 1])) --leftLen;
        if (leftLen > 0) next.push_back({false, -1, base, leftLen});
        tokB = base + leftLen;
        uint32_t rOff = uint32_t(m + st.size()), rLen = base + left - rOff;
        if (attr & kAttrRstrip)
          while (rLen > 0 && isSpaceByte(text[rOff])) ++rOff, --rLen;
        tokE = rOff;
        next.push_back({true, sid, tokB, tokE - tokB});
        base = rOff;
        left = rLen;
      }
      if (left > 0) next.push_back({false, -1, base, left});
    }
    if (changed) frags.swap(next);
  }

  std::vector<TokOut> toks;
  toks.reserve(text.size() / 3 + 4);
  const bool addSpecial = addBos != 0;
  const bool wantBos = (addBos == 1 || (addBos < 0 && m_v.addBos)) && m_v.bos >= 0;
  if (wantBos) toks.push_back({m_v.bos, 0, 0});
  bool prevSpecial = true;
  for (const Frag& f : frags) {
    if (f.isToken) {
      toks.push_back({f.id, f.off, f.off + f.len});
      prevSpecial = true;
    } else {
      encodeText(text, f.off, f.len, prevSpecial, toks);
      prevSpecial = false;
    }
  }
  if (addSpecial && m_v.addEos && m_v.eos >= 0)
    toks.push_back({m_v.eos, uint32_t(text.size()), uint32_t(text.size())});

  Encoding enc;
  enc.ids.reserve(toks.size());
  enc.pieces.reserve(toks.size());
  enc.spans.reserve(toks.size());
  for (const TokOut& t : toks) {
    enc.ids.push_back(t.id);
    enc.pieces.push_back(piece(t.id));
    enc.spans.emplace_back(int(t.begin), int(t.end));
  }
  return enc;
}

}  // namespace detail

std::unique_ptr<Tokenizer> makeTokenizer(VocabData vocab) {
  if (vocab.model == "llama") return detail::makeSpmTokenizer(std::move(vocab));
  if (vocab.model == "gpt2") return detail::makeBpeTokenizer(std::move(vocab));
  throw std::runtime_error("unsupported tokenizer model \"" + vocab.model + "\"");
}

}  // namespace ll::rt
