#include "services/org/staff_directory.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status/errors.h"
#include "google/rpc/error_details.pb.h"

namespace crm::services::org {
namespace {

constexpr absl::string_view kStaffPrefix = "staff/";

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
  if (found->version == 0) {
    absl::Status status =
        status::Error(absl::StatusCode::kNotFound,
                      absl::StrCat(field, ": staff member ", staff_id, " does not exist"),
                      "STAFF_NOT_FOUND", {{"field", std::string(field)}, {"staff", name}});
    google::rpc::ResourceInfo info;
    info.set_resource_type(crm::v1::Staff::descriptor()->full_name());
    info.set_resource_name(name);
    status::AddDetail(status, info);
    return status;
  }
  if (!found->state.active()) {
    absl::Status status =
        status::Error(absl::StatusCode::kFailedPrecondition,
                      absl::StrCat(field, ": staff member ", staff_id, " is deactivated"),
                      "STAFF_INACTIVE", {{"field", std::string(field)}, {"staff", name}});
    google::rpc::PreconditionFailure failure;
    auto* violation = failure.add_violations();
    violation->set_type("STAFF_INACTIVE");
    violation->set_subject(name);
    violation->set_description("a deactivated staff member can no longer be given work");
    status::AddDetail(status, failure);
    return status;
  }
  return std::move(found->state);
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
