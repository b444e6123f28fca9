// Random (version 4) UUIDs in their lower-case text form, for event, command and customer ids.
// Thread-safe.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

namespace crm::base {

// A new random UUID, e.g. "3f0c2b1e-8d7a-4c55-9a51-0b6f1f3e2d10".
std::string NewUuid();

// True if `s` is a UUID in lower- or upper-case text form.
bool IsUuid(absl::string_view s);

}  // namespace crm::base
