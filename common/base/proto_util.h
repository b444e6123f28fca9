// Deterministic protobuf serialization: map entries in key order, so that the same message gives
// the same bytes on every run. Views are stored this way so a rebuild reproduces them exactly.
// Thread-safe.
#pragma once

#include <string>

#include "google/protobuf/message_lite.h"

namespace crm::base {

std::string SerializeDeterministic(const google::protobuf::MessageLite& message);

}  // namespace crm::base
