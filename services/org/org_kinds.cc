#include "services/org/org_kinds.h"

#include "absl/strings/str_cat.h"
#include "domain/org/org_aggregate.h"
#include "domain/org/org_names.h"

namespace crm::services::org {
namespace {

constexpr absl::string_view kSep("\0", 1);

std::string MembersPrefix(absl::string_view team_id) {
  return absl::StrCat("org/tm/", team_id, kSep);
}

// The index key of an active team member, or "" if the person is in no team or inactive.
std::string MemberKey(const crm::v1::Staff& s) {
  const absl::string_view team = domain::org::IdOf(s.team(), domain::org::kTeamPrefix);
  const absl::string_view id = domain::org::IdOf(s.name(), domain::org::kStaffPrefix);
  if (!s.active() || team.empty() || id.empty()) return "";
  return absl::StrCat(MembersPrefix(team), id);
}

}  // namespace

const command::TypedKind<crm::v1::Department>& DepartmentKind() {
  static const auto* kind = new command::TypedKind<crm::v1::Department>(
      &domain::org::IsDepartmentEvent, &domain::org::ApplyDepartment);
  return *kind;
}

const command::TypedKind<crm::v1::Team>& TeamKind() {
  static const auto* kind =
      new command::TypedKind<crm::v1::Team>(&domain::org::IsTeamEvent, &domain::org::ApplyTeam);
  return *kind;
}

const command::TypedKind<crm::v1::Staff>& StaffKind() {
  static const auto* kind = new command::TypedKind<crm::v1::Staff>(
      &domain::org::IsStaffEvent, &domain::org::ApplyStaff,
      [](absl::string_view aggregate, const crm::v1::Staff* before, const crm::v1::Staff& after,
         kv::KvBatch& batch) -> absl::Status {
        const std::string old_key = before == nullptr ? "" : MemberKey(*before);
        const std::string new_key = MemberKey(after);
        if (old_key == new_key) return absl::OkStatus();
        if (!old_key.empty()) batch.Delete(old_key);
        if (!new_key.empty()) batch.Put(new_key, "");
        return absl::OkStatus();
      });
  return *kind;
}

std::vector<const command::AggregateKind*> OrgKinds() {
  return {&DepartmentKind(), &TeamKind(), &StaffKind()};
}

absl::StatusOr<std::vector<std::string>> ActiveTeamMembers(const command::AggregateState& state,
                                                           absl::string_view team_id) {
  const std::string prefix = MembersPrefix(team_id);
  std::vector<std::string> out;
  absl::Status scanned =
      state.store()->ScanPrefix(prefix, "", 0, [&](absl::string_view key, absl::string_view) {
        out.emplace_back(key.substr(prefix.size()));
        return true;
      });
  if (!scanned.ok()) return scanned;
  return out;
}

}  // namespace crm::services::org
