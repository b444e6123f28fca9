// The requests the RPC fuzzer starts from: at least one valid request (text format) for every
// method the server serves. Those marked `fixture` are also sent, in table order, to every fresh
// server the fuzzer builds, so that the other seeds (and what the fuzzer makes of them) find an
// organisation, a customer, an interaction and complaints to act on. A fixture request that fails
// stops the fuzzer at start-up: the table cannot silently rot.
//
// Thread-safe: constant data.
#pragma once

#include <string>
#include <vector>

namespace crm::fuzz {

struct Seed {
  std::string method;  // "crm.v1.CustomerCommandService/RegisterCustomer"
  std::string text;    // the request in protobuf text format
  bool fixture = false;
};

// Every seed, fixtures first (in the order they are sent).
const std::vector<Seed>& Seeds();

}  // namespace crm::fuzz
