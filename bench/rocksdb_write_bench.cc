// The raw RocksDB write rate of what a fold wrote: reads every key and value of a stopped
// server's views store (--source, opened read-only), then writes the same keys and values into an
// empty RocksDB (--target) in WriteBatches of as many keys as the fold's batches hold on average
// (the keys of --batch-events events, default 512, the fold's Options::max_batch), with the
// options of common/kv (WAL on, no sync per write, two background jobs). The keys are written in
// a shuffled order (fixed seed), as a fold's writes are scattered over the key space. Only the
// writes are timed. Prints one JSON object: keys, bytes, events, batches, seconds, keys_per_s,
// events_per_s (events / seconds: the rate a fold would have if writing were all it did).
//
// The store keeps only each key's last value, so this writes fewer keys than the fold did when
// it overwrote keys: a lower bound on the fold's own write work.
//
// Usage: rocksdb_write_bench --source DIR --target DIR --events N [--batch-events 512]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "rocksdb_write_bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const rocksdb::Status& s, const std::string& what) {
  if (!s.ok()) Fail(what + ": " + s.ToString());
}

}  // namespace

int main(int argc, char** argv) {
  std::string source, target;
  long long events = 0;
  long long batch_events = 512;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--source") {
      source = argv[i + 1];
    } else if (flag == "--target") {
      target = argv[i + 1];
    } else if (flag == "--events") {
      events = std::atoll(argv[i + 1]);
    } else if (flag == "--batch-events") {
      batch_events = std::atoll(argv[i + 1]);
    } else {
      Fail("unknown flag " + flag);
    }
  }
  if (source.empty() || target.empty() || events <= 0 || batch_events <= 0) {
    Fail("usage: rocksdb_write_bench --source DIR --target DIR --events N [--batch-events 512]");
  }

  std::vector<std::pair<std::string, std::string>> kvs;
  long long bytes = 0;
  {
    rocksdb::Options options;
    rocksdb::DB* raw = nullptr;
    Check(rocksdb::DB::OpenForReadOnly(options, source, &raw), "open " + source);
    std::unique_ptr<rocksdb::DB> db(raw);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      kvs.emplace_back(it->key().ToString(), it->value().ToString());
      bytes += static_cast<long long>(it->key().size() + it->value().size());
    }
    Check(it->status(), "read " + source);
  }
  if (kvs.empty()) Fail("no keys in " + source);
  std::shuffle(kvs.begin(), kvs.end(), std::mt19937_64(42));

  const long long keys = static_cast<long long>(kvs.size());
  const long long per_batch = std::max<long long>(1, (keys * batch_events + events / 2) / events);

  rocksdb::Options options;
  options.create_if_missing = true;
  options.error_if_exists = true;
  options.max_background_jobs = 2;  // as common/kv/kv_store.cc
  rocksdb::DB* raw = nullptr;
  Check(rocksdb::DB::Open(options, target, &raw), "open " + target);
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions write_options;  // sync = false, as KvStore::Write's default

  long long batches = 0;
  const auto start = std::chrono::steady_clock::now();
  for (long long i = 0; i < keys; i += per_batch) {
    rocksdb::WriteBatch batch;
    const long long end = std::min(keys, i + per_batch);
    for (long long j = i; j < end; ++j) batch.Put(kvs[j].first, kvs[j].second);
    Check(db->Write(write_options, &batch), "write");
    ++batches;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"keys\": %lld, \"bytes\": %lld, \"events\": %lld, \"keys_per_batch\": %lld, "
      "\"batches\": %lld, \"seconds\": %.6f, \"keys_per_s\": %.1f, \"events_per_s\": %.1f}\n",
      keys, bytes, events, per_batch, batches, seconds, keys / seconds, events / seconds);
  return 0;
}
