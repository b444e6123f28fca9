// InteractionViews: reads the interaction views that projections/interaction writes (layout in
// view_keys.h). Used by the query service.
//
// Pages continue from a cursor: an opaque position (the rest of the last returned key after its
// prefix), which the query service wraps into a page token. Reads see whatever the projection
// has applied so far; callers wanting read-your-writes first wait for a consistency token.
// Thread-safe: const methods over a thread-safe KvStore.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/kv/kv_store.h"
#include "crm/v1/interaction.pb.h"
#include "crm/v1/interaction_service.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "readmodel/interaction/view_keys.h"

namespace crm::readmodel::interaction {

class InteractionViews {
 public:
  // Does not take ownership.
  explicit InteractionViews(const kv::KvStore* store) : store_(store) {}

  // nullopt if the interaction is not in the views. DATA_LOSS if its entry cannot be decoded.
  absl::StatusOr<std::optional<crm::v1::Interaction>> Get(absl::string_view name) const;

  struct InteractionPage {
    std::vector<crm::v1::Interaction> interactions;
    // Where the next page starts; empty if nothing follows.
    std::string next_cursor;
  };
  // The customer's interactions, newest occurred_at first, after `cursor` (empty: from the
  // start); only those in `channel` unless it is CHANNEL_UNSPECIFIED. At most `page_size`.
  absl::StatusOr<InteractionPage> ListForCustomer(absl::string_view customer_id,
                                                  crm::v1::Channel channel,
                                                  absl::string_view cursor, size_t page_size) const;

  struct TimelinePage {
    std::vector<crm::v1::TimelineEntry> entries;
    std::string next_cursor;
  };
  // The customer's timeline, newest first, after `cursor`; only `kinds` if not empty.
  absl::StatusOr<TimelinePage> Timeline(absl::string_view customer_id,
                                        const std::set<crm::v1::TimelineEntryKind>& kinds,
                                        absl::string_view cursor, size_t page_size) const;

  // The open follow-ups of staff member `staff_id`, earliest due first, after `cursor`; only
  // those due strictly before `due_before` if set.
  absl::StatusOr<InteractionPage> FollowUps(
      absl::string_view staff_id, const std::optional<google::protobuf::Timestamp>& due_before,
      absl::string_view cursor, size_t page_size) const;

 private:
  const kv::KvStore* const store_;
};

}  // namespace crm::readmodel::interaction
