// Kafka's murmur2 hash and key partitioning, as the Java client's default partitioner and
// librdkafka's "murmur2_random" compute them, so that every client agrees on a key's partition.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"

namespace crm::eventlog {

// Kafka's murmur2 (seed 0x9747b28c), as a signed 32-bit value like Java's Utils.murmur2.
int32_t Murmur2(absl::string_view data);

// (murmur2(key) & 0x7fffffff) % partitions. REQUIRES: partitions > 0.
int32_t Murmur2Partition(absl::string_view key, int32_t partitions);

}  // namespace crm::eventlog
