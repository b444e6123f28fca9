#include "readmodel/complaint/view_keys.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crm::readmodel::complaint {
namespace {

absl::string_view IndexName(Index index) {
  switch (index) {
    case Index::kStatus:
      return "status";
    case Index::kAssignee:
      return "assignee";
    case Index::kCategory:
      return "category";
    case Index::kSeverity:
      return "severity";
  }
  return "unknown";
}

constexpr absl::string_view kSep("\0", 1);

// google.protobuf.Timestamp range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
constexpr int64_t kMinSeconds = -62'135'596'800;
constexpr int64_t kMaxSeconds = 253'402'300'799;

std::string Sortable(int64_t seconds, int64_t nanos) {
  if (seconds < kMinSeconds) {
    seconds = kMinSeconds;
    nanos = 0;
  } else if (seconds > kMaxSeconds) {
    seconds = kMaxSeconds;
    nanos = 999'999'999;
  }
  nanos = std::clamp<int64_t>(nanos, 0, 999'999'999);
  return absl::StrFormat("%020d%09d", seconds - kMinSeconds, nanos);
}

}  // namespace

std::string ComplaintKey(absl::string_view name) { return absl::StrCat(kComplaintPrefix, name); }

std::string CustomerComplaintsPrefix(absl::string_view customer_id) {
  return absl::StrCat(kComplaintPrefix, "customers/", customer_id, "/complaints/");
}

std::string HistoryPrefix(absl::string_view name) { return absl::StrCat("cp/h/", name, kSep); }

std::string HistoryKey(absl::string_view name, int64_t version) {
  return absl::StrCat(HistoryPrefix(name), absl::StrFormat("%020d", version));
}

std::string IndexPrefix(Index index, absl::string_view value) {
  return absl::StrCat("cp/x/", IndexName(index), kSep, value, kSep);
}

std::string IndexKey(Index index, absl::string_view value, absl::string_view name) {
  return absl::StrCat(IndexPrefix(index, value), name);
}

std::string SortableTime(absl::Time t) {
  if (t == absl::InfinitePast()) return Sortable(kMinSeconds, 0);
  if (t == absl::InfiniteFuture()) return Sortable(kMaxSeconds, 999'999'999);
  const int64_t seconds = absl::ToUnixSeconds(t);  // floor
  const int64_t nanos = absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds));
  return Sortable(seconds, nanos);
}

std::string SortableTime(const google::protobuf::Timestamp& t) {
  return Sortable(t.seconds(), t.nanos());
}

std::string DeadlineKey(const google::protobuf::Timestamp& due, absl::string_view name,
                        crm::v1::SlaKind kind) {
  return absl::StrCat(kDeadlinePrefix, SortableTime(due), kSep, name, kSep, static_cast<int>(kind));
}

std::string DeadlinesDueBefore(absl::Time now) {
  // A key due exactly at `now` is "<now>\0..." which sorts after "<now>": excluded.
  return absl::StrCat(kDeadlinePrefix, SortableTime(now));
}

absl::string_view NameFromDeadlineKey(absl::string_view key) {
  if (key.substr(0, kDeadlinePrefix.size()) != kDeadlinePrefix) return {};
  key.remove_prefix(kDeadlinePrefix.size());
  const size_t first = key.find('\0');
  if (first == absl::string_view::npos) return {};
  key.remove_prefix(first + 1);
  const size_t second = key.rfind('\0');
  if (second == absl::string_view::npos) return {};
  return key.substr(0, second);
}

std::string BreachedKey(absl::string_view name) { return absl::StrCat(kBreachedPrefix, name); }

absl::string_view Suffix(absl::string_view key, absl::string_view prefix) {
  key.remove_prefix(prefix.size());
  return key;
}

}  // namespace crm::readmodel::complaint
