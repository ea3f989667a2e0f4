"""Role groups: read by ``registry_admin``, ``ops``, ``auditor``; replaced by
``registry_admin`` and ``ops``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_notifications.adapters.http.deps import GroupReader, GroupWriter, NotifierDep
from alliance_notifications.domain.recipients import GroupMember, RoleGroup
from alliance_notifications.service import queries
from alliance_notifications.service.recipients import replace_role_group
from alliance_shared.web.conditional import IfMatch, set_etag

router = APIRouter(tags=["role groups"])


class GroupIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"members": [{"member_id": "officer-zhang", "name": "张科长", "email": "zhang@czj.gov.cn"}]}]
        },
    )

    members: list[GroupMember] = Field(max_length=500)


class GroupOut(BaseModel):
    group: RoleGroup
    members: list[GroupMember]
    version: int


@router.get("/role-groups/{group}", summary="Members of a role group; ETag for If-Match")
async def read_group(group: RoleGroup, _: GroupReader, notifier: NotifierDep, response: Response) -> GroupOut:
    found = await queries.role_group(notifier, group)
    set_etag(response, found.version)
    return GroupOut(group=group, members=found.item.members, version=found.version)


@router.put("/role-groups/{group}", summary='Replace the members of a role group (If-Match: "0" for a new group)')
async def write_group(
    group: RoleGroup, _: GroupWriter, expected: IfMatch, body: GroupIn, notifier: NotifierDep, response: Response
) -> GroupOut:
    outcome = await replace_role_group(notifier, group, expected, body.members)
    set_etag(response, outcome.version)
    return GroupOut(group=group, members=outcome.item.members, version=outcome.version)
