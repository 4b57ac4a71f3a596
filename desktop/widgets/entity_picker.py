"""Which entity types to anonymize, and what replaces each: a checkbox and an operator each.

Entity names, groups, descriptions and operators all come from ``core.anonymize``; this
widget only lays them out and reads them back.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.anonymize.config import ALL_ENTITIES, IDENTIFIER_ENTITIES, AnonymizeConfig
from core.anonymize.explain import (
    ENTITY_DESCRIPTIONS,
    OPERATOR_DESCRIPTIONS,
    OPERATORS,
    entity_group,
    needs_language_model,
)

SAME_AS_DEFAULT = "same as default"
_GROUP_TITLES = (
    ("identifier", "Safe Harbor identifiers"),
    ("bank", "Bank identifiers"),
    ("optional", "Optional (not Safe Harbor identifiers)"),
)
_NOT_IN_PATTERN_MODE = "NOT detected in pattern-only mode: it needs the language model."


class EntityPicker(QWidget):
    """Entity checkboxes in three groups, a default operator and per-entity overrides."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.default_operator = QComboBox(self)
        self.default_operator.setAccessibleName("default operator")
        for index, name in enumerate(OPERATORS):
            self.default_operator.addItem(name, name)
            self.default_operator.setItemData(
                index, OPERATOR_DESCRIPTIONS[name], Qt.ItemDataRole.ToolTipRole
            )
        self.default_operator.setToolTip(
            "What replaces a found value, unless an entity type below says otherwise. "
            + " ".join(f"{name}: {OPERATOR_DESCRIPTIONS[name]}" for name in OPERATORS)
        )
        self.default_operator.currentIndexChanged.connect(self.changed)
        operator_label = QLabel("&Operator:", self)
        operator_label.setBuddy(self.default_operator)
        operator_label.setToolTip(self.default_operator.toolTip())
        self.checks: dict[str, QCheckBox] = {}
        self.operators: dict[str, QComboBox] = {}
        buttons = QHBoxLayout()
        buttons.addWidget(operator_label)
        buttons.addWidget(self.default_operator)
        buttons.addStretch(1)
        for text, tip, chosen in (
            ("Safe &Harbor set", "Tick the 18 Safe Harbor classes and bank identifiers.", None),
            ("Tick a&ll", "Tick every entity type, the optional ones too.", ALL_ENTITIES),
            ("&Untick all", "Untick every entity type.", ()),
        ):
            button = QPushButton(text, self)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, c=chosen: self.set_entities(c))
            buttons.addWidget(button)
        grid = QGridLayout()
        grid.setColumnStretch(0, 1)
        row = 0
        for group, title in _GROUP_TITLES:
            heading = QLabel(title, self)
            heading.setObjectName("groupHeading")
            grid.addWidget(heading, row, 0, 1, 2)
            row += 1
            for entity in (e for e in ALL_ENTITIES if entity_group(e) == group):
                grid.addWidget(self._check(entity), row, 0)
                grid.addWidget(self._operator(entity), row, 1)
                row += 1
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addLayout(grid)
        self.set_entities(None)

    def _check(self, entity: str) -> QCheckBox:
        check = QCheckBox(entity, self)
        check.setToolTip(ENTITY_DESCRIPTIONS[entity])
        check.toggled.connect(lambda on, e=entity: self.operators[e].setEnabled(on))
        check.toggled.connect(self.changed)
        self.checks[entity] = check
        return check

    def _operator(self, entity: str) -> QComboBox:
        combo = QComboBox(self)
        combo.addItem(SAME_AS_DEFAULT, None)
        for name in OPERATORS:
            combo.addItem(name, name)
        combo.setToolTip(f"What replaces a found {entity}.")
        combo.setAccessibleName(f"operator for {entity}")
        combo.currentIndexChanged.connect(self.changed)
        self.operators[entity] = combo
        return combo

    # -- reading and writing ---------------------------------------------------------------

    def set_entities(self, entities: Iterable[str] | None) -> None:
        """Tick exactly ``entities``; None ticks the default set (Safe Harbor and bank)."""
        wanted = set(IDENTIFIER_ENTITIES if entities is None else entities)
        for entity, check in self.checks.items():
            check.setChecked(entity in wanted)

    def entities(self) -> tuple[str, ...]:
        """The ticked entity types, in catalogue order (ticked but disabled ones too)."""
        return tuple(e for e in ALL_ENTITIES if self.checks[e].isChecked())

    def operator(self) -> str:
        return str(self.default_operator.currentData())

    def overrides(self) -> tuple[tuple[str, str], ...]:
        """``(entity, operator)`` for ticked entities whose operator is not the default."""
        chosen = []
        for entity in self.entities():
            value = self.operators[entity].currentData()
            if value is not None and value != self.operator():
                chosen.append((entity, str(value)))
        return tuple(chosen)

    def set_pattern_only(self, on: bool) -> None:
        """Grey out what pattern-only mode cannot find (the ticks stay for a later switch)."""
        for entity, check in self.checks.items():
            if not needs_language_model(entity):
                continue
            check.setEnabled(not on)
            self.operators[entity].setEnabled(not on and check.isChecked())
            tip = ENTITY_DESCRIPTIONS[entity]
            check.setToolTip(f"{tip} {_NOT_IN_PATTERN_MODE}" if on else tip)

    def apply_config(self, config: AnonymizeConfig) -> None:
        """Show a stored anonymize config's entity types and operators."""
        self.set_entities(config.entities or None)
        self.default_operator.setCurrentIndex(
            max(self.default_operator.findData(config.operator), 0)
        )
        overrides = dict(config.operators)
        for entity, combo in self.operators.items():
            combo.setCurrentIndex(max(combo.findData(overrides.get(entity)), 0))
