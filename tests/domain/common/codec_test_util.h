// Test helpers for the API <-> event codecs (domain/*/event_codec.h).
#pragma once

#include <string>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace crm::domain::testing {

// An enum that a codec converts by number must have the same values, by name and number, as its
// counterpart (a crm.events.v1 copy of a crm.v1 enum).
inline void ExpectSameEnumValues(const google::protobuf::EnumDescriptor* api,
                                 const google::protobuf::EnumDescriptor* event) {
  ASSERT_EQ(api->value_count(), event->value_count())
      << api->full_name() << " vs " << event->full_name();
  for (int i = 0; i < api->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* value = api->value(i);
    const google::protobuf::EnumValueDescriptor* same = event->FindValueByNumber(value->number());
    ASSERT_NE(same, nullptr) << event->full_name() << " lacks " << value->number();
    EXPECT_EQ(same->name(), value->name()) << event->full_name() << " " << value->number();
  }
}

// Sets every field of `message`, recursively, to a value other than its default: strings and
// numbers from the field number, bools true, enums their last value, repeated fields and maps
// two elements. For round trips that must keep every field.
inline void FillEveryField(google::protobuf::Message& message, int depth = 0) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Descriptor* type = message.GetDescriptor();
  const google::protobuf::Reflection* r = message.GetReflection();
  for (int f = 0; f < type->field_count(); ++f) {
    const FieldDescriptor* field = type->field(f);
    const int n = field->number();
    const int count = field->is_repeated() ? 2 : 1;
    for (int i = 0; i < count; ++i) {
      const std::string text = "v" + std::to_string(n) + "_" + std::to_string(i);
      switch (field->cpp_type()) {
        case FieldDescriptor::CPPTYPE_STRING:
          field->is_repeated() ? r->AddString(&message, field, text)
                               : r->SetString(&message, field, text);
          break;
        case FieldDescriptor::CPPTYPE_INT32:
          field->is_repeated() ? r->AddInt32(&message, field, n + i)
                               : r->SetInt32(&message, field, n + i);
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          field->is_repeated() ? r->AddInt64(&message, field, 1000 + n + i)
                               : r->SetInt64(&message, field, 1000 + n + i);
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          field->is_repeated() ? r->AddBool(&message, field, true)
                               : r->SetBool(&message, field, true);
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          const auto* last = field->enum_type()->value(field->enum_type()->value_count() - 1);
          field->is_repeated() ? r->AddEnum(&message, field, last)
                               : r->SetEnum(&message, field, last);
          break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE: {
          if (depth > 4) break;
          google::protobuf::Message* child = field->is_repeated()
                                                 ? r->AddMessage(&message, field)
                                                 : r->MutableMessage(&message, field);
          FillEveryField(*child, depth + 1);
          if (field->is_map()) {  // distinct keys
            const FieldDescriptor* key = child->GetDescriptor()->map_key();
            child->GetReflection()->SetString(child, key, text);
          }
          break;
        }
        default:
          ADD_FAILURE() << "FillEveryField does not handle " << field->full_name();
      }
    }
  }
}

// An event-owned message with every field set survives ToApi then ToEvent unchanged: the codec
// forgets none of its fields in either direction.
template <typename EventMessage, typename ToApiFn, typename ToEventFn>
void ExpectRoundTrip(ToApiFn to_api, ToEventFn to_event) {
  EventMessage event;
  FillEveryField(event);
  const EventMessage back = to_event(to_api(event));
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(event, back))
      << EventMessage::descriptor()->full_name() << ": " << diff;
}

}  // namespace crm::domain::testing
