#include "domain/customer/customer_import.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/uuid.h"
#include "common/status/violations.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/validation.h"

namespace crm::domain::customer {
namespace {

// An id only the check below uses: DecideRegister needs one.
constexpr absl::string_view kCheckId = "import-row-check";

}  // namespace

absl::StatusOr<ImportRowPlan> PlanImportRow(const crm::v1::ImportCustomerRow& row, int64_t position,
                                            absl::Time now) {
  status::Violations v;
  ImportRowPlan plan;
  plan.row_number = row.row_number() != 0 ? row.row_number() : position;
  if (row.row_number() < 0) v.Add("row_number", "must be 1 or more (0: the row's position)");

  // RegisterCustomer's checks, on what RegisterCustomer gets.
  crm::v1::RegisterCustomerRequest check;
  *check.mutable_customer() = row.customer();
  check.mutable_customer()->clear_owner();
  check.mutable_customer()->clear_tags();
  DecideContext context;
  context.now = now;
  context.email_owner = [](absl::string_view) { return std::nullopt; };
  context.external_id_owner = [](absl::string_view) { return std::nullopt; };
  absl::StatusOr<Events> registered = DecideRegister(State(), check, kCheckId, context);
  v.Add(registered.status());

  // The fields RegisterCustomer takes from other commands: checked as those commands check them.
  const crm::v1::Customer& in = row.customer();
  if (!in.name().empty()) {
    v.Add("customer.name", "must be empty: rows are matched by external_id, else by e-mail");
  }
  if (!in.owner().empty()) {
    v.Add(ValidateStaffId(in.owner(), "customer.owner"));
    plan.owner = in.owner();
  }
  if (static_cast<size_t>(in.tags_size()) > kMaxTags) {
    v.Add("customer.tags", absl::StrCat("at most ", kMaxTags, " tags"));
  } else {
    for (int i = 0; i < in.tags_size(); ++i) {
      auto tag = NormalizeTag(in.tags(i), absl::StrCat("customer.tags[", i, "]"));
      if (v.Check(tag) && std::find(plan.tags.begin(), plan.tags.end(), *tag) == plan.tags.end()) {
        plan.tags.push_back(*tag);
      }
    }
  }
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  // The profile as registered (normalized), with the stage the row names.
  State state;
  Event first = registered->front();
  first.set_customer_id(std::string(kCheckId));
  first.set_aggregate_version(1);
  if (absl::Status applied = Apply(state, first); !applied.ok()) return applied;
  plan.paths = SetProfilePaths(state);
  plan.profile = std::move(state);
  plan.profile.clear_name();
  plan.profile.clear_version();
  plan.profile.clear_etag();
  plan.profile.clear_value_tier();
  plan.profile.clear_create_time();
  plan.profile.clear_update_time();
  plan.profile.set_lifecycle_stage(in.lifecycle_stage());
  return plan;
}

std::string ImportStepRequestId(absl::string_view import_request_id, int64_t row_number,
                                absl::string_view step) {
  if (import_request_id.empty()) return "";
  return base::UuidFromName(
      absl::StrCat("crm.v1.ImportCustomers/", import_request_id, "/", row_number, "/", step));
}

crm::v1::RegisterCustomerRequest RegisterRequestOf(const ImportRowPlan& plan,
                                                   absl::string_view request_id) {
  crm::v1::RegisterCustomerRequest request;
  *request.mutable_customer() = plan.profile;
  request.set_request_id(std::string(request_id));
  return request;
}

crm::v1::UpdateCustomerRequest UpdateRequestOf(const ImportRowPlan& plan, absl::string_view name,
                                               absl::string_view request_id) {
  crm::v1::UpdateCustomerRequest request;
  *request.mutable_customer() = plan.profile;
  request.mutable_customer()->clear_lifecycle_stage();
  request.mutable_customer()->set_name(std::string(name));
  for (const std::string& path : plan.paths) request.mutable_update_mask()->add_paths(path);
  request.set_request_id(std::string(request_id));
  return request;
}

}  // namespace crm::domain::customer
