"""Identifiers: ULIDs sort in creation order (also across threads and within one millisecond),
and random ids are URL-safe with their prefix."""

from __future__ import annotations

import re
import threading
import time

from core.ids import new_id, new_ulid

_ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def test_ulids_are_26_crockford_characters() -> None:
    for _ in range(100):
        assert _ULID_RE.match(new_ulid())


def test_ulids_strictly_increase_within_a_process() -> None:
    ids = [new_ulid() for _ in range(5000)]  # many share a millisecond

    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ulids_made_by_many_threads_are_unique() -> None:
    made: list[list[str]] = [[] for _ in range(8)]

    def make(bucket: list[str]) -> None:
        bucket.extend(new_ulid() for _ in range(500))

    threads = [threading.Thread(target=make, args=(bucket,)) for bucket in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [ulid for bucket in made for ulid in bucket]
    assert len(set(everything)) == len(everything)
    for bucket in made:
        assert bucket == sorted(bucket)  # each thread sees its own ids increase


def test_ulid_time_prefix_tracks_the_clock() -> None:
    before = int(time.time() * 1000)
    ulid = new_ulid()
    after = int(time.time() * 1000)

    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    ms = 0
    for char in ulid[:10]:
        ms = ms * 32 + alphabet.index(char)
    assert before <= ms <= after + 1  # +1: a burst may borrow the next millisecond


def test_new_id_has_its_prefix_and_is_url_safe() -> None:
    ids = {new_id("s_") for _ in range(1000)}

    assert len(ids) == 1000
    for value in ids:
        assert value.startswith("s_")
        assert re.fullmatch(r"[A-Za-z0-9]+", value[2:])
