"""A pymongo command listener that records the insert commands a client sends."""

from __future__ import annotations

from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent


class InsertCommands(CommandListener):
    """Every ``insert`` command the client sends: (collection, number of documents)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name == "insert":
            self.seen.append((event.command["insert"], len(event.command.get("documents", []))))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        return None

    def failed(self, event: CommandFailedEvent) -> None:
        return None

    def into(self, collection: str) -> list[int]:
        """The number of documents of each insert command into ``collection``."""
        return [count for name, count in self.seen if name == collection]
