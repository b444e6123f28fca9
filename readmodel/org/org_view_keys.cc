#include "readmodel/org/org_view_keys.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crm::readmodel::org {
namespace {

constexpr absl::string_view kSep("\0", 1);

// Seconds from 0001-01-01T00:00:00Z to the Unix epoch: the offset that makes every Timestamp
// non-negative.
constexpr int64_t kYearOneSeconds = 62'135'596'800;

absl::string_view IndexName(Index index) {
  switch (index) {
    case Index::kDepartmentFunction:
      return "dfn";
    case Index::kTeamDepartment:
      return "tdep";
    case Index::kStaffDepartment:
      return "sdep";
    case Index::kStaffTeam:
      return "steam";
    case Index::kStaffRole:
      return "srole";
    case Index::kStaffActive:
      return "sact";
    case Index::kStaffManager:
      return "smgr";
    case Index::kActionState:
      return "iast";
    case Index::kActionCause:
      return "iarc";
    case Index::kActionOwner:
      return "iaown";
  }
  return "unknown";
}

}  // namespace

std::string DepartmentKey(absl::string_view id) { return absl::StrCat(kDepartmentPrefix, id); }
std::string TeamKey(absl::string_view id) { return absl::StrCat(kTeamPrefix, id); }
std::string StaffKey(absl::string_view id) { return absl::StrCat(kStaffPrefix, id); }
std::string ImprovementActionKey(absl::string_view id) {
  return absl::StrCat(kImprovementActionPrefix, id);
}

std::string IndexPrefix(Index index, absl::string_view value) {
  return absl::StrCat("og/x/", IndexName(index), kSep, value, kSep);
}

std::string IndexKey(Index index, absl::string_view value, absl::string_view id) {
  return absl::StrCat(IndexPrefix(index, value), id);
}

std::string WorkloadKey(absl::string_view staff_id) {
  return absl::StrCat(kWorkloadPrefix, staff_id);
}

std::string SortableTime(absl::Time t) {
  const int64_t seconds = std::max<int64_t>(absl::ToUnixSeconds(t) + kYearOneSeconds, 0);
  int64_t nanos = 0;
  if (absl::ToUnixSeconds(t) + kYearOneSeconds >= 0) {
    nanos = absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(absl::ToUnixSeconds(t)));
  }
  return absl::StrFormat("%012d.%09d", seconds, nanos);
}

std::string DueKey(absl::Time from, absl::string_view aggregate) {
  return absl::StrCat(kDuePrefix, SortableTime(from), kSep, aggregate);
}

absl::string_view AggregateFromDueKey(absl::string_view key) {
  const size_t sep = key.find('\0');
  return sep == absl::string_view::npos ? absl::string_view() : key.substr(sep + 1);
}

std::string CustomerTrackKey(absl::string_view customer_id) {
  return absl::StrCat("og/co/", customer_id);
}
std::string ComplaintTrackKey(absl::string_view aggregate) {
  return absl::StrCat("og/cp/", aggregate);
}
std::string InteractionTrackKey(absl::string_view aggregate) {
  return absl::StrCat("og/in/", aggregate);
}

}  // namespace crm::readmodel::org
