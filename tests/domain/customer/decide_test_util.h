// Helpers of the customer rules' tests: a decide context and the executor's stamping.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/base/time_util.h"
#include "domain/customer/customer_aggregate.h"
#include "gtest/gtest.h"

namespace crm::domain::customer::testing {

// The time every helper decides and stamps at.
inline const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

// A context at kNow in which no e-mail and no external id belongs to anyone.
inline DecideContext Context() {
  DecideContext context;
  context.now = kNow;
  context.email_owner = [](absl::string_view) -> std::optional<std::string> {
    return std::nullopt;
  };
  context.external_id_owner = [](absl::string_view) -> std::optional<std::string> {
    return std::nullopt;
  };
  return context;
}

// Stamps `events` as the command executor would (customer id, the next versions, recorded at
// kNow, occurred at kNow unless the rules set it) and applies them to `state`.
inline void StampAndApply(State& state, Events events, absl::string_view id) {
  for (Event& event : events) {
    event.set_customer_id(std::string(id));
    event.set_aggregate_version(state.version() + 1);
    *event.mutable_recorded_at() = base::ToTimestamp(kNow);
    if (!event.has_occurred_at()) *event.mutable_occurred_at() = event.recorded_at();
    ASSERT_TRUE(Apply(state, event).ok()) << EventTypeName(event);
  }
}

// The customer `id` registered with `profile`.
inline State Registered(absl::string_view id, const crm::v1::Customer& profile) {
  crm::v1::RegisterCustomerRequest request;
  *request.mutable_customer() = profile;
  State state;
  auto events = DecideRegister(state, request, id, Context());
  EXPECT_TRUE(events.ok()) << events.status();
  if (events.ok()) StampAndApply(state, *events, id);
  return state;
}

// A merge of `merged` into `survivor`.
inline crm::v1::MergeCustomersRequest MergeRequest(absl::string_view survivor = "customers/s",
                                                   absl::string_view merged = "customers/m") {
  crm::v1::MergeCustomersRequest request;
  request.set_survivor(std::string(survivor));
  request.set_merged(std::string(merged));
  request.set_request_id("req-merge");
  return request;
}

}  // namespace crm::domain::customer::testing
