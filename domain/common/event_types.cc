#include "domain/common/event_types.h"

#include "google/protobuf/descriptor.h"

namespace crm::domain {

bool IsUnknownEventType(const crm::events::v1::EventEnvelope& event) {
  using crm::events::v1::EventEnvelope;
  if (event.payload_case() != EventEnvelope::PAYLOAD_NOT_SET || event.event_type().empty()) {
    return false;
  }
  const google::protobuf::OneofDescriptor* payload =
      EventEnvelope::descriptor()->FindOneofByName("payload");
  for (int i = 0; i < payload->field_count(); ++i) {
    const google::protobuf::Descriptor* type = payload->field(i)->message_type();
    if (type != nullptr && type->full_name() == event.event_type()) return false;
  }
  return true;
}

}  // namespace crm::domain
