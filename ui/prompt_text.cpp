#include "ui/prompt_text.h"

#include "runtime/tokenizer/chat_family.h"

#include <algorithm>

namespace ll::ui {

QString chatFamily(const std::string& t) {
  return QString::fromStdString(rt::chatTemplateFamily(t));
}

TemplatedPrompt applyChatTemplate(const QString& family, const std::string& prompt) {
  std::string pre, post;
  if (family == QLatin1String("chatml")) {
    pre = "<|im_start|>user\n";
    post = "<|im_end|>\n<|im_start|>assistant\n";
  } else if (family == QLatin1String("llama3")) {
    pre = "<|start_header_id|>user<|end_header_id|>\n\n";
    post = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
  } else if (family == QLatin1String("llama2")) {
    pre = "[INST] ";
    post = " [/INST]";
  } else if (family == QLatin1String("zephyr")) {
    pre = "<|user|>\n";
    post = "</s>\n<|assistant|>\n";
  } else if (family == QLatin1String("phi3")) {
    pre = "<|user|>\n";
    post = "<|end|>\n<|assistant|>\n";
  } else if (family == QLatin1String("harmony")) {
    pre = "<|start|>user<|message|>";
    post = "<|end|><|start|>assistant";
  } else if (family == QLatin1String("gemma")) {
    pre = "<start_of_turn>user\n";
    post = "<end_of_turn>\n<start_of_turn>model\n";
  }
  return {pre + prompt + post, static_cast<int>(pre.size())};
}

std::vector<std::pair<int, int>> byteSpansToChars(const std::string& utf8, int byteOffset,
                                                  const std::vector<std::pair<int, int>>& spans) {
  // byteToChar[b] = UTF-16 index of the character starting at or containing byte b.
  const int n = static_cast<int>(utf8.size());
  std::vector<int> byteToChar(static_cast<size_t>(n) + 1, 0);
  int ch = 0;
  for (int b = 0; b < n;) {
    const unsigned char c = static_cast<unsigned char>(utf8[b]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (b + len > n) len = 1;
    for (int i = 0; i < len; ++i) byteToChar[b + i] = ch;
    ch += len == 4 ? 2 : 1;  // astral characters take two UTF-16 units
    b += len;
  }
  byteToChar[n] = ch;
  std::vector<std::pair<int, int>> out;
  out.reserve(spans.size());
  for (auto [b, e] : spans) {
    b -= byteOffset;
    e -= byteOffset;
    if (b < 0 && e > 0) b = 0;
    if (e > n && b < n) e = n;
    if (b < 0 || e < b || e > n || (b == e && spans.size() > 1 && b == n)) {
      out.emplace_back(-1, -1);
      continue;
    }
    out.emplace_back(byteToChar[b], byteToChar[e]);
  }
  return out;
}

}  // namespace ll::ui
