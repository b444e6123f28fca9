// Little-endian fixed-width integers and length-prefixed byte strings, for the few binary values
// the CRM stores itself (the embedded log's records, the fold runner's dead letters), as
// leveldb's util/coding.h. Byte strings are a u32 little-endian length, then the bytes.
//
// Thread-safe (no state).
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace crm::base {

inline void PutFixed32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline void PutBytes(std::string& out, absl::string_view bytes) {
  PutFixed32(out, static_cast<uint32_t>(bytes.size()));
  out.append(bytes.data(), bytes.size());
}

// Reads a u32 from the front of `in` and drops it; false if `in` is too short.
inline bool GetFixed32(absl::string_view& in, uint32_t& v) {
  if (in.size() < 4) return false;
  v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  in.remove_prefix(4);
  return true;
}

// Reads a length-prefixed byte string from the front of `in` and drops it; false if `in` is too
// short for it.
inline bool GetBytes(absl::string_view& in, std::string& out) {
  uint32_t n;
  if (!GetFixed32(in, n) || in.size() < n) return false;
  out.assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

}  // namespace crm::base
