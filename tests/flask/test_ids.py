"""Request ids: the default generator's ids are unique, uuid-sized, and differ after a fork."""

from __future__ import annotations

import os
import re

import pytest

from lookout.flask.ids import is_valid_request_id, new_request_id


def test_default_ids_are_32_hex_digits_and_unique_across_pool_refills() -> None:
    ids = [new_request_id() for _ in range(2000)]  # several refills of the pool
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)
    assert len(set(ids)) == len(ids)
    assert all(is_valid_request_id(rid) for rid in ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_makes_ids_its_parent_does_not() -> None:
    new_request_id()  # the pool holds ids made ahead in the parent
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        os.write(write_end, " ".join(new_request_id() for _ in range(300)).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child_ids = set(pipe.read().decode().split())
    os.waitpid(pid, 0)
    parent_ids = {new_request_id() for _ in range(300)}
    assert len(child_ids) == 300
    assert not child_ids & parent_ids
