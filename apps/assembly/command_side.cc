#include "apps/assembly/command_side.h"

#include <utility>

#include "common/fold/fold_runner.h"
#include "domain/complaint/sla_policy.h"
#include "domain/customer/customer_aggregate.h"
#include "services/access/holders.h"
#include "services/command/aggregate_state.h"
#include "services/command/command_executor.h"
#include "services/command/deadline_watcher.h"
#include "services/complaint/complaint_command_handler.h"
#include "services/complaint/complaint_command_service.h"
#include "services/complaint/complaint_kind.h"
#include "services/complaint/sla_watcher.h"
#include "services/customer/customer_command_handler.h"
#include "services/customer/customer_command_service.h"
#include "services/customer/customer_kind.h"
#include "services/customer/email_reservations.h"
#include "services/interaction/follow_up_reminders.h"
#include "services/interaction/interaction_command_handler.h"
#include "services/interaction/interaction_command_service.h"
#include "services/interaction/interaction_kind.h"
#include "services/org/org_command_handler.h"
#include "services/org/org_command_service.h"
#include "services/org/org_kinds.h"
#include "services/org/staff_directory.h"
#include "services/survey/survey_command_handler.h"
#include "services/survey/survey_command_service.h"
#include "services/survey/survey_deadlines.h"
#include "services/survey/survey_kind.h"
#include "spdlog/spdlog.h"

namespace crm::assembly {
namespace {

std::vector<const services::command::AggregateKind*> Kinds() {
  std::vector<const services::command::AggregateKind*> kinds = services::org::OrgKinds();
  kinds.push_back(&services::customer::CustomerKind());
  kinds.push_back(&services::customer::EmailReservationKind());
  kinds.push_back(&services::complaint::ComplaintKind());
  kinds.push_back(&services::interaction::InteractionKind());
  kinds.push_back(&services::survey::SurveyKind());
  return kinds;
}

}  // namespace

constexpr size_t kContinuationThreads = 4;

struct CommandSide::Parts {
  Parts(eventlog::EventLog* log, kv::KvStore* store, rpc::Executor* executor, Options options,
        domain::complaint::SlaPolicy sla_policy)
      : continuations(kContinuationThreads, /*max_queued=*/0),
        aggregate_fold(Kinds()),
        runner(log, store, &aggregate_fold, {.name = "command-state"}),
        aggregate_state(store),
        command_executor(
            log, &runner, &aggregate_state, options.clock,
            {.post = [this](std::function<void()> task) { continuations.Submit(std::move(task)); },
             .customer_holders = [this](absl::string_view customer_id) -> std::vector<std::string> {
               auto customer = aggregate_state.Get<crm::v1::Customer>(
                   domain::customer::CustomerName(customer_id));
               if (!customer.ok() || customer->version == 0) return {};
               return services::access::HoldersOf(customer->state);
             }}),
        staff(&command_executor),
        reservations(&command_executor, options.router),
        reservation_service(&reservations, options.router, executor),
        customer_handler(&command_executor, &reservations,
                         {.staff = &staff, .router = options.router}),
        customer_importer(&command_executor, &customer_handler, options.router),
        customer_service(&customer_handler, &customer_importer, options.router, executor),
        merge_service(&customer_handler, options.router, executor),
        org_handler(&command_executor),
        org_service(&org_handler, options.router, executor),
        complaint_handler(&command_executor, {.sla_policy = sla_policy}),
        complaint_service(&complaint_handler, options.router, executor),
        interaction_handler(&command_executor),
        interaction_service(&interaction_handler, options.router, executor),
        survey_handler(&command_executor),
        survey_service(&survey_handler, options.router, executor),
        sla_deadlines(&complaint_handler),
        survey_deadlines(&survey_handler),
        sla_reminders(&complaint_handler, options.due_reminder_lead),
        follow_up_reminders(&interaction_handler, options.due_reminder_lead),
        deadline_watcher(
            options.due_reminder_lead > absl::ZeroDuration()
                ? std::vector<const services::command::DeadlineSource*>{&sla_deadlines,
                                                                        &survey_deadlines,
                                                                        &sla_reminders,
                                                                        &follow_up_reminders}
                : std::vector<const services::command::DeadlineSource*>{&sla_deadlines,
                                                                        &survey_deadlines},
            store, options.clock,
            [router = options.router](absl::string_view stream_key) {
              return router == nullptr || !router->OwnerOf(stream_key).has_value();
            },
            {.scan_interval = options.sla_scan_interval}) {}

