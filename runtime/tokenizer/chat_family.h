// Which chat-template family a model's tokenizer.chat_template belongs to (its Jinja text is not
// executed: the family's single-user-turn format is written by the GUI, ui/prompt_text.h). One
// detection for the GUI's model in this process and for the model info a server sends.
#pragma once

#include <string>

namespace ll::rt {

// "chatml", "llama3", "llama2", "zephyr", "gemma", "phi3", "harmony" or "" (none / unknown).
std::string chatTemplateFamily(const std::string& chatTemplate);
// Whether family is one of those names (not "").
bool knownChatFamily(const std::string& family);

}  // namespace ll::rt
