// Prompt text helpers: a simple chat-template render for the common template families (the model's
// Jinja template is not executed: we recognise its family and write the single-user-turn prompt
// that family produces), and UTF-8 byte spans -> QString character positions for the overlay.
#pragma once

#include <QString>

#include <string>
#include <utility>
#include <vector>

namespace ll::ui {

// rt::chatTemplateFamily: "chatml", "llama3", "llama2", "zephyr", "gemma", "phi3", "harmony" or
// "" (unknown / none).
QString chatFamily(const std::string& chatTemplate);

struct TemplatedPrompt {
  std::string text;
  int userOffset = 0;  // byte offset of the user text inside `text`
};
// One user turn and the assistant generation prompt in that family's format (family "" returns
// the prompt unchanged).
TemplatedPrompt applyChatTemplate(const QString& family, const std::string& prompt);

// Maps byte spans of a UTF-8 text to [begin, end) UTF-16 positions in QString::fromUtf8(utf8),
// after shifting them by -byteOffset. Spans outside the text or {-1,-1} map to {-1,-1}.
std::vector<std::pair<int, int>> byteSpansToChars(const std::string& utf8, int byteOffset,
                                                  const std::vector<std::pair<int, int>>& spans);

}  // namespace ll::ui
