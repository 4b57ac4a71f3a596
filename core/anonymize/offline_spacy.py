"""A Presidio spaCy engine that loads only from disk and never downloads (DESIGN §1).

Imported only when an engine is built: it pulls in Presidio and spaCy.
"""

from __future__ import annotations

import spacy
from presidio_analyzer.nlp_engine import SpacyNlpEngine

from core.anonymize.engine import EXCLUDED_COMPONENTS, SKIPPED_COMPONENTS, check_model_installed


class OfflineSpacyNlpEngine(SpacyNlpEngine):
    """Loads the configured model without the parser; a missing model is an error."""

    @staticmethod
    def _download_spacy_model_if_needed(model_name: str) -> None:
        # Presidio calls `spacy.cli.download` here; we only check and explain.
        check_model_installed(model_name)

    def load(self) -> None:
        """Load each configured model from disk."""
        loaded = {}
        for model in self.models:
            self._validate_model_params(model)
            self._download_spacy_model_if_needed(model["model_name"])
            nlp = spacy.load(model["model_name"], exclude=list(EXCLUDED_COMPONENTS))
            for name in SKIPPED_COMPONENTS:
                if name in nlp.pipe_names:
                    nlp.disable_pipe(name)  # loaded (its word lists are read), never run
            loaded[model["lang_code"]] = nlp
        self.nlp = loaded  # type: ignore[assignment]  # Presidio types it None until load()
