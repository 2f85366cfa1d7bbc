// Byte-level BPE as llama.cpp's llm_tokenizer_bpe: invalid UTF-8 becomes U+FFFD, the regex
// pre-tokenizer splits words, each word's bytes map to the GPT-2 alphabet and adjacent symbols
// merge by merge rank (ties: leftmost). A final symbol that is not a token falls back to the
// single-byte tokens of its bytes, and bytes without one are dropped, as llama.cpp does.
#include <algorithm>
#include <functional>
#include <stdexcept>

#include "runtime/tokenizer/tokenizer_impl.h"
#include "runtime/tokenizer/unicode_text.h"

namespace ll::rt::detail {

namespace {

// Open-addressing map from a token-id pair to its merge: one probe sequence in a flat array
// instead of node chasing, since merge lookups dominate BPE time.
class PairMap {
 public:
  struct Merge {
    int32_t rank;
    int32_t merged;  // id of the joined text, -1 when it is not a token
  };
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    m_keys.assign(cap, kEmpty);
    m_vals.assign(cap, Merge{-1, -1});
    m_mask = cap - 1;
  }
  // Keeps the first value stored for a key (the lowest merge rank).
  void insert(uint64_t key, Merge m) {
    for (size_t i = slot(key);; i = (i + 1) & m_mask) {
      if (m_keys[i] == key) return;
      if (m_keys[i] == kEmpty) {
        m_keys[i] = key;
        m_vals[i] = m;
        return;
      }
    }
  }
  const Merge* find(uint64_t key) const {
    for (size_t i = slot(key);; i = (i + 1) & m_mask) {
      if (m_keys[i] == key) return &m_vals[i];
      if (m_keys[i] == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);
  size_t slot(uint64_t key) const { return size_t((key * 0x9E3779B97F4A7C15ull) >> 20) & m_mask; }
  std::vector<uint64_t> m_keys;
  std::vector<Merge> m_vals;
  size_t m_mask = 0;
};

class BpeTokenizer final : public BaseTokenizer {
 public:
  explicit BpeTokenizer(VocabData v)
      : BaseTokenizer(std::move(v)),
        m_pre(m_v.preRegexes.empty() ? PreTokenizer::regexesFor(m_v.pre) : m_v.preRegexes,
              m_v.preRegexes.empty() ? PreTokenizer::Mode::LlamaCpp : PreTokenizer::Mode::Ucp) {
    const std::string& pre = m_v.pre;
    m_ignoreMerges = m_v.ignoreMerges || pre == "llama3" || pre == "llama-v3" ||
                     pre == "llama-bpe" || pre == "falcon3";
    m_rank.reserve(m_v.merges.size());
    for (size_t i = 0; i < m_v.merges.size(); ++i) {
      const std::string& m = m_v.merges[i];
      const size_t sp = m.find(' ', 1);
      if (sp == std::string::npos) continue;  // llama.cpp keeps it as ("", ""), never matched
      const std::string_view a = std::string_view(m).substr(0, sp);
      const std::string_view b = std::string_view(m).substr(sp + 1);
      const int32_t ia = find(a), ib = find(b);
      if (ia >= 0 && ib >= 0) {
        const std::string joined = std::string(a) + std::string(b);
        m_rank.insert(key(ia, ib), Merge{int32_t(i), find(joined)});  // first rank wins
      } else {
        m_rankStr.emplace(m, int32_t(i));
      }
    }
    for (int b = 0; b < 256; ++b) m_unitTok[b] = find(uni::byteToUnicode(uint8_t(b)));
    finishPieces();
  }

 protected:
  void encodeText(std::string_view input, uint32_t off, uint32_t len, bool,
                  std::vector<TokOut>& out) const override {
    MappedText mt = mapText(input, off, len);
    if (m_v.addSpacePrefix && (mt.s.empty() || mt.s[0] != ' ')) {
      // HF ByteLevel add_prefix_space: a zero-length space before each piece of text.
      mt.s.insert(mt.s.begin(), ' ');
      mt.src.insert(mt.src.begin(), {off, off});
    }
    const auto cpts = uni::decodeLenient(mt.s);
    const auto words = m_pre.split(cpts);
    Work w;
    size_t c = 0;
    for (size_t wl : words) {
      buildWord(cpts, mt, c, c + wl, w);
      c += wl;
      runWord(w, out);
    }
  }

 private:
  using Merge = PairMap::Merge;
  struct Unit {           // one byte of the word, as its GPT-2 stand-in character
    uint32_t mb, me;      // bytes of the stand-in in the word string
    uint32_t srcB, srcE;  // input bytes
    uint8_t byte;
  };
  struct Sym {
    int prev, next;
    uint32_t u0, u1;  // units [u0, u1)
    int32_t id;
  };
  struct Work {
    std::string word;
    std::vector<Unit> units;
    std::vector<Sym> syms;
    std::vector<uint64_t> heap;
  };

  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

  void buildWord(const std::vector<uni::Cpt>& cpts, const MappedText& mt, size_t c0, size_t c1,
                 Work& w) const {
    w.word.clear();
    w.units.clear();
    std::string utf8;
    for (size_t i = c0; i < c1; ++i) {
      const auto& cp = cpts[i];
      utf8.clear();
      uni::appendUtf8(utf8, cp.cp);
      // A character kept as is maps byte for byte; a replaced one maps as a whole.
      const bool exact = utf8.size() == cp.end - cp.begin;
      for (size_t k = 0; k < utf8.size(); ++k) {
        const std::string& stand = uni::byteToUnicode(uint8_t(utf8[k]));
        Unit u;
        u.byte = uint8_t(utf8[k]);
        u.mb = uint32_t(w.word.size());
        w.word += stand;
        u.me = uint32_t(w.word.size());
        if (exact) {
          u.srcB = mt.src[cp.begin + k].first;
          u.srcE = mt.src[cp.begin + k].second;
        } else {
          u.srcE = mt.src[cp.end - 1].second;
          u.srcB = k == 0 ? mt.src[cp.begin].first : u.srcE;
        }
        w.units.push_back(u);
      }
    }
  }

  std::string_view symText(const Work& w, const Sym& s) const {
    return std::string_view(w.word).substr(w.units[s.u0].mb,
                                           w.units[s.u1 - 1].me - w.units[s.u0].mb);
  }

  void runWord(Work& w, std::vector<TokOut>& out) const {
    if (w.units.empty()) return;
    auto emit = [&](int32_t id, uint32_t u0, uint32_t u1) {
      out.push_back({id, w.units[u0].srcB, w.units[u1 - 1].srcE});
    };
    const uint32_t nu = uint32_t(w.units.size());
    if (m_ignoreMerges) {
      if (const int32_t id = find(w.word); id >= 0) {
        emit(id, 0, nu);
        return;
      }
    }
    w.syms.clear();
    for (uint32_t i = 0; i < nu; ++i)
      w.syms.push_back(
          {int(i) - 1, i + 1 == nu ? -1 : int(i) + 1, i, i + 1, m_unitTok[w.units[i].byte]});
    // Heap of (rank << 32 | left): lowest rank first, then leftmost. An entry is current when the
    // pair now starting at `left` still has that rank; a stale entry whose position now holds the
    // same pair stands for the identical merge, so this matches llama.cpp's text check.
    std::string tmp;
    auto rankOf = [&](int l, int r) -> int32_t {
      const Sym& a = w.syms[l];
      const Sym& b = w.syms[r];
      if (a.id >= 0 && b.id >= 0) {
        if (const Merge* m = m_rank.find(key(a.id, b.id))) return m->rank;
      }
      if (m_rankStr.empty()) return -1;
      tmp.assign(symText(w, a));
      tmp += ' ';
      tmp.append(symText(w, b));
      auto it = m_rankStr.find(tmp);
      return it == m_rankStr.end() ? -1 : it->second;
    };
    auto& heap = w.heap;
    heap.clear();
    const auto later = std::greater<uint64_t>();
    auto tryAdd = [&](int l, int r) {
      if (l < 0 || r < 0) return;
      const int32_t rank = rankOf(l, r);
      if (rank < 0) return;
      heap.push_back((uint64_t(uint32_t(rank)) << 32) | uint32_t(l));
      std::push_heap(heap.begin(), heap.end(), later);
    };
    for (int i = 1; i < int(w.syms.size()); ++i) tryAdd(i - 1, i);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), later);
      const uint64_t top = heap.back();
      heap.pop_back();
      const int left = int(uint32_t(top));
      const int32_t rank = int32_t(top >> 32);
      Sym& l = w.syms[left];
      if (l.u1 == l.u0 || l.next < 0) continue;
      const int right = l.next;
      if (rankOf(left, right) != rank) continue;
      Sym& r = w.syms[right];
      int32_t merged = -1;
      if (l.id >= 0 && r.id >= 0) {
        if (const Merge* m = m_rank.find(key(l.id, r.id))) merged = m->merged;
      }
      l.u1 = r.u1;
      r.u0 = r.u1;
      if (merged < 0) merged = find(symText(w, l));
      l.id = merged;
      l.next = r.next;
      if (r.next >= 0) w.syms[r.next].prev = left;
      tryAdd(l.prev, left);
      tryAdd(left, l.next);
    }
    for (int i = 0; i != -1; i = w.syms[i].next) {
      const Sym& s = w.syms[i];
      if (s.u1 == s.u0) continue;
      if (s.id >= 0) {
        emit(s.id, s.u0, s.u1);
        continue;
      }
      // Not a token: try each byte of the stand-in text on its own (only ASCII stand-ins can hit).
      for (uint32_t u = s.u0; u < s.u1; ++u)
        for (uint32_t k = w.units[u].mb; k < w.units[u].me; ++k)
          if (const int32_t id = find(std::string_view(w.word).substr(k, 1)); id >= 0)
            emit(id, u, u + 1);
    }
  }

  PreTokenizer m_pre;
  bool m_ignoreMerges = false;
  PairMap m_rank;
  int32_t m_unitTok[256];  // token of each byte's stand-in character
  std::unordered_map<std::string, int32_t, SvHash, std::equal_to<>> m_rankStr;
};

}  // namespace

std::unique_ptr<Tokenizer> makeBpeTokenizer(VocabData v) {
  return std::make_unique<BpeTokenizer>(std::move(v));
}

}  // namespace ll::rt::detail