  // Where commands continue once their events are in the state (see CommandExecutor): a pool of
  // its own, so a request worker that waits for a command (an e-mail claim) never waits for a
  // request worker.
  rpc::Executor continuations;
  services::command::AggregateStateFold aggregate_fold;
  fold::FoldRunner runner;

  services::command::AggregateState aggregate_state;
  services::command::CommandExecutor command_executor;
  services::org::StaffDirectory staff;

  services::customer::EmailReservations reservations;
  services::customer::EmailReservationService reservation_service;
  services::customer::CustomerCommandHandler customer_handler;
  services::customer::CustomerImporter customer_importer;
  services::customer::CustomerCommandService customer_service;
  services::customer::CustomerMergeService merge_service;
  services::org::OrgCommandHandler org_handler;
  services::org::OrgCommandService org_service;
  services::complaint::ComplaintCommandHandler complaint_handler;
  services::complaint::ComplaintCommandService complaint_service;
  services::interaction::InteractionCommandHandler interaction_handler;
  services::interaction::InteractionCommandService interaction_service;
  services::survey::SurveyCommandHandler survey_handler;
  services::survey::SurveyCommandService survey_service;
  // The one deadline watcher: complaint SLA deadlines and survey answer deadlines, then (with a
  // reminder lead) the reminders of complaint deadlines and follow-ups coming due (after the
  // passed deadlines, so reminders never crowd a breach out of a scan).
  services::complaint::SlaDeadlines sla_deadlines;
  services::survey::SurveyDeadlines survey_deadlines;
  services::complaint::SlaReminders sla_reminders;
  services::interaction::FollowUpReminders follow_up_reminders;
  services::command::DeadlineWatcher deadline_watcher;
};

absl::StatusOr<std::unique_ptr<CommandSide>> CommandSide::Create(eventlog::EventLog* log,
                                                                 kv::KvStore* store,
                                                                 rpc::Executor* executor,
                                                                 Options options) {
  absl::StatusOr<domain::complaint::SlaPolicy> policy =
      domain::complaint::ParseSlaPolicy(options.sla_policy);
  if (!policy.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--sla-policy: ", policy.status().message()));
  }
  spdlog::info("complaint SLA policy {}", domain::complaint::FormatSlaPolicy(*policy));
  return std::unique_ptr<CommandSide>(
      new CommandSide(log, std::make_unique<Parts>(log, store, executor, options, *policy)));
}

CommandSide::CommandSide(eventlog::EventLog* log, std::unique_ptr<Parts> parts)
    : log_(log), parts_(std::move(parts)) {
  // A command's own events reach its state as soon as its transaction committed, without
  // waiting for the reader (Kafka); the reader still applies everything else.
  log_->SetCommitListener(
      [runner = &parts_->runner](const std::vector<eventlog::LogRecord>& records,
                                 const std::map<int32_t, int64_t>& after) {
        runner->OfferCommitted(records, after);
      });
}
CommandSide::~CommandSide() { Stop(); }

fold::FoldRunner* CommandSide::runner() const { return &parts_->runner; }

services::access::OrgDirectory CommandSide::org() const { return parts_->staff.Org(); }

absl::Status CommandSide::CatchUp() { return parts_->runner.CatchUp(); }

absl::Status CommandSide::Start() {
  if (absl::Status s = parts_->runner.Start(); !s.ok()) return s;
  parts_->deadline_watcher.Start();
  return absl::OkStatus();
}

void CommandSide::Stop() {
  log_->SetCommitListener(nullptr);
  parts_->deadline_watcher.Stop();
  parts_->runner.Stop();         // fails the commands still waiting for the state
  parts_->continuations.Stop();  // and answers them, while the handlers are still there
}

std::vector<rpc::ServiceTable*> CommandSide::services() const {
  return {&parts_->customer_service,    &parts_->org_service,    &parts_->complaint_service,
          &parts_->interaction_service, &parts_->survey_service, &parts_->reservation_service,
          &parts_->merge_service};
}

}  // namespace crm::assembly
