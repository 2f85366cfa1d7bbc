// Regex pre-tokenization with PCRE2 (JIT), reproducing llama.cpp's unicode_regex_split.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "runtime/tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <stdexcept>

namespace ll::rt {

namespace {

const char* const kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const char* const kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// GPT-4o's o200k split (gpt-oss, Phi-4-mini) in llama.cpp's form: the case classes of the
// tokenizer.json regex written with look-aheads so they run on the collapsed text.
const char* const kGpt4o =
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+"
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|"
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*"
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// The character-class stand-ins of llama.cpp's collapsed text.
constexpr char kCollapsedOther = char(0xD0), kCollapsedNumber = char(0xD1),
               kCollapsedLetter = char(0xD2), kCollapsedPunct = char(0xD3),
               kCollapsedSpace = char(0x0B);

bool usesCategories(const std::string& re) {
  return re.find("\\p{N}") != std::string::npos || re.find("\\p{L}") != std::string::npos ||
         re.find("\\p{P}") != std::string::npos;
}

// llama.cpp's rewrite of \p{X} into "[<stand-in><ASCII members>]".
std::string collapseRegex(const std::string& re) {
  for (unsigned char c : re)
    if (c >= 0x80)
      throw std::runtime_error("regex mixes unicode categories and non-ASCII characters: " + re);
  std::string out;
  bool inside = false;
  for (size_t i = 0; i < re.size(); ++i) {
    if (re[i] == '[' && (i == 0 || re[i - 1] != '\\')) {
      out += '[';
      inside = true;
      continue;
    }
    if (inside && re[i] == ']' && re[i - 1] != '\\') {
      out += ']';
      inside = false;
      continue;
    }
    if (re[i] == '\\' && i + 4 < re.size() && re[i + 1] == 'p' && re[i + 2] == '{' &&
        re[i + 4] == '}') {
      const char cat = re[i + 3];
      const char* members = nullptr;
      char standIn = 0;
      if (cat == 'N') {
        standIn = kCollapsedNumber;
        members = "0-9";
      } else if (cat == 'L') {
        standIn = kCollapsedLetter;
        members = "A-Za-z";
      } else if (cat == 'P') {
        standIn = kCollapsedPunct;
        members = "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}";
      }
      if (members) {
        if (!inside) out += '[';
        out += standIn;
        out += members;
        if (!inside) out += ']';
        i += 4;
        continue;
      }
    }
    out += re[i];
  }
  return out;
}

}  // namespace

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  bool collapsed = false;  // runs on the one-byte-per-character class text
  bool ucp = false;        // HF regex: Unicode semantics, text as is
  ~Compiled() {
    if (code) pcre2_code_free(code);
  }
};

PreTokenizer::PreTokenizer(std::vector<std::string> regexes, Mode mode) {
  for (const auto& re : regexes) {
    auto c = std::make_unique<Compiled>();
    std::string pattern = re;
    uint32_t opts = PCRE2_DOLLAR_ENDONLY;
    if (mode == Mode::LlamaCpp && usesCategories(re)) {
      c->collapsed = true;
      pattern = collapseRegex(re);
    } else {
      opts |= PCRE2_UTF | PCRE2_NO_UTF_CHECK;
      if (mode == Mode::Ucp) opts |= PCRE2_UCP;
      c->ucp = mode == Mode::Ucp;
    }
    int err = 0;
    PCRE2_SIZE errOff = 0;
    c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), opts,
                            &err, &errOff, nullptr);
    if (!c->code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      throw std::runtime_error("bad pre-tokenizer regex '" + re +
                               "': " + reinterpret_cast<const char*>(msg));
    }
    pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
    m_regexes.push_back(std::move(c));
  }
}

PreTokenizer::~PreTokenizer() = default;

