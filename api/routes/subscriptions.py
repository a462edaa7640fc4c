"""Subscriptions: a report or some of its pages emailed on a schedule (docs/subscriptions.md).
Writes go through the Subscription aggregate; reads come from the subscriptions read model,
read-your-writes like every other read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, Parameter

from api.routes.reports import MinPosition, wait_for_read_model
from commands.authorization import Actor
from commands.subscription import ChangeSubscription, CreateSubscription
from commands.subscriptions import SubscriptionHandler, SubscriptionOutcome
from domain.errors import NotFound
from projections.report_queries import current_report
from projections.subscriptions import (
    DeliveryRecord,
    SubscriptionRecord,
    deliveries_of,
    subscription_record,
    subscriptions_of_report,
)

#: How long a write waits for the read model to include it.
READ_MODEL_WAIT = 5.0
SubscriptionId = Annotated[UUID, Parameter(description="The subscription's id")]


class SubscriptionList(msgspec.Struct, frozen=True, kw_only=True):
    subscriptions: list[SubscriptionRecord]


class DeliveryPage(msgspec.Struct, frozen=True, kw_only=True):
    """Runs newest first; ``next_before`` pages on (None: no older runs)."""

    deliveries: list[DeliveryRecord]
    next_before: datetime | None


class CommandOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The body of pause/resume (optional): a command id makes a retry safe."""

    command_id: UUID | None = None


def _handler(state: State) -> SubscriptionHandler:
    handler: SubscriptionHandler = state.services.subscriptions
    return handler


async def _answer(state: State, outcome: SubscriptionOutcome) -> SubscriptionRecord:
    """The subscription as the read model has it once it includes the write."""
    services = state.services
    await services.projections["subscriptions"].wait_until(outcome.position, READ_MODEL_WAIT)
    record = await subscription_record(services.pool, services.read_schema, outcome.subscription.id)
    if record is None:
        raise NotFound(
            f"subscription {outcome.subscription.id} was deleted", code="subscription_not_found"
        )
    return record


async def _visible(
    state: State, subscription_id: UUID, actor: Actor, min_position: int | None
) -> SubscriptionRecord:
    services = state.services
    await wait_for_read_model(services, "subscriptions", min_position)
    record = await subscription_record(services.pool, services.read_schema, subscription_id)
    missing = NotFound(
        f"subscription {subscription_id} does not exist or you are not a member of its workspace",
        code="subscription_not_found",
    )
    if record is None:
        raise missing
    try:
        await services.authorizer.require_view(record.workspace_id, actor.id)
    except NotFound:
        raise missing from None
    return record


@post(
    "/reports/{report_id:uuid}/subscriptions",
    summary="Email the report (or some pages) on a cron schedule in a time zone",
    tags=["subscriptions"],
    status_code=201,
)
async def create_subscription(
    report_id: FromPath[UUID],
    data: JSONBody[CreateSubscription],
    request: Request[Actor, Any, State],
    state: State,
) -> Response[SubscriptionRecord]:
    """Editors and owners subscribe; every recipient must be a member of the report's
    workspace. `next_run_at` says when the first email goes out."""
    outcome = await _handler(state).create(report_id, data, request.user)
    record = await _answer(state, outcome)
    return Response(
        record,
        status_code=200 if outcome.duplicate else 201,
        headers={"Location": f"/subscriptions/{record.id}"},
    )


@get(
    "/reports/{report_id:uuid}/subscriptions",
    summary="The report's subscriptions",
    tags=["subscriptions"],
)
async def list_subscriptions(
    report_id: FromPath[UUID],
    request: Request[Actor, Any, State],
    state: State,
    min_position: MinPosition = None,
) -> SubscriptionList:
    services = state.services
    await wait_for_read_model(services, "subscriptions", min_position)
    report = await current_report(services.pool, services.read_schema, report_id)
    if report is None or report.workspace_id is None:
        raise NotFound(f"report {report_id} does not exist", code="report_not_found")
    await services.authorizer.require_view(report.workspace_id, request.user.id)
    found = await subscriptions_of_report(services.pool, services.read_schema, report_id)
    return SubscriptionList(subscriptions=found)


