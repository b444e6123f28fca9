#include "services/org/org_kinds.h"

#include "absl/strings/str_cat.h"
#include "crm/internal/v1/command_state.pb.h"
#include "domain/improvement/improvement_action.h"
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
         const command::Event& event, kv::KvBatch& batch) -> absl::Status {
        const std::string old_key = before == nullptr ? "" : MemberKey(*before);
        const std::string new_key = MemberKey(after);
        if (old_key == new_key) return absl::OkStatus();
        if (!old_key.empty()) batch.Delete(old_key);
        if (!new_key.empty()) batch.Put(new_key, "");
        return absl::OkStatus();
      });
  return *kind;
}

const command::TypedKind<crm::v1::ImprovementAction>& ImprovementActionKind() {
  static const auto* kind = new command::TypedKind<crm::v1::ImprovementAction>(
      &domain::improvement::IsImprovementEvent, &domain::improvement::Apply);
  return *kind;
}

std::vector<const command::AggregateKind*> OrgKinds() {
  return {&DepartmentKind(), &TeamKind(), &StaffKind(), &ImprovementActionKind()};
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

namespace {

// Ids of the records of kind T (command-state keys "a/<prefix><id>") that `keep` accepts.
template <typename T>
absl::StatusOr<std::vector<std::string>> ScanRecords(const command::AggregateState& state,
                                                     absl::string_view prefix,
                                                     const std::function<bool(const T&)>& keep) {
  const std::string key_prefix = absl::StrCat("a/", prefix);
  std::vector<std::string> out;
  absl::Status inner;
  absl::Status scanned = state.store()->ScanPrefix(
      key_prefix, "", 0, [&](absl::string_view key, absl::string_view value) {
        crm::internal::v1::AggregateRecord record;
        T typed;
        if (!record.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
            !typed.ParseFromString(record.state())) {
          inner = absl::DataLossError(absl::StrCat("command state ", key, " cannot be decoded"));
          return false;
        }
        if (keep(typed)) out.emplace_back(key.substr(key_prefix.size()));
        return true;
      });
  if (!scanned.ok()) return scanned;
  if (!inner.ok()) return inner;
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ActiveDepartmentMembers(
    const command::AggregateState& state, absl::string_view department_id) {
  const std::string department = domain::org::DepartmentName(department_id);
  return ScanRecords<crm::v1::Staff>(
      state, domain::org::kStaffPrefix,
      [&](const crm::v1::Staff& s) { return s.active() && s.department() == department; });
}

absl::StatusOr<std::vector<std::string>> DepartmentTeams(const command::AggregateState& state,
                                                         absl::string_view department_id) {
  const std::string department = domain::org::DepartmentName(department_id);
  return ScanRecords<crm::v1::Team>(state, domain::org::kTeamPrefix, [&](const crm::v1::Team& t) {
    return !t.has_delete_time() && t.department() == department;
  });
}

}  // namespace crm::services::org