std::vector<size_t> PreTokenizer::split(const std::vector<uni::Cpt>& cpts) const {
  const size_t n = cpts.size();
  std::vector<size_t> offsets;
  if (n == 0) return offsets;
  offsets.push_back(n);

  std::string collapsed, wide;
  std::vector<size_t> wideAt;     // codepoint -> byte offset in `wide` (n + 1 entries)
  std::vector<uint32_t> wideCpt;  // byte offset -> codepoint index (valid at boundaries)
  auto buildCollapsed = [&] {
    collapsed.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const uint32_t cp = cpts[i].cp;
      if (cp < 128) {
        collapsed[i] = char(cp);
        continue;
      }
      switch (uni::classify(cp)) {
        case uni::CharClass::Space:
          collapsed[i] = kCollapsedSpace;
          break;
        case uni::CharClass::Letter:
          collapsed[i] = kCollapsedLetter;
          break;
        case uni::CharClass::Number:
          collapsed[i] = kCollapsedNumber;
          break;
        case uni::CharClass::Punct:
          collapsed[i] = kCollapsedPunct;
          break;
        default:
          collapsed[i] = kCollapsedOther;
          break;
      }
    }
  };
  auto buildWide = [&](bool keepSpaces) {
    wide.clear();
    wideAt.assign(n + 1, 0);
    for (size_t i = 0; i < n; ++i) {
      wideAt[i] = wide.size();
      uint32_t cp = cpts[i].cp;
      // llama.cpp's wregex path sees non-ASCII whitespace as \v; surrogates cannot be UTF-8.
      if (!keepSpaces && cp > 0x7F && uni::classify(cp) == uni::CharClass::Space) cp = 0x0B;
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFF;
      uni::appendUtf8(wide, cp);
    }
    wideAt[n] = wide.size();
    wideCpt.assign(wide.size() + 1, 0);
    for (size_t i = 0; i <= n; ++i) wideCpt[wideAt[i]] = uint32_t(i);
  };

  // Long runs (a 1 MB word) need more than JIT's default 32 KB stack; the interpreter is the
  // fallback, and a regex that still fails is an error rather than a silently different split.
  pcre2_match_data* md = pcre2_match_data_create(4, nullptr);
  pcre2_match_context* mctx = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* jit = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr);
  if (jit) pcre2_jit_stack_assign(mctx, nullptr, jit);
  struct Cleanup {
    pcre2_match_data* md;
    pcre2_match_context* mctx;
    pcre2_jit_stack* jit;
    ~Cleanup() {
      pcre2_match_data_free(md);
      pcre2_match_context_free(mctx);
      if (jit) pcre2_jit_stack_free(jit);
    }
  } cleanup{md, mctx, jit};
  for (const auto& rx : m_regexes) {
    if (rx->collapsed) {
      if (collapsed.empty()) buildCollapsed();
    } else if (wideAt.empty()) {
      buildWide(rx->ucp);
    }
    std::vector<size_t> next;
    next.reserve(offsets.size() * 2);
    size_t start = 0;  // in codepoints
    for (size_t len : offsets) {
      // Unit offsets: bytes of the subject string used for this regex.
      const char* base;
      size_t ubegin, uend;
      if (rx->collapsed) {
        base = collapsed.data();
        ubegin = start;
        uend = start + len;
      } else {
        base = wide.data();
        ubegin = wideAt[start];
        uend = wideAt[start + len];
      }
      auto toCpt = [&](size_t unit) -> size_t { return rx->collapsed ? unit : wideCpt[unit]; };
      const auto* subj = reinterpret_cast<PCRE2_SPTR>(base + ubegin);
      const size_t subjLen = uend - ubegin;
      size_t pos = 0, prevEnd = 0;
      while (pos < subjLen) {
        int rc = pcre2_match(rx->code, subj, subjLen, pos, PCRE2_NO_UTF_CHECK, md, mctx);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
          rc = pcre2_match(rx->code, subj, subjLen, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                           mctx);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
          PCRE2_UCHAR msg[256];
          pcre2_get_error_message(rc, msg, sizeof msg);
          throw std::runtime_error(std::string("pre-tokenizer regex failed: ") +
                                   reinterpret_cast<const char*>(msg));
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t mb = ov[0], me = ov[1];
        if (me == mb) {  // empty match: step one character
          pos = mb + 1;
          while (!rx->collapsed && pos < subjLen && (uint8_t(subj[pos]) & 0xC0) == 0x80) ++pos;
          continue;
        }
        const size_t cb = toCpt(ubegin + mb) - start, ce = toCpt(ubegin + me) - start;
        if (cb > prevEnd) next.push_back(cb - prevEnd);
        next.push_back(ce - cb);
        prevEnd = ce;
        pos = me;
      }
      if (prevEnd < len) next.push_back(len - prevEnd);
      start += len;
    }
    offsets.swap(next);
  }
  return offsets;
}

std::vector<std::string> PreTokenizer::regexesFor(const std::string& pre) {
  if (pre.empty() || pre == "default")
    return {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"};
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" ||
      pre == "dbrx" || pre == "smaug-bpe" || pre == "chatglm-bpe" || pre == "glm4")
    return {kLlama3};
  if (pre == "deepseek-llm")
    return {
        "[\r\n]",
        "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-"
        "Ᏽᏸ-"
        "ᏽᲐ-"
        "ᲺᲽ-"
        "Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-"
        "ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\\x{1F7D}ᾀ-ᾴᾶ-ᾼ\\x{1FBE}ῂ-ῄῆ-ῌῐ-\\x{1FD3}ῖ-\\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-"
        "ℝℤ\\x{2126}ℨ\\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭ"
        "Ꚁ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-"
        "𐲲𐳀-"
        "𐳲𑢠-"
        "𑣟𞤀-"
        "𞥃]+",
        "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
        "\\s+$",
        "[一-龥ࠀ-一가-퟿]+",
        "\\p{N}+",
    };
  if (pre == "deepseek-coder")
    return {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"};
  if (pre == "falcon") return {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"};
  if (pre == "starcoder" || pre == "refact" || pre == "command-r" || pre == "smollm" ||
      pre == "codeshell" || pre == "exaone" || pre == "minerva-7b")
    return {"\\p{N}", kGpt2};
  if (pre == "gpt-2" || pre == "gpt2" || pre == "mpt" || pre == "olmo" || pre == "jais" ||
      pre == "phi-2" || pre == "jina-es" || pre == "jina-de" || pre == "gigachat" ||
      pre == "jina-v1-en" || pre == "jina-v2-es" || pre == "jina-v2-de" || pre == "jina-v2-code" ||
      pre == "roberta-bpe" || pre == "gpt-neox")
    return {kGpt2};
  if (pre == "qwen2" || pre == "stablelm2" || pre == "deepseek-r1-qwen" || pre == "megrez")
    return {kQwen2};
  if (pre == "gpt-4o" || pre == "minimax-m2") return {kGpt4o};
  if (pre == "poro-chat" || pre == "bloom" || pre == "gpt3-finnish")
    return {" ?[^(\\s|.,!?…。，、।۔،)]+"};
  throw std::runtime_error("unknown pre-tokenizer \"" + pre + "\"");
}

}  // namespace ll::rt
