// Key layout of the interaction views in the views store (all under "in/", which only
// projections/interaction writes).
//
//   in/i/<interaction name>                          -> crm.v1.Interaction (as of its last event)
//   in/c/<customer id>\0<desc time>\0<interaction id> -> ""  a customer's interactions, newest
//                                                        occurred_at first
//   in/t/<customer id>\0<desc time>\0<event id>      -> crm.v1.TimelineEntry  the customer's
//                                                        unified timeline, newest first
//   in/f/<staff id>\0<asc time>\0<interaction name>  -> ""  open follow-ups of a staff member,
//                                                        earliest due first
//
// <asc time> is a Timestamp as 12 digits of seconds since 0001-01-01T00:00:00Z then 9 digits of
// nanos, so byte order is time order; <desc time> is its complement (999... minus each part), so
// byte order is newest first and a forward scan reads the newest entries first. '\0' separates
// parts: ids and names never contain it. The event id in a timeline key makes the order of
// entries with the same time fixed, and makes re-applying an event rewrite the same key.
// Thread-safe: pure functions.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/timestamp.pb.h"

namespace crm::readmodel::interaction {

inline constexpr absl::string_view kViewsPrefix = "in/";
// The fold that writes these views (projections/interaction), for fold::FoldRunner::Serving.
inline constexpr absl::string_view kFoldName = "interaction-views";

std::string InteractionKey(absl::string_view interaction_name);

std::string CustomerInteractionsPrefix(absl::string_view customer_id);
std::string CustomerInteractionKey(absl::string_view customer_id,
                                   const google::protobuf::Timestamp& occurred_at,
                                   absl::string_view interaction_id);

std::string TimelinePrefix(absl::string_view customer_id);
std::string TimelineKey(absl::string_view customer_id, const google::protobuf::Timestamp& time,
                        absl::string_view event_id);

std::string FollowUpPrefix(absl::string_view staff_id);
std::string FollowUpKey(absl::string_view staff_id, const google::protobuf::Timestamp& due_time,
                        absl::string_view interaction_name);

// The time parts of keys (21 bytes each). Timestamps outside 0001..9999 are clamped.
std::string AscendingTime(const google::protobuf::Timestamp& time);
std::string DescendingTime(const google::protobuf::Timestamp& time);

// The part of `key` after the last '\0' (the interaction id, event id or interaction name).
absl::string_view LastPart(absl::string_view key);

}  // namespace crm::readmodel::interaction