@get("/subscriptions/{subscription_id:uuid}", summary="A subscription", tags=["subscriptions"])
async def get_subscription(
    subscription_id: FromPath[SubscriptionId],
    request: Request[Actor, Any, State],
    state: State,
    min_position: MinPosition = None,
) -> SubscriptionRecord:
    return await _visible(state, subscription_id, request.user, min_position)


@patch(
    "/subscriptions/{subscription_id:uuid}",
    summary="Change a subscription's schedule, recipients, pages, format or subject",
    tags=["subscriptions"],
)
async def change_subscription(
    subscription_id: FromPath[SubscriptionId],
    data: JSONBody[ChangeSubscription],
    request: Request[Actor, Any, State],
    state: State,
) -> SubscriptionRecord:
    outcome = await _handler(state).change(subscription_id, data, request.user)
    return await _answer(state, outcome)


@post(
    "/subscriptions/{subscription_id:uuid}/pause",
    summary="Stop sending until resumed",
    tags=["subscriptions"],
    status_code=200,
)
async def pause_subscription(
    subscription_id: FromPath[SubscriptionId],
    request: Request[Actor, Any, State],
    state: State,
    data: JSONBody[CommandOptions | None] = None,
) -> SubscriptionRecord:
    command_id = data.command_id if data is not None else None
    outcome = await _handler(state).pause(subscription_id, request.user, command_id=command_id)
    return await _answer(state, outcome)


@post(
    "/subscriptions/{subscription_id:uuid}/resume",
    summary="Send again from the next scheduled time on (missed runs are not sent)",
    tags=["subscriptions"],
    status_code=200,
)
async def resume_subscription(
    subscription_id: FromPath[SubscriptionId],
    request: Request[Actor, Any, State],
    state: State,
    data: JSONBody[CommandOptions | None] = None,
) -> SubscriptionRecord:
    command_id = data.command_id if data is not None else None
    outcome = await _handler(state).resume(subscription_id, request.user, command_id=command_id)
    return await _answer(state, outcome)


@delete(
    "/subscriptions/{subscription_id:uuid}",
    summary="Delete a subscription (its send history stays in the audit log)",
    tags=["subscriptions"],
    status_code=204,
)
async def delete_subscription(
    subscription_id: FromPath[SubscriptionId],
    request: Request[Actor, Any, State],
    state: State,
) -> None:
    outcome = await _handler(state).delete(subscription_id, request.user)
    await state.services.projections["subscriptions"].wait_until(outcome.position, READ_MODEL_WAIT)


@get(
    "/subscriptions/{subscription_id:uuid}/deliveries",
    summary="The send history: each scheduled run, sent or failed, with its reason",
    tags=["subscriptions"],
)
async def list_deliveries(  # noqa: PLR0917 - route parameters
    subscription_id: FromPath[SubscriptionId],
    request: Request[Actor, Any, State],
    state: State,
    min_position: MinPosition = None,
    before: Annotated[
        datetime | None, Parameter(description="Runs scheduled before this time (paging).")
    ] = None,
    limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
) -> DeliveryPage:
    services = state.services
    await _visible(state, subscription_id, request.user, min_position)
    found = await deliveries_of(
        services.pool, services.read_schema, subscription_id, before=before, limit=limit
    )
    return DeliveryPage(
        deliveries=found,
        next_before=found[-1].scheduled_for if len(found) == limit else None,
    )


ROUTES = [
    create_subscription,
    list_subscriptions,
    get_subscription,
    change_subscription,
    pause_subscription,
    resume_subscription,
    delete_subscription,
    list_deliveries,
]
