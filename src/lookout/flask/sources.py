"""Request and metric events, built in the dispatcher from the tuples the middleware queued:
nothing here runs in the request's thread."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lookout.events import HOSTNAME, OK, Event, bound_name, describe_error
from lookout.flask.options import AppConfig
from lookout.flask.request_events import (
    RequestNaming,
    new_event,
    outcome_of,
    plain_request_event,
    request_fields,
    request_values,
)

if TYPE_CHECKING:
    from lookout.recorder import BuildContext

#: The fields every request event has, and the most JSON they can take: path and rule are
#: bounded to 1,024 characters (six bytes each when escaped), the rest are short.
REQUEST_FIELD_NAMES = ("method", "path", "rule", "response_bytes", "user_agent")


REQUEST_FIELDS_MAX_BYTES = 16 * 1024


class RequestSource:
    """Builds request events from the tuples the middleware captures.

    It sanitizes its own events (see :class:`~lookout.recorder.CaptureSource`): its fields have
    fixed, bounded values under fixed names, so only tracked ``g`` values, outlier details and
    profiles, or settings that redact one of those names or allow less than
    ``REQUEST_FIELDS_MAX_BYTES``, need the dispatcher's full pass. A plain request (none of
    those) shares its fields and tags objects with the requests of the same values.
    """

    sanitizes_own_events = True

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self.naming = RequestNaming()

    def _own_fields_safe(self, context: BuildContext) -> bool:
        """Whether the settings of this drain leave the fixed request fields as they are."""
        safe: bool | None = context.memo.get(RequestSource)
        if safe is None:
            safe = context.memo[RequestSource] = (
                context.limits.max_event_bytes >= REQUEST_FIELDS_MAX_BYTES
                and not any(context.is_secret(name) for name in REQUEST_FIELD_NAMES)
            )
        return safe

    def build_event(self, item: tuple[Any, ...], context: BuildContext) -> Event:
        if not item[14] and item[15] is None and not self.config.trusted_proxies:
            own_fields_safe = context.memo.get(RequestSource)  # inlined: runs per request
            if own_fields_safe is None:
                own_fields_safe = self._own_fields_safe(context)
            if own_fields_safe:
                return plain_request_event(
                    item,
                    context.clock_offset_ns,
                    context.pid,
                    context.app_version,
                    HOSTNAME,
                    self.naming,
                )
        start_ns, duration_ns, endpoint, status, rid, group, ip, values = request_values(
            item, context.clock_offset_ns, self.config.trusted_proxies
        )
        naming = self.naming
        extra_fields, error, tb = item[14:17]
        own_fields_safe = context.memo.get(RequestSource)  # inlined: this runs per request
        if own_fields_safe is None:
            own_fields_safe = self._own_fields_safe(context)
        tags: Mapping[str, str] = naming.tags_for(values[0])
        fields: Mapping[str, Any]
        if not extra_fields and own_fields_safe:
            fields = naming.fields_for(values)  # a plain request: shared, nothing to clean
        else:
            own = request_fields(*values)
            if extra_fields:
                own.update(extra_fields)
            fields = dict(context.sanitize(own))
            if not own_fields_safe:
                tags = context.sanitize(tags)
        error_type = message = tb_text = None
        if error is not None:
            error_type, message, tb_text = describe_error(error, context.limits, tb)
        return new_event(
            (
                "request",
                naming.name_for(endpoint),
                start_ns,
                duration_ns,
                outcome_of(status, error is not None),
                status,
                HOSTNAME,
                context.pid,
                context.app_version,
                rid,
                group,
                ip,
                tags,
                fields,
                error_type,
                message,
                tb_text,
            )
        )


class MetricSource:
    """Builds ``metric`` events from ``add_metric`` calls."""

    def build_event(self, item: tuple[Any, ...], context: BuildContext) -> Event:
        _, t1, name, value, unit, dimensions, rid, endpoint = item
        fields = {"value": value, "unit": unit}
        if endpoint is not None:
            fields["endpoint"] = endpoint
        return Event(
            "metric",
            bound_name(name),
            t1 + context.clock_offset_ns,
            0,
            OK,
            None,
            HOSTNAME,
            context.pid,
            context.app_version,
            rid,
            None,
            None,
            dimensions,
            fields,
        )


METRICS = MetricSource()
