"""The JetStream stream that carries the log: its name, subjects, config and message headers.

One stream per environment, `LEDGER_<ENV>`, over the subjects `<env>.>`; a message's subject is
`<env>.<bus name>`, its id (`Nats-Msg-Id`) the event's log position (guide §5.2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

MSG_ID = "Nats-Msg-Id"
EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"
PREV_ID = "Ledger-Prev-Id"
"""The position of the event published just before this one (0 for the first)."""
TOPIC = "Ledger-Topic"
ORIGINATOR = "Ledger-Originator"
VERSION = "Ledger-Version"
ENV_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
DEFAULT_DUPLICATE_WINDOW_S = 20 * 60.0
"""Relay outages up to this long are absorbed silently by JetStream's de-duplication."""


@dataclass(frozen=True)
class LogStream:
    """The stream of one environment's log."""

    env: str
    duplicate_window_s: float = DEFAULT_DUPLICATE_WINDOW_S

    def __post_init__(self) -> None:
        if not ENV_PATTERN.match(self.env):
            raise ValueError(
                f"environment {self.env!r} must be 1-32 lower-case letters, digits, - or _, "
                "starting with a letter (it prefixes every NATS subject)"
            )

    @property
    def name(self) -> str:
        """Return the stream's name, e.g. LEDGER_DEV."""
        return "LEDGER_" + self.env.upper().replace("-", "_")

    @property
    def subjects(self) -> str:
        """Return the wildcard of every subject of this environment."""
        return f"{self.env}.>"

    def subject(self, bus_name: str) -> str:
        """Return the subject an event of `bus_name` is published on."""
        return f"{self.env}.{bus_name}"

    async def ensure(self, js: JetStreamContext) -> None:
        """Create the stream if it does not exist (file storage, de-duplication window)."""
        try:
            await js.stream_info(self.name)
        except NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=self.name,
                    subjects=[self.subjects],
                    storage=StorageType.FILE,
                    retention=RetentionPolicy.LIMITS,
                    duplicate_window=self.duplicate_window_s,
                )
            )

    async def last_position(self, js: JetStreamContext) -> int:
        """Return the log position of the newest message in the stream (0 when empty)."""
        info = await js.stream_info(self.name)
        if not info.state.last_seq:
            return 0
        message = await js.get_msg(self.name, seq=info.state.last_seq)
        return int((message.headers or {})[MSG_ID])
