"""[ui] theme: one of Textual's built-in themes; a bad name is a config error that names the
file, the key, the line and the closest theme."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.theme import BUILTIN_THEMES

from swarmdeck.core.config import THEMES, load_config
from swarmdeck.core.errors import ConfigError

REPO = Path(__file__).parents[2]
CLUSTER = '[clusters.prod]\nmanagers = ["prod-m1"]\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_the_core_knows_textuals_themes():
    assert set(THEMES) == set(BUILTIN_THEMES)


def test_a_theme_is_read(tmp_path):
    config = load_config(write(tmp_path, f'[ui]\ntheme = "nord"\n{CLUSTER}'))
    assert config.ui.theme == "nord"
    assert load_config(write(tmp_path, CLUSTER)).ui.theme == "textual-dark"


def test_a_misspelt_theme_is_a_clear_error(tmp_path):
    path = write(tmp_path, f'{CLUSTER}[ui]\ntheme = "nrod"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == \
        f"ui.theme in {path}: unknown theme 'nrod': did you mean 'nord'? (line 4)"


def test_an_unknown_theme_lists_them(tmp_path):
    path = write(tmp_path, f'[ui]\ntheme = "pink"\n{CLUSTER}')
    with pytest.raises(ConfigError, match=r"unknown theme 'pink' \(themes: ansi-dark, "
                                          r"ansi-light, .*tokyo-night\)"):
        load_config(path)


def test_an_unknown_key_under_ui(tmp_path):
    path = write(tmp_path, f'[ui]\nthem = "nord"\n{CLUSTER}')
    with pytest.raises(ConfigError, match=r"unknown key 'them' in \[ui\].*did you mean "
                                          r"'theme'\?"):
        load_config(path)


def test_the_example_documents_it():
    config = load_config(REPO / "config.example.toml")
    assert config.ui.theme == "textual-dark"
