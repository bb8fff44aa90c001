"""The studio folder: init, themes.toml parsing and syncing, finding a studio."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from curation.studio import (
    DEFAULT_THEMES_TOML,
    Studio,
    StudioError,
    init_studio,
    open_studio,
)


def test_init_makes_the_folder_and_syncs_default_themes(tmp_path: Path) -> None:
    studio = init_studio(tmp_path / "s")
    assert studio.catalog_path.is_file() and studio.pieces_dir.is_dir() and studio.exports_dir.is_dir()
    assert studio.themes_path.read_text(encoding="utf-8") == DEFAULT_THEMES_TOML
    with studio.catalog() as cat:
        names = [t.name for t in cat.list_themes()]
        assert names == ["coral-reef", "glacier", "old-growth-forest", "wetland"]
        reef = cat.get_theme("coral-reef")
        assert reef.title == "Coral reef" and reef.prompts[0] == "a coral reef:1"
        assert len(reef.hashtags) <= 5 and "\n" not in reef.facts


def test_init_keeps_an_edited_themes_file(tmp_path: Path) -> None:
    studio = init_studio(tmp_path / "s", themes_toml='[[theme]]\nname = "dunes"\nprompts = ["sand dunes:1"]\n')
    init_studio(tmp_path / "s")  # again: kept as is
    assert [t.name for t in studio.load_themes()] == ["dunes"]
    assert studio.load_themes()[0].title == "dunes"


@pytest.mark.parametrize(("toml", "message"), [
    ("[[theme]\n", "not valid TOML"),
    ('[[theme]]\ntitle = "x"\n', "needs a `name`"),
    ('[[theme]]\nname = "x"\nprompts = "a reef"\n', "`prompts` must be a list of strings"),
    ('[[theme]]\nname = "x"\nfacts = 3\n', "`facts` must be text"),
    ('[[theme]]\nname = "x"\nprompts = ["a reef:abc"]\n', r"#1 \(x\): `prompts`: prompt 'a reef:abc': the weight"),
    ('[[theme]]\nname = "x"\nnegative_prompts = ["text:1:x"]\n', r"`negative_prompts`: .*text\[:weight\[:stop\]\]"),
    ("theme = 3\n", "`theme` must be"),
])
def test_bad_themes_file_names_the_problem(tmp_path: Path, toml: str, message: str) -> None:
    studio = Studio(tmp_path)
    studio.themes_path.write_text(toml, encoding="utf-8")
    with pytest.raises(StudioError, match=message):
        studio.load_themes()


def test_open_studio_from_argument_env_or_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = init_studio(tmp_path / "s")
    assert open_studio(tmp_path / "s").root == made.root
    monkeypatch.setenv("DSTRTD_STUDIO", str(tmp_path / "s"))
    assert open_studio().root == made.root
    with pytest.raises(StudioError, match="dstrtd init"):
        open_studio(tmp_path / "empty")


def test_init_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(StudioError, match="not a folder"):
        init_studio(tmp_path / "f")


def test_sync_writes_only_changed_themes_and_retires_removed_ones(tmp_path: Path) -> None:
    studio = init_studio(tmp_path / "s", themes_toml=textwrap.dedent('''
        [[theme]]
        name = "reef"
        prompts = ["a reef:1"]
        [[theme]]
        name = "ice"
        prompts = ["ice:1"]
        '''))
    assert studio.sync_themes() == []  # init synced them already
    with studio.catalog() as cat:
        before = cat.revision()
    studio.themes_path.write_text(textwrap.dedent('''
        [[theme]]
        name = "reef"
        prompts = ["a bleached reef:1"]
        reflection = "White where it was coloured."
        [[theme]]
        name = "kelp"
        prompts = ["a kelp forest:1"]
        '''))
    assert studio.sync_themes() == ["reef", "kelp", "ice"]
    with studio.catalog() as cat:
        assert cat.get_theme("reef").prompts == ("a bleached reef:1",)
        assert cat.get_theme("reef").reflection == "White where it was coloured."
        assert cat.get_theme("kelp").prompts == ("a kelp forest:1",)
        ice = cat.get_theme("ice")  # gone from the file: kept for its pieces' pages, never generated again
        assert ice is not None and ice.prompts == () and ice.negative_prompts == ()
        after = cat.revision()
    assert after > before
    assert studio.sync_themes() == []
    with studio.catalog() as cat:
        assert cat.revision() == after  # nothing changed, nothing written


def test_themes_stamp_moves_with_edits(tmp_path: Path) -> None:
    studio = init_studio(tmp_path / "s")
    first = studio.themes_stamp()
    assert first is not None
    studio.themes_path.write_text(studio.themes_path.read_text() + "\n# a note\n")
    assert studio.themes_stamp() != first
    studio.themes_path.unlink()
    assert studio.themes_stamp() is None


@pytest.mark.parametrize(("content", "message"), [
    ("[[theme]]\nname = \"reef\"\ntitle = \"Re\\u0000ef\"\n", r"`title` holds control characters U\+0000"),
    ("[[theme]]\nname = \"reef\"\n[[theme]]\nname = \"reef\"\n", "a second theme named 'reef'"),
])
def test_themes_the_display_could_not_show_are_refused(tmp_path: Path, content: str, message: str) -> None:
    studio = init_studio(tmp_path / "s")
    studio.themes_path.write_text(content)
    with pytest.raises(StudioError, match=message):
        studio.load_themes()


def test_a_themes_file_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    studio = init_studio(tmp_path / "s")
    studio.themes_path.write_bytes('[[theme]]\nname = "Flüsse"\n'.encode("latin-1"))
    with pytest.raises(StudioError, match="not UTF-8 text"):
        studio.sync_themes()


def test_without_a_themes_file_nothing_is_retired(tmp_path: Path) -> None:
    studio = init_studio(tmp_path / "s")
    studio.themes_path.unlink()
    assert studio.sync_themes() == []
    with studio.catalog() as cat:
        assert all(t.prompts for t in cat.list_themes())


@pytest.mark.parametrize("content", ["", "# nothing here yet\n", 'title = "my themes"\n'])
def test_a_themes_file_without_themes_is_refused_and_retires_nothing(tmp_path: Path, content: str) -> None:
    studio = init_studio(tmp_path / "s")
    studio.themes_path.write_text(content)
    with pytest.raises(StudioError, match=r"defines no theme .*write `theme = \[\]` in it to retire every theme"):
        studio.sync_themes()
    with studio.catalog() as cat:
        assert all(t.prompts for t in cat.list_themes())


def test_theme_list_empty_on_purpose_retires_every_theme(tmp_path: Path) -> None:
    studio = init_studio(tmp_path / "s")
    studio.themes_path.write_text("theme = []\n")
    assert set(studio.sync_themes()) == {"coral-reef", "old-growth-forest", "glacier", "wetland"}
    with studio.catalog() as cat:
        assert not any(t.prompts for t in cat.list_themes())
