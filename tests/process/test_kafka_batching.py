"""Appends that batch (issue 8): commands on customers of one partition that arrive while that
partition's transaction is in flight go together into the next one. Counted from outside: on a
transactional topic every committed transaction leaves one commit marker, which takes an offset
but is no record, so transactions = offsets consumed - records read."""

from __future__ import annotations

import threading

import pytest

import crmtest
import kafkatest
from crmtest import spb

pytestmark = [pytest.mark.kafka, pytest.mark.engines("kafka")]

COMMANDS = 64


def test_concurrent_commands_on_one_partition_share_transactions(server):
    partitions = kafkatest.partition_count(server.brokers, server.topic)
    ids: list[str] = []
    n = 0
    while len(ids) < COMMANDS:
        cid = f"batch-{n}"
        if kafkatest.java_partition(cid.encode(), partitions) == 0:
            ids.append(cid)
        n += 1
    for cid in ids:
        crmtest.register(server, customer_id=cid)
    before = kafkatest.watermarks(server.brokers, server.topic)[0][1]

    barrier = threading.Barrier(COMMANDS)
    errors: list[BaseException] = []

    def tag(cid: str) -> None:
        try:
            barrier.wait()
            server.command.TagCustomer(spb.TagCustomerRequest(name=f"customers/{cid}", tag="b",
                                                              request_id=crmtest.new_request_id()))
        except BaseException as e:  # pylint: disable=broad-except
            errors.append(e)

    threads = [threading.Thread(target=tag, args=(cid,)) for cid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]

    after = kafkatest.watermarks(server.brokers, server.topic)[0][1]
    records = [r for r in kafkatest.read_topic(server.brokers, server.topic)
               if r.partition == 0 and before <= r.offset < after]
    tagged = [r for r in records if r.header("event-type") == "crm.events.v1.CustomerTagged"]
    assert len(tagged) == COMMANDS
    transactions = (after - before) - len(records)
    print(f"{COMMANDS} commands on one partition: {transactions} transactions")
    assert 1 <= transactions <= COMMANDS // 4, (
        f"{COMMANDS} concurrent commands took {transactions} transactions")
