// Internals of the backend op checks: guarded backend buffers, random data, NMSE comparison.
#pragma once

#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend_checks.h"

namespace lltest::ops {

// Floats of guard region on each side of every buffer, and the bit pattern they hold.
constexpr size_t kGuard = 67;
constexpr uint32_t kSentinelBits = 0x7fa5a5a5u;  // a signalling-NaN pattern no op produces

// Backend memory with kGuard sentinel floats before and after the payload. The payload starts
// as sentinels too, so an op that leaves part of its output unwritten fails the comparison.
class GuardedBuf {
 public:
  GuardedBuf(kern::Backend& b, size_t count);
  GuardedBuf(kern::Backend& b, const std::vector<float>& host);
  GuardedBuf(kern::Backend& b, const std::vector<int32_t>& host);
  GuardedBuf(kern::Backend& b, const std::vector<uint8_t>& host);
  ~GuardedBuf();
  GuardedBuf(const GuardedBuf&) = delete;
  GuardedBuf& operator=(const GuardedBuf&) = delete;

  float* f32() const { return reinterpret_cast<float*>(m_raw) + kGuard; }
  int32_t* i32() const { return reinterpret_cast<int32_t*>(f32()); }
  uint8_t* u8() const { return reinterpret_cast<uint8_t*>(f32()); }
  std::vector<float> download() const;
  // Records a failure when a guard float changed.
  void checkGuards(CheckLog& log, const std::string& what) const;

 private:
  void init(const void* payload, size_t bytes);
  kern::Backend& m_b;
  size_t m_count = 0;  // payload floats (bytes rounded up to floats)
  void* m_raw = nullptr;
};

class Rng {
 public:
  explicit Rng(uint64_t seed) : m_gen(seed) {}
  float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(m_gen); }
  int intIn(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(m_gen);
  }  // inclusive
  std::vector<float> floats(size_t n, float lo = -1.0f, float hi = 1.0f);
  std::vector<float> normals(size_t n, float sigma = 1.0f);
  std::vector<uint8_t> bytes(size_t n);
  std::mt19937_64& gen() { return m_gen; }

 private:
  std::mt19937_64 m_gen;
};

double nmse(const std::vector<float>& out, const std::vector<float>& expected);
// Records NaN/Inf in out, a size mismatch, or NMSE above bound.
void compare(CheckLog& log, const std::string& what, const std::vector<float>& out,
             const std::vector<float>& expected, double bound);

std::string backendTag(const kern::Backend& b);

// An op under test: reads the guarded inputs, writes out (backend memory).
using OpFn = std::function<void(kern::Backend&, std::vector<GuardedBuf*>&, float* out)>;

// Runs op on backend be with guarded copies of the inputs and a guarded output of outCount floats
// (initialised from init when given), checks every guard and returns the output.
std::vector<float> runOp(kern::Backend& be, CheckLog& log, const std::string& what,
                         const std::vector<std::vector<float>>& inputs, size_t outCount,
                         const std::vector<float>* init, const OpFn& op);
// Runs op on b and on ref and compares the outputs (NMSE <= bound, all finite).
void parity(kern::Backend& b, kern::Backend& ref, CheckLog& log, const std::string& what,
            const std::vector<std::vector<float>>& inputs, size_t outCount,
            const std::vector<float>* init, double bound, const OpFn& op);
// "(n=3 dim=7)" for messages.
std::string dims(std::initializer_list<std::pair<const char*, int64_t>> kv);

}  // namespace lltest::ops
