"""Every context's constraint → AppError map, by query folder, for
`load_queries`: each context declares its own in its `errors.py`, and platform
(which builds the query adapter) imports no context, so they meet here."""

from __future__ import annotations

from collections.abc import Mapping

from lowcode.datasets.errors import CONSTRAINT_ERRORS as DATASETS
from lowcode.datasources.errors import CONSTRAINT_ERRORS as DATASOURCES
from lowcode.identity.errors import CONSTRAINT_ERRORS as IDENTITY
from lowcode.pages.errors import CONSTRAINT_ERRORS as PAGES
from lowcode.platform.db import ConstraintErrors
from lowcode.sync.errors import CONSTRAINT_ERRORS as SYNC
from lowcode.workspaces.errors import CONSTRAINT_ERRORS as WORKSPACES

# Keys are folders of `queries/`: a constraint means what the context whose
# query hit it says.
CONSTRAINT_ERRORS: Mapping[str, ConstraintErrors] = {
    "datasets": DATASETS,
    "datasources": DATASOURCES,
    "identity": IDENTITY,
    "pages": PAGES,
    "sync": SYNC,
    "workspaces": WORKSPACES,
}
