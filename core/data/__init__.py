"""The data stage: read CSV, TSV, JSON Lines, Parquet and Excel files into a project.

See :func:`run_import` for the import, :func:`preview` for a look before it, and
:func:`label_distribution` for the counts ``stillroom status`` shows.
"""

from core.data.importer import ImportConfig, ImportResult, run_import
from core.data.preview import Preview, preview
from core.data.summary import label_distribution

__all__ = ["ImportConfig", "ImportResult", "Preview", "label_distribution", "preview", "run_import"]
