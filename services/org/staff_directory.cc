#include "services/org/staff_directory.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status/errors.h"
#include "domain/org/org_aggregate.h"
#include "domain/org/org_names.h"

namespace crm::services::org {
namespace {

using domain::org::kStaffPrefix;

absl::StatusOr<command::Versioned<crm::v1::Staff>> Lookup(const command::CommandExecutor& executor,
                                                          const std::string& name) {
  return executor.state().Get<crm::v1::Staff>(name);
}

}  // namespace

StaffDirectory::StaffDirectory(command::CommandExecutor* executor) : executor_(executor) {}

absl::StatusOr<crm::v1::Staff> StaffDirectory::Find(absl::string_view staff_id,
                                                    absl::string_view field,
                                                    absl::Time deadline) const {
  if (staff_id.empty()) return status::InvalidArgument(field, "is required: a staff id");
  const std::string name = absl::StrCat(kStaffPrefix, staff_id);
  absl::StatusOr<command::Versioned<crm::v1::Staff>> found = Lookup(*executor_, name);
  if (!found.ok()) return found.status();
  if (found->version == 0) {
    absl::Status synced = executor_->SyncStream(command::kOrgStreamKey, deadline);
    if (!synced.ok()) return synced;
    found = Lookup(*executor_, name);
    if (!found.ok()) return found.status();
  }
  if (found->version == 0) return domain::org::ReferenceNotFound(name, field);
  if (!found->state.active()) return domain::org::StaffInactive(name, field);
  return std::move(found->state);
}

access::OrgDirectory StaffDirectory::Org() const {
  const command::CommandExecutor* executor = executor_;
  access::OrgDirectory org;
  org.staff =
      [executor](absl::string_view staff_id) -> absl::StatusOr<std::optional<crm::v1::Staff>> {
    auto found = Lookup(*executor, absl::StrCat(kStaffPrefix, staff_id));
    if (!found.ok()) return found.status();
    if (found->version == 0) return std::nullopt;
    return std::move(found->state);
  };
  org.team = [executor](absl::string_view team) -> absl::StatusOr<std::optional<crm::v1::Team>> {
    auto found = executor->state().Get<crm::v1::Team>(std::string(team));
    if (!found.ok()) return found.status();
    if (found->version == 0 || found->state.has_delete_time()) return std::nullopt;  // removed
    return std::move(found->state);
  };
  return org;
}

crm::v1::StaffRef StaffDirectory::RefOf(const crm::v1::Staff& staff) {
  crm::v1::StaffRef ref;
  absl::string_view name = staff.name();
  if (absl::ConsumePrefix(&name, kStaffPrefix)) ref.set_staff_id(std::string(name));
  ref.set_team(staff.team());
  ref.set_department(staff.department());
  return ref;
}

}  // namespace crm::services::org
