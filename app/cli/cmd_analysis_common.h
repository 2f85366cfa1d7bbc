// Options shared by the analysis subcommands (lens, select, steer-vector, routing, knockout): the
// model and the prompt given as `run` takes them (--text or --ids, --bos/--no-bos, backend,
// threads), and small output helpers.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli_session.h"
#include "command.h"
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::cli::ana {

struct ModelPrompt {
  std::string model, text, ids, backend = "cpu", cpuMath;
  int threads = 0;
  bool bos = false, noBos = false;
};

inline void addModelPrompt(CLI::App& sub, ModelPrompt& mp) {
  sub.add_option("model", mp.model, "model file or folder")->required();
  auto* text = sub.add_option("--text", mp.text, "prompt text");
  auto* ids = sub.add_option("--ids", mp.ids, "prompt token ids, comma separated");
  text->excludes(ids);
  sub.add_option("--threads", mp.threads, "CPU threads (default: all)");
  sub.add_option("--backend", mp.backend, "cpu or cuda");
  addCpuMathOption(sub, mp.cpuMath);
  auto* b = sub.add_flag("--bos", mp.bos, "add BOS");
  auto* nb = sub.add_flag("--no-bos", mp.noBos, "do not add BOS");
  b->excludes(nb);
}

inline std::vector<int32_t> parseIdList(const std::string& s, const char* flag) {
  std::vector<int32_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long v = 0;
    try {
      v = std::stol(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < INT32_MIN || v > INT32_MAX)
      throw std::invalid_argument(std::string(flag) + ": '" + item + "' is not a token id");
    out.push_back(static_cast<int32_t>(v));
  }
  return out;
}

// Loads the model; sets the prompt when one was given (required unless allowNoPrompt).
inline std::unique_ptr<rt::Session> openSession(const ModelPrompt& mp, bool allowNoPrompt = false) {
  auto s = std::make_unique<rt::Session>();
  s->load(mp.model, rt::parseBackend(mp.backend, mp.threads, mp.cpuMath));
  if (!mp.ids.empty())
    s->setPromptIds(parseIdList(mp.ids, "--ids"));
  else if (!mp.text.empty())
    s->setPrompt(mp.text, mp.bos ? 1 : (mp.noBos ? 0 : -1));
  else if (!allowNoPrompt)
    throw std::invalid_argument("give --text or --ids");
  return s;
}

// openSession's counterpart for the remote-capable commands: here or on target's server.
inline std::unique_ptr<CliSession> openPrompted(const ModelPrompt& mp, const ServerTarget& target,
                                                bool allowNoPrompt = false) {
  auto s = openCliSession(mp.model, mp.backend, mp.threads, target, mp.cpuMath);
  if (!mp.ids.empty())
    s->setPromptIds(parseIdList(mp.ids, "--ids"));
  else if (!mp.text.empty())
    s->setPrompt(mp.text, mp.bos ? 1 : (mp.noBos ? 0 : -1));
  else if (!allowNoPrompt)
    throw std::invalid_argument("give --text or --ids");
  return s;
}

inline std::string pieceOf(const rt::Session& s, int32_t id) {
  const auto& m = s.model();
  return m.tokenizer ? m.tokenizer->piece(id) : std::to_string(id);
}

inline std::string textOf(const rt::Session& s, const std::vector<int32_t>& ids) {
  std::string t;
  for (int32_t id : ids) t += pieceOf(s, id);
  return t;
}

inline void printJson(const nlohmann::json& j) {
  std::printf("%s\n", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

// Writes the JSON document `produce` builds to path (--out). The file is opened first, so a bad
// path fails before the analysis runs, and removed on any failure: no empty or partial file is
// left behind.
inline void writeJsonOut(const std::string& path, const std::function<nlohmann::json()>& produce) {
  std::ofstream f(path);
  if (!f) throw std::runtime_error("cannot write " + path);
  try {
    f << produce().dump(1) << "\n";
    f.close();
    if (!f) throw std::runtime_error("cannot write " + path);
  } catch (...) {
    f.close();
    std::filesystem::remove(path);
    throw;
  }
}

// writeJsonOut for a document that is already text (written as is, then a newline): the same
// bytes whether it was built here or on a server.
inline void writeTextOut(const std::string& path, const std::function<std::string()>& produce) {
  std::ofstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot write " + path);
  try {
    f << produce() << "\n";
    f.close();
    if (!f) throw std::runtime_error("cannot write " + path);
  } catch (...) {
    f.close();
    std::filesystem::remove(path);
    throw;
  }
}

// One prompt per non-empty line.
inline std::vector<std::string> readLines(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  if (out.empty()) throw std::runtime_error(path + ": no prompts (one per line)");
  return out;
}

}  // namespace ll::cli::ana
