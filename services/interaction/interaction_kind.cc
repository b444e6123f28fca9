#include "services/interaction/interaction_kind.h"

#include "services/access/holders.h"
#include "domain/interaction/interaction_aggregate.h"

namespace crm::services::interaction {

const command::TypedKind<crm::v1::Interaction>& InteractionKind() {
  static auto* kind = new command::TypedKind<crm::v1::Interaction>(
      [](const command::Event& event) { return domain::interaction::IsInteractionEvent(event); },
      [](crm::v1::Interaction& state, const command::Event& event) {
        return domain::interaction::Apply(state, event);
      });
  kind->Guard([](const crm::v1::Interaction& row) { return access::HoldersOf(row); });
  return *kind;
}

}  // namespace crm::services::interaction
