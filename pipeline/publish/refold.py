"""After the alias swap: users whose feedback is newer than what the run trained on, folded in again.

A run trains on the feedback index as one scroll saw it (pipeline.data.feedback's snapshot: user id ->
`_seq_no`/`_primary_term` of the version read). Ratings and accounts that arrive while it trains are
stored in the feedback index and served against the old run. Once the aliases move, every user whose
feedback document is not the version the run read (changed or new) and who exists in the run's edition
(service.feedback: an account, or a MovieLens user with ratings of it), plus the snapshot's users the model
has no row for, is folded in against the new run's movie vectors by service.sync, the same code the API
writes users with (so both follow one fold-in: service/foldin.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from elasticsearch import Elasticsearch, helpers

from pipeline.data.feedback import Snapshot, feedback_index
from service import feedback, sync
from service.model import ActiveModel

log = logging.getLogger(__name__)


def current_versions(es: Elasticsearch, prefix: str, edition: str) -> Snapshot:
    """user id -> (_seq_no, _primary_term) of every feedback document now (after a refresh) of a user who
    exists in `edition` (an account, or a MovieLens user with ratings of that edition)."""
    index = feedback_index(prefix)
    if not es.indices.exists(index=index):
        return {}
    es.indices.refresh(index=index)
    timeline = feedback.served_editions(es, prefix)
    hits = helpers.scan(es, index=index, size=5_000, seq_no_primary_term=True, query={"_source": ["origin", "ratings"]})
    return {
        int(h["_id"]): (int(h["_seq_no"]), int(h["_primary_term"]))
        for h in hits
        if feedback.Account(int(h["_id"]), h["_source"], 0, 0).belongs_to(edition, timeline)
    }


def changed_since(snapshot: Mapping[int, tuple[int, int]], now: Mapping[int, tuple[int, int]]) -> list[int]:
    """Users whose feedback document is not the version in `snapshot` (new ones included)."""
    return sorted(u for u, version in now.items() if snapshot.get(u) != version)


def refold(
    es: Elasticsearch, prefix: str, record: Mapping[str, Any], snapshot: Snapshot, untrained: Iterable[int] = ()
) -> list[int]:
    """Fold the changed (and `untrained`) users in against the run `record` describes; the users written."""
    run = sync.ServedRun.of(prefix, ActiveModel.from_run(record))
    users = sorted(set(changed_since(snapshot, current_versions(es, prefix, run.edition))) | set(untrained))
    if not users:
        return []
    for user_id in users:
        sync.sync_user(es, prefix, run, user_id, copy=None, refresh=False)
    es.indices.refresh(index=f"{run.users},{run.ratings}")
    log.info("re-folded %d users whose feedback the run did not train on into %s", len(users), run.users)
    return users
