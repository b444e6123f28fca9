// The events own their schema (proto/crm/events/v1/README.md): no message reachable from
// crm.events.v1.EventEnvelope may use a message or enum of another package than crm.events.v1 and
// google.protobuf, so that no API (crm.v1) change can ever change what the log records.

#include <set>
#include <string>
#include <vector>

#include "crm/events/v1/envelope.pb.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace crm::events::v1 {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;

bool IsOwnOrWellKnown(const std::string& package) {
  return package == "crm.events.v1" || package == "google.protobuf";
}

// Every message reachable from `root` through its fields (root included, map entries too).
std::vector<const Descriptor*> Reachable(const Descriptor* root) {
  std::vector<const Descriptor*> order = {root};
  std::set<const Descriptor*> seen = {root};
  for (size_t i = 0; i < order.size(); ++i) {
    for (int f = 0; f < order[i]->field_count(); ++f) {
      const Descriptor* type = order[i]->field(f)->message_type();
      if (type != nullptr && seen.insert(type).second) order.push_back(type);
    }
  }
  return order;
}

TEST(EventProtosTest, EveryTypeReachableFromTheEnvelopeIsTheEventsOwn) {
  const std::vector<const Descriptor*> messages = Reachable(EventEnvelope::descriptor());
  // Sanity: the walk does reach the payloads and what they are made of.
  EXPECT_GT(messages.size(), 30u);
  for (const Descriptor* message : messages) {
    EXPECT_TRUE(IsOwnOrWellKnown(message->file()->package())) << message->full_name();
    for (int f = 0; f < message->field_count(); ++f) {
      const FieldDescriptor* field = message->field(f);
      if (const Descriptor* type = field->message_type(); type != nullptr) {
        EXPECT_TRUE(IsOwnOrWellKnown(type->file()->package()))
            << field->full_name() << " is a " << type->full_name();
      }
      if (const EnumDescriptor* type = field->enum_type(); type != nullptr) {
        EXPECT_TRUE(IsOwnOrWellKnown(type->file()->package()))
            << field->full_name() << " is a " << type->full_name();
      }
    }
  }
}

TEST(EventProtosTest, EventFilesImportNoOtherPackage) {
  std::vector<const google::protobuf::FileDescriptor*> files = {
      EventEnvelope::descriptor()->file()};
  std::set<std::string> seen = {files[0]->name()};
  for (size_t i = 0; i < files.size(); ++i) {
    for (int d = 0; d < files[i]->dependency_count(); ++d) {
      const google::protobuf::FileDescriptor* dependency = files[i]->dependency(d);
      EXPECT_TRUE(IsOwnOrWellKnown(dependency->package()))
          << files[i]->name() << " imports " << dependency->name();
      if (seen.insert(dependency->name()).second) files.push_back(dependency);
    }
  }
}

}  // namespace
}  // namespace crm::events::v1
