#include "services/complaint/complaint_command_handler.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/status/errors.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/org/org_names.h"
#include "services/complaint/complaint_kind.h"
#include "services/customer/customer_kind.h"

namespace crm::services::complaint {
namespace {

using crm::v1::Complaint;
using domain::complaint::DecideContext;
using domain::complaint::Events;

}  // namespace

std::string ComplaintIdFor(const crm::v1::FileComplaintRequest& request) {
  return command::IdForCreate(request.complaint_id(), "crm.v1.FileComplaint", request.request_id());
}

std::string CustomerIdOf(absl::string_view name) {
  auto complaint = domain::complaint::ParseComplaintName(name, "name");
  if (complaint.ok()) return complaint->customer_id;
  auto customer = domain::customer::ParseCustomerName(name, "parent");
  return customer.ok() ? *customer : "";
}

ComplaintCommandHandler::ComplaintCommandHandler(command::CommandExecutor* executor,
                                                 Options options)
    : executor_(executor), staff_(executor), options_(std::move(options)) {}

DecideContext ComplaintCommandHandler::Context(absl::Time now, absl::Time deadline) const {
  DecideContext context;
  context.now = now;
  context.policy = options_.sla_policy;
  context.manager_of = [this, deadline](absl::string_view staff_id) {
    return ManagerOf(staff_id, deadline);
  };
  return context;
}

base::Future<ComplaintCommandHandler::Response> ComplaintCommandHandler::Execute(
    const std::string& name, const std::string& request_id, const rpc::CallContext& call,
    const Decide& decide) {
  CRM_ASSIGN_OR_RETURN(auto parts, domain::complaint::ParseComplaintName(name, "name"));
  const command::Target target{
      .stream_key = parts.customer_id, .customer_id = parts.customer_id, .aggregate = name};
  return executor_
      ->Execute<Complaint>(target, request_id, call, ComplaintKind(),
                           [&](const Complaint& current, int64_t version,
                               absl::Time now) -> absl::StatusOr<std::vector<command::Event>> {
                             return decide(current, Context(now, call.deadline));
                           })
      .Then([](command::CommandResult<Complaint> result) {
        return command::ResponseOf(std::move(result), &Response::mutable_complaint);
      });
}

absl::StatusOr<domain::complaint::ResolvedStaff> ComplaintCommandHandler::FindStaff(
    absl::string_view staff_id, absl::string_view field, absl::Time deadline) const {
  CRM_ASSIGN_OR_RETURN(crm::v1::Staff staff, staff_.Find(staff_id, field, deadline));
  return domain::complaint::ResolvedStaff{org::StaffDirectory::RefOf(staff), staff.role()};
}

absl::StatusOr<std::optional<crm::v1::StaffRef>> ComplaintCommandHandler::ManagerOf(
    absl::string_view staff_id, absl::Time deadline) const {
  bool synced = false;
  // The staff member `id` as the command state has them, syncing the org stream once if absent.
  auto get = [&](absl::string_view id) -> absl::StatusOr<command::Versioned<crm::v1::Staff>> {
    const std::string name = domain::org::StaffName(id);
    CRM_ASSIGN_OR_RETURN(auto found, executor_->state().Get<crm::v1::Staff>(name));
    if (found.version == 0 && !synced) {
      synced = true;
      CRM_RETURN_IF_ERROR(executor_->SyncStream(command::kOrgStreamKey, deadline));
      CRM_ASSIGN_OR_RETURN(found, executor_->state().Get<crm::v1::Staff>(name));
    }
    return found;
  };
  CRM_ASSIGN_OR_RETURN(auto holder, get(staff_id));
  if (holder.version == 0) {
    const std::string name = domain::org::StaffName(staff_id);
    return status::Error(absl::StatusCode::kNotFound, absl::StrCat(name, " does not exist"),
                         "STAFF_NOT_FOUND", {{"staff", name}});
  }
  crm::v1::Staff current = std::move(holder.state);
  for (int i = 0; i < domain::complaint::kMaxReportingLineDepth; ++i) {
    if (current.manager().empty()) return std::nullopt;
    CRM_ASSIGN_OR_RETURN(auto manager, get(current.manager()));
    if (manager.version == 0) return std::nullopt;  // a line that ends at an unknown id
    if (manager.state.active()) return org::StaffDirectory::RefOf(manager.state);
    current = std::move(manager.state);
  }
  return std::nullopt;
}

base::Future<ComplaintCommandHandler::Response> ComplaintCommandHandler::File(
    const crm::v1::FileComplaintRequest& request, const rpc::CallContext& call) {
  const std::string id = ComplaintIdFor(request);
  CRM_RETURN_IF_ERROR(domain::complaint::ValidateRequest(request, id));
  CRM_ASSIGN_OR_RETURN(const std::string customer_id,
                       domain::customer::ParseCustomerName(request.parent(), "parent"));
  CRM_ASSIGN_OR_RETURN(auto customer,
                       customer::FindCustomer(executor_, customer_id, call.deadline));
  const bool customer_exists = customer.version != 0;
  // A merged or archived customer takes no new complaints (a merged one's survivor does).
  CRM_RETURN_IF_ERROR(customer::CheckNewChild(executor_->state(), customer.state,
                                              domain::complaint::ComplaintName(customer_id, id)));
  // The tier as the customer is now (their stream synced above): it picks the deadlines.
  const crm::v1::ValueTier tier = customer.state.value_tier();
  return Execute(domain::complaint::ComplaintName(customer_id, id), request.request_id(), call,
                 [&](const Complaint& current, const DecideContext& context) {
                   return domain::complaint::DecideFile(current, request, id, customer_exists,
                                                        context, tier);
                 });
}

base::Future<ComplaintCommandHandler::Response> ComplaintCommandHandler::Acknowledge(
    const crm::v1::AcknowledgeComplaintRequest& request, const rpc::CallContext& call) {
  CRM_RETURN_IF_ERROR(domain::complaint::ValidateRequest(request));
  std::optional<crm::v1::StaffRef> responder;
  if (!request.responder().empty()) {
    CRM_ASSIGN_OR_RETURN(auto staff, FindStaff(request.responder(), "responder", call.deadline));
    responder = std::move(staff.ref);
  }
  return Execute(request.name(), request.request_id(), call,
                 [&](const Complaint& current, const DecideContext& context) {
                   return domain::complaint::DecideAcknowledge(current, request, responder,
                                                               context);
                 });
}

base::Future<ComplaintCommandHandler::Response> ComplaintCommandHandler::Assign(
    const crm::v1::AssignComplaintRequest& request, const rpc::CallContext& call) {
  CRM_RETURN_IF_ERROR(domain::complaint::ValidateRequest(request));
  CRM_ASSIGN_OR_RETURN(auto assignee, FindStaff(request.assignee(), "assignee", call.deadline));
  return Execute(request.name(), request.request_id(), call,
                 [&](const Complaint& current, const DecideContext& context) {
                   return domain::complaint::DecideAssign(current, request, assignee, context);
                 });
}

base::Future<ComplaintCommandHandler::Response> ComplaintCommandHandler::StartInvestigation(
    const crm::v1::StartInvestigationRequest& request, const rpc::CallContext& call) {
  CRM_RETURN_IF_ERROR(domain::complaint::ValidateRequest(request));
  return Execute(request.name(), request.request_id(), call,
                 [&](const Complaint& current, const DecideContext& context) {
                   return domain::complaint::DecideStartInvestigation(current, request, context);
                 });
}

base::Future<ComplaintCommandHandler::Response> ComplaintCommandHandler::Resolve(
    const crm::v1::ResolveComplaintRequest& request, const rpc::CallContext& call) {
  CRM_RETURN_IF_ERROR(domain::complaint::ValidateRequest(request));
  return Execute(request.name(), request.request_id(), call,
                 [&](const Complaint& current, const DecideContext& context) {
                   return domain::complaint::DecideResolve(current, request, context);
                 });
}

base::Future<ComplaintCommandHandler::Response> ComplaintCommandHandler::RecordFollowUpVisit(
    const crm::v1::RecordFollowUpVisitRequest& request, const rpc::CallContext& call) {
  CRM_RETURN_IF_ERROR(domain::complaint::ValidateRequest(request));
  return Execute(request.name(), request.request_id(), call,
                 [&](const Complaint& current, const DecideContext& context) {
                   return domain::complaint::DecideRecordFollowUpVisit(current, request, context);
                 });
}

base::Future<ComplaintCommandHandler::Response> ComplaintCommandHandler::Close(
    const crm::v1::CloseComplaintRequest& request, const rpc::CallContext& call) {
  CRM_RETURN_IF_ERROR(domain::complaint::ValidateRequest(request));
  return Execute(request.name(), request.request_id(), call,
                 [&](const Complaint& current, const DecideContext& context) {
                   return domain::complaint::DecideClose(current, request, context);
                 });
}

base::Future<ComplaintCommandHandler::Response> ComplaintCommandHandler::Reopen(
    const crm::v1::ReopenComplaintRequest& request, const rpc::CallContext& call) {
  CRM_RETURN_IF_ERROR(domain::complaint::ValidateRequest(request));
  return Execute(request.name(), request.request_id(), call,
                 [&](const Complaint& current, const DecideContext& context) {
                   return domain::complaint::DecideReopen(current, request, context);
                 });
}

base::Future<ComplaintCommandHandler::Response> ComplaintCommandHandler::Escalate(
    const crm::v1::EscalateComplaintRequest& request, const rpc::CallContext& call) {
  CRM_RETURN_IF_ERROR(domain::complaint::ValidateRequest(request));
  return Execute(request.name(), request.request_id(), call,
                 [&](const Complaint& current, const DecideContext& context) {
                   return domain::complaint::DecideEscalate(current, request, context);
                 });
}

base::Future<ComplaintCommandHandler::Response> ComplaintCommandHandler::BreachSla(
    absl::string_view complaint, crm::v1::SlaKind kind, absl::Time due,
    const std::string& request_id, const rpc::CallContext& call) {
  const std::string name(complaint);
  const domain::complaint::BreachSla command{kind, due};
  return Execute(name, request_id, call,
                 [&](const Complaint& current, const DecideContext& context) {
                   Complaint named = current;
                   if (named.name().empty()) named.set_name(name);  // for NOT_FOUND's message
                   return domain::complaint::DecideBreachSla(named, command, context);
                 });
}

base::Future<ComplaintCommandHandler::Response> ComplaintCommandHandler::RemindSla(
    absl::string_view complaint, crm::v1::SlaKind kind, absl::Time due, absl::Duration lead,
    const std::string& request_id, const rpc::CallContext& call) {
  const std::string name(complaint);
  const domain::complaint::RemindSla command{kind, due, lead};
  return Execute(name, request_id, call,
                 [&](const Complaint& current, const DecideContext& context) {
                   Complaint named = current;
                   if (named.name().empty()) named.set_name(name);  // for NOT_FOUND's message
                   return domain::complaint::DecideRemindSla(named, command, context);
                 });
}

}  // namespace crm::services::complaint
