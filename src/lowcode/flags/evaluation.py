"""Flag evaluation: pure functions over one flag definition and one workspace.

The order is fixed and each step has its OpenFeature reason:

    not enabled              → off, DISABLED
    workspace in deny list   → off, TARGETING_MATCH
    workspace in allow list  → on,  TARGETING_MATCH
    bucket ≤ percentage      → on,  SPLIT
    otherwise                → the default variant, DEFAULT

The bucket is Unleash's `normalizedValue`: murmur3_32("{key}:{workspace_id}",
seed 0) % 100 + 1, in 1..100. A workspace keeps its bucket whatever the
percentage, so raising a rollout from 10 % to 20 % only ever adds workspaces,
and a flag bucketed here agrees with an Unleash client given the same ids.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import mmh3

VARIANTS: dict[str, bool] = {"on": True, "off": False}


class Reason(StrEnum):
    """OpenFeature resolution reasons (the subset this evaluator produces)."""

    DISABLED = "DISABLED"
    TARGETING_MATCH = "TARGETING_MATCH"
    SPLIT = "SPLIT"
    DEFAULT = "DEFAULT"
    ERROR = "ERROR"


class ErrorCode(StrEnum):
    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    TARGETING_KEY_MISSING = "TARGETING_KEY_MISSING"
    INVALID_CONTEXT = "INVALID_CONTEXT"


@dataclass(frozen=True, slots=True)
class Flag:
    """One flag definition, from the database or from the settings' defaults."""

    key: str
    enabled: bool
    description: str = ""
    default_variant: str = "off"
    allow_workspaces: frozenset[uuid.UUID] = frozenset()
    deny_workspaces: frozenset[uuid.UUID] = frozenset()
    rollout_percentage: int = 0
    source: str = "database"  # or "settings"
    created_by: uuid.UUID | None = None
    created_at: datetime | None = None
    updated_by: uuid.UUID | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Any) -> Flag:
        """From a generated `feature_flags` row (list_flags, get_flag, upsert_flag)."""
        return cls(
            row.key,
            row.enabled,
            row.description,
            row.default_variant,
            frozenset(row.allow_workspaces),
            frozenset(row.deny_workspaces),
            row.rollout_percentage,
            "database",
            row.created_by,
            row.created_at,
            row.updated_by,
            row.updated_at,
        )

    @classmethod
    def from_default(cls, key: str, value: bool) -> Flag:
        """A settings default: a flag that is on with the given value for everyone."""
        return cls(key, True, default_variant="on" if value else "off", source="settings")

    def to_api(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "description": self.description,
            "enabled": self.enabled,
            "default_variant": self.default_variant,
            "allow_workspaces": sorted(str(w) for w in self.allow_workspaces),
            "deny_workspaces": sorted(str(w) for w in self.deny_workspaces),
            "rollout_percentage": self.rollout_percentage,
            "source": self.source,
            "created_by": _str(self.created_by),
            "created_at": _iso(self.created_at),
            "updated_by": _str(self.updated_by),
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Shaped like OpenFeature's FlagResolutionDetails (plus the flag key)."""

    key: str
    value: bool
    reason: Reason
    variant: str | None = None
    error_code: ErrorCode | None = None
    error_message: str | None = None
    flag_metadata: dict[str, Any] = field(default_factory=dict)


def bucket(key: str, workspace_id: uuid.UUID | str) -> int:
    """Unleash's normalizedValue(workspace_id, groupId=key): 1..100."""
    return int(mmh3.hash(f"{key}:{workspace_id}", 0, signed=False)) % 100 + 1


def evaluate_flag(flag: Flag, workspace_id: uuid.UUID) -> Evaluation:
    """The flag's value for one workspace, with the reason it has that value."""
    if not flag.enabled:
        return Evaluation(flag.key, False, Reason.DISABLED, "off")
    if workspace_id in flag.deny_workspaces:
        return Evaluation(flag.key, False, Reason.TARGETING_MATCH, "off")
    if workspace_id in flag.allow_workspaces:
        return Evaluation(flag.key, True, Reason.TARGETING_MATCH, "on")
    if flag.rollout_percentage > 0 and bucket(flag.key, workspace_id) <= flag.rollout_percentage:
        return Evaluation(flag.key, True, Reason.SPLIT, "on")
    return Evaluation(
        flag.key, VARIANTS[flag.default_variant], Reason.DEFAULT, flag.default_variant
    )


def not_found(key: str, default: bool) -> Evaluation:
    return Evaluation(
        key,
        default,
        Reason.ERROR,
        None,
        ErrorCode.FLAG_NOT_FOUND,
        f"no flag {key!r} in the database or the settings' defaults",
    )


def _str(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
