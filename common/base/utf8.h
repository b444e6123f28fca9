// UTF-8 well-formedness (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), for
// the request parser's explicit check of string fields (protobuf refuses such a message but says
// which field only in its log). Thread-safe: a pure function.
#pragma once

#include "absl/strings/string_view.h"

namespace crm::base {

bool IsValidUtf8(absl::string_view text);

}  // namespace crm::base
