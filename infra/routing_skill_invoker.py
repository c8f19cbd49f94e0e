"""A `SkillInvoker` that runs some skills in this process and calls the rest elsewhere.

A function that hosts a skill (the video function runs the `video` skill: it has PyAV) calls
that skill in-process and every other skill (the vision function) through the remote invoker.
`core.bootstrap` builds one when `LAMBDESK_LOCAL_SKILLS` names skills on the aws backend.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from core.ports import SkillInvoker


class RoutingSkillInvoker(SkillInvoker):
    """`local` serves the skills named in `names`; `remote` serves everything else."""

    def __init__(
        self, *, local: SkillInvoker, remote: SkillInvoker, names: Collection[str]
    ) -> None:
        self.local = local
        self.remote = remote
        self.names = frozenset(names)

    def _for(self, name: str) -> SkillInvoker:
        return self.local if name in self.names else self.remote

    async def invoke(
        self, name: str, event: Mapping[str, Any], *, timeout: float
    ) -> dict[str, Any]:
        return await self._for(name).invoke(name, event, timeout=timeout)

    async def invoke_async(self, name: str, event: Mapping[str, Any]) -> None:
        await self._for(name).invoke_async(name, event)

    def close(self) -> None:
        self.local.close()
        self.remote.close()
