// How the command side folds interactions: the AggregateKind of crm.v1.Interaction (its two
// events and the domain's Apply). No secondary index: the command side only looks interactions
// up by name.
//
// Thread-safe: immutable.
#pragma once

#include "crm/v1/interaction.pb.h"
#include "services/command/aggregate_state.h"

namespace crm::services::interaction {

// The kind to register with command::AggregateStateFold and to pass to CommandExecutor::Execute.
const command::TypedKind<crm::v1::Interaction>& InteractionKind();

}  // namespace crm::services::interaction
