// Conversions between the API (crm.v1) and the event contract (crm.events.v1) for the types that
// events of several areas share: StaffRef and Channel. Each area's own types convert in
// domain/<area>/event_codec.h, which brings these overloads into its namespace.
//
// Why: the events are the system of record and own their schema (proto/crm/events/v1/README.md);
// the domain's states and the API speak crm.v1. Every crossing between the two goes through one
// ToEvent / ToApi per type, used by both Decide* (building events) and Apply (reading them).
//
// Enums convert by number: each crm.events.v1 enum was copied from its crm.v1 enum with the same
// values, which static_asserts here (range) and tests/domain/event_codec_test (names and numbers)
// check. A value this build does not know (a newer writer's) keeps its number either way.
// Thread-safe: pure functions.
#pragma once

#include "crm/events/v1/types.pb.h"
#include "crm/v1/interaction.pb.h"
#include "crm/v1/org.pb.h"

namespace crm::domain {

crm::events::v1::StaffRef ToEvent(const crm::v1::StaffRef& ref);
crm::v1::StaffRef ToApi(const crm::events::v1::StaffRef& ref);

crm::events::v1::Channel ToEvent(crm::v1::Channel channel);
crm::v1::Channel ToApi(crm::events::v1::Channel channel);

// An enum value converted by number between two protobuf enums with the same values. Only for
// the pairs static_asserted with CRM_SAME_ENUM_RANGE and listed in the codec tests.
template <typename To, typename From>
constexpr To EnumByNumber(From value) {
  return static_cast<To>(static_cast<int>(value));
}

}  // namespace crm::domain

// Compile-time half of the check that two protobuf enums agree: the same smallest and largest
// value and the same number of values. (Names and each value's number: the codec tests.)
#define CRM_SAME_ENUM_RANGE(api, event)                                             \
  static_assert(api##_MIN == static_cast<int>(event##_MIN) &&                       \
                    static_cast<int>(api##_MAX) == static_cast<int>(event##_MAX) && \
                    api##_ARRAYSIZE == event##_ARRAYSIZE,                           \
                #api " and " #event " must have the same values")
