"""Every command the README and docs/ show runs as written: each `make` target exists, each Hydra
script's overrides compose (as lightning-hydra-template tests its configs), each benchmark's flags
are its own. Placeholders (`<run>`) stand for any value; `...` elides the rest."""

import re
import shlex
from pathlib import Path

import pytest
from conftest import compose_config

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
HYDRA_SCRIPTS = {p.stem for p in ROOT.glob("*.py")} & {p.stem for p in (ROOT / "configs").glob("*.yaml")}
COMMAND = re.compile(r"(?:\.venv/bin/)?python ((?:benchmarks/)?\w+\.py)([^`#|\n\\]*(?:\\\n[^`#|\n\\]*)*)")


def commands() -> list[tuple[str, str, list[str]]]:
    """(page, script, arguments) of every `python <script>.py ...` in the pages."""
    found = []
    for page in PAGES:
        for script, rest in COMMAND.findall(page.read_text()):
            rest = re.sub(r"<[^>]*>", "x", rest.replace("\\\n", " "))
            args = [a for a in shlex.split(rest) if "..." not in a and a not in ("&&",)]
            found.append((page.name, script, args))
    return found


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))


def test_the_pages_show_commands():
    scripts = {script for _, script, _ in commands()}
    assert {"predict.py", "train_coarse.py", "evaluate.py", "app.py", "benchmarks/model_speed.py"} <= scripts


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_make_target_shown_exists(page):
    shown = set(re.findall(r"(?:`|^|&& )make ([a-z][a-z-]*)", page.read_text(), re.M))
    assert shown <= make_targets(), f"{page.name}: no such target {sorted(shown - make_targets())}"


@pytest.mark.parametrize("page, script, args", commands(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_command_shown_runs_as_written(page, script, args):
    assert (ROOT / script).is_file(), f"{page}: {script} does not exist"
    if script.startswith("benchmarks/"):
        source = (ROOT / script).read_text()
        for flag in (a for a in args if a.startswith("--")):
            assert f'"{flag}"' in source, f"{page}: {script} has no option {flag}"
        return
    assert Path(script).stem in HYDRA_SCRIPTS, f"{page}: {script} is neither a Hydra script nor a benchmark"
    overrides = [a for a in args if "=" in a]
    assert len(overrides) == len(args), f"{page}: {script} {args}: Hydra takes key=value overrides only"
    compose_config(Path(script).stem, overrides)  # an unknown key or a bad preset fails here
