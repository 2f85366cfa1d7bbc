// The checked reader of a named analysis's JSON request (analysis_call.h): each field's type and
// range, array lengths, and unknown fields, refused with std::invalid_argument naming the field.
#pragma once

#include <climits>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace ll::rt::ana {

// Reads the fields of one request object; every field is optional (absent: the request type's
// default) and finish() refuses any field no reader asked for, so a typo is an error, not ignored.
class Fields {
 public:
  Fields(const char* analysis, const nlohmann::json& j) : m_analysis(analysis), m_j(j) {
    if (!j.is_object()) throw std::invalid_argument(prefix() + "the request must be a JSON object");
  }
  void get(const char* key, int& out, long long lo = INT_MIN, long long hi = INT_MAX) {
    const auto* v = find(key);
    if (v) out = static_cast<int>(integer(key, *v, lo, hi));
  }
  void get(const char* key, uint64_t& out) {
    const auto* v = find(key);
    if (!v) return;
    if (!v->is_number_unsigned()) bad(key, "an integer >= 0");
    out = v->get<uint64_t>();
  }
  void get(const char* key, double& out) {
    const auto* v = find(key);
    if (v) out = number(key, *v);
  }
  void get(const char* key, float& out) {
    const auto* v = find(key);
    if (v) out = toFloat(key, number(key, *v));
  }
  void get(const char* key, bool& out) {
    const auto* v = find(key);
    if (!v) return;
    if (!v->is_boolean()) bad(key, "true or false");
    out = v->get<bool>();
  }
  void get(const char* key, std::string& out) {
    const auto* v = find(key);
    if (!v) return;
    if (!v->is_string()) bad(key, "a string");
    out = v->get<std::string>();
  }
  // Arrays: at most maxCount elements, each checked as the scalar reader checks one.
  void get(const char* key, std::vector<int32_t>& out, size_t maxCount) {
    const auto* v = array(key, maxCount);
    if (!v) return;
    out.clear();
    for (const auto& x : *v)
      out.push_back(static_cast<int32_t>(integer(key, x, INT32_MIN, INT32_MAX)));
  }
  void get(const char* key, std::vector<float>& out, size_t maxCount) {
    const auto* v = array(key, maxCount);
    if (!v) return;
    out.clear();
    for (const auto& x : *v) out.push_back(toFloat(key, number(key, x)));
  }
  void get(const char* key, std::vector<std::string>& out, size_t maxCount) {
    const auto* v = array(key, maxCount);
    if (!v) return;
    out.clear();
    for (const auto& x : *v) {
      if (!x.is_string()) bad(key, "an array of strings");
      out.push_back(x.get<std::string>());
    }
  }
  void finish() const {
    for (const auto& [k, v] : m_j.items())
      if (!m_used.count(k)) throw std::invalid_argument(prefix() + "unknown field '" + k + "'");
  }

 private:
  std::string prefix() const { return std::string(m_analysis) + ": "; }
  const nlohmann::json* find(const char* key) {
    m_used.insert(key);
    auto it = m_j.find(key);
    return it == m_j.end() ? nullptr : &*it;
  }
  const nlohmann::json* array(const char* key, size_t maxCount) {
    const auto* v = find(key);
    if (!v) return nullptr;
    if (!v->is_array()) bad(key, "an array");
    if (v->size() > maxCount)
      throw std::invalid_argument(prefix() + "field '" + key + "' has " +
                                  std::to_string(v->size()) + " elements, at most " +
                                  std::to_string(maxCount));
    return v;
  }
  long long integer(const char* key, const nlohmann::json& v, long long lo, long long hi) const {
    if (!v.is_number_integer()) bad(key, "an integer");
    const long long x = v.is_number_unsigned() && v.get<unsigned long long>() > LLONG_MAX
                            ? LLONG_MAX
                            : v.get<long long>();
    if (x < lo || x > hi)
      throw std::invalid_argument(prefix() + "field '" + key + "' " + std::to_string(x) +
                                  " is out of range (" + std::to_string(lo) + ".." +
                                  std::to_string(hi) + ")");
    return x;
  }
  double number(const char* key, const nlohmann::json& v) const {
    if (!v.is_number()) bad(key, "a number");
    return v.get<double>();
  }
  // A double that a float holds (JSON has no NaN; a value past float's range would become inf).
  float toFloat(const char* key, double x) const {
    if (!std::isfinite(x) || std::fabs(x) > 3.0e38) bad(key, "a finite float");
    return static_cast<float>(x);
  }
  [[noreturn]] void bad(const char* key, const char* what) const {
    throw std::invalid_argument(prefix() + "field '" + key + "' must be " + what);
  }
  const char* m_analysis;
  const nlohmann::json& m_j;
  std::set<std::string> m_used;
};

}  // namespace ll::rt::ana
