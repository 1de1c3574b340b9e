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
    portable_request,
    request_fields,
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
    ``REQUEST_FIELDS_MAX_BYTES``, need the dispatcher's full pass. Such plain requests can also
    be built by the store's writer process (:meth:`portable`).
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

    def portable(self, item: tuple[Any, ...], context: BuildContext) -> tuple[Any, ...] | None:
        """The request as plain data (see :mod:`lookout.flask.request_events`), or None when
        its event needs this process: g values or outlier details, an error, or settings that
        redact or shorten the fixed fields."""
        if item[14] or item[15] is not None:
            return None
        safe = context.memo.get(RequestSource)  # _own_fields_safe, inlined: once per request
        if safe is None:
            safe = self._own_fields_safe(context)
        if not safe:
            return None
        return portable_request(
            item,
            context.clock_offset_ns,
            context.pid,
            context.app_version,
            self.config.trusted_proxies,
        )

    def build_event(self, item: tuple[Any, ...], context: BuildContext) -> Event:
        (
            _,
            start_ns,
            duration_ns,
            endpoint,
            status,
            rid,
            group,
            ip,
            _,
            _,
            method,
            path,
            rule,
            size,
            agent,
        ) = portable_request(
            item,
            context.clock_offset_ns,
            context.pid,
            context.app_version,
            self.config.trusted_proxies,
        )
        extra_fields, error, tb = item[14:17]
        fields: dict[str, Any] = request_fields(method, path, rule, size, agent)
        naming = self.naming
        tags: Mapping[str, str] = naming.tags_for(method)
        own_fields_safe = self._own_fields_safe(context)
        if extra_fields:
            fields.update(extra_fields)
            fields = dict(context.sanitize(fields))
        elif not own_fields_safe:
            fields = dict(context.sanitize(fields))
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
