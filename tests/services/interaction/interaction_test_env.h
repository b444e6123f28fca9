// The interaction tests' fixture: the shared command and views wiring
// (tests/services/command/command_views_env.h) with the interaction view fold and an
// InteractionCommandHandler.
#pragma once

#include <string>

#include "projections/interaction/interaction_view_fold.h"
#include "services/interaction/interaction_command_handler.h"
#include "tests/services/command/command_views_env.h"

namespace crm::services::interaction::testing {

using crm::events::v1::EventEnvelope;
using services::testing::Ts;

class InteractionTestEnv : public services::testing::CommandViewsEnv {
 protected:
  InteractionTestEnv() : CommandViewsEnv("interaction", {}, {&interaction_views_fold_}) {}

  void SetUp() override {
    CommandViewsEnv::SetUp();
    handler_ = std::make_unique<InteractionCommandHandler>(executor_.get());
  }
  void TearDown() override {
    handler_.reset();
    CommandViewsEnv::TearDown();
  }

  crm::v1::LogInteractionRequest LogRequest(const std::string& customer_id = "acme",
                                            const std::string& request_id = "") {
    crm::v1::LogInteractionRequest request;
    request.set_parent("customers/" + customer_id);
    request.set_request_id(request_id);
    auto* i = request.mutable_interaction();
    i->set_channel(crm::v1::PHONE);
    i->set_direction(crm::v1::OUTBOUND);
    i->set_staff_id("ann");
    *i->mutable_occurred_at() = Ts(clock_.Now() - absl::Hours(1));
    i->set_summary("Called about the renewal");
    *i->mutable_follow_up_due_time() = Ts(clock_.Now() + absl::Hours(24));
    return request;
  }

  projections::interaction::InteractionViewFold interaction_views_fold_;
  std::unique_ptr<InteractionCommandHandler> handler_;
};

}  // namespace crm::services::interaction::testing
