#include "apps/assembly/command_side.h"

#include <utility>

#include "common/fold/composite_fold.h"
#include "common/fold/fold_runner.h"
#include "services/command/aggregate_state.h"
#include "services/command/command_executor.h"
#include "services/customer/command_state.h"
#include "services/customer/customer_command_handler.h"
#include "services/customer/customer_command_service.h"
#include "services/org/staff_directory.h"

namespace crm::assembly {

struct CommandSide::Parts {
  Parts(eventlog::EventLog* log, kv::KvStore* store, rpc::Executor* executor, Options options)
      : aggregate_fold(Kinds()),
        fold({&customer_fold, &aggregate_fold}),
        runner(log, store, &fold, {.name = "command-state"}),
        customer_state(store),
        aggregate_state(store),
        command_executor(log, &runner, &aggregate_state, options.clock, {}),
        staff(&command_executor),
        customer_handler(log, &runner, &customer_state, options.clock, {.staff = &staff}),
        customer_service(&customer_handler, options.router, executor) {}

  static std::vector<const services::command::AggregateKind*> Kinds() { return {}; }

  services::customer::CommandStateFold customer_fold;
  services::command::AggregateStateFold aggregate_fold;
  fold::CompositeFold fold;
  fold::FoldRunner runner;

  services::customer::CommandState customer_state;
  services::command::AggregateState aggregate_state;
  services::command::CommandExecutor command_executor;
  services::org::StaffDirectory staff;

  services::customer::CustomerCommandHandler customer_handler;
  services::customer::CustomerCommandService customer_service;
};

absl::StatusOr<std::unique_ptr<CommandSide>> CommandSide::Create(eventlog::EventLog* log,
                                                                 kv::KvStore* store,
                                                                 rpc::Executor* executor,
                                                                 Options options) {
  return std::unique_ptr<CommandSide>(
      new CommandSide(std::make_unique<Parts>(log, store, executor, options)));
}

CommandSide::CommandSide(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
CommandSide::~CommandSide() { Stop(); }

absl::Status CommandSide::CatchUp() { return parts_->runner.CatchUp(); }
absl::Status CommandSide::Start() { return parts_->runner.Start(); }
void CommandSide::Stop() { parts_->runner.Stop(); }

std::vector<grpc::Service*> CommandSide::services() const {
  return {&parts_->customer_service};
}

std::vector<std::string> CommandSide::service_names() const {
  return {"crm.v1.CustomerCommandService"};
}

}  // namespace crm::assembly
