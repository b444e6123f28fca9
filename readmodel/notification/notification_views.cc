#include "readmodel/notification/notification_views.h"

#include <cstdio>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/base/status_macros.h"
#include "common/status/errors.h"

namespace crm::readmodel::notification {
namespace {

// Parses the "<partition>/<offset>/<index>" tail of a notification key.
bool ParseTail(absl::string_view tail, int32_t* partition, Position* at) {
  std::vector<absl::string_view> parts = absl::StrSplit(tail, '/');
  return parts.size() == 3 && absl::SimpleAtoi(parts[0], partition) &&
         absl::SimpleAtoi(parts[1], &at->offset) && absl::SimpleAtoi(parts[2], &at->index);
}

// The "<partition>/<offset>/<index>" tail of a notification or outbox key.
std::string Tail(int32_t partition, const Position& at) {
  return absl::StrFormat("%010d/%020d/%03d", partition, at.offset, at.index);
}

}  // namespace

std::string EncodeCursor(const NotificationCursor& cursor) {
  std::vector<std::string> parts;
  for (const auto& [partition, at] : cursor) {
    parts.push_back(absl::StrCat(partition, ":", at.offset, ":", at.index));
  }
  return absl::WebSafeBase64Escape(absl::StrJoin(parts, ";"));
}

absl::StatusOr<NotificationCursor> DecodeCursor(absl::string_view text, absl::string_view field) {
  NotificationCursor cursor;
  if (text.empty()) return cursor;
  std::string plain;
  auto bad = [field] {
    return status::InvalidArgument(field, "is not a cursor this server gave out");
  };
  if (text.size() > 4096 || !absl::WebSafeBase64Unescape(text, &plain) || plain.empty()) {
    return bad();
  }
  for (absl::string_view part : absl::StrSplit(plain, ';')) {
    std::vector<absl::string_view> fields = absl::StrSplit(part, ':');
    int32_t partition = 0;
    Position at;
    if (fields.size() != 3 || !absl::SimpleAtoi(fields[0], &partition) ||
        !absl::SimpleAtoi(fields[1], &at.offset) || !absl::SimpleAtoi(fields[2], &at.index) ||
        partition < 0 || at.offset < 0 || at.index < 0 || !cursor.emplace(partition, at).second) {
      return bad();
    }
  }
  return cursor;
}

std::string RecipientPrefix(absl::string_view staff_id) {
  return absl::StrCat(kViewsPrefix, "r/", staff_id, "/");
}

std::string NotificationKey(absl::string_view staff_id, int32_t partition, const Position& at) {
  return absl::StrCat(RecipientPrefix(staff_id), Tail(partition, at));
}

std::string SurveySenderKey(absl::string_view survey_name) {
  return absl::StrCat(kViewsPrefix, "s/", survey_name);
}

std::string TeamLeadKey(absl::string_view team_name) {
  return absl::StrCat(kViewsPrefix, "t/", team_name);
}

std::string OutboxKey(int32_t partition, const Position& at) {
  return absl::StrCat(kViewsPrefix, "o/", Tail(partition, at));
}

absl::StatusOr<NotificationViews::Page> NotificationViews::After(absl::string_view staff_id,
                                                                 const NotificationCursor& after,
                                                                 size_t limit) const {
  return Scan(
      RecipientPrefix(staff_id), after, limit,
      [](absl::string_view key, absl::string_view value) -> absl::StatusOr<crm::v1::Notification> {
        crm::v1::Notification n;
        if (!n.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          return absl::DataLossError(absl::StrCat("notification ", key, " cannot be decoded"));
        }
        return n;
      });
}

absl::StatusOr<NotificationViews::Page> NotificationViews::OutboxAfter(
    const NotificationCursor& after, size_t limit) const {
  const std::string prefix = absl::StrCat(kViewsPrefix, "o/");
  return Scan(
      prefix, after, limit,
      [this, &prefix](absl::string_view key,
                      absl::string_view staff_id) -> absl::StatusOr<crm::v1::Notification> {
        const std::string entry =
            absl::StrCat(RecipientPrefix(staff_id), key.substr(prefix.size()));
        CRM_ASSIGN_OR_RETURN(auto value, store_->Get(entry));
        crm::v1::Notification n;
        if (!value.has_value() || !n.ParseFromString(*value)) {
          return absl::DataLossError(absl::StrCat("outbox entry ", key, " names no notification"));
        }
        return n;
      });
}

absl::StatusOr<NotificationViews::Page> NotificationViews::Scan(
    const std::string& prefix, const NotificationCursor& after, size_t limit,
    const std::function<absl::StatusOr<crm::v1::Notification>(
        absl::string_view key, absl::string_view value)>& read) const {
  Page page;
  page.cursor = after;
  std::string start_after;  // "" = from the first key
  absl::Status problem;
  for (;;) {
    bool jumped = false;
    CRM_RETURN_IF_ERROR(store_->ScanPrefix(
        prefix, start_after, 0, [&](absl::string_view key, absl::string_view value) {
          int32_t partition = 0;
          Position at;
          if (!ParseTail(key.substr(prefix.size()), &partition, &at)) {
            problem = absl::DataLossError(absl::StrCat("notification key ", key, " is malformed"));
            return false;
          }
          auto seen = after.find(partition);
          if (seen != after.end() && at <= seen->second) {
            // Delivered already: go on right after the cursor's position in this partition.
            const std::string resume = prefix + Tail(partition, seen->second);
            if (key == resume) return true;  // the cursor's own entry: the next one is after
            start_after = resume;
            jumped = true;
            return false;
          }
          if (page.notifications.size() == limit) {
            page.more = true;
            return false;
          }
          absl::StatusOr<crm::v1::Notification> n = read(key, value);
          if (!n.ok()) {
            problem = n.status();
            return false;
          }
          page.cursor[partition] = at;
          n->set_cursor(EncodeCursor(page.cursor));
          page.notifications.push_back(*std::move(n));
          return true;
        }));
    CRM_RETURN_IF_ERROR(problem);
    if (!jumped) return page;
  }
}

}  // namespace crm::readmodel::notification
