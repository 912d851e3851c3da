"""Feature flags: `evaluate(res, key, workspace_id)` is how code reads one."""

from lowcode.flags.evaluation import Evaluation, Reason
from lowcode.flags.service import evaluate

__all__ = ["Evaluation", "Reason", "evaluate"]
