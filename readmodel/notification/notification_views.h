// The notification views: key layout and reader. projections/notification writes them (all keys
// under "nt/", which nothing else writes); services/notification reads them.
//
//   nt/r/<staff id>/<partition:010>/<offset:020>/<index:03>
//                         -> crm.v1.Notification (cursor unset), one per recipient and reason
//                            derived from the record at that log position (index: its place
//                            among the record's notifications). A recipient's notifications are
//                            adjacent, in log order per partition (the embedded log has one).
//                            The key depends only on the record, never on the order in which
//                            records of different partitions were folded, so a refold writes the
//                            same keys on every engine.
//   nt/o/<partition:010>/<offset:020>/<index:03>
//                         -> the recipient's staff id: the outbox, every notification in log order
//                            per partition, which the Kafka relay (services/notification)
//                            publishes.
//   nt/s/<survey name>    -> "<staff id>\n<team name>": who sent the survey (SurveySent), for its
//                            answer. The fold's own memory: it reads no other fold's keys.
//   nt/t/<team name>      -> staff id of the team's lead (TeamCreated/TeamUpdated).
//
// Cursors (NotificationCursor): per partition, the position of the last notification delivered;
// opaque to clients (base64url of "p:o:i;..."). A notification is after a cursor when its
// position in its partition is after the cursor's position for that partition (or the cursor has
// none for it).
//
// Thread-safe: const methods over a thread-safe KvStore; the key functions are pure.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/kv/kv_store.h"
#include "crm/v1/notification.pb.h"

namespace crm::readmodel::notification {

inline constexpr absl::string_view kViewsPrefix = "nt/";
// The fold that writes these views (projections/notification), for fold::FoldRunner::Serving.
inline constexpr absl::string_view kFoldName = "notification-views";

// Where a notification sits in its partition.
struct Position {
  int64_t offset = 0;
  int32_t index = 0;
  friend auto operator<=>(const Position&, const Position&) = default;
};
// partition -> the last position delivered there.
using NotificationCursor = std::map<int32_t, Position>;

std::string EncodeCursor(const NotificationCursor& cursor);
// An empty string decodes to an empty cursor. INVALID_ARGUMENT naming `field` if malformed.
absl::StatusOr<NotificationCursor> DecodeCursor(absl::string_view text, absl::string_view field);

std::string NotificationKey(absl::string_view staff_id, int32_t partition, const Position& at);
std::string RecipientPrefix(absl::string_view staff_id);
std::string OutboxKey(int32_t partition, const Position& at);
std::string SurveySenderKey(absl::string_view survey_name);
std::string TeamLeadKey(absl::string_view team_name);

class NotificationViews {
 public:
  // Does not take ownership.
  explicit NotificationViews(const kv::KvStore* store) : store_(store) {}

  struct Page {
    // Each with its cursor set (the cursor after it).
    std::vector<crm::v1::Notification> notifications;
    // The cursor after the last one returned (`after` if none).
    NotificationCursor cursor;
    // Whether more follow the page.
    bool more = false;
  };
  // The recipient's notifications after `after`, at most `limit` (> 0), in key order.
  // DATA_LOSS if an entry cannot be decoded.
  absl::StatusOr<Page> After(absl::string_view staff_id, const NotificationCursor& after,
                             size_t limit) const;
  // Every recipient's notifications after `after` (the outbox), at most `limit`, in outbox key
  // order (log order per partition).
  absl::StatusOr<Page> OutboxAfter(const NotificationCursor& after, size_t limit) const;

 private:
  // The entries under `prefix` (keys "<prefix><partition>/<offset>/<index>") after `after`, at
  // most `limit`; `read` turns an entry's value into its notification.
  absl::StatusOr<Page> Scan(const std::string& prefix, const NotificationCursor& after,
                            size_t limit,
                            const std::function<absl::StatusOr<crm::v1::Notification>(
                                absl::string_view key, absl::string_view value)>& read) const;

  const kv::KvStore* const store_;
};

}  // namespace crm::readmodel::notification
