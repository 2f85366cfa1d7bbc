// Typed, bounds-checked readers of a model's hyperparameters: GGUF "<arch>.<key>" metadata and
// Hugging Face config.json fields. Both throw FormatError naming the file and the key.
#pragma once

#include <climits>
#include <cmath>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/formats/gguf.h"
#include "runtime/formats/mapped_file.h"

namespace ll::rt {

class GgufSpecReader {
 public:
  GgufSpecReader(const GgufFile& f, std::string arch) : m_f(f), m_arch(std::move(arch)) {}
  const GgufFile& file() const { return m_f; }
  std::string key(const char* suffix) const { return m_arch + "." + suffix; }
  [[noreturn]] void fail(const std::string& what) const { throw FormatError(m_f.path(), what); }

  std::optional<int> optInt(const char* suffix) const {
    const std::string k = key(suffix);
    const GgufValue* v = m_f.find(k);
    if (!v) return std::nullopt;
    auto i = v->asInt();
    if (!i) fail("metadata key '" + k + "' is not an integer");
    if (*i < 0 || *i > INT_MAX)
      fail("metadata key '" + k + "' is out of range: " + std::to_string(*i));
    return static_cast<int>(*i);
  }
  int reqInt(const char* suffix) const {
    auto v = optInt(suffix);
    if (!v) fail("missing metadata key '" + key(suffix) + "'");
    return *v;
  }
  std::optional<double> optFloat(const char* suffix) const {
    const std::string k = key(suffix);
    const GgufValue* v = m_f.find(k);
    if (!v) return std::nullopt;
    auto x = v->asFloat();
    if (!x || !std::isfinite(*x)) fail("metadata key '" + k + "' is not a finite number");
    return *x;
  }
  std::optional<std::string> optString(const char* suffix) const {
    return m_f.getString(key(suffix));
  }

 private:
  const GgufFile& m_f;
  std::string m_arch;
};

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& j, const std::filesystem::path& p) : m_j(j), m_p(p) {}
  [[noreturn]] void fail(const std::string& what) const { throw FormatError(m_p, what); }
  bool has(const char* k) const { return m_j.contains(k) && !m_j[k].is_null(); }
  std::optional<int> optInt(const char* k) const {
    if (!has(k)) return std::nullopt;
    const nlohmann::json& v = m_j[k];
    if (!v.is_number_integer()) fail(std::string("'") + k + "' is not an integer");
    const int64_t i = v.get<int64_t>();
    if (i < 0 || i > INT_MAX)
      fail(std::string("'") + k + "' is out of range: " + std::to_string(i));
    return int(i);
  }
  int reqInt(const char* k) const {
    auto v = optInt(k);
    if (!v) fail(std::string("config.json lacks '") + k + "'");
    return *v;
  }
  std::optional<double> optFloat(const char* k) const {
    if (!has(k)) return std::nullopt;
    if (!m_j[k].is_number()) fail(std::string("'") + k + "' is not a number");
    const double d = m_j[k].get<double>();
    if (!std::isfinite(d)) fail(std::string("'") + k + "' is not finite");
    return d;
  }
  std::optional<bool> optBool(const char* k) const {
    if (!has(k)) return std::nullopt;
    if (!m_j[k].is_boolean()) fail(std::string("'") + k + "' is not a boolean");
    return m_j[k].get<bool>();
  }
  const nlohmann::json& raw() const { return m_j; }

 private:
  const nlohmann::json& m_j;
  const std::filesystem::path& m_p;
};

}  // namespace ll::rt
