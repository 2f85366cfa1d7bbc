// SentencePiece-style BPE as llama.cpp's llm_tokenizer_spm: spaces become U+2581, adjacent
// symbols merge by the score of the token they form (ties: leftmost), and symbols that are not
// tokens fall back to <0xXX> byte tokens.
#include <queue>

#include "runtime/tokenizer/tokenizer_impl.h"
#include "runtime/tokenizer/unicode_text.h"

namespace ll::rt::detail {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";

class SpmTokenizer final : public BaseTokenizer {
 public:
  explicit SpmTokenizer(VocabData v) : BaseTokenizer(std::move(v)) {
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      const char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
      int32_t id = find(name);
      if (id < 0) id = find(std::string(1, char(b)));
      m_byteTok[b] = id >= 0 ? id : m_v.unk;
    }
    // When no token has U+2581 right after something else, no merge can cross the start of a
    // word, so words are merged one at a time: same result, small cache-friendly queues.
    m_wordsIndependent = true;
    for (const auto& t : m_v.tokens)
      for (size_t p = t.find(kSpace, 1); p != std::string::npos && m_wordsIndependent;
           p = t.find(kSpace, p + 1))
        if (p < 3 || t.compare(p - 3, 3, kSpace) != 0) m_wordsIndependent = false;
    finishPieces();
  }

 protected:
  void encodeText(std::string_view input, uint32_t off, uint32_t len, bool prevSpecial,
                  std::vector<TokOut>& out) const override {
    const MappedText raw = mapText(input, off, len);
    MappedText mt;
    mt.s.reserve(raw.s.size() + 8);
    mt.src.reserve(raw.s.size() + 8);
    if (m_v.addSpacePrefix && prevSpecial) mt.append(kSpace, off, off);
    for (size_t i = 0; i < raw.s.size(); ++i) {
      if (raw.s[i] == ' ')
        mt.append(kSpace, raw.src[i].first, raw.src[i].second);
      else
        mt.append(std::string_view(&raw.s[i], 1), raw.src[i].first, raw.src[i].second);
    }
    run(mt, out);
  }

 private:
  struct Sym {
    int prev, next;
    uint32_t start, n;
  };
  struct Bigram {
    float score;
    int left, right;
    uint32_t size;
  };
  struct Worse {
    bool operator()(const Bigram& l, const Bigram& r) const {
      return l.score < r.score || (l.score == r.score && l.left > r.left);
    }
  };

  void run(const MappedText& mt, std::vector<TokOut>& out) const {
    const std::string& s = mt.s;
    std::vector<Sym> syms;
    syms.reserve(s.size());
    for (size_t offs = 0; offs < s.size();) {
      const uint32_t n = uint32_t(std::min(uni::leadLength(uint8_t(s[offs])), s.size() - offs));
      const int idx = int(syms.size());
      syms.push_back({idx - 1, offs + n == s.size() ? -1 : idx + 1, uint32_t(offs), n});
      offs += n;
    }
    // Segments [a, b) of symbols that merge independently (see m_wordsIndependent).
    std::vector<int> cuts{0};
    if (m_wordsIndependent)
      for (int i = 1; i < int(syms.size()); ++i) {
        const Sym& prev = syms[i - 1];
        const bool space = syms[i].n == 3 && s.compare(syms[i].start, 3, kSpace) == 0;
        const bool prevEndsInSpace =
            prev.n >= 3 && s.compare(prev.start + prev.n - 3, 3, kSpace) == 0;
        if (space && !prevEndsInSpace) cuts.push_back(i);
      }
    cuts.push_back(int(syms.size()));
    for (size_t k = 0; k + 1 < cuts.size(); ++k) {
      const int a = cuts[k], b = cuts[k + 1];
      if (a == b) continue;
      syms[a].prev = -1;
      syms[b - 1].next = -1;
      mergeSegment(s, syms, a, b);
      emitSegment(mt, syms, a, out);
    }
  }

  void mergeSegment(const std::string& s, std::vector<Sym>& syms, int a, int b) const {
    std::priority_queue<Bigram, std::vector<Bigram>, Worse> queue;
    auto tryAdd = [&](int l, int r) {
      if (l < 0 || r < 0) return;
      const uint32_t size = syms[l].n + syms[r].n;
      const int32_t id = find(std::string_view(s).substr(syms[l].start, size));
      if (id < 0) return;
      queue.push({m_v.scores[id], l, r, size});
    };
    for (int i = a + 1; i < b; ++i) tryAdd(i - 1, i);
    while (!queue.empty()) {
      const Bigram bg = queue.top();
      queue.pop();
      Sym& l = syms[bg.left];
      Sym& r = syms[bg.right];
      if (l.n == 0 || r.n == 0 || l.n + r.n != bg.size) continue;
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) syms[r.next].prev = bg.left;
      tryAdd(l.prev, bg.left);
      tryAdd(bg.left, l.next);
    }
  }

  void emitSegment(const MappedText& mt, const std::vector<Sym>& syms, int a,
                   std::vector<TokOut>& out) const {
    const std::string& s = mt.s;
    for (int i = a; i != -1; i = syms[i].next) {
      const Sym& sym = syms[i];
      const int32_t id = find(std::string_view(s).substr(sym.start, sym.n));
      if (id >= 0) {
        out.push_back({id, mt.src[sym.start].first, mt.src[sym.start + sym.n - 1].second});
        continue;
      }
      for (uint32_t k = sym.start; k < sym.start + sym.n; ++k) {
        const int32_t bt = m_byteTok[uint8_t(s[k])];
        if (bt >= 0) out.push_back({bt, mt.src[k].first, mt.src[k].second});
      }
    }
  }

  int32_t m_byteTok[256];
  bool m_wordsIndependent = false;
};

}  // namespace

std::unique_ptr<Tokenizer> makeSpmTokenizer(VocabData v) {
  return std::make_unique<SpmTokenizer>(std::move(v));
}

}  // namespace ll::rt::detail
