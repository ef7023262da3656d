"""Authentication values shared by authenticators, authorizers and handlers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            data["uid"] = self.uid
        if self.extra:
            data["extra"] = {k: list(v) for k, v in self.extra.items()}
        return data
