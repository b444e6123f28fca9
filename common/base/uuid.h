// Random (version 4) UUIDs in their lower-case text form, for event, command and customer ids.
// Thread-safe.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace crm::base {

// A new random UUID, e.g. "3f0c2b1e-8d7a-4c55-9a51-0b6f1f3e2d10".
std::string NewUuid();

// A UUID derived from `name` alone (version 8, RFC 9562 "custom"): the same name gives the same
// UUID in every process. Not for secrets: the derivation is a public, non-cryptographic hash.
std::string UuidFromName(absl::string_view name);

// True if `s` is a UUID in lower- or upper-case text form.
bool IsUuid(absl::string_view s);

}  // namespace crm::base
