#include "common/base/uuid.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"

namespace crm::base {
namespace {

struct Generator {
  absl::Mutex mu;
  absl::BitGen gen ABSL_GUARDED_BY(mu);
};

}  // namespace

namespace {

std::string Format(uint8_t (&b)[16]) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xf]);
  }
  return out;
}

// FNV-1a, 64 bits, from a given basis: stable across processes and platforms.
uint64_t Fnv1a(absl::string_view data, uint64_t basis) {
  uint64_t h = basis;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::string UuidFromName(absl::string_view name) {
  const uint64_t hi = Fnv1a(name, 0xcbf29ce484222325ULL);
  const uint64_t lo = Fnv1a(name, hi ^ 0x9e3779b97f4a7c15ULL);
  uint8_t b[16];
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    b[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  b[6] = (b[6] & 0x0f) | 0x80;  // version 8
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC variant
  return Format(b);
}

std::string NewUuid() {
  static auto* g = new Generator();
  uint8_t b[16];
  {
    absl::MutexLock lock(&g->mu);
    for (auto& x : b) x = absl::Uniform<uint8_t>(g->gen);
  }
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  return Format(b);
}

bool IsUuid(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace crm::base
